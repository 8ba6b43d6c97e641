# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html).
"""The queue: which mail is due and who sends it (lanes), how long a run
lasts, each server's sending limits, waking the cron, and retention of sent
mail. What happens to one email once picked is in mail_mail_send.py."""

import logging
import threading
import time
from datetime import timedelta

from odoo import api, fields, models
from odoo.tools import config

from ..tools.smtp_senders import SESSION_POOL, SessionPool

_logger = logging.getLogger(__name__)

LANE_CRON_XMLID = "recruitment_mail.ir_cron_mail_lane_%s"
MAX_SENDING_LANES = 8  # lanes beyond this many are not offered (Settings)
PROGRESS_INTERVAL = 1.0  # seconds between two updates of the cron's progress
# A queue run sends for at most this long (Settings: recruitment_mail.queue_run_seconds),
# and at most half of Odoo's real-time limit for crons, then lets the cron run
# again: the cron's row stays locked while it runs, and Odoo refuses to install
# or upgrade a module while any cron row is locked.
QUEUE_RUN_SECONDS = 60
# Held (pg_advisory_xact_lock) by an administrator's module install/upgrade
# while it waits for the crons to finish; a queue run that sees it stops.
MODULE_OPERATION_LOCK = 0x524D4D4F  # "RMMO"
# A queue run's claim on the mails it is sending (mail_mail_send.py) lapses
# when its database connection ends, or after this long: runs end within a minute.
CLAIM_LAPSE = timedelta(minutes=10)
# SQL: nobody else holds this mail (its claim is ours, lapsed, or of a closed
# connection). Ours: this connection's, or %(claimant)s's when not NULL (the
# connection of the queue run whose outcomes this one records, see _claimant).
CLAIM_OURS = "sending_claim_pid = COALESCE(%(claimant)s, pg_backend_pid())"
CLAIM_IS_FREE = f"""(sending_claim_pid IS NULL OR {CLAIM_OURS}
    OR sending_claimed_at < %(stale)s OR sending_claim_pid NOT IN (SELECT pid FROM pg_stat_activity))"""
RETENTION_DAYS = 365


