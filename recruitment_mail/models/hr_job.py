# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html).
from odoo import fields, models


class HrJob(models.Model):
    _name = "hr.job"
    _inherit = ["hr.job", "recruitment.mail.about.mixin"]

    candidate_tag_ids = fields.Many2many(
        "hr.applicant.category",
        "hr_job_candidate_tag_rel",
        "job_id",
        "tag_id",
        string="Candidate tags",
        help="Jobs by Email offers this vacancy to candidates with one of these tags.",
    )

    def action_jobs_by_email(self):
        """Open Jobs by Email for this vacancy."""
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Send %(job)s by email", job=self.display_name),
            "res_model": "recruitment.jobs.by.email",
            "view_mode": "form",
            "target": "new",
            "context": {"default_job_id": self.id},
        }

    def _contact_mail_domain(self):
        return [("job_id", "=", self.id)]
