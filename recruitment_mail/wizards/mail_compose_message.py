# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html).
from collections import Counter

from odoo import fields, models
from odoo.tools.translate import LazyTranslate

from ..tools.notifications import success_notification

_lt = LazyTranslate(__name__)

SKIP_REASONS = {
    "mail_bl": _lt("blacklisted"),
    "mail_optout": _lt("opted out"),
    "mail_email_missing": _lt("without an email address"),
    "mail_email_invalid": _lt("with an invalid email address"),
    "mail_dup": _lt("duplicates"),
}


class MailComposeMessage(models.TransientModel):
    """Bulk email: the composer in mass mode, with a Send later date and a
    count of who was skipped and why."""

    _inherit = "mail.compose.message"

    send_later_date = fields.Datetime(
        "Send later", help="Leave empty to send now. Each email waits in the Outbox as Scheduled until then."
    )

    def _prepare_mail_values_dynamic(self, res_ids):
        values = super()._prepare_mail_values_dynamic(res_ids)
        if self.send_later_date:
            for mail_values in values.values():
                mail_values["scheduled_date"] = self.send_later_date
        return values

    def action_send_mail(self):
        if not any(wizard.composition_mode == "mass_mail" for wizard in self):
            return super().action_send_mail()
        mails, _messages = self._action_send_mail(auto_commit=False)
        return success_notification(
            self._mass_mail_summary(mails),
            {"type": "ir.actions.act_window_close"},
            sticky=any(mail.state == "cancel" for mail in mails),
        )

    def _mass_mail_summary(self, mails):
        skipped = Counter(mail.failure_type for mail in mails if mail.state == "cancel")
        going = mails.filtered(lambda mail: mail.state != "cancel")
        scheduled = going.filtered(lambda mail: mail.outbox_status == "scheduled")
        message = (
            self.env._("%(count)s email(s) scheduled.", count=len(scheduled))
            if scheduled
            else self.env._("%(count)s email(s) queued.", count=len(going))
        )
        if skipped:
            reasons = ", ".join(
                f"{count} {SKIP_REASONS[failure_type] if failure_type in SKIP_REASONS else self.env._('other')}"
                for failure_type, count in skipped.most_common()
            )
            message += " " + self.env._("%(count)s skipped: %(reasons)s.", count=sum(skipped.values()), reasons=reasons)
        return message

    def _get_optout_emails(self, mail_values_dict):
        """Contacts and candidates who asked for no bulk email."""
        emails = super()._get_optout_emails(mail_values_dict)
        records = self.env[self.model].browse(mail_values_dict.keys()) if self.model else None
        if self.model == "res.partner":
            opted_out = records.filtered("bulk_mail_opt_out")
        elif self.model == "hr.candidate":
            opted_out = records.filtered(lambda candidate: candidate.partner_id.bulk_mail_opt_out)
        else:
            return emails
        return list(emails) + [email for email in opted_out.mapped("email_normalized") if email]
