# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html).
from odoo import fields, models


class MailNotification(models.Model):
    _inherit = "mail.notification"

    # A chatter email that the server refused shows why on the message's
    # envelope, with the failure type the email itself has.
    failure_type = fields.Selection(selection_add=[("mail_rejected", "Rejected by the mail server")])
