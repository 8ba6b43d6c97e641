# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html).
"""The one stock method the add-on replaces, mail.mail._send, stays in step
with Odoo: its source is pinned, and the replacement sits where stock's does
in the method resolution order, so other modules' _send overrides still run
(the system test test_claim_system.py shows one of a module loaded before
the add-on running)."""

from odoo.tests import TransactionCase, tagged

from odoo.addons.mail.models.mail_mail import MailMail as StockMailMail

from ..models import mail_mail_send


@tagged("post_install", "-at_install")
class TestStockSend(TransactionCase):
    def test_stock_send_is_the_one_mirrored(self):
        self.assertEqual(
            mail_mail_send.stock_send_sha256(),
            mail_mail_send.STOCK_SEND_SHA256,
            "Odoo's mail.mail._send is not the Odoo 18.0 source that recruitment_mail's "
            "_send_odoo_18_0 mirrors (models/mail_mail_send.py): compare the two, port the change, "
            "then update STOCK_SEND_SHA256.",
        )

    def test_the_add_on_sends_from_stocks_place_in_the_mro(self):
        self.assertIs(StockMailMail._send, mail_mail_send._send_at_the_bottom)
        Mail = type(self.env["mail.mail"])
        owners = [cls for cls in Mail.__mro__ if "_send" in vars(cls)]
        self.assertIs(owners[-1], StockMailMail, "stock's class is the last to define _send")
        self.assertFalse(
            [cls for cls in owners if cls.__module__.startswith("odoo.addons.recruitment_mail.")],
            "the add-on's classes leave _send to the modules above stock",
        )

    def test_a_database_without_the_add_on_runs_stocks_send(self):
        """The replacement is shared by every database of the server: where
        recruitment_mail is not installed (no _send_odoo_18_0), it is stock's."""
        calls = []

        class Plain:
            pass

        def stock(self, **kwargs):
            calls.append(kwargs)
            return "stock"

        original = mail_mail_send.STOCK_SEND
        mail_mail_send.STOCK_SEND = stock
        try:
            self.assertEqual(mail_mail_send._send_at_the_bottom(Plain(), auto_commit=False), "stock")
        finally:
            mail_mail_send.STOCK_SEND = original
        self.assertEqual(calls[0]["auto_commit"], False)
