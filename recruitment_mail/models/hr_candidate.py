# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html).
from odoo import fields, models
from odoo.tools import SQL


class HrCandidate(models.Model):
    _name = "hr.candidate"
    _inherit = ["hr.candidate", "recruitment.mail.about.mixin"]

    bulk_mail_opt_out = fields.Boolean(related="partner_id.bulk_mail_opt_out", readonly=False)

    def _contact_mail_domain(self):
        if not self.partner_id:
            return [("candidate_id", "=", self.id)]
        return ["|", ("candidate_id", "=", self.id), ("contact_ids", "in", self.partner_id.ids)]

    def _contact_mail_query(self):
        # The same emails, from the candidate's index and the contact's rows
        # of mail_mail_contact_rel. Through the domain, the OR of a column
        # and a many2many made PostgreSQL filter every row of mail_mail
        # (400 ms at 1,000,000 emails, however few the candidate has).
        if not self.partner_id:
            return super()._contact_mail_query()
        return self._mail_query_by_ids(
            SQL("SELECT id FROM mail_mail WHERE candidate_id = %s", self.id),
            SQL("SELECT mail_id FROM mail_mail_contact_rel WHERE partner_id = %s", self.partner_id.id),
            to_flush=["candidate_id", "contact_ids"],
        )
