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
    recruitment_mail_max_attempts = fields.Integer(
        "Attempts before an email fails",
        config_parameter="recruitment_mail.max_attempts",
        default=5,
        help="After a temporary failure (server busy or unreachable) an email is tried again, up to "
        "this many attempts in all; then it is Failed.",
    )
    recruitment_mail_retry_delays = fields.Char(
        "Wait between attempts (minutes)",
        config_parameter="recruitment_mail.retry_delays",
        default="1, 5, 15, 60, 240",
        help="Minutes to wait after the first, second, ... failed attempt; the last value repeats.",
    )
    recruitment_mail_job_email_interval_days = fields.Integer(
        "Do not resend a vacancy within (days)",
        config_parameter="recruitment_mail.job_email_interval_days",
        default=30,
        help="Jobs by Email skips candidates who were sent the same vacancy within this many days.",
    )
