# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html).
from odoo import models


class HrApplicant(models.Model):
    """A hired application is what the agency calls a Placement."""

    _name = "hr.applicant"
    _inherit = ["hr.applicant", "recruitment.mail.about.mixin"]

    def _contact_mail_domain(self):
        return [("applicant_id", "=", self.id)]
