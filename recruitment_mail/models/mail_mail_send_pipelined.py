# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html).
"""Sending through several SMTP connections at once, with PIPELINING.

A provider answers each SMTP command after a network round trip (30-100 ms),
which one connection spends waiting. A queue run may open up to
``smtp_connections`` sessions to a server (its field, or the parameter
recruitment_mail.smtp_connections for the server of Odoo's configuration
file): its own thread still claims and builds every mail, and hands each
mail's messages to a sender thread (tools/smtp_senders.py) that talks SMTP,
pipelined when the server offers it. In the cron, a Recorder thread records
each outcome as it is reported, with a database cursor of its own (an ORM
environment is used by one thread only); elsewhere the run's thread does.

Each message still goes through ir.mail_server.send_email, which prepares it
(envelope, headers) and hands it to a capturing session instead of the
network; used only where no other module overrides send_email (one that
does, e.g. mail_tracking, expects the message sent when it returns), outside
Odoo's test mode, and not for a send that must raise (raise_exception).
"""

import logging
import queue
import smtplib
from concurrent.futures import ThreadPoolExecutor
from smtplib import SMTP  # the class itself: tests may patch smtplib.SMTP with a double

from odoo import api, models, modules

from ..tools.delivery import FailedConnection
from ..tools.smtp_errors import describe_error, refused_recipients
from ..tools.smtp_pipeline import Outcome, envelope_for
from ..tools.smtp_senders import END, SESSION_POOL
from .ir_mail_server import MAX_CONNECTIONS
from .pipelined_run import STOPPED, PipelinedRun, RecorderFailed

_logger = logging.getLogger(__name__)

# Mails waiting on each sender, so that it never waits for the run: each
# message goes with the next envelope, also while the run builds.
AHEAD = 5


# Mails built at a time (per chunk): enough to share each build's queries, few
# enough that outside the cron (no Recorder) the senders' outcomes are recorded
# between two builds.
BUILD_CHUNK = 32
SEND_EMAIL_OWNERS = {"base", "recruitment_mail"}  # modules whose send_email keeps the message as handed


def connection_lost(error):
    """Whether ``error`` is the connection going away (smtplib's own errors
    are OSErrors too: those are the server's answers)."""
    return isinstance(error, smtplib.SMTPServerDisconnected) or (
        isinstance(error, OSError) and not isinstance(error, smtplib.SMTPException)
    )


class CapturingSession:
    """What send_email gets instead of the SMTP session: it keeps the
    envelope send_email would have handed to the server."""

    def __init__(self, session):
        self._session = session
        self.envelopes = []

    def send_message(self, msg, from_addr=None, to_addrs=None, mail_options=(), rcpt_options=()):
        smtp = getattr(self._session, "__obj__", self._session)
        self.envelopes.append(envelope_for(smtp, msg, from_addr, to_addrs, mail_options, rcpt_options))
        return {}

    def __getattr__(self, name):
        return getattr(self._session, name)


