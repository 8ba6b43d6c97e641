# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html).
from odoo import fields, models
from odoo.tools import SQL


class HrCandidate(models.Model):
    _name = "hr.candidate"
    _inherit = ["hr.candidate", "recruitment.mail.about.mixin"]

    bulk_mail_opt_out = fields.Boolean(related="partner_id.bulk_mail_opt_out", readonly=False)

    def _contact_mail_domain(self):
        # The emails sent to the candidate: those addressed to its contact.
        return [("contact_ids", "in", self.partner_id.ids)]

    def _contact_mail_query(self):
        # From the contact's rows of mail_mail_contact_rel (its index), as a
        # contact's own tab reads them.
        return self._mail_query_by_ids(
            SQL("SELECT mail_id FROM mail_mail_contact_rel WHERE partner_id = %s", self.partner_id.id or 0),
            to_flush=["contact_ids"],
        )

    def _contact_mail_action(self):
        """The list the Emails button opens also holds the emails about the
        candidate sent to others (to a client, "assigned to you" to a
        recruiter); it opens on those sent to the candidate, a filter the user
        may remove."""
        action = super()._contact_mail_action()
        action["domain"] = ["|", ("candidate_id", "=", self.id)] + self._contact_mail_domain()
        if self.partner_id:
            action["context"] = dict(action["context"], search_default_contact_ids=self.partner_id.id)
        return action
