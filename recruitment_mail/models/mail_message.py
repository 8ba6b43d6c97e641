# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html).
from odoo import models
from odoo.exceptions import AccessError

from .mail_mail_access import MESSAGE_FIELDS

# What an email (mail.mail _inherits mail.message) takes from its message when
# it is sent, or what decides whose email it is and who sees it. The rest of a
# message (its body: the email has its own body_html; layout, followers,
# stars...) is the chatter's, left to stock Odoo's rules.
EMAIL_MESSAGE_FIELDS = frozenset(
    {
        "subject",
        "attachment_ids",
        "email_from",
        "reply_to",
        "author_id",
        "author_guest_id",
        "model",
        "res_id",
        "record_name",
        "record_alias_domain_id",
        "record_company_id",
        "message_type",
        "message_id",
        "parent_id",
        "reply_to_force_new",
        "mail_server_id",
        "mail_ids",
    }
)


class MailMessage(models.Model):
    _inherit = "mail.message"

    # Stock Odoo lets a message's author, its recipients and whoever may write
    # the record it is posted on write the message, and the last ones delete
    # it. A message that carries email is changed where the email reads it, or
    # deleted (which deletes its email), only by those who may act on that
    # email: its subject and attachments, never its sender, author, record or
    # mail server. Administrators keep stock Odoo's rules.

    def write(self, vals):
        if not self.env.is_system():
            self._check_email_messages(EMAIL_MESSAGE_FIELDS.intersection(vals))
        return super().write(vals)

    def unlink(self):
        if not self.env.is_system():
            self._check_email_messages(None)
        return super().unlink()

    def _check_email_messages(self, field_names):
        """``field_names``: the email's fields written, None for a deletion."""
        if field_names is not None and not field_names:
            return
        mails = self.env["mail.mail"].sudo().search([("mail_message_id", "in", self.ids)]).with_env(self.env)
        if not mails:
            return
        if field_names is None:
            mails._check_can_act(self.env._("delete the message of these emails"))
            return
        refused = sorted(field_names - MESSAGE_FIELDS)
        if refused:
            raise AccessError(
                self.env._(
                    "This message is the message of an email: of it you can change only the subject and "
                    "attachments, not: %(fields)s.",
                    fields=", ".join(refused),
                )
            )
        mails._check_can_act(self.env._("change these emails"))
