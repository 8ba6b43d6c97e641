# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html).
import logging

from odoo import api, models

from ..tools import fates
from ..tools.bounces import bounce_detail, bounced_addresses

_logger = logging.getLogger(__name__)


class MailThread(models.AbstractModel):
    _inherit = "mail.thread"

    @api.model
    def _routing_handle_bounce(self, email_message, message_dict):
        """Besides what Odoo does with a bounce (notifications, contacts'
        bounce counters), turn the sent email it reports back to Failed in the
        Outbox, with the reason, so that it can be fixed and resent."""
        result = super()._routing_handle_bounce(email_message, message_dict)
        try:
            with self.env.cr.savepoint():
                self._record_bounce_on_mail(email_message, message_dict)
        except Exception:  # noqa: BLE001  # what stock did with the bounce stands
            _logger.exception("Bounce: the Outbox could not record the report %s", message_dict.get("message_id"))
        return result

    @api.model
    def _record_bounce_on_mail(self, email_message, message_dict):
        """A delivery failure report (DSN) came back for mail we sent: the
        email is Failed again, with the reason the recipient's server gave.
        flufl.bounce reads the report (any of the formats servers use); a
        report of a temporary delay only is not a failure. Return the mails."""
        Mail = self.env["mail.mail"].sudo()
        msg_ids = message_dict.get("bounced_msg_ids") or []
        mails = Mail.search([("message_id", "in", msg_ids), ("state", "=", "sent")]) if msg_ids else Mail
        if not mails:
            return mails
        bounced = bounced_addresses(email_message, message_dict.get("bounced_email"))
        if not bounced:
            _logger.info("Delivery report for %s: temporary delay only, email %s stays sent", msg_ids, mails.ids)
            return Mail
        detail = bounce_detail(email_message)
        reason = self.env._(
            "Bounced: the recipient's mail server returned this email as undeliverable to %(addresses)s.%(detail)s",
            addresses=", ".join(bounced),
            detail=f" {detail}" if detail else "",
        )
        mails.write({"state": "exception", "failure_type": "mail_bounce", "failure_reason": reason})
        for mail in mails.filtered("recipient_fates"):
            # a bounced address did not get it after all: Resend tries it again
            mail.recipient_fates = fates.with_bounced(mail.recipient_fates, bounced, reason)
        _logger.info("Email(s) %s bounced (%s): back in the Outbox as Failed", mails.ids, ", ".join(bounced))
        return mails