class MailMail(models.Model):
    _inherit = "mail.mail"

    @api.model
    def process_email_queue(self, ids=None, batch_size=1000):
        """Send due mail, oldest-due first.

        Stock Odoo picks the newest ids first, so under a backlog old mail can
        wait forever; here mail leaves in the order it became due (its
        scheduled date, or its creation for mail queued without one).
        """
        if ids or "filters" in self.env.context:
            return super().process_email_queue(ids=ids, batch_size=batch_size)
        lane, lanes = self._sending_lanes()
        if lane > lanes:
            return True  # a lane Settings no longer has
        self = self.with_context(recruitment_mail_deadline=self._queue_run_deadline())
        if self._queue_run_must_stop():
            # This run's time is up (Odoo calls an action again at once when it
            # reported mail remaining) or a module operation waits: end the
            # run, which unlocks the cron; the trigger set when it stopped
            # starts the next one.
            return True
        self._promote_due_scheduled()
        # 0: no limit, as in stock (search(limit=0))
        batch_size = int(self.env["ir.config_parameter"].sudo().get_param("mail.mail.queue.batch.size", batch_size))
        batch_size = batch_size if batch_size > 0 else None
        send_ids = self._pick_due_ids(batch_size)
        if not send_ids:
            return True
        if lanes > 1:
            _logger.info("Sending lane %s of %s: %s email(s) due", lane, lanes, len(send_ids))
        total = len(send_ids) if not batch_size or len(send_ids) < batch_size else self._count_due()
        done = set()
        reported = [0.0]

        def notify_progress():
            reported[0] = time.monotonic()
            self.env["ir.cron"]._notify_progress(done=len(done), remaining=max(total - len(done), 0))

        def post_send_callback(mail_ids):
            # The cron's progress record, written once a second rather than
            # once per email (stock): what it reports is the same.
            done.update(mail_ids)
            if time.monotonic() - reported[0] >= PROGRESS_INTERVAL:
                notify_progress()

        auto_commit = not getattr(threading.current_thread(), "testing", False)
        try:
            result = self.browse(send_ids).send(auto_commit=auto_commit, post_send_callback=post_send_callback)
        except Exception:
            _logger.exception("Failed processing mail queue")
            return None
        notify_progress()
        if self._queue_run_must_stop():
            _logger.info("Queue run ended in time after %s email(s); the queue cron runs again now", len(done))
            self._trigger_queue_at(fields.Datetime.now())
        return result

    @api.model
    def _queue_run_deadline(self):
        """When this queue run stops sending (a time.time() value): at most
        QUEUE_RUN_SECONDS, and half of Odoo's real-time limit for crons,
        after the cron's run (or the request) began."""
        seconds = float(
            self.env["ir.config_parameter"].sudo().get_param("recruitment_mail.queue_run_seconds", QUEUE_RUN_SECONDS)
        )
        limit = config["limit_time_real_cron"] if config["limit_time_real_cron"] >= 0 else config["limit_time_real"]
        if limit and limit > 0:
            seconds = min(seconds, limit / 2)
        thread = threading.current_thread()
        # start_time: Odoo's own, from which it counts its limits (threaded
        # server); cron_job_started: ir_cron._run_job's, for prefork workers.
        started = [getattr(thread, name, None) for name in ("start_time", "cron_job_started")]
        started = [moment for moment in started if moment]
        return (min(started) if started else time.time()) + seconds

    def _queue_run_must_stop(self):
        """Whether the queue run must stop before the next email: its time is
        up, or an administrator's module operation waits for it (checked
        about once a second)."""
        deadline = self.env.context.get("recruitment_mail_deadline")
        if not deadline:
            return False
        now = time.time()
        if now >= deadline:
            return True
        thread = threading.current_thread()
        if now - getattr(thread, "recruitment_mail_yield_checked", 0.0) < PROGRESS_INTERVAL:
            return False
        thread.recruitment_mail_yield_checked = now
        self.env.cr.execute("SELECT pg_try_advisory_xact_lock_shared(%s)", (MODULE_OPERATION_LOCK,))
        return not self.env.cr.fetchone()[0]

    # The COALESCE bound is implied by the two conditions after it; it is
    # there so that mail_mail_rm_due_idx is scanned only up to "now" instead
    # of over every scheduled email (a million-row table: 150 ms -> 0.2 ms).
    # create_date comes from the database's clock, hence the GREATEST.
    # A lane takes the mails whose id falls in it (lanes = 1: all of them).
    _DUE_WHERE = f"""state = 'outgoing'
                    AND COALESCE(next_attempt_date, scheduled_date, create_date)
                        <= GREATEST(%(now)s, statement_timestamp() AT TIME ZONE 'UTC')
                    AND (scheduled_date IS NULL OR scheduled_date <= %(now)s)
                    AND (next_attempt_date IS NULL OR next_attempt_date <= %(now)s)
                    AND {CLAIM_IS_FREE}
                    AND (%(lanes)s = 1 OR mod(id, %(lanes)s) = %(lane)s - 1)"""

    def _due_params(self, **params):
        lane, lanes = self._sending_lanes()
        now = fields.Datetime.now()
        return self._claim_params(now, now=now, lane=lane, lanes=lanes, **params)

    def _claim_params(self, as_of, **params):
        """``params`` with those of CLAIM_IS_FREE, as of ``as_of``."""
        return dict(params, stale=as_of - CLAIM_LAPSE, claimant=self._claimant())

    def _claimant(self):
        """The backend pid whose claims are this environment's own, when it
        is not its cursor's: a queue run's Recorder (pipelined_run.py) records
        its emails' outcomes through a cursor of its own, and releases and
        checks the claims of the run's connection. None: its cursor's."""
        return self.env.context.get("recruitment_mail_claimant")

    def _pick_due_ids(self, limit):
        self.flush_model(["state", "scheduled_date", "next_attempt_date"])
        self.env.cr.execute(
            f"""SELECT id FROM mail_mail
                 WHERE {self._DUE_WHERE}
              ORDER BY COALESCE(next_attempt_date, scheduled_date, create_date), id
                 LIMIT %(limit)s""",
            self._due_params(limit=limit),
        )
        return [row[0] for row in self.env.cr.fetchall()]

    def _count_due(self):
        self.env.cr.execute(f"SELECT count(*) FROM mail_mail WHERE {self._DUE_WHERE}", self._due_params())
        return self.env.cr.fetchone()[0]

    def _promote_due_scheduled(self):
        """Scheduled mail whose time has come is Queued from now on: its
        status depends on the clock, so it is computed again when due."""
        due = self.sudo().search([("outbox_status", "=", "scheduled"), ("scheduled_date", "<=", fields.Datetime.now())])
        if due:
            self.env.add_to_compute(self._fields["outbox_status"], due)
            due.flush_recordset(["outbox_status"])

    def send(self, auto_commit=False, raise_exception=False, post_send_callback=None):
        # The flag makes ir.mail_server.connect() hand over a failed connection
        # as a value (FailedConnection) that _send records on the mails, in
        # words a user can act on and naming the server it tried.
        # The SMTP sessions, and the sender threads of sending through several
        # connections, are kept from one batch (sender address) to the next,
        # ended at the end.
        pool = SessionPool()
        token = SESSION_POOL.set(pool)
        sending = self.with_context(recruitment_mail_sending=True)
        try:
            return super(MailMail, sending).send(
                auto_commit=auto_commit,
                raise_exception=raise_exception,
                post_send_callback=post_send_callback,
            )
        finally:
            try:
                sending._end_pipelined_runs()  # what their senders still have is recorded
            finally:
                SESSION_POOL.reset(token)
                pool.close()

    def _split_by_mail_configuration(self):
        """Hand each server no more than its sending limits allow; the rest
        waits in the queue, without counting a failed attempt."""
        handed = {}
        lane, lanes = self._sending_lanes()
        for mail_server_id, alias_domain_id, smtp_from, batch_ids in super()._split_by_mail_configuration():
            if self._queue_run_must_stop():
                return  # the rest stays queued for the next run
            server = self.env["ir.mail_server"].sudo().browse(mail_server_id)
            capacity = server._sending_capacity(lane, lanes) if server else None
            if capacity is not None:
                capacity = max(capacity - handed.get(server.id, 0), 0)
                if capacity < len(batch_ids):
                    waiting = self.browse(batch_ids[capacity:])
                    waiting.write({"waiting_reason": server._limit_description()})
                    self._trigger_queue_at(fields.Datetime.now() + timedelta(minutes=1))
                    _logger.info("Sending limit of mail server %s reached: %s email(s) wait", server.id, len(waiting))
                    batch_ids = batch_ids[:capacity]
                handed[server.id] = handed.get(server.id, 0) + len(batch_ids)
            if batch_ids:
                yield mail_server_id, alias_domain_id, smtp_from, batch_ids

    # ------------------------------------------------------------------
    # Sending lanes: the queue shared by several crons
    # ------------------------------------------------------------------

    @api.model
    def _sending_lanes(self):
        """(this cron's lane, number of lanes). Lane 1 is Odoo's own queue
        cron; each other lane is a cron of the add-on (_sync_sending_lanes)
        that sends the mails whose id falls in its lane (id mod lanes)."""
        lanes = self.env["ir.config_parameter"].sudo().get_param("recruitment_mail.sending_lanes", "1")
        try:
            lanes = min(max(int(lanes), 1), MAX_SENDING_LANES)
        except ValueError:
            lanes = 1
        return self.env.context.get("recruitment_mail_lane", 1), lanes

    @api.model
    def _lane_crons(self):
        """The crons that send the queue: Odoo's, then the extra lanes'."""
        crons = self.env["ir.cron"].sudo()
        main = self.env.ref("mail.ir_cron_mail_scheduler_action", raise_if_not_found=False)
        if main:
            crons |= main
        _lane, lanes = self._sending_lanes()
        for lane in range(2, lanes + 1):
            crons |= self.env.ref(LANE_CRON_XMLID % lane, raise_if_not_found=False) or crons.browse()
        return crons

    @api.model
    def _sync_sending_lanes(self):
        """Create or remove the crons of the extra lanes so that there are as
        many as Settings say, each run as often as Odoo's queue cron."""
        main = self.env.ref("mail.ir_cron_mail_scheduler_action", raise_if_not_found=False)
        if not main:
            return
        _lane, lanes = self._sending_lanes()
        IrCron = self.env["ir.cron"].sudo()
        data = self.env["ir.model.data"].sudo()
        for lane in range(2, MAX_SENDING_LANES + 1):
            cron = self.env.ref(LANE_CRON_XMLID % lane, raise_if_not_found=False)
            if lane > lanes:
                if cron:
                    cron.unlink()
                continue
            vals = {
                "name": self.env._("Mail: Email Queue Manager, lane %(lane)s", lane=lane),
                "model_id": main.model_id.id,
                "state": "code",
                "code": f"model.with_context(recruitment_mail_lane={lane}).process_email_queue()",
                "user_id": main.user_id.id,
                "interval_number": main.interval_number,
                "interval_type": main.interval_type,
                "priority": main.priority,
                "active": main.active,
            }
            if cron:
                cron.write(vals)
            else:
                cron = IrCron.create(vals)
                module, name = (LANE_CRON_XMLID % lane).split(".")
                data.create({"module": module, "name": name, "model": "ir.cron", "res_id": cron.id, "noupdate": True})
        if lanes > 1:
            self._trigger_queue_at(fields.Datetime.now())

    def _trigger_queue(self):
        """Wake the queue cron when this mail becomes due, instead of waiting
        for its next periodic run."""
        due = self.filtered(lambda m: m.state == "outgoing")
        if not due:
            return
        now = fields.Datetime.now()
        self._trigger_queue_at(*{max(mail.next_attempt_date or mail.scheduled_date or now, now) for mail in due})

    @api.model
    def _trigger_queue_at(self, *moments):
        if not moments:
            return
        for cron in self._lane_crons():
            cron._trigger_list(sorted(moments))

    # ------------------------------------------------------------------
    # Retention
    # ------------------------------------------------------------------

    @api.model
    def _gc_sent_mail(self, batch_size=1000):
        """Delete sent mail older than the retention period, a batch per
        transaction, so the queue and the users are never blocked for long;
        then drop the bodies a queue run left to drop (_drop_mailing_bodies:
        its process died between its commit and the drop)."""
        days = int(self.env["ir.config_parameter"].sudo().get_param("recruitment_mail.retention_days", RETENTION_DAYS))
        deleted = 0
        if days > 0:
            limit_date = fields.Datetime.now() - timedelta(days=days)
            deleted = self._in_batches(lambda limit: self._delete_sent_before(limit_date, limit), batch_size)
            if deleted:
                _logger.info("Retention: deleted %s sent email(s) older than %s days", deleted, days)
        self._in_batches(lambda limit: self._drop_mailing_bodies(limit=limit), batch_size)
        return deleted

    @api.model
    def _in_batches(self, step, batch_size):
        """Call ``step(batch_size)`` (which returns how many rows it handled)
        until it handles fewer, committing after each batch. Return the total."""
        auto_commit = not getattr(threading.current_thread(), "testing", False)
        done = 0
        while True:
            count = step(batch_size)
            done += count
            if auto_commit and count:
                self.env.cr.commit()  # pylint: disable=invalid-commit  # one batch per transaction
            if count < batch_size:
                return done

    @api.model
    def _delete_sent_before(self, limit_date, limit):
        self.flush_model(["state", "date_sent"])
        # SKIP LOCKED: a row someone is working on waits for the next night
        self.env.cr.execute(
            """SELECT id FROM mail_mail
                WHERE state = 'sent' AND date_sent < %s
                ORDER BY date_sent
                LIMIT %s
                FOR UPDATE SKIP LOCKED""",
            (limit_date, limit),
        )
        ids = [row[0] for row in self.env.cr.fetchall()]
        self.sudo().browse(ids).unlink()
        return len(ids)
