# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html).
from odoo import api, models


class MailThread(models.AbstractModel):
    _inherit = "mail.thread"

    @api.model
    def _routing_handle_bounce(self, email_message, message_dict):
        """Besides what Odoo does with a bounce (notifications, contacts'
        bounce counters), turn the sent email it reports back to Failed in the
        Outbox, with the reason, so that it can be fixed and resent."""
        result = super()._routing_handle_bounce(email_message, message_dict)
        self.env["mail.mail"].sudo()._receive_bounce_report(email_message, message_dict)
        return result
