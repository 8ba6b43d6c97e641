# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html).
from odoo import fields, models
from odoo.tools import SQL


class ResPartner(models.Model):
    _name = "res.partner"
    _inherit = ["res.partner", "recruitment.mail.about.mixin"]

    bulk_mail_opt_out = fields.Boolean(
        "No bulk email", help="This contact asked not to receive bulk email or Jobs by Email."
    )

    def _contact_mail_domain(self):
        # a company's tab also lists email sent to its contacts
        return [("contact_ids", "child_of", self.id)]

    def _contact_mail_query(self):
        # The same emails (this contact and its children, as the user may see
        # them), found from the contacts' rows of mail_mail_contact_rel, read
        # from its (partner_id, mail_id) index. Through the domain's EXISTS
        # the planner joins instead: for a contact with 10,000 emails it read
        # the whole of mail_mail at 100,000 emails (seq scan and hash join),
        # and the relation's heap from parallel workers at 1,000,000.
        contacts = self.env["res.partner"]._search([("id", "child_of", self.id)])
        return self._mail_query_by_ids(
            SQL("SELECT mail_id FROM mail_mail_contact_rel WHERE partner_id IN %s", contacts.subselect()),
            to_flush=["contact_ids"],
        )
