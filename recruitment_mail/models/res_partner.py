# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html).
from odoo import models


class ResPartner(models.Model):
    _name = "res.partner"
    _inherit = ["res.partner", "recruitment.mail.about.mixin"]

    def _contact_mail_domain(self):
        # a company's tab also lists email sent to its contacts
        return [("contact_ids", "child_of", self.id)]
