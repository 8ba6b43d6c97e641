# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html).
"""tools/smtp_pipeline.py against a real SMTP server on 127.0.0.1
(scripts/smtp_sink.py), without any database: plain unittest classes.

Every scenario runs twice: on a server that advertises PIPELINING and on one
that does not (the one-command-at-a-time fallback); the outcomes must be the
same, only the number of round trips differs.
"""

import asyncio
import email
import email.policy
import importlib.util
import smtplib
import subprocess
import sys
import unittest
from email.message import EmailMessage
from pathlib import Path

_REPO = Path(__file__).resolve().parents[2]


def _load(name, path):
    """A module by path: the sink is no package, and the pipeline needs no Odoo
    (nor the add-on's models, which importing the package would load)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


smtp_sink = _load("recruitment_mail_test_smtp_sink", _REPO / "scripts" / "smtp_sink.py")
smtp_pipeline = _load(
    "recruitment_mail_test_smtp_pipeline", Path(__file__).resolve().parents[1] / "tools" / "smtp_pipeline.py"
)
Envelope = smtp_pipeline.Envelope
envelope_for = smtp_pipeline.envelope_for
send_envelopes = smtp_pipeline.send_envelopes

TEMP_REPLY = "451 4.7.1 Greylisted, try again later"
DATA_REFUSED = "554 5.7.1 Message refused: spam suspected"
SENDER_REFUSED = "550 5.7.1 Sender blocked by policy"


class _Handler(smtp_sink._Handler):
    """The sink's handler, plus: a message whose Subject contains FAIL-DATA is
    refused at the end of data; one with DROP is stored and the connection is
    closed without an answer (the server took it, the client never learns);
    RCPT to an address starting with "drop" closes the connection at once, one
    starting with "closing" is answered 421; a sender starting with "blocked" is
    refused at MAIL FROM."""

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if address.startswith("blocked"):
            return SENDER_REFUSED
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("drop"):
            server.transport.close()
            await asyncio.sleep(3600)  # connection_lost() cancels this task: no reply
        if address.startswith("closing"):
            return "421 4.3.2 Service shutting down"
        return await super().handle_RCPT(server, session, envelope, address, rcpt_options)

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        subject = str(email.message_from_bytes(raw, policy=email.policy.default)["Subject"])
        if "FAIL-DATA" in subject:
            return DATA_REFUSED
        if "DROP" in subject:
            self.sink._store(envelope.mail_from, list(envelope.rcpt_tos), raw)
            server.transport.close()
            await asyncio.sleep(3600)
        return await super().handle_DATA(server, session, envelope)


class _Sink(smtp_sink.SmtpSink):
    handler_class = _Handler


def make_message(n, to="candidate@example.com", subject=None, body=None, cc=None, bcc=None):
    msg = EmailMessage()
    msg["From"] = '"Recruiter" <jobs@agency.example>'
    msg["To"] = to
    if cc:
        msg["Cc"] = cc
    if bcc:
        msg["Bcc"] = bcc
    msg["Subject"] = subject or f"Interview invitation {n}"
    msg["Message-Id"] = f"<pipeline-{n}@agency.example>"
    msg.set_content(body or f"Dear candidate {n},\nsee you on Monday.\n")
    return msg


def body_of(received):
    """The text of a received message, line ends as Python writes them."""
    return received.message.get_content().replace("\r\n", "\n")


class _SinkCase(unittest.TestCase):
    """A fresh sink and a connected smtplib client for each test."""

    pipelining = True
    smtputf8 = True
    reply_delay = 0.0

    def setUp(self):
        super().setUp()
        self.sink = _Sink(
            reject=["unknown@example.com", "nobody@example.com"],
            pipelining=self.pipelining,
            reply_delay=self.reply_delay,
            smtputf8=self.smtputf8,
        ).start()
        self.addCleanup(self.sink.stop)
        self.sink.reject_replies["greylisted@example.com"] = TEMP_REPLY
        self.smtp = smtplib.SMTP(self.sink.host, self.sink.port, timeout=10)
        self.addCleanup(self.smtp.close)
        self.smtp.ehlo()
        self.assertEqual(self.smtp.has_extn("pipelining"), self.pipelining)

    def envelopes(self, messages):
        return [envelope_for(self.smtp, msg, key=str(msg["Message-Id"])) for msg in messages]

    def received_ids(self):
        return self.sink.message_ids()

    def received_by_id(self):
        return {str(r.message["Message-Id"]): r for r in self.sink.received}


class TestSendEnvelopes(_SinkCase):
    """With PIPELINING (RFC 2920)."""

    def test_batch_delivered_exactly_once(self):
        messages = [make_message(n) for n in range(20)]
        outcomes = send_envelopes(self.smtp, self.envelopes(messages))
        ids = [str(m["Message-Id"]) for m in messages]
        self.assertEqual([o.key for o in outcomes], ids, "one outcome per envelope, in order")
        for outcome in outcomes:
            self.assertIsNone(outcome.error)
            self.assertFalse(outcome.in_doubt)
            self.assertEqual(outcome.accepted, ["candidate@example.com"])
            self.assertEqual(outcome.refused, {})
        self.assertEqual(sorted(self.received_ids()), sorted(ids), "every message arrived, each once")
        got = self.received_by_id()["<pipeline-7@agency.example>"]
        self.assertEqual(got.message["Subject"], "Interview invitation 7")
        self.assertEqual(body_of(got), "Dear candidate 7,\nsee you on Monday.\n")
        # the connection is fit for the next batch
        self.assertEqual(self.smtp.noop()[0], 250)
        more = send_envelopes(self.smtp, self.envelopes([make_message(20)]))
        self.assertIsNone(more[0].error)
        self.assertEqual(len(self.received_ids()), 21)

    def test_some_recipients_refused(self):
        messages = [
            make_message(1, to="candidate@example.com, unknown@example.com, other@example.com"),
            make_message(2, to="candidate@example.com", cc="greylisted@example.com"),
        ]
        first, second = send_envelopes(self.smtp, self.envelopes(messages))
        self.assertIsNone(first.error)
        self.assertEqual(first.accepted, ["candidate@example.com", "other@example.com"])
        self.assertEqual(first.refused, {"unknown@example.com": (550, b"5.1.1 User unknown")})
        self.assertIsNone(second.error)
        self.assertEqual(second.accepted, ["candidate@example.com"])
        self.assertEqual(second.refused, {"greylisted@example.com": (451, b"4.7.1 Greylisted, try again later")})
        received = self.received_by_id()
        both = ["candidate@example.com", "other@example.com"]
        self.assertEqual(received["<pipeline-1@agency.example>"].rcpt_tos, both)
        self.assertEqual(received["<pipeline-2@agency.example>"].rcpt_tos, ["candidate@example.com"])

    def test_all_recipients_refused_fails_that_envelope_only(self):
        messages = [
            make_message(1),
            make_message(2, to="unknown@example.com, nobody@example.com"),
            make_message(3),
            make_message(4, to="greylisted@example.com"),
        ]
        outcomes = send_envelopes(self.smtp, self.envelopes(messages))
        refused = outcomes[1]
        self.assertIsInstance(refused.error, smtplib.SMTPRecipientsRefused)
        expected = {
            "unknown@example.com": (550, b"5.1.1 User unknown"),
            "nobody@example.com": (550, b"5.1.1 User unknown"),
        }
        self.assertEqual(refused.error.recipients, expected)
        self.assertEqual(refused.refused, expected)
        self.assertEqual(refused.accepted, [])
        self.assertFalse(refused.in_doubt)
        # the last envelope of the batch fails too, with the server's words
        self.assertIsInstance(outcomes[3].error, smtplib.SMTPRecipientsRefused)
        self.assertEqual(
            outcomes[3].error.recipients, {"greylisted@example.com": (451, b"4.7.1 Greylisted, try again later")}
        )
        for outcome in (outcomes[0], outcomes[2]):
            self.assertIsNone(outcome.error)
            self.assertEqual(outcome.accepted, ["candidate@example.com"])
        self.assertEqual(sorted(self.received_ids()), ["<pipeline-1@agency.example>", "<pipeline-3@agency.example>"])
        self.assertEqual(self.smtp.noop()[0], 250, "the server is out of the failed transactions")

    def test_message_refused_at_end_of_data(self):
        messages = [
            make_message(1, subject="FAIL-DATA 1"),
            make_message(2),
            make_message(3, subject="FAIL-DATA 3"),
        ]
        outcomes = send_envelopes(self.smtp, self.envelopes(messages))
        for outcome in (outcomes[0], outcomes[2]):
            self.assertIsInstance(outcome.error, smtplib.SMTPDataError)
            self.assertEqual(outcome.error.smtp_code, 554)
            self.assertEqual(outcome.error.smtp_error, b"5.7.1 Message refused: spam suspected")
            self.assertEqual(outcome.accepted, [])
            self.assertFalse(outcome.in_doubt, "the server answered: it did not take the message")
        self.assertIsNone(outcomes[1].error)
        self.assertEqual(self.received_ids(), ["<pipeline-2@agency.example>"])
        self.assertEqual(self.smtp.noop()[0], 250)

    def test_sink_fail_data(self):
        self.sink.fail_data = "451 4.3.0 Try again later"
        outcomes = send_envelopes(self.smtp, self.envelopes([make_message(n) for n in range(3)]))
        for outcome in outcomes:
            self.assertIsInstance(outcome.error, smtplib.SMTPDataError)
            self.assertEqual((outcome.error.smtp_code, outcome.error.smtp_error), (451, b"4.3.0 Try again later"))
        self.assertEqual(self.received_ids(), [])
        # once the server takes mail again, the same connection delivers
        self.sink.fail_data = None
        outcomes = send_envelopes(self.smtp, self.envelopes([make_message(n) for n in range(3)]))
        self.assertEqual([o.error for o in outcomes], [None, None, None])
        self.assertEqual(len(self.received_ids()), 3)

    def test_sender_refused_and_bad_envelopes(self):
        good = self.envelopes([make_message(1), make_message(2)])
        bad_sender = Envelope(
            "jobs@agency.example", ["candidate@example.com"], good[0].data, ("BODY=8BITMIME\r\nRSET",), key="newline"
        )
        nobody = Envelope("jobs@agency.example", [], good[0].data, key="nobody")
        refused_sender = Envelope("blocked@agency.example", ["candidate@example.com"], good[0].data, key="refused")
        outcomes = send_envelopes(self.smtp, [bad_sender, good[0], nobody, refused_sender, good[1]])
        self.assertEqual([o.key for o in outcomes], ["newline", good[0].key, "nobody", "refused", good[1].key])
        self.assertIsInstance(outcomes[0].error, ValueError)  # as smtplib refuses a line break in a command
        self.assertIsInstance(outcomes[2].error, smtplib.SMTPRecipientsRefused)
        self.assertEqual(outcomes[2].error.recipients, {})
        self.assertIsInstance(outcomes[3].error, smtplib.SMTPSenderRefused)
        self.assertEqual(outcomes[3].error.smtp_code, 550)
        self.assertEqual(outcomes[3].error.smtp_error, b"5.7.1 Sender blocked by policy")
        self.assertEqual(outcomes[3].error.sender, "blocked@agency.example")
        self.assertEqual(outcomes[3].refused, {})
        self.assertIsNone(outcomes[1].error)
        self.assertIsNone(outcomes[4].error)
        self.assertEqual(sorted(self.received_ids()), ["<pipeline-1@agency.example>", "<pipeline-2@agency.example>"])

    def test_dot_stuffing(self):
        body = ".leading dot\n..two dots\n.\nthe line above is a lone dot\n"
        outcomes = send_envelopes(self.smtp, self.envelopes([make_message(1, body=body), make_message(2)]))
        self.assertEqual([o.error for o in outcomes], [None, None])
        received = self.received_by_id()
        self.assertEqual(body_of(received["<pipeline-1@agency.example>"]), body)
        self.assertIn(b"\r\n.leading dot\r\n..two dots\r\n.\r\nthe line", received["<pipeline-1@agency.example>"].raw)
        self.assertEqual(len(received), 2, "the lone dot did not end the first message early")

    def test_bcc_is_envelope_only(self):
        msg = make_message(1, bcc="hidden@example.com")
        envelope = envelope_for(self.smtp, msg, key=1)
        self.assertEqual(envelope.recipients, ["candidate@example.com", "hidden@example.com"])
        self.assertEqual(envelope.sender, "jobs@agency.example")
        self.assertNotIn(b"hidden@example.com", envelope.data)
        self.assertIn("Bcc", msg, "the caller's message is left as it was")
        (outcome,) = send_envelopes(self.smtp, [envelope])
        self.assertEqual(outcome.accepted, ["candidate@example.com", "hidden@example.com"])
        (received,) = self.sink.received
        self.assertEqual(received.rcpt_tos, ["candidate@example.com", "hidden@example.com"])
        self.assertIsNone(received.message["Bcc"])

    def test_envelope_matches_send_message(self):
        """The bytes envelope_for builds are those smtplib's send_message sends."""
        msg = make_message(1, cc="other@example.com", bcc="hidden@example.com")
        envelope = envelope_for(self.smtp, msg)
        self.smtp.send_message(msg)
        (received,) = self.sink.received
        self.assertEqual(received.raw, envelope.data)
        self.assertEqual(received.rcpt_tos, envelope.recipients)
        self.assertEqual(received.mail_from, envelope.sender)

    def test_non_ascii_recipient(self):
        msg = make_message(1, to="José <josé@exämple.com>")
        envelope = envelope_for(self.smtp, msg, key=1)
        self.assertEqual(envelope.mail_options, ("SMTPUTF8", "BODY=8BITMIME"))
        outcomes = send_envelopes(self.smtp, [envelope, *self.envelopes([make_message(2)])])
        self.assertEqual([o.error for o in outcomes], [None, None])
        self.assertEqual(outcomes[0].accepted, ["josé@exämple.com"])
        received = self.received_by_id()["<pipeline-1@agency.example>"]
        self.assertEqual(received.rcpt_tos, ["josé@exämple.com"])
        self.assertEqual(str(received.message["To"]), "José <josé@exämple.com>")

    def test_lost_after_end_of_data_is_in_doubt(self):
        messages = [make_message(n, subject="DROP" if n == 2 else None) for n in range(5)]
        outcomes = send_envelopes(self.smtp, self.envelopes(messages))
        self.assertEqual([o.error for o in outcomes[:2]], [None, None])
        lost = outcomes[2]
        self.assertIsInstance(lost.error, smtplib.SMTPServerDisconnected)
        self.assertTrue(lost.in_doubt, "its end of data was written, its answer never came")
        self.assertEqual(lost.accepted, [])
        for outcome in outcomes[3:]:
            self.assertIsInstance(outcome.error, smtplib.SMTPServerDisconnected)
            self.assertFalse(outcome.in_doubt, "its message was never written")
        # the server did take the one in doubt, and nothing after it
        self.assertEqual(sorted(self.received_ids()), [f"<pipeline-{n}@agency.example>" for n in range(3)])
        self.assertIsNone(self.smtp.sock, "smtplib's way of saying the connection is gone")

    def test_lost_before_end_of_data_is_not_in_doubt(self):
        messages = [make_message(1), make_message(2, to="drop@example.com"), make_message(3)]
        outcomes = send_envelopes(self.smtp, self.envelopes(messages))
        self.assertIsNone(outcomes[0].error)
        for outcome in outcomes[1:]:
            self.assertIsInstance(outcome.error, smtplib.SMTPServerDisconnected)
            self.assertFalse(outcome.in_doubt)
        self.assertEqual(self.received_ids(), ["<pipeline-1@agency.example>"])

    def test_421_closes(self):
        messages = [make_message(1), make_message(2, to="closing@example.com"), make_message(3)]
        outcomes = send_envelopes(self.smtp, self.envelopes(messages))
        self.assertIsNone(outcomes[0].error)
        self.assertIsInstance(outcomes[1].error, smtplib.SMTPRecipientsRefused)
        self.assertEqual(outcomes[1].error.recipients, {"closing@example.com": (421, b"4.3.2 Service shutting down")})
        self.assertIsInstance(outcomes[2].error, smtplib.SMTPServerDisconnected)
        self.assertFalse(any(o.in_doubt for o in outcomes))
        self.assertIsNone(self.smtp.sock)
        self.assertEqual(self.received_ids(), ["<pipeline-1@agency.example>"])

    def test_closed_connection(self):
        self.smtp.close()
        outcomes = send_envelopes(self.smtp, self.envelopes([make_message(1), make_message(2)]))
        for outcome in outcomes:
            self.assertIsInstance(outcome.error, smtplib.SMTPServerDisconnected)
            self.assertFalse(outcome.in_doubt)
        self.assertEqual(self.received_ids(), [])

    def test_programming_error_propagates(self):
        envelope = Envelope("jobs@agency.example", ["candidate@example.com"], data=12345)  # not a message
        with self.assertRaises(TypeError):
            send_envelopes(self.smtp, [envelope])
        self.assertIsNone(self.smtp.sock, "closed: its protocol state is unknown")
        self.assertEqual(self.received_ids(), [])

    def test_odoo_connection_wrapper(self):
        """Odoo's ir.mail_server.connect() hands out SMTPConnection: smtplib.SMTP in
        ``__obj__``, a few of its attributes passed through (not sock, send, does_esmtp)."""

        class Wrapper:  # the same mechanism as odoo.addons.base.models.ir_mail_server.SMTPConnection
            def __init__(self, smtp):
                self.__obj__ = smtp

        for name in ("ehlo_or_helo_if_needed", "has_extn", "close", "quit"):
            setattr(Wrapper, name, property(lambda self, name=name: getattr(self.__obj__, name)))
        wrapped = Wrapper(self.smtp)
        envelopes = [envelope_for(wrapped, make_message(n), key=n) for n in range(3)]
        outcomes = send_envelopes(wrapped, envelopes)
        self.assertEqual([o.error for o in outcomes], [None, None, None])
        self.assertEqual(len(self.received_ids()), 3)


