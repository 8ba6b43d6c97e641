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

    def _contact_mail_count_query(self):
        # The emails of _contact_mail_domain (this contact and its children,
        # as the user may see them), put so that PostgreSQL reads only the
        # contacts' rows of mail_mail_contact_rel, from its (partner_id,
        # mail_id) index, into one array, then looks each email up by id in
        # mail_mail_rm_rules_idx (index-only: it carries what the record
        # rules test). Counting through the domain's EXISTS, the planner
        # joins instead, and for a contact with 10,000 emails read the whole
        # of mail_mail at 100,000 emails (seq scan, hash join) and the
        # relation's heap from parallel workers at 1,000,000: twice as slow.
        # The tab's list keeps the domain: that join stops at the 80th email.
        Mail = self.env["mail.mail"]
        contacts = self.env["res.partner"]._search([("id", "child_of", self.id)])
        query = Mail._search([])
        query.add_where(
            SQL(
                "%s = ANY(ARRAY(SELECT mail_id FROM mail_mail_contact_rel WHERE partner_id IN %s))",
                SQL.identifier(query.table, "id"),
                contacts.subselect(),
                to_flush=Mail._fields["contact_ids"],
            )
        )
        return query