class MailMail(models.Model):
    _inherit = "mail.mail"

    def _pipelined_run(self, smtp_session, mail_server, raise_exception, auto_commit=False):
        """The run of sender threads to send these mails through several
        sessions at once: the one of this send() to this server (kept from
        its batch before), or a new one with the given session first; None to
        send them one by one through send_email. A run of this send() to
        another server is ended first (what its senders have is recorded)."""
        pool = SESSION_POOL.get()
        key = mail_server.id if mail_server else None
        raw = getattr(smtp_session, "__obj__", None)
        pipelined = (
            not raise_exception
            and not modules.module.current_test
            and isinstance(raw, SMTP)
            and self._send_email_keeps_the_message()
        )
        if pool is not None:
            for other in list(pool.runs.values()):
                if not pipelined or other.key != key or not other.usable():
                    self._end_run(other)
            if pipelined and key in pool.runs:
                return pool.runs[key]
        if not pipelined:
            return None
        if mail_server:
            wanted = mail_server.smtp_connections
        else:
            param = self.env["ir.config_parameter"].sudo().get_param("recruitment_mail.smtp_connections", "1")
            wanted = int(param) if str(param).isdigit() else 1
        wanted = min(max(wanted, 1), MAX_CONNECTIONS)
        if wanted == 1 and not raw.has_extn("pipelining"):
            return None
        extra = pool.take(key, wanted - 1) if pool is not None else []
        if wanted - 1 > len(extra):
            extra += self._open_sessions(wanted - 1 - len(extra), mail_server, smtp_session.smtp_from)
        run = PipelinedRun([smtp_session, *extra], key, pool)
        if auto_commit is True:
            self.env.cr.execute("SELECT pg_backend_pid()")
            run.start_recorder(self, claimant=self.env.cr.fetchone()[0])
        if pool is not None:
            pool.runs[key] = run
        return run

    def _open_sessions(self, count, mail_server, smtp_from):
        """Open ``count`` more sessions to the server at once: each connection
        waits for the network (TCP, EHLO, STARTTLS, AUTH), so each is opened in
        a thread of its own, with a database cursor of its own for connect()'s
        reading of the server's settings. A session that cannot be opened is
        left out (logged): the run sends through the others."""
        registry, uid = self.env.registry, self.env.uid
        context = dict(self.env.context, recruitment_mail_sending=True)
        mail_server_id = mail_server.id if mail_server else None

        def open_one(_number):
            with registry.cursor() as cr:
                return api.Environment(cr, uid, context)["ir.mail_server"].connect(
                    mail_server_id=mail_server_id, smtp_from=smtp_from
                )

        with ThreadPoolExecutor(max_workers=count, thread_name_prefix="recruitment_mail-connect") as pool:
            opened = list(pool.map(open_one, range(count)))
        failed = [session for session in opened if isinstance(session, FailedConnection)]
        if failed:
            _logger.info("Sending with %s connection(s): %s", 1 + count - len(failed), failed[0].message)
        return [session for session in opened if not isinstance(session, FailedConnection)]

    def _send_email_keeps_the_message(self):
        """Whether every override of ir.mail_server.send_email is stock's or the add-on's."""
        owners = {
            cls.__module__.split(".")[2]
            for cls in type(self.env["ir.mail_server"]).__mro__
            if "send_email" in vars(cls) and cls.__module__.startswith("odoo.addons.")
        }
        return owners <= SEND_EMAIL_OWNERS

    def _send_pipelined(self, run, send_args):
        """_send_claimed's loop with the SMTP conversations in sender threads:
        claim and build a chunk, capture each mail's messages and give them to
        the least busy sender, record each mail's outcome as its sender
        reports it, and commit it before that sender sends its next mail.
        Within a send() (a pool), it returns once every mail of this batch is
        handed over: the run's senders go on with them while the next batch
        is built, and what they report is recorded then, or at the send()'s
        end (_end_pipelined_runs)."""
        run.begin(self.ids)
        kept = run.pool is not None
        try:
            while True:
                self._feed_senders(run, send_args)
                fed = run.stop or not (run.outgoing or run.pending) or not run.usable()
                if not run.waiting or (fed and kept):
                    break
                self._record_reported(run, wait=True)
        except BaseException:
            self._end_run_on_error(run, send_args["auto_commit"])
            raise
        if not kept:
            self._end_run(run)
        left = list(run.outgoing) + run.pending
        if left:
            self.browse(left)._trigger_queue()
        return True

    def _end_run(self, run):
        """Record what the run's senders still report, then end them."""
        try:
            while run.waiting:
                self._record_reported(run, wait=True)
        except BaseException:
            run.close(abandon=True)
            raise
        run.close()

    def _end_run_on_error(self, run, auto_commit):
        """An error is on its way up from the run's thread. In the cron, what
        the senders have is still recorded, in a new transaction (each mail
        they hold was sent or not: that must be known, or it is sent again);
        otherwise, or if that fails too, they are abandoned: each closes its
        connection without ending another message, so that at most its last
        one is left in doubt, as at a crash."""
        if auto_commit is True:
            try:
                self.env.cr.rollback()
                self._end_run(run)
                return
            except Exception:
                _logger.exception("Recording the outcome of the emails the SMTP senders had failed")
        run.close(abandon=True)

    def _end_pipelined_runs(self):
        """At the end of a send(): record what its runs' senders still report."""
        pool = SESSION_POOL.get()
        runs = list(pool.runs.values()) if pool is not None else []
        try:
            for run in runs:
                self._end_run(run)
        finally:
            for run in runs:
                if any(sender.is_alive() for sender in run.senders):
                    run.close(abandon=True)

    def _in_flight(self):
        """The mails of this send() a sender has, not recorded yet."""
        pool = SESSION_POOL.get()
        # list(): the recorder's thread removes the mails it recorded
        return self.browse([mail_id for run in (pool.runs.values() if pool else ()) for mail_id in list(run.waiting)])

    def _record_reported(self, run, wait):
        """Record the outcome of every mail the senders reported (waiting for
        one first if ``wait``), then let those senders go on: each waits for
        its last mail to be recorded before it ends its next message, so this
        comes before anything else. In the cron the run's Recorder does it:
        here its thread only learns which mails it recorded (see
        _take_recorded)."""
        if run.recorder is not None:
            return self._take_recorded(run, wait)
        reported = self._drain(run.results, wait, END)
        if reported:
            self._record(run, reported)
        return True

    @api.model
    def _drain(self, items, wait, last):
        """What is on the queue ``items`` now (waiting for the first if
        ``wait``), up to ``last`` (a sentinel: the end) if it came."""
        got = []
        while not got or got[-1] is not last:
            try:
                got.append(items.get(block=wait and not got))
            except queue.Empty:
                break
        return got

    def _record(self, run, reported):
        """Record these outcomes [(sender, mail id, outcomes)] in this
        environment and let their senders go on. In the cron, outcomes
        reported together are committed together, one commit rather than one
        each. A mail stays in run.waiting until its outcome is committed."""
        together = []
        for _sender, mail_id, outcomes in reported:
            built, send_args = run.waiting[mail_id]
            if run.recorder is not None:
                send_args = self._recording_args(send_args)
            together.append((mail_id, built, outcomes, send_args))
        recorded = False
        try:
            if len(together) > 1 and together[0][3]["auto_commit"] is True and self._record_together(together):
                recorded = True
                return
            for mail_id, built, outcomes, send_args in together:
                try:
                    self.browse(mail_id)._record_pipelined(built, outcomes, send_args)
                except (MemoryError, smtplib.SMTPServerDisconnected):
                    raise
                except Exception as exc:
                    self.browse(mail_id)._recover_lost_outcome(built, exc, send_args)
            recorded = True
        finally:
            for sender, mail_id, _outcomes in reported:
                if recorded or run.recorder is None:
                    # (a recorder that failed abandons its senders instead)
                    run.waiting.pop(mail_id, None)
                    sender.done += 1
                    sender.acknowledge()

    def _recording_args(self, send_args):
        """The send arguments of a batch, for its outcomes recorded in this
        environment (the recorder's): its mail server read here, its
        post_send_callback (the cron's progress) left to the run's thread."""
        build_args = dict(send_args["build_args"])
        if build_args.get("mail_server"):
            build_args["mail_server"] = build_args["mail_server"].with_env(self.env)
        return dict(send_args, build_args=build_args, post_send_callback=None)

    def _record_until_end(self, run):
        """The Recorder's loop, in its environment: record what the senders
        report, and tell the run's thread which mails are done, until the run
        is closed (END)."""
        while True:
            reported = self._drain(run.results, True, END)
            ended = reported[-1] is END
            if ended:
                reported.pop()
            if reported:
                done = [(mail_id, run.waiting[mail_id][1]["post_send_callback"]) for _s, mail_id, _o in reported]
                self._record(run, reported)
                run.recorded.put(done)
            if ended:
                return

    def _take_recorded(self, run, wait):
        """In the run's thread: learn which mails its Recorder recorded
        (waiting for some if ``wait``) and report them to the cron's progress
        (post_send_callback, in this thread's transaction). Raise
        RecorderFailed when the Recorder stopped on an error."""
        got = self._drain(run.recorded, wait, STOPPED)
        stopped = bool(got) and got[-1] is STOPPED
        if stopped:
            got.pop()
            run.recorded.put(STOPPED)  # for any later look
        by_callback = {}
        for mail_id, callback in (pair for recorded in got for pair in recorded):
            if callback:
                by_callback.setdefault(callback, []).append(mail_id)
        for callback, mail_ids in by_callback.items():
            callback(mail_ids)
        if stopped:
            raise RecorderFailed("The recording of the emails' outcomes stopped") from run.recorder.error
        return True

    def _record_together(self, together):
        """Record these mails' outcomes ([(id, built, outcomes, send_args)])
        and commit them at once. False when recording one of them failed:
        nothing is recorded then (rolled back), the caller records them one
        by one."""
        try:
            for mail_id, built, outcomes, send_args in together:
                # one commit for them all, below
                self.browse(mail_id)._record_pipelined(built, outcomes, dict(send_args, auto_commit=False))
        except (MemoryError, smtplib.SMTPServerDisconnected):
            raise
        except Exception:  # noqa: BLE001  # recorded again one by one, where it is reported
            _logger.info("Recording %s outcomes together failed: recording them one by one", len(together))
            self.env.cr.rollback()
            return False
        self.browse([mail_id for mail_id, *_rest in together])._commit_outcome(
            True, together[0][3]["post_send_callback"]
        )
        return True

    def _feed_senders(self, run, send_args):
        """Keep every live sender AHEAD mails ahead: build the next chunk when
        needed, claim and capture each mail, give it to the least busy sender."""
        while not run.stop:
            self._record_reported(run, wait=False)  # first: the senders wait for it
            live = [sender for sender in run.senders if sender.lost is None and sender.assigned < AHEAD]
            if not live:
                return
            if not run.outgoing:
                if not run.pending:
                    return
                run.outgoing, run.pending = self.browse(run.pending)._build_outgoing(
                    **send_args["build_args"],
                    auto_commit=send_args["auto_commit"],
                    chunk=BUILD_CHUNK,
                )
                self._commit_built(send_args["auto_commit"])
                continue
            if self._queue_run_must_stop():
                run.stop = True
                return
            mail_id = next(iter(run.outgoing))
            if run.outgoing[mail_id].claim is None:
                self._claim_ahead(run, len(run.senders) * AHEAD, send_args["auto_commit"])
                if run.recorder is not None:
                    self._end_row_locks()
            built = run.outgoing.pop(mail_id)
            captured = self.browse(mail_id)._capture(built, send_args["smtp_session"], send_args)
            if captured is None:
                continue  # recorded already (nothing to hand over), or not ours
            if run.recorder is not None and captured[0] is not built:
                self._end_row_locks()  # claimed again, to be built again (changed since read)
            built, envelopes = captured
            run.waiting[mail_id] = (built, send_args)
            min(live, key=lambda sender: sender.assigned).put(mail_id, envelopes)

    def _claim_ahead(self, run, count, auto_commit):
        """Claim the next ``count`` mails to hand over in one query rather than
        one each (_claim): the row locks end at the next commit anyway (the
        outcome of a mail before them), what counts is that each is still
        waiting, ours and as read when it goes to a sender."""
        ahead = list(run.outgoing)[:count]
        claims = self._claim_each({mail_id: run.outgoing[mail_id].read_at for mail_id in ahead}, auto_commit)
        for mail_id, claim in claims.items():
            run.outgoing[mail_id].claim = claim

    def _end_row_locks(self):
        """Commit the run's row locks of its claims (FOR NO KEY UPDATE): the
        Recorder writes those mails once they are sent, and would wait for
        them. The claims themselves stay (sending_claim_pid)."""
        self.env.cr.commit()  # pylint: disable=invalid-commit  # cron only (with a Recorder)

    def _commit_built(self, auto_commit):
        if auto_commit is True:
            # what building created must not vanish in a rollback below
            self.env.cr.commit()  # pylint: disable=invalid-commit  # cron only (auto_commit)

    def _capture(self, built, session, send_args):
        """Claim this mail and have send_email prepare its messages; return
        (built, envelopes) to hand to a sender, or None when its outcome is
        recorded already (nothing to send) or it is not ours to send."""
        built = self._claimed_for_sending(built, send_args)
        if built is None:
            return None
        capturing = CapturingSession(session)
        results = []
        for message, _partner, _email_to, server_context in built.emails:
            before = len(capturing.envelopes)
            try:
                outcome = self._hand_over(built, message, server_context, capturing)
            except Exception as exc:  # noqa: BLE001  # recorded as stock would, when the others are done
                outcome = exc
            results.append((outcome, capturing.envelopes[before:]))
        envelopes = []
        for position, (_result, captured) in enumerate(results):
            for envelope in captured:
                envelope.key = position
                envelopes.append(envelope)
        built.captured = results
        if not envelopes:
            self._record_pipelined(built, [], send_args)
            return None
        return built, envelopes

    def _record_pipelined(self, built, outcomes, send_args):
        """Record what the server answered for this mail's messages, as
        _deliver does for a mail sent through send_email: ``outcomes`` are
        the sender's (smtp_pipeline.Outcome, keyed by message position), []
        when its connection was gone before the mail's turn (then it is not
        attempted: it waits for the next run), an exception when the sender
        itself failed."""
        if isinstance(outcomes, Exception):
            _logger.error("Email %s: the SMTP sender failed: %s", self.id, outcomes)
            outcomes = [
                Outcome(position, [], {}, smtplib.SMTPServerDisconnected(str(outcomes)))
                for position in range(len(built.emails))
            ]
        elif not outcomes and any(envelopes for _result, envelopes in built.captured):
            self._release_claims()  # not attempted: the next run sends it
            self._trigger_queue()
            self._commit_built(send_args["auto_commit"])
            return
        # What was read when it was claimed is still what it holds (claimed: no
        # other worker writes it); the commits since emptied the cache.
        self._update_cache(built.values, validate=False)
        by_position = {}
        for outcome in outcomes:
            by_position.setdefault(outcome.key, []).append(outcome)
        IrMailServer = self.env["ir.mail_server"]

        def hand_over(position):
            result, envelopes = built.captured[position]
            if isinstance(result, Exception):
                raise result
            res, _accepted, _refused = result
            if not envelopes:
                return result  # NO_VALID_RECIPIENT, or a send_email that handed nothing over
            accepted, refused = [], {}
            for outcome in by_position.get(position, []):
                error = outcome.error
                if connection_lost(error):
                    raise smtplib.SMTPServerDisconnected(describe_error(error))
                if error is not None:
                    exc = IrMailServer._delivery_exception(error)
                    every_one = refused_recipients(exc)
                    if not every_one or len(built.emails) == 1:
                        raise exc  # the whole email was refused: reported as in stock
                    refused.update(every_one)
                    continue
                accepted += outcome.accepted
                refused.update(outcome.refused)
            return (res if accepted else None), accepted, refused

        self._deliver_and_record(built, hand_over, send_args)
