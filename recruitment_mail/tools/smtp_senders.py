# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html).
"""Sender threads: each owns one SMTP connection and hands over the messages
of the mails it is given (smtp_pipeline.py: PIPELINING where offered), so
that the network waits of several connections overlap while the queue run's
own thread keeps all database work. Standard library only."""

import queue
import threading

from .smtp_pipeline import send_envelopes

END = object()  # put on a sender's work queue: no more mails


class SenderThread(threading.Thread):
    """Sends the mails put on it (``put``), one after the other, over its
    connection, and reports each mail's outcomes on the shared ``results``
    queue as (sender, mail key, [Outcome]) — then waits until the run has
    recorded them (``acknowledge``) before the next mail goes out. So at most
    one mail per connection is ever accepted by the server and not recorded:
    what a crash can leave in doubt. A mail not yet started when the
    connection is lost is reported with no outcomes (not attempted)."""

    def __init__(self, smtp, results, name):
        super().__init__(name=name, daemon=True)
        self.smtp = smtp
        self.results = results
        self.work = queue.Queue()
        self.assigned = 0  # mails put on this sender and not yet reported
        self._recorded = threading.Event()
        self.lost = None  # the error that ended the connection

    def put(self, key, envelopes):
        self.assigned += 1
        self.work.put((key, envelopes))

    def finish(self):
        self.work.put(END)

    def acknowledge(self):
        """The run recorded the last mail this sender reported: go on."""
        self._recorded.set()

    def run(self):
        while True:
            item = self.work.get()
            if item is END:
                return
            key, envelopes = item
            if self.lost is not None:
                self._report(key, [])  # not attempted: the connection is gone
                continue
            try:
                outcomes = send_envelopes(self.smtp, envelopes)
            except Exception as exc:  # noqa: BLE001  # a bug: the run reports it, nothing is lost
                self.lost = exc
                self._report(key, exc)
                continue
            if any(outcome.error is not None and self.smtp_closed() for outcome in outcomes):
                self.lost = next(outcome.error for outcome in outcomes if outcome.error is not None)
            self._report(key, outcomes)

    def smtp_closed(self):
        smtp = getattr(self.smtp, "__obj__", self.smtp)
        return getattr(smtp, "sock", None) is None

    def _report(self, key, outcomes):
        self._recorded.clear()
        self.results.put((self, key, outcomes))
        self._recorded.wait()