class TestSendEnvelopesWithoutPipelining(TestSendEnvelopes):
    """The same outcomes from a server without PIPELINING, one command at a time."""

    pipelining = False


class TestWithoutSmtpUtf8(_SinkCase):
    smtputf8 = False

    def test_non_ascii_address_not_supported(self):
        msg = make_message(1, to="josé@exämple.com")
        with self.assertRaises(smtplib.SMTPNotSupportedError):
            envelope_for(self.smtp, msg)
        # an envelope asking for SMTPUTF8 anyway fails alone, as smtplib would
        (good,) = self.envelopes([make_message(2)])
        utf8 = Envelope("jobs@agency.example", ["josé@exämple.com"], good.data, ("SMTPUTF8",), key="utf8")
        ascii_only = Envelope("jobs@agency.example", ["josé@exämple.com"], good.data, key="plain")
        outcomes = send_envelopes(self.smtp, [utf8, ascii_only, good])
        self.assertIsInstance(outcomes[0].error, smtplib.SMTPNotSupportedError)
        self.assertIsInstance(outcomes[1].error, UnicodeEncodeError)
        self.assertIsNone(outcomes[2].error)
        self.assertEqual(self.received_ids(), ["<pipeline-2@agency.example>"])


class TestRoundTrips(_SinkCase):
    """Round trips as the sink counts them (replies sent, then waiting for the
    client), with a reply delay standing for a provider far away."""

    reply_delay = 0.002
    mails = 50

    def send_counted(self):
        envelopes = self.envelopes([make_message(n) for n in range(self.mails)])
        self.sink.reset_stats()
        outcomes = send_envelopes(self.smtp, envelopes)
        round_trips = self.sink.stats()["round_trips"]
        self.assertEqual([o.error for o in outcomes], [None] * self.mails)
        self.assertEqual(len(set(self.received_ids())), self.mails)
        return round_trips / self.mails

    def test_pipelined(self):
        per_mail = self.send_counted()
        self.assertLessEqual(per_mail, 1.1)
        self.assertGreaterEqual(per_mail, 1.0, "one round trip per message is the floor of this protocol")

    def test_one_message_alone(self):
        self.sink.reset_stats()
        send_envelopes(self.smtp, self.envelopes([make_message(1)]))
        self.assertEqual(self.sink.stats()["round_trips"], 2)


class TestRoundTripsWithoutPipelining(TestRoundTrips):
    pipelining = False

    def test_pipelined(self):
        per_mail = self.send_counted()
        self.assertAlmostEqual(per_mail, 4.0, delta=0.1)  # MAIL, RCPT, DATA, end of data

    def test_one_message_alone(self):
        self.sink.reset_stats()
        send_envelopes(self.smtp, self.envelopes([make_message(1)]))
        self.assertEqual(self.sink.stats()["round_trips"], 4)


class TestStandalone(unittest.TestCase):
    def test_no_odoo_needed(self):
        """The module imports with the standard library alone (a fresh interpreter)."""
        path = Path(smtp_pipeline.__file__)
        code = (
            "import importlib.util, sys\n"
            f"spec = importlib.util.spec_from_file_location('smtp_pipeline', {str(path)!r})\n"
            "module = importlib.util.module_from_spec(spec)\n"
            "sys.modules['smtp_pipeline'] = module\n"
            "spec.loader.exec_module(module)\n"
            "print(sorted(name for name in sys.modules if name.split('.')[0] == 'odoo'))\n"
        )
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
        self.assertEqual(out.strip(), "[]")
