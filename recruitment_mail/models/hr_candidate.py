# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html).
from odoo import fields, models


class HrCandidate(models.Model):
    _name = "hr.candidate"
    _inherit = ["hr.candidate", "recruitment.mail.about.mixin"]

    bulk_mail_opt_out = fields.Boolean(related="partner_id.bulk_mail_opt_out", readonly=False)

    def _contact_mail_domain(self):
        if not self.partner_id:
            return [("candidate_id", "=", self.id)]
        return ["|", ("candidate_id", "=", self.id), ("contact_ids", "in", self.partner_id.ids)]
