# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html).
"""The pure functions of tools/: no database, no environment."""

import smtplib
import ssl
import unittest

from ..tools import fates
from ..tools.addresses import (
    address_syntax_error,
    ascii_address,
    has_line_break,
    is_lone_quoted_name,
    one_line,
    raw_address_tokens,
    sendable_addresses,
    split_raw_addresses,
)
from ..tools.bounces import bounce_detail, bounced_addresses
from ..tools.delivery import RecordingSession
from ..tools.smtp_errors import (
    delivery_failure,
    describe_error,
    is_permanent_connection_error,
    refused_recipients,
    smtp_reply,
)


class Words:
    """What delivery_failure uses of an environment: its translation, here English."""

    @staticmethod
    def _(source, **kwargs):
        return source % kwargs if kwargs else source


class TestAddresses(unittest.TestCase):
    def test_addresses_as_typed_keep_the_mistake_to_show(self):
        value = 'Anna <anna@example.com>, "Smith, Ben" <ben@example.com>; tom@@example.com\ncarl@example.com'
        self.assertEqual(
            raw_address_tokens(value),
            ["Anna <anna@example.com>", '"Smith, Ben" <ben@example.com>', "tom@@example.com", "carl@example.com"],
        )
        self.assertEqual(
            split_raw_addresses(value), ["anna@example.com", "ben@example.com", "tom@@example.com", "carl@example.com"]
        )

    def test_what_odoo_sends_to_leaves_out_what_no_server_takes(self):
        self.assertEqual(sendable_addresses('"Customer" <customer@example.com'), ["customer@example.com"])
        self.assertEqual(
            sendable_addresses("lea@mail.test, bob@intranet.local"), ["lea@mail.test", "bob@intranet.local"]
        )
        self.assertEqual(sendable_addresses("<@wrong>"), [])

    def test_syntax_errors_are_explained_and_idna_domains_converted(self):
        self.assertIn("@", address_syntax_error("tom@@example.com") or "")
        self.assertIsNone(address_syntax_error("anna@example.com"))
        self.assertEqual(ascii_address("lea@exämple.fr"), "lea@xn--exmple-cua.fr")
        self.assertTrue(is_lone_quoted_name('"Customer"'))
        self.assertTrue(has_line_break("Interview\r\nBcc: all@example.com"))
        self.assertEqual(one_line("Interview\non Tuesday"), "Interview on Tuesday")


class TestFates(unittest.TestCase):
    def test_an_attempt_and_a_resend(self):
        after = fates.with_attempt(
            {},
            delivered=["Anna@Example.com"],
            refused={"ben@example.com": (550, b"5.1.1 User unknown"), "carl@example.com": (451, "4.7.1 Later")},
            invalid=[("tom@@example.com", "not an address")],
        )
        self.assertEqual(after["anna@example.com"], [fates.DELIVERED, ""])
        self.assertEqual(after["ben@example.com"], [fates.REFUSED, "550 5.1.1 User unknown"])
        self.assertEqual(after["carl@example.com"], [fates.DEFERRED, "451 4.7.1 Later"])
        self.assertTrue(fates.any_deferred(after))
        self.assertEqual(fates.delivered_count(after), 1)
        self.assertEqual(set(fates.undelivered(after)), {"ben@example.com", "carl@example.com", "tom@@example.com"})
        # not sent again: who got it and who was refused for good; tried again: refused for now
        self.assertEqual(fates.addresses_done(after), {"anna@example.com", "ben@example.com", "tom@@example.com"})
        self.assertEqual(fates.delivered_only(after), {"anna@example.com": [fates.DELIVERED, ""]})
        bounced = fates.with_bounced(after, ["anna@example.com"], "Bounced")
        self.assertEqual(bounced["anna@example.com"], [fates.REFUSED, "Bounced"])


class TestSmtpErrors(unittest.TestCase):
    def test_replies_are_classified_and_worded(self):
        refused = smtplib.SMTPRecipientsRefused({"ben@example.com": (451, b"4.7.1 Greylisted")})
        failure = delivery_failure(refused, Words)
        self.assertEqual((failure.failure_type, failure.temporary), ("mail_rejected", True))
        self.assertIn("ben@example.com: 451 4.7.1 Greylisted", failure.reason)
        rejected = delivery_failure(smtplib.SMTPDataError(554, b"5.7.1 Spam"), Words)
        self.assertEqual(
            (rejected.temporary, rejected.reason), (False, "The mail server rejected the email: 554 5.7.1 Spam")
        )
        lost = delivery_failure(ConnectionResetError(104, "Connection reset by peer"), Words)
        self.assertEqual((lost.failure_type, lost.temporary), ("mail_smtp", True))
        self.assertIn("Connection reset by peer", lost.reason)
        self.assertIsNone(delivery_failure(ValueError("a bug"), Words))
        self.assertEqual(
            smtp_reply(smtplib.SMTPResponseException(550, b"5.1.1  User\n unknown")), "550 5.1.1 User unknown"
        )
        self.assertEqual(describe_error(ConnectionRefusedError(111, "Connection refused")), "Connection refused")

    def test_what_waiting_cannot_mend(self):
        self.assertTrue(is_permanent_connection_error(smtplib.SMTPAuthenticationError(535, b"5.7.8 Bad credentials")))
        self.assertFalse(is_permanent_connection_error(smtplib.SMTPResponseException(421, b"4.3.2 Busy")))
        self.assertTrue(is_permanent_connection_error(ssl.SSLCertVerificationError("self-signed")))

    def test_every_recipient_refused_is_found_behind_the_wrapping(self):
        cause = smtplib.SMTPRecipientsRefused({"ben@example.com": (550, b"no")})
        wrapped = RuntimeError("Mail Delivery Failed")
        wrapped.__cause__ = cause
        self.assertEqual(refused_recipients(wrapped), {"ben@example.com": (550, b"no")})
        self.assertIsNone(refused_recipients(RuntimeError("other")))


class TestBounces(unittest.TestCase):
    def test_a_report_without_a_message_falls_back_to_the_address_odoo_found(self):
        self.assertEqual(bounced_addresses(False, "ben@example.com"), ["ben@example.com"])
        self.assertEqual(bounced_addresses(None, None), [])
        self.assertEqual(bounce_detail(False), "")


class TestRecordingSession(unittest.TestCase):
    def test_a_message_nobody_can_be_sent_to_is_refused_without_a_connection(self):
        session = RecordingSession(None, refuse_with="no valid recipient")
        self.assertFalse(getattr(session, "from_filter", False), "what send_email reads of a session")
        with self.assertRaisesRegex(AssertionError, "no valid recipient"):
            session.send_message(object(), "from@example.com", ["to@example.com"])
        self.assertFalse(session.handed)
        self.assertIsInstance(session.error, AssertionError)

    def test_the_server_error_is_kept_for_the_caller(self):
        class Refusing:
            def send_message(self, *args):
                raise smtplib.SMTPRecipientsRefused({"a@example.com": (550, b"5.1.1 User unknown")})

        session = RecordingSession(Refusing())
        with self.assertRaises(smtplib.SMTPRecipientsRefused):
            session.send_message(object(), "from@example.com", ["a@example.com"])
        self.assertTrue(session.handed)
        self.assertIsInstance(session.error, smtplib.SMTPRecipientsRefused)
