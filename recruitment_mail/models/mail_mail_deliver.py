# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html).
"""Delivering one claimed mail whose messages are built (mail_mail_send.py):
hand each message to the SMTP server through stock's send_email, keep what
the server answered per recipient, and record the outcome (mail_mail_outcome.py)."""

import logging
import smtplib

import psycopg2

from odoo import fields, models, modules, tools

from odoo.addons.base.models.ir_mail_server import MailDeliveryException

from ..tools.delivery import Attempt, RecordingSession
from ..tools.smtp_errors import ClassifiedDeliveryError, describe_error, refused_recipients
from .mail_mail_send import CLAIM_CHANGED

_logger = logging.getLogger(__name__)

NO_VALID_RECIPIENT = object()  # _hand_over: no address to send one message to


class MailMail(models.Model):
    _inherit = "mail.mail"

    def _deliver(
        self,
        built,
        auto_commit=False,
        raise_exception=False,
        smtp_session=None,
        build_args=None,
        post_send_callback=None,
    ):
        """Claim this mail, hand its messages to the SMTP server and record
        the outcome as stock _send does; commit in the cron. Return False when
        the SMTP session was lost on the way."""
        send_args = {
            "auto_commit": auto_commit,
            "raise_exception": raise_exception,
            "build_args": build_args or {},
            "post_send_callback": post_send_callback,
        }
        built = self._claimed_for_sending(built, send_args)
        if built is None:
            return True

        def hand_over(position):
            _message, _partner, _email_to, server_context = built.emails[position]
            return self._hand_over(built, built.emails[position][0], server_context, smtp_session)

        return self._deliver_and_record(built, hand_over, send_args)

    def _claimed_for_sending(self, built, send_args):
        """What to send of this mail once claimed (_claimed_and_current), or
        None: not this worker's to send, or it cannot be addressed (then it
        failed with the reason, recorded and committed here)."""
        built = self._claimed_and_current(built, send_args)
        if built is not None and built.problem:
            self._record_problem(built, send_args)
            return None
        return built

    def _claimed_and_current(self, built, send_args):
        """Claim this mail (_claim) and return what to send of it: ``built``,
        or built again when the mail changed since it was read; None when it
        is not this worker's to send (any more)."""
        self.ensure_one()
        claim = built.claim if built.claim is not None else self._claim(send_args["auto_commit"], built.read_at)
        if not claim:
            return None
        if claim == CLAIM_CHANGED or built.not_waiting:
            # written since it was built (edited, resent, rescheduled): build it again
            self.invalidate_recordset()
            self.mail_message_id.invalidate_recordset()
            rebuilt, _left = self._build_outgoing(**send_args["build_args"])
            return rebuilt.get(self.id)  # None: deleted meanwhile
        # Unchanged since it was read: what was read then is what the
        # database holds, no need to read it again after the last commit.
        self._update_cache(built.values, validate=False)
        return built

    def _server_of(self, built, send_args):
        mail_server = send_args["build_args"].get("mail_server")
        return mail_server.id if mail_server else built.mail_server_id

    def _record_problem(self, built, send_args):
        """This mail cannot be addressed (built.problem): it fails with the reason."""
        failure_type, reason = built.problem
        server_id = self._server_of(built, send_args)
        self._record_failure(Attempt(mail_server_id=server_id, failure_type=failure_type, failure_reason=reason))
        self._commit_outcome(send_args["auto_commit"], send_args["post_send_callback"])

    def _deliver_and_record(self, built, hand_over, send_args):
        """Hand over each message of this claimed mail (``hand_over(position)``
        gives what _hand_over gives for it) and record the outcome; commit in
        the cron. Return False when the SMTP session was lost on the way."""
        raise_exception = send_args["raise_exception"]
        try:
            attempt = self._deliver_messages(built, hand_over, self._server_of(built, send_args), raise_exception)
        except smtplib.SMTPServerDisconnected as exc:
            server = send_args["build_args"].get("mail_server") or self.mail_server_id
            reason = self.env._(
                "The outgoing mail server %(server)s closed the connection while this email "
                "was being sent (%(error)s). Check the SMTP settings if this happens again.",
                server=server.display_name if server else self.env._("(default)"),
                error=describe_error(exc),
            )
            server_id = self._server_of(built, send_args)
            attempt = Attempt(mail_server_id=server_id, failure_type="mail_smtp", failure_reason=reason, temporary=True)
            self._record_failure(attempt)
            if raise_exception:
                raise
            self._commit_outcome(send_args["auto_commit"], send_args["post_send_callback"])
            return False
        self._record_outcome(attempt)
        self._commit_outcome(send_args["auto_commit"], send_args["post_send_callback"])
        return True

    def _deliver_messages(self, built, hand_over, server_id, raise_exception):
        """Stock _send's loop body for one claimed mail whose messages are
        built: hand each message over (``hand_over(position)``, see
        _hand_over), then write the mail's state as stock does. Return the
        Attempt to record."""
        attempt = Attempt(
            mail_server_id=server_id,
            success_partner_ids=list(self.env["res.partner"].browse(built.got_it_before)),
        )
        delivered, refused = set(), {}
        try:
            if built.error:
                raise built.error
            if built.is_notification:
                self._mark_notifications_sending()
            for position, (_message, partner, email_to, _server_context) in enumerate(built.emails):
                message_res, accepted, now_refused = hand_over(position)
                if message_res is NO_VALID_RECIPIENT:
                    if not email_to and attempt.failure_type != "mail_email_invalid":
                        attempt.failure_type = "mail_email_missing"
                    else:
                        attempt.failure_type = "mail_email_invalid"
                    _logger.info("Ignoring invalid recipients for mail.mail %s: %s", built.message_id, email_to)
                    continue
                attempt.message_id = message_res or attempt.message_id
                refused.update(now_refused)
                delivered.update(accepted)
                if accepted:
                    built.delivered = True
                    if partner:
                        attempt.success_partner_ids.append(self.env["res.partner"].browse(partner.id))
            if built.nobody:
                # send_email refused each message, as in stock: the add-on's reason
                attempt.failure_type, attempt.failure_reason = built.nobody
                attempt.message_id = None
            else:
                self._settle_recipients(built, delivered, refused, attempt)
            if attempt.message_id:
                # as stock: a mail that reached someone is sent, with no failure
                # on it; who did not get it is in recipient_fates (Partly sent)
                vals = {"state": "sent", "failure_reason": False}
                if attempt.message_id != built.message_id:
                    vals["message_id"] = attempt.message_id
                self.write(vals)
                if not modules.module.current_test:
                    _logger.info(
                        "Mail (mail.mail) with ID %r and Message-Id %r successfully sent to %s recipient(s)",
                        self.id,
                        attempt.message_id,
                        len(built.emails),
                    )
            else:
                self.write({"state": "exception", "failure_reason": attempt.failure_reason or False})
        except MemoryError:
            _logger.exception(
                "MemoryError while sending mail with ID %r: consider raising --limit-memory-hard", self.id
            )
            raise
        except (psycopg2.Error, smtplib.SMTPServerDisconnected):
            _logger.exception("Exception while processing mail with ID %r and Msg-Id %r.", self.id, built.message_id)
            raise
        except Exception as exc:  # noqa: BLE001  # the mail fails with the reason, as in stock _send
            failure = exc.failure if isinstance(exc, ClassifiedDeliveryError) else None
            attempt.failure_type, attempt.failure_reason = self._failure_of(exc, attempt.failure_type)
            attempt.temporary = bool(failure and failure.temporary)
            attempt.message_id = None
            _logger.exception("failed sending mail (id: %s) due to %s", self.id, attempt.failure_reason)
            self.write(
                {"failure_reason": attempt.failure_reason, "failure_type": attempt.failure_type, "state": "exception"}
            )
            if raise_exception:
                self._record_outcome(attempt)
                raise self._stock_delivery_error(exc)  # noqa: B904  # the exception itself, or stock's wrapping of it
        return attempt

    def _hand_over(self, built, message, server_context, smtp_session):
        """Hand one message of this mail to the SMTP server. Return (its
        Message-Id or None, the addresses the server accepted, the refused
        ones {address: (code, reply)}); NO_VALID_RECIPIENT first when stock
        found no address to send the message to. Raises as send_email does,
        but for a message whose every recipient is refused when the mail has
        others."""
        IrMailServer = self.env["ir.mail_server"]
        session = RecordingSession(smtp_session) if smtp_session else None
        if built.nobody:
            # as stock: handed to send_email, which refuses it; never sent, no connection needed
            session = RecordingSession(smtp_session, refuse_with=IrMailServer.NO_VALID_RECIPIENT)
        try:
            res = IrMailServer.with_context(**server_context).send_email(
                message, mail_server_id=built.mail_server_id, smtp_session=session
            )
            if not res and session is not None and session.error is not None:
                # another module's send_email (mail_tracking's) swallowed it: raise it as stock does
                raise IrMailServer._delivery_exception(session.error)
        except AssertionError as error:
            if str(error) != IrMailServer.NO_VALID_RECIPIENT:
                raise
            return NO_VALID_RECIPIENT, [], {}
        except MailDeliveryException as exc:
            every_one = refused_recipients(exc)
            if not every_one or len(built.emails) == 1:
                raise  # the whole email was refused: reported as in stock
            return None, [], every_one  # the other messages still go
        if not res and session is not None and not session.handed:
            return None, [], {}  # an override of send_email returned False without sending it
        sent_to = (session and session.recipients) or server_context.get("send_validated_to") or []
        refused = (session and session.refused) or {}
        return res, [address for address in sent_to if address not in refused], refused

    def _commit_outcome(self, auto_commit, post_send_callback):
        """In the cron: commit this mail's recorded outcome before the next mail."""
        if auto_commit is True:
            if post_send_callback:
                post_send_callback(self.ids)
            self.env.cr.commit()  # pylint: disable=invalid-commit  # cron only, as stock _send does

    def _record_lost_outcome(self, built, exc):
        """What is known of an email whose outcome could not be recorded
        (that transaction is rolled back): handed to the SMTP server, it is
        Sent and never sent again; otherwise Failed, with what went wrong."""
        if not self._claim(True):
            return  # another worker has it, or it is no longer waiting
        now = fields.Datetime.now()
        vals = {
            "attempt_count": self.attempt_count + 1,
            "last_attempt_date": now,
            "next_attempt_date": False,
            "waiting_reason": False,
            "sending_claim_pid": False,
            "sending_claimed_at": False,
        }
        if built.delivered:
            vals.update(state="sent", date_sent=now, failure_reason=False, failure_type=False, auto_delete=False)
        else:
            vals.update(
                state="exception",
                failure_type="unknown",
                auto_delete=False,
                failure_reason=self.env._(
                    "Odoo could not record the outcome of sending this email (%(error)s). It was not "
                    "sent: resend it, and tell your administrator if it fails again (see the server log).",
                    error=tools.exception_to_unicode(exc),
                ),
            )
        self.write(vals)

    @staticmethod
    def _stock_delivery_error(exc):
        """What stock _send raises, with raise_exception, for ``exc``."""
        if isinstance(exc, (AssertionError, UnicodeEncodeError)):
            value = f"Invalid text: {exc.object}" if isinstance(exc, UnicodeEncodeError) else ". ".join(exc.args)
            error = MailDeliveryException(value)
            error.__cause__ = exc
            return error
        return exc
