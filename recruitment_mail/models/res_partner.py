# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html).
from odoo import fields, models


class ResPartner(models.Model):
    _name = "res.partner"
    _inherit = ["res.partner", "recruitment.mail.about.mixin"]

    bulk_mail_opt_out = fields.Boolean(
        "No bulk email", help="This contact asked not to receive bulk email or Jobs by Email."
    )

    def _contact_mail_domain(self):
        # a company's tab also lists email sent to its contacts
        return [("contact_ids", "child_of", self.id)]
