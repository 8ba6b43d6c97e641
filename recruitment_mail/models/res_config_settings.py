# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html).
from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    recruitment_mail_retention_days = fields.Integer(
        "Keep sent email for (days)",
        config_parameter="recruitment_mail.retention_days",
        default=365,
        help="Sent email older than this is deleted every night. 0 keeps it forever.",
    )
    recruitment_mail_job_email_interval_days = fields.Integer(
        "Do not resend a vacancy within (days)",
        config_parameter="recruitment_mail.job_email_interval_days",
        default=30,
        help="Jobs by Email skips candidates who were sent the same vacancy within this many days.",
    )
