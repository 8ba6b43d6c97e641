# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html).
from odoo import models


class HrJob(models.Model):
    _name = "hr.job"
    _inherit = ["hr.job", "recruitment.mail.about.mixin"]

    def _contact_mail_domain(self):
        return [("job_id", "=", self.id)]
