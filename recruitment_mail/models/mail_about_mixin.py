# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html).
from odoo import api, fields, models


class RecruitmentMailAboutMixin(models.AbstractModel):
    """The emails of a record (contact, candidate, vacancy, placement): a
    list for its Email tab, a count for its smart button and an action that
    opens them. Searched as the current user, so record rules decide what
    each user sees."""

    _name = "recruitment.mail.about.mixin"
    _description = "Record with an Email tab"

    contact_mail_ids = fields.Many2many("mail.mail", string="Emails", compute="_compute_contact_mail_ids")
    contact_mail_count = fields.Integer("Email count", compute="_compute_contact_mail_ids")

    def _contact_mail_domain(self):
        """Domain of the emails shown for this record."""
        raise NotImplementedError

    def _contact_mail_count_query(self):
        """The query that counts the emails of _contact_mail_domain as the
        current user (access rights and record rules applied): by default
        the domain's, but a model may put it in a form PostgreSQL counts
        faster (see res.partner)."""
        return self.env["mail.mail"]._search(self._contact_mail_domain())

    # Shown in the tab; the smart button opens them all.
    _contact_mail_tab_limit = 80

    @api.depends_context("uid")
    def _compute_contact_mail_ids(self):
        Mail = self.env["mail.mail"]
        for record in self:
            if not record.id:
                record.contact_mail_ids = Mail
                record.contact_mail_count = 0
                continue
            record.contact_mail_ids = Mail.search(
                record._contact_mail_domain(), limit=self._contact_mail_tab_limit, order="id desc"
            )
            record.contact_mail_count = len(record._contact_mail_count_query())

    def action_open_contact_mail(self):
        self.ensure_one()
        action = self.env["ir.actions.actions"]._for_xml_id("recruitment_mail.action_contact_mail")
        action["domain"] = self._contact_mail_domain()
        action["display_name"] = self.env._("Emails: %(name)s", name=self.display_name)
        return action
