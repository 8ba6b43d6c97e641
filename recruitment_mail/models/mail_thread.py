# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html).
import logging

from odoo import api, models

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
                self.env["mail.mail"].sudo()._receive_bounce_report(email_message, message_dict)
        except Exception:  # noqa: BLE001  # what stock did with the bounce stands
            _logger.exception("Bounce: the Outbox could not record the report %s", message_dict.get("message_id"))
        return result
