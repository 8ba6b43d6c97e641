# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html).
"""tools/smtp_stream.send_stream and tools/smtp_senders.SenderThread
against a real SMTP server on 127.0.0.1, without any database: each outcome
is known before the next message's end of data goes out, so a run that
records it in between leaves at most one email per connection unrecorded."""

import importlib
import queue
import smtplib
import sys
import time
import types
import unittest
from pathlib import Path

try:
    from .test_smtp_pipeline import _SinkCase, make_message, smtp_pipeline
except ImportError:  # run on its own: python3 -m unittest test_smtp_stream (no database, no package)
    from test_smtp_pipeline import _SinkCase, make_message, smtp_pipeline


def _tools_package():
    """The add-on's tools/ as a package of its own: its modules import one
    another, and need neither Odoo nor the add-on's models."""
    name = "recruitment_mail_test_tools"
    if name not in sys.modules:
        package = types.ModuleType(name)
        package.__path__ = [str(Path(smtp_pipeline.__file__).parent)]
        sys.modules[name] = package
    return importlib.import_module(f"{name}.smtp_senders"), importlib.import_module(f"{name}.smtp_stream")


smtp_senders, smtp_stream = _tools_package()


class TestSendStream(_SinkCase):
    reply_delay = 0.02

    def stream(self, messages, record=None):
        """send_stream over ``messages``; returns the outcomes in the order
        they were given and, for each, how many messages the server held then."""
        pending = list(self.envelopes(messages))
        seen = []

        def take(wait):
            return pending.pop(0) if pending else None

        def on_outcome(outcome):
            seen.append((outcome, len(self.sink.received)))
            if record:
                record(outcome)

        self.sink.reset_stats()
        smtp_stream.send_stream(self.smtp, take, on_outcome)
        return seen

    def test_each_outcome_comes_before_the_next_message_is_complete(self):
        seen = self.stream([make_message(n) for n in range(20)])
        self.assertEqual(
            [outcome.key for outcome, _held in seen], [f"<pipeline-{n}@agency.example>" for n in range(20)]
        )
        self.assertTrue(all(outcome.error is None for outcome, _held in seen))
        # when the n-th outcome was given, the server held n+1 messages, never more
        self.assertEqual([held for _outcome, held in seen], list(range(1, 21)))
        self.assertEqual(sorted(self.received_ids()), sorted(outcome.key for outcome, _held in seen))
        self.assertLessEqual(self.sink.stats()["round_trips"] / 20, 1.3)

    def test_a_refused_recipient_and_a_refused_message_are_told_apart(self):
        messages = [
            make_message(1, to="candidate@example.com, unknown@example.com"),
            make_message(2, to="nobody@example.com"),
            make_message(3, subject="FAIL-DATA please"),
            make_message(4),
        ]
        outcomes = {outcome.key: outcome for outcome, _held in self.stream(messages)}
        first = outcomes["<pipeline-1@agency.example>"]
        self.assertEqual(first.accepted, ["candidate@example.com"])
        self.assertEqual(list(first.refused), ["unknown@example.com"])
        self.assertIsInstance(outcomes["<pipeline-2@agency.example>"].error, smtplib.SMTPRecipientsRefused)
        self.assertIsInstance(outcomes["<pipeline-3@agency.example>"].error, smtplib.SMTPDataError)
        self.assertIsNone(outcomes["<pipeline-4@agency.example>"].error)
        self.assertEqual(sorted(self.received_ids()), ["<pipeline-1@agency.example>", "<pipeline-4@agency.example>"])


class TestSendStreamWithoutPipelining(TestSendStream):
    pipelining = False

    def test_each_outcome_comes_before_the_next_message_is_complete(self):
        seen = self.stream([make_message(n) for n in range(5)])
        self.assertEqual([held for _outcome, held in seen], list(range(1, 6)))


class TestSenderThreads(_SinkCase):
    reply_delay = 0.02

    def test_several_connections_each_wait_for_the_run_to_record(self):
        results = queue.Queue()
        connections = [self.smtp] + [self.connect() for _n in range(2)]
        senders = [smtp_senders.SenderThread(smtp, results, name=f"sender-{n}") for n, smtp in enumerate(connections)]
        for sender in senders:
            sender.start()
        for n in range(12):
            envelope = smtp_pipeline.envelope_for(self.smtp, make_message(n), key=0)
            senders[n % 3].put(n, [envelope])
        recorded = []
        unrecorded_at_most = 0
        for _n in range(12):
            sender, key, outcomes = results.get(timeout=30)
            time.sleep(0.05)  # the run records; meanwhile this sender sends nothing more
            unrecorded_at_most = max(unrecorded_at_most, len(self.sink.received) - len(recorded))
            recorded.append(key)
            self.assertIsNone(outcomes[0].error)
            sender.acknowledge()
        for sender in senders:
            sender.finish()
            sender.join(timeout=10)
            self.assertFalse(sender.is_alive())
        self.assertEqual(sorted(recorded), list(range(12)))
        self.assertEqual(len(self.received_ids()), 12)
        self.assertLessEqual(unrecorded_at_most, 3, "at most one unrecorded email per connection")
        self.assertGreaterEqual(self.sink.stats()["max_connections"], 3)

    def test_mails_after_a_lost_connection_are_not_attempted(self):
        results = queue.Queue()
        sender = smtp_senders.SenderThread(self.smtp, results, name="sender")
        sender.start()
        sender.put("first", [smtp_pipeline.envelope_for(self.smtp, make_message(1), key=0)])
        sender.put("dropped", [smtp_pipeline.envelope_for(self.smtp, make_message(2, to="drop@example.com"), key=0)])
        sender.put("later", [smtp_pipeline.envelope_for(self.smtp, make_message(3), key=0)])
        reports = {}
        for _n in range(3):
            _sender, key, outcomes = results.get(timeout=30)
            reports[key] = outcomes
            sender.acknowledge()
        sender.finish()
        sender.join(timeout=10)
        self.assertIsNone(reports["first"][0].error)
        self.assertIsNotNone(reports["dropped"][0].error)
        self.assertEqual(reports["later"], [], "not attempted: it waits for the next run")
        self.assertEqual(self.received_ids(), ["<pipeline-1@agency.example>"])

    def test_an_abandoned_sender_ends_no_other_message(self):
        """The run gave up (an error on its side, it will record nothing more):
        the sender closes its connection at once. The message it reported
        stays as it was (in doubt for the run, as at a crash); the next one,
        whose envelope and data may be on the wire already, never gets its end
        of data, so the server never takes it."""
        results = queue.Queue()
        sender = smtp_senders.SenderThread(self.smtp, results, name="sender")
        sender.start()
        for n in range(3):
            sender.put(n, [smtp_pipeline.envelope_for(self.smtp, make_message(n), key=0)])
        _sender, key, outcomes = results.get(timeout=30)
        self.assertEqual((key, outcomes[0].error), (0, None))
        sender.abandon()
        sender.join(timeout=10)
        self.assertFalse(sender.is_alive())
        self.assertIsNotNone(sender.lost)
        self.assertTrue(sender.smtp_closed())
        time.sleep(0.2)  # anything still on its way arrives now
        self.assertEqual(self.received_ids(), ["<pipeline-0@agency.example>"])
        self.assertTrue(results.empty(), "nothing more is reported")

    def connect(self):
        smtp = smtplib.SMTP(self.sink.host, self.sink.port, timeout=10)
        self.addCleanup(smtp.close)
        smtp.ehlo()
        return smtp


if __name__ == "__main__":
    unittest.main()
