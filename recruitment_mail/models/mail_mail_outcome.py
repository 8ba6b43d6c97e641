# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html).
"""Recording what one attempt to send a mail gave (an Attempt, see
tools/delivery.py): each recipient's fate, the attempt itself, the retry
policy for temporary failures, what is kept of sent mail, and the chatter
notifications."""

import logging
import re
from datetime import timedelta

from markupsafe import Markup

from odoo import SUPERUSER_ID, api, fields, models, tools
from odoo.tools import SQL

from ..tools import fates

_logger = logging.getLogger(__name__)

# cr.postcommit.data key: ids of mails whose body to drop once the sending transaction commits
BODIES_TO_DROP = "recruitment_mail.bodies_to_drop"

MAX_ATTEMPTS = 5
RETRY_DELAYS = "1, 5, 15, 60, 240"  # minutes after the first, second... failed attempt


class MailMail(models.Model):
    _inherit = "mail.mail"

    def _settle_recipients(self, built, delivered, refused, attempt):
        """Keep each recipient's fate once the messages of this mail were
        handed over, and complete ``attempt``: sent when someone got it (and
        no one is to be tried again), with the failure of those who did not."""
        got_it = bool(delivered) or bool(fates.delivered_count(self.recipient_fates))
        if not attempt.message_id and got_it:
            attempt.message_id = built.message_id  # no one new to reach: it went out before
        if not (refused or built.unsendable or self.recipient_fates):
            return
        self.write({"recipient_fates": fates.with_attempt(self.recipient_fates, delivered, refused, built.unsendable)})
        undelivered = fates.undelivered(self.recipient_fates)
        if not undelivered:
            return
        temporary = fates.any_deferred(self.recipient_fates)
        if temporary or not got_it:
            attempt.message_id = None  # tried again for those refused for now, or failed: nobody got it
        if not attempt.message_id or refused:
            # (sent, with only addresses stock leaves out too: as stock, their
            # notifications fail with the loop's failure type and no reason)
            attempt.failure_type = "mail_rejected"
            attempt.failure_reason = self._delivery_summary()
        attempt.temporary = temporary

    def _record_outcome(self, attempt):
        """Record ``attempt`` on these mails (whose state is written): the
        attempt itself and its retry, then stock's post-processing for the
        mails that are done (sent, or failed for good)."""
        retried = self._record_attempt(attempt)
        done = self - retried
        if done:
            done._postprocess_sent_message(
                success_pids=attempt.success_partner_ids,
                failure_reason=attempt.failure_reason,
                failure_type=attempt.failure_type,
            )
        return True

    def _record_failure(self, attempt):
        _logger.info("Email %s failed (%s): %s", self.id, attempt.failure_type, attempt.failure_reason)
        self.write({"state": "exception"})
        return self._record_outcome(attempt)

    def _record_attempt(self, attempt):
        """Count the attempt, note when and through which server it was made,
        and put a mail that failed for now back in the queue with a growing
        delay, up to the maximum of attempts. Return the mails tried again."""
        now = fields.Datetime.now()
        max_attempts, delays = self._retry_policy()
        retried = self.browse()

        def key(mail):
            return mail.attempt_count, mail.state

        for (attempts, state), mails in tools.groupby(self, key=key):
            mails = self.browse().concat(*mails)
            vals = {
                "attempt_count": attempts + 1,
                "last_attempt_date": now,
                "smtp_server_id": attempt.mail_server_id or False,
                "waiting_reason": False,
                # the outcome is recorded: this run is done with it (_claim_chunk)
                "sending_claim_pid": False,
                "sending_claimed_at": False,
            }
            if state == "sent":
                # (auto_delete: see _postprocess_sent_message)
                vals.update(date_sent=now, failure_type=False, next_attempt_date=False)
            elif state == "exception" and attempt.temporary and attempts + 1 < max_attempts:
                delay = delays[min(attempts, len(delays) - 1)]
                vals.update(
                    state="outgoing",
                    next_attempt_date=now + timedelta(minutes=delay),
                    failure_type=attempt.failure_type or False,
                    failure_reason=attempt.failure_reason or False,
                )
                mails = mails.with_context(recruitment_mail_keep_fates=True)
                retried |= mails
                _logger.info(
                    "Email(s) %s: temporary failure, attempt %s of %s, next in %s min",
                    mails.ids,
                    attempts + 1,
                    max_attempts,
                    delay,
                )
            mails.write(vals)
        if retried:
            retried._notifications_wait_for_retry(attempt.success_partner_ids)
        return retried

    def _postprocess_sent_message(self, success_pids, failure_reason=False, failure_type=None):
        """Keep what stock would delete: failed mail stays in the Outbox, with
        a reason a user can act on; business mail stays in Sent items, out of
        the chatter where stock would not show it."""
        sent = self.filtered(lambda mail: mail.state == "sent")
        kept = sent.filtered(lambda mail: mail.auto_delete and not mail.is_system_mail)
        if kept:
            # a mailing sent with Keep Archives off: kept without its body
            # once every recipient got it (_drop_mailing_bodies)
            of_mailings = kept.filtered(lambda mail: "mailing_id" in mail._fields and mail.mailing_id)
            (kept - of_mailings).write({"auto_delete": False})
            if of_mailings:
                of_mailings.write({"auto_delete": False, "body_status": "to_drop"})
                of_mailings.filtered(lambda mail: mail.outbox_status == "sent")._drop_bodies_after_commit()
            kept.sudo()._keep_out_of_the_chatter()
        failed = self.filtered(lambda mail: mail.state == "exception")
        if failed:
            vals = {"auto_delete": False}
            if failure_type:
                vals["failure_type"] = failure_type
            if failure_reason:
                vals["failure_reason"] = failure_reason
            failed.filtered(lambda mail: any(mail[name] != value for name, value in vals.items())).write(vals)
            if not failure_reason:
                no_reason = failed.filtered(lambda mail: not (mail.failure_reason or "").strip())
                if no_reason:
                    no_reason.write({"failure_reason": no_reason._no_reason_message(failure_type)})
        return super()._postprocess_sent_message(success_pids, failure_reason=failure_reason, failure_type=failure_type)

    def _keep_out_of_the_chatter(self):
        """Sent mail that stock would have deleted (auto_delete) is kept for
        Sent items, but shows in no chatter where stock would not show it: an
        email that is not a notification takes its message with it in stock,
        so here that message leaves the record's thread."""
        own_messages = self.filtered(lambda mail: not mail.is_notification).mail_message_id
        if own_messages:
            own_messages.write({"model": False, "res_id": False})

    def _drop_bodies_after_commit(self):
        """Drop the bodies of these mails (_drop_mailing_bodies) once the
        transaction that recorded them as sent has committed, in a cursor of
        its own: until then a rollback could still need them, and a test's
        transaction, which never commits, still reads them as stock leaves
        them. A process that dies in between leaves them to the nightly
        retention job."""
        postcommit = self.env.cr.postcommit
        ids = postcommit.data.get(BODIES_TO_DROP)
        if ids is None:
            ids = postcommit.data[BODIES_TO_DROP] = set()
            registry = self.env.registry

            def drop_bodies():
                try:
                    with registry.cursor() as cr:
                        api.Environment(cr, SUPERUSER_ID, {})["mail.mail"]._drop_mailing_bodies(ids=sorted(ids))
                except Exception:
                    _logger.exception("Dropping the bodies of sent mailing emails %s failed; retention drops them", ids)

            postcommit.add(drop_bodies)
        ids.update(self.ids)

    @api.model
    def _drop_mailing_bodies(self, ids=None, limit=None):
        """Replace the body of sent mailing email kept without it (Keep
        Archives off, body_status "to_drop") by a note saying so, in the email
        and in its own message; the mail must still be sent to every
        recipient: a partly sent email may be resent. ``ids``: only these
        mails; ``limit``: at most that many. Return how many were taken."""
        self.flush_model(["body_status", "state", "outbox_status"])
        self.env.cr.execute(
            SQL(
                """SELECT id FROM mail_mail
                    WHERE body_status = 'to_drop' AND state = 'sent' AND outbox_status = 'sent' %s
                    ORDER BY id
                    LIMIT %s
                    FOR NO KEY UPDATE SKIP LOCKED""",
                SQL("AND id = ANY(%s)", list(ids)) if ids is not None else SQL(),
                limit,
            )
        )
        mails = self.sudo().browse([row[0] for row in self.env.cr.fetchall()])

        def key(mail):
            return (mail.mailing_id if "mailing_id" in mail._fields else None), mail.mail_user_id.lang

        for (mailing, lang), group in tools.groupby(mails, key=key):
            group = self.sudo().browse().concat(*group)
            note = group.with_context(lang=lang)._body_not_kept_note(mailing)
            group.write({"body_html": note, "body_status": "dropped"})
            # a notification's message is the record's chatter message, kept as in stock
            group.filtered(lambda mail: not mail.is_notification).mail_message_id.write({"body": note})
        if mails:
            _logger.info("Sent items: dropped the body of %s email(s) of mailings with Keep Archives off", len(mails))
        return len(mails)

    def _body_not_kept_note(self, mailing):
        """What Sent items show instead of the body of a mailing's email."""
        if mailing:
            text = self.env._(
                "The body of this email was not kept: it was sent by the mailing “%(name)s” with Keep Archives off.",
                name=mailing.display_name,
            )
        else:
            text = self.env._("The body of this email was not kept: it was sent by a mailing with Keep Archives off.")
        return Markup("<p>%s</p>") % text

    def _notifications_wait_for_retry(self, success_pids):
        """The chatter notifications of mail tried again later: sent for the
        recipients who got it, waiting (not failed) for the others, rather
        than stock's placeholder left while sending."""
        notifications = (
            self.env["mail.notification"]
            .sudo()
            .search(
                [
                    ("notification_type", "=", "email"),
                    ("mail_mail_id", "in", self.ids),
                    ("notification_status", "not in", ("sent", "canceled")),
                ]
            )
        )
        delivered = notifications.filtered(lambda notif: notif.res_partner_id in success_pids)
        delivered.write({"notification_status": "sent", "failure_type": False, "failure_reason": False})
        (notifications - delivered).write(
            {"notification_status": "ready", "failure_type": False, "failure_reason": False}
        )

    def _mark_notifications_sending(self):
        """As stock: the notifications of this mail in a transient failed
        state while it is sent, so that a bounce arriving meanwhile is not
        overwritten."""
        notifications = self.env["mail.notification"].search(
            [
                ("notification_type", "=", "email"),
                ("mail_mail_id", "in", self.ids),
                ("notification_status", "not in", ("sent", "canceled")),
            ]
        )
        if notifications:
            notifications.sudo().write(
                {
                    "notification_status": "exception",
                    "failure_type": "unknown",
                    "failure_reason": self.env._(
                        "Error without exception. Probably due to concurrent access update of "
                        "notification records. Please see with an administrator."
                    ),
                }
            )
            notifications.flush_recordset(["notification_status", "failure_type", "failure_reason"])

    @api.model
    def _failure_of(self, exc, failure_type=None):
        """(failure type, reason) of an exception raised while sending: the
        classification of an SMTP refusal (ClassifiedDeliveryError), else as
        stock _send reports it."""
        failure = getattr(exc, "failure", None)
        if failure is not None:
            return failure.failure_type, failure.reason
        IrMailServer = self.env["ir.mail_server"]
        failure_reason = None
        if isinstance(exc, AssertionError) and exc.args:
            error_code = exc.args[0]
            if len(exc.args) > 1 and error_code == IrMailServer.NO_VALID_FROM:
                failure_reason = str(exc.args[1])
            else:
                failure_reason = error_code
            if error_code == IrMailServer.NO_VALID_FROM:
                failure_type = "mail_from_invalid"
            elif error_code in (IrMailServer.NO_FOUND_FROM, IrMailServer.NO_FOUND_SMTP_FROM):
                failure_type = "mail_from_missing"
        return failure_type or "unknown", failure_reason or tools.exception_to_unicode(exc)

    @api.model
    def _retry_policy(self):
        """(maximum attempts, delays in minutes between attempts) from Settings."""
        params = self.env["ir.config_parameter"].sudo()
        max_attempts = int(params.get_param("recruitment_mail.max_attempts", MAX_ATTEMPTS) or 1)
        raw = params.get_param("recruitment_mail.retry_delays", RETRY_DELAYS) or RETRY_DELAYS
        delays = [int(part) for part in re.findall(r"\d+", raw)] or [1]
        return max(max_attempts, 1), delays

    def _no_reason_message(self, failure_type):
        if failure_type in ("mail_email_invalid", "mail_email_missing"):
            return self.env._(
                "No valid recipient address: check the To and Cc addresses and the recipients' contacts, then resend."
            )
        return self.env._(
            "The email could not be sent and the mail server gave no reason. "
            "Check the SMTP settings of the outgoing mail server (Settings > Technical > "
            "Outgoing Mail Servers), use Test Connection, then resend."
        )
