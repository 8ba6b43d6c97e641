# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html).
"""Sender threads: each owns one SMTP connection and hands over the messages
of the mails it is given (smtp_stream.send_stream: PIPELINING where
offered, about one round trip per message), so that the network waits of
several connections overlap while the queue run's own thread keeps all
database work. Standard library only."""

import collections
import contextvars
import dataclasses
import logging
import queue
import smtplib
import threading

from .smtp_pipeline import Outcome
from .smtp_stream import send_stream

_logger = logging.getLogger(__name__)

END = object()  # put on a sender's work queue: no more mails


class Abandoned(Exception):  # noqa: N818  # not an error: the run let the sender go
    """The run gave up on this sender (an error on its side): the sender
    closes its connection without writing another end of data."""


class SessionPool:
    """The SMTP sessions of one mail.mail.send(), by mail server, kept from
    one of its batches (one per sender address) to the next: a session is a
    transport to the server, each message carries its own envelope. Those of
    a run of sender threads still sending (``runs``: key -> run, whose
    ``connections`` they are) are busy; the others are idle, for the next
    batch to take."""

    def __init__(self):
        self.idle = collections.defaultdict(list)
        self.runs = {}

    def take(self, key, count):
        sessions = self.idle[key][:count]
        del self.idle[key][:count]
        return sessions

    def give_back(self, key, sessions):
        self.idle[key].extend(sessions)

    def holds(self, connection):
        """Whether the pool keeps ``connection`` (idle, or busy in a run)."""
        return any(kept is connection for sessions in self.idle.values() for kept in sessions) or any(
            kept is connection for run in self.runs.values() for kept in run.connections
        )

    def close(self):
        for sessions in self.idle.values():
            for session in sessions:
                try:
                    session.quit()
                except (smtplib.SMTPException, OSError) as exc:
                    _logger.debug("Closing an SMTP session: the server went first (%s)", exc)
        self.idle.clear()


class PooledSession:
    """A session of the pool as ir.mail_server.connect() hands it to stock's
    send(), which QUITs it after each batch: while the pool keeps it (a run
    still sends through it, or it is idle for the next batch), QUIT leaves it
    open, so the next batch needs no new connection (TCP, EHLO, STARTTLS,
    AUTH: each a round trip to a provider); otherwise QUIT closes it.
    Everything else is the session's, including stock's per-batch smtp_from
    and from_filter."""

    def __init__(self, connection, pool):
        object.__setattr__(self, "connection", connection)
        object.__setattr__(self, "_pool", pool)

    @property
    def __obj__(self):
        return getattr(self.connection, "__obj__", self.connection)

    def quit(self):
        if self._pool.holds(self.connection):
            return (221, b"kept for the next batch")
        return self.connection.quit()

    def __getattr__(self, name):
        return getattr(self.connection, name)

    def __setattr__(self, name, value):
        setattr(self.connection, name, value)


def unpooled(session):
    """The connection itself of a session connect() handed over."""
    return session.connection if isinstance(session, PooledSession) else session


# The pool of the send() running in this context (mail.mail.send sets it), or None.
SESSION_POOL = contextvars.ContextVar("recruitment_mail_session_pool", default=None)


class SenderThread(threading.Thread):
    """Sends the mails put on it (``put``: a key and its envelopes), one
    after the other, over its connection, and reports each mail's outcomes on
    the shared ``results`` queue as (sender, key, [Outcome]) — then waits
    until the run has recorded them (``acknowledge``) before the end of data
    of its next message is written. So at most one mail per connection is
    ever accepted by the server and not recorded: what a crash can leave in
    doubt. A mail whose turn comes after the connection was lost is reported
    with no outcomes (not attempted); a failure of the sender itself (a bug)
    is reported as that exception instead of outcomes."""

    def __init__(self, smtp, results, name, quit_at_end=False):
        super().__init__(name=name, daemon=True)
        self.smtp = smtp
        self.quit_at_end = quit_at_end  # the session is this sender's: QUIT it when done
        self.results = results
        self.work = queue.Queue()
        # mails put on this sender (counted by the thread that puts them) and
        # recorded (by the thread that records them): each count has one writer
        self.handed = 0
        self.done = 0
        self.lost = None  # the error that ended the connection
        self._recorded = threading.Event()
        self._feed = collections.deque()  # envelopes of the mails taken, not yet handed to send_stream
        self._sending = {}  # key -> (envelopes expected, outcomes so far), for the mails taken
        self._ended = False
        self._abandoned = False

    @property
    def assigned(self):
        """Mails put on this sender and not recorded yet."""
        return self.handed - self.done

    def put(self, key, envelopes):
        self.handed += 1
        self.work.put((key, list(envelopes)))

    def finish(self):
        self.work.put(END)

    def acknowledge(self):
        """The run recorded the last mail this sender reported: go on."""
        self._recorded.set()

    def abandon(self):
        """The run will record nothing more: close the connection at once,
        without ending another message (the last one reported stays in doubt,
        as at a crash), and report nothing more."""
        self._abandoned = True
        self._recorded.set()
        self.work.put(END)

    def run(self):
        try:
            self._send()
        except Abandoned:
            self.lost = self.lost or smtplib.SMTPServerDisconnected("Abandoned by the queue run")
            self.smtp.close()

    def _send(self):
        try:
            send_stream(self.smtp, self._take, self._on_outcome)
        except Abandoned:
            raise
        except Exception as exc:  # noqa: BLE001  # a bug: reported to the run, which records it
            self.lost = exc
            for key in list(self._sending):
                del self._sending[key]
                self._report(key, exc)
        # mails taken and not answered: the connection was lost in their middle
        for key, (expected, outcomes) in list(self._sending.items()):
            del self._sending[key]
            self.lost = self.lost or smtplib.SMTPServerDisconnected("Connection lost")
            done = {outcome.key for outcome in outcomes}
            missing = [Outcome(position, [], {}, self.lost) for position in expected if position not in done]
            self._report(key, outcomes + missing)
        self._feed.clear()
        if self.quit_at_end and self.lost is None:
            try:
                self.smtp.quit()
            except (smtplib.SMTPException, OSError) as exc:
                _logger.debug("Closing an SMTP session: the server went first (%s)", exc)
        # whatever else was put on this sender is not attempted
        while not self._ended:
            item = self.work.get()
            if item is END:
                break
            self._report(item[0], [])

    def _take(self, wait):
        if not self._feed:
            if self._ended:
                return None
            try:
                item = self.work.get(block=wait)
            except queue.Empty:
                return None
            if item is END:
                self._ended = True
                return None
            key, envelopes = item
            self._sending[key] = ([envelope.key for envelope in envelopes], [])
            self._feed.extend(dataclasses.replace(envelope, key=(key, envelope.key)) for envelope in envelopes)
        return self._feed.popleft()

    def _on_outcome(self, outcome):
        key, position = outcome.key
        expected, outcomes = self._sending[key]
        outcomes.append(dataclasses.replace(outcome, key=position))
        if outcome.error is not None and self.smtp_closed():
            self.lost = outcome.error
        if len(outcomes) == len(expected):
            del self._sending[key]
            self._report(key, outcomes)

    def smtp_closed(self):
        smtp = getattr(self.smtp, "__obj__", self.smtp)
        return getattr(smtp, "sock", None) is None

    def _report(self, key, outcomes):
        if self._abandoned:
            raise Abandoned
        self._recorded.clear()
        self.results.put((self, key, outcomes))
        self._recorded.wait()
        if self._abandoned:
            raise Abandoned
