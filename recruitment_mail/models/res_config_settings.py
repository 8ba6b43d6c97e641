# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html).
from odoo import api, fields, models
from odoo.exceptions import ValidationError

from .mail_mail_outcome import MAX_ATTEMPTS, RETRY_DELAYS
from .mail_mail_queue import MAX_SENDING_LANES, RETENTION_DAYS


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    recruitment_mail_retention_days = fields.Integer(
        "Keep sent email for (days)",
        config_parameter="recruitment_mail.retention_days",
        default=RETENTION_DAYS,
        help="Sent email older than this is deleted every night. 0 keeps it forever.",
    )
    recruitment_mail_max_attempts = fields.Integer(
        "Attempts before an email fails",
        config_parameter="recruitment_mail.max_attempts",
        default=MAX_ATTEMPTS,
        help="After a temporary failure (server busy or unreachable) an email is tried again, up to "
        "this many attempts in all; then it is Failed.",
    )
    recruitment_mail_retry_delays = fields.Char(
        "Wait between attempts (minutes)",
        config_parameter="recruitment_mail.retry_delays",
        default=RETRY_DELAYS,
        help="Minutes to wait after the first, second, ... failed attempt; the last value repeats.",
    )
    recruitment_mail_job_email_interval_days = fields.Integer(
        "Do not resend a vacancy within (days)",
        config_parameter="recruitment_mail.job_email_interval_days",
        default=30,
        help="Jobs by Email skips candidates who were sent the same vacancy within this many days.",
    )

    recruitment_mail_sending_lanes = fields.Integer(
        "Sending lanes",
        config_parameter="recruitment_mail.sending_lanes",
        default=1,
        help="How many scheduled actions send the queue side by side, each over its own SMTP "
        "connection. 1 sends with Odoo's queue action alone.",
    )
    recruitment_mail_queue_interval = fields.Integer(
        "Check the queue every (minutes)",
        help="How often Odoo's email queue runs. New, resent and due email also wakes it at once.",
    )

    @api.model
    def get_values(self):
        values = super().get_values()
        cron = self.env.ref("mail.ir_cron_mail_scheduler_action", raise_if_not_found=False)
        if cron:
            minutes = {"minutes": 1, "hours": 60, "days": 1440, "weeks": 10080, "months": 43200}
            values["recruitment_mail_queue_interval"] = cron.interval_number * minutes.get(cron.interval_type, 1)
        return values

    @api.constrains("recruitment_mail_sending_lanes")
    def _check_recruitment_mail_sending_lanes(self):
        for settings in self:
            if not 1 <= settings.recruitment_mail_sending_lanes <= MAX_SENDING_LANES:
                raise ValidationError(self.env._("Parallel sending: from 1 to %(max)s lanes.", max=MAX_SENDING_LANES))

    def set_values(self):
        res = super().set_values()
        cron = self.env.ref("mail.ir_cron_mail_scheduler_action", raise_if_not_found=False)
        if cron and self.recruitment_mail_queue_interval > 0:
            cron.sudo().write({"interval_number": self.recruitment_mail_queue_interval, "interval_type": "minutes"})
        self.env["mail.mail"]._sync_sending_lanes()
        return res
