# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html).
"""The threads of a pipelined queue run (mail_mail_send_pipelined.py): its
sender threads, one per SMTP session (tools/smtp_senders.py), and in the
cron its Recorder, which records each outcome the senders report through a
database cursor of its own."""

import logging
import queue
import threading

from odoo import api

from ..tools.smtp_senders import END, SenderThread, unpooled

_logger = logging.getLogger(__name__)

STOPPED = object()  # put on run.recorded: the recorder ended


class RecorderFailed(Exception):
    """A run's Recorder stopped on an error (its cause)."""


class PipelinedRun:
    """Sender threads (one per session) sending to one server. Within a
    send() (which keeps it in its SessionPool) one run serves every batch
    (sender address) to that server: the next batch is built while the
    senders end the one before, ended once the send() is done. It holds the
    batch being fed: mails built and not handed over yet (outgoing), those
    left to build (pending); and those a sender has, of any batch, until
    their outcome is committed (waiting: id -> (OutgoingMail, the send
    arguments of its batch)); in the cron, the Recorder of their outcomes."""

    def __init__(self, sessions, key, pool):
        self.connections = [unpooled(session) for session in sessions]
        self.recorder = None  # a Recorder, in the cron (see start_recorder)
        self.recorded = queue.Queue()  # from the recorder: [(mail id, post_send_callback)], or STOPPED
        self.key = key
        self.pool = pool
        self.results = queue.Queue()
        self.senders = [
            SenderThread(
                getattr(session, "__obj__", session),
                self.results,
                name=f"recruitment_mail-smtp-{number}",
                quit_at_end=number > 1 and pool is None,
            )
            for number, session in enumerate(sessions, 1)
        ]
        for sender in self.senders:
            sender.start()
        self.pending = []
        self.outgoing = {}
        self.waiting = {}
        self.stop = False

    def start_recorder(self, mails, claimant):
        self.recorder = Recorder(self, mails, claimant)
        self.recorder.start()

    def begin(self, ids):
        """Feed the mails of another batch."""
        self.pending = list(ids)
        self.outgoing = {}
        self.stop = False

    def usable(self):
        return any(sender.lost is None and sender.is_alive() for sender in self.senders)

    def close(self, abandon=False):
        """End the sender threads (``abandon``: at once, see
        SenderThread.abandon). Without a pool, each sender QUITs its own
        session, and stock's send() the first; with one, the sound sessions
        go back to it (idle: the send()'s next batches take them, it closes
        them at its end) and the others are closed."""
        for sender in self.senders:
            if abandon:
                sender.abandon()
            else:
                sender.finish()
        for sender in self.senders:
            sender.join(timeout=60)
        if self.recorder is not None:
            self.results.put(END)  # after the senders' last reports
            self.recorder.join(timeout=60)
        if self.pool is None:
            return
        if self.pool.runs.get(self.key) is self:
            del self.pool.runs[self.key]
        for connection, sender in zip(self.connections, self.senders, strict=True):
            if sender.lost is None and not sender.is_alive() and not sender.smtp_closed():
                self.pool.give_back(self.key, [connection])
            else:
                try:
                    connection.close()
                except OSError as exc:
                    _logger.debug("Closing an SMTP session: %s", exc)


class Recorder(threading.Thread):
    """Records, in the cron, the outcome of each mail the run's senders
    report and lets each sender go on, through a database cursor of its own
    in a thread of its own: the run's thread claims and builds meanwhile,
    and a sender waits for its last mail's commit (the recording's network
    and disk waits) without waiting for a build to end. The claims it checks
    and releases are those of the run's connection (``claimant``, its
    backend pid). Outcomes reported together are committed together. When
    recording fails for good (the database went away), it abandons the
    senders (at most their last mails stay in doubt, as at a crash) and
    stops; the run's thread raises its error."""

    def __init__(self, run, mails, claimant):
        super().__init__(name="recruitment_mail-recorder", daemon=True)
        self.pipelined = run
        self.registry = mails.env.registry
        self.uid = mails.env.uid
        self.su = mails.env.su
        self.context = dict(mails.env.context, recruitment_mail_claimant=claimant)
        self.error = None
        # Odoo's hooks on the run's SQL statements (profiler, query counts):
        # the recording's statements are the run's too
        self.run_query_hooks = list(getattr(threading.current_thread(), "query_hooks", ()))

    def run(self):
        self.dbname = self.registry.db_name  # for Odoo's log lines (and self.uid, as Odoo's threads)
        if self.run_query_hooks:
            self.query_hooks = self.run_query_hooks
        try:
            with self.registry.cursor() as cr:
                env = api.Environment(cr, self.uid, self.context, su=self.su)
                env["mail.mail"]._record_until_end(self.pipelined)
        except BaseException as exc:  # noqa: BLE001  # reported to the run's thread, which raises it
            _logger.exception("Recording the outcome of the emails the SMTP senders report failed")
            self.error = exc
            for sender in self.pipelined.senders:
                sender.abandon()
        finally:
            self.pipelined.recorded.put(STOPPED)
