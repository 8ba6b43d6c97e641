# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html).
"""Sending: claim, build, hand to SMTP, record the outcome, one commit per email.

Stock's ``mail.mail._send`` reads, builds and sends each mail on its own, with
nothing to stop two workers building the same mail. The add-on keeps stock's
``send()`` (split by server, connect, quit) and replaces ``_send`` with
``_send_odoo_18_0``, a rebuild of Odoo 18.0's loop that claims before it
builds, reads a chunk of mails at once and keeps every recipient's fate. It
replaces stock's method at the bottom of the method resolution order (see
``_send_at_the_bottom``), so that the ``_send`` overrides of every other
module, loaded before or after this one, still run around it; a test pins the
stock source it mirrors (STOCK_SEND_SHA256).
"""

import functools
import hashlib
import inspect
import logging
import smtplib

import psycopg2

from odoo import fields, models, tools

from odoo.addons.base.models.ir_mail_server import MailDeliveryException
from odoo.addons.mail.models.mail_mail import MailMail as StockMailMail

from ..tools import fates
from ..tools.delivery import Attempt, FailedConnection, OutgoingMail
from .mail_mail_queue import CLAIM_IS_FREE, CLAIM_OURS

_logger = logging.getLogger(__name__)

# Sending builds the messages of this many mails from one read of them all,
# and holds at most about this many bytes of bodies and attachments at once.
SEND_CHUNK = 100
SEND_CHUNK_BYTES = 32 * 1024 * 1024
# What recording the outcome of a send reads of the mail (here and in stock):
# kept from that read for a mail unchanged since it was read (CLAIM_SAME).
KEPT_FIELDS = (
    "state",
    "scheduled_date",
    "attempt_count",
    "is_system_mail",
    "auto_delete",
    "is_notification",
    "failure_reason",
    "next_attempt_date",
    "mail_message_id",
    "recipient_fates",
)
CLAIM_SAME = "same"  # _claim: the mail is ours and unchanged since it was read
CLAIM_CHANGED = "changed"  # _claim: the mail is ours, written since it was read: build it again

# The stock method _send_odoo_18_0 rebuilds: Odoo 18.0's mail.mail._send, as
# sha256 of its source (inspect.getsource). test_stock_send_is_the_one_mirrored
# fails when an Odoo update changes it: compare the new stock _send with
# _send_odoo_18_0 and the methods it calls, port the change, then update this.
STOCK_SEND = StockMailMail._send
STOCK_SEND_SHA256 = "bb6ce0fcc904b6c17e0352c9963c8a78764917633f20dd0b3ec4f6d210e09198"


def stock_send_sha256():
    return hashlib.sha256(inspect.getsource(STOCK_SEND).encode()).hexdigest()


def _send_at_the_bottom(
    self,
    auto_commit=False,
    raise_exception=False,
    smtp_session=None,
    alias_domain_id=False,
    mail_server=False,
    post_send_callback=None,
):
    """Stock's place in the method resolution order of mail.mail._send: the
    add-on's loop on a database where it is installed, stock's elsewhere."""
    send = getattr(self, "_send_odoo_18_0", None) or functools.partial(STOCK_SEND, self)
    return send(
        auto_commit=auto_commit,
        raise_exception=raise_exception,
        smtp_session=smtp_session,
        alias_domain_id=alias_domain_id,
        mail_server=mail_server,
        post_send_callback=post_send_callback,
    )


if StockMailMail._send is STOCK_SEND:
    StockMailMail._send = _send_at_the_bottom


class MailMail(models.Model):
    _inherit = "mail.mail"

    def _send_odoo_18_0(
        self,
        auto_commit=False,
        raise_exception=False,
        smtp_session=None,
        alias_domain_id=False,
        mail_server=False,
        post_send_callback=None,
    ):
        """Odoo 18.0's mail.mail._send, rebuilt: send these mails through one
        SMTP session, each claimed, handed to the server, its outcome recorded
        and, in the cron, committed before the next one.

        Stock reads each mail on its own after the previous commit (a commit
        empties the ORM cache), a dozen queries per mail. Here SEND_CHUNK
        mails at a time are claimed (_claim_chunk), then built from one read
        of them all (_build_outgoing), so that no hook runs for a mail another
        worker holds; each is locked again just before SMTP (_claim), and a
        mail changed since it was read is built again. Stock's hooks still run
        for each mail: _prepare_outgoing_list, build_email, send_email and
        _postprocess_sent_message."""
        if auto_commit is True:
            # What was read so far comes from an older snapshot: the claims
            # below must see what other workers committed since.
            self.env.cr.commit()  # pylint: disable=invalid-commit  # cron only (auto_commit)
        if isinstance(smtp_session, FailedConnection):
            return self._fail_connection(smtp_session, raise_exception, auto_commit)
        build_args = {"alias_domain_id": alias_domain_id, "mail_server": mail_server}
        send_args = {
            "auto_commit": auto_commit,
            "raise_exception": raise_exception,
            "smtp_session": smtp_session,
            "build_args": build_args,
            "post_send_callback": post_send_callback,
        }
        try:
            run = self._pipelined_run(smtp_session, mail_server, raise_exception, auto_commit)
            if run:
                return self._send_pipelined(run, send_args)
            return self._send_claimed(send_args)
        finally:
            if auto_commit is True:
                # a new snapshot first: the run's Recorder may have written these mails since
                self.env.cr.commit()  # pylint: disable=invalid-commit  # cron only (auto_commit)
                (self - self._in_flight())._release_claims()
                self.env.cr.commit()  # pylint: disable=invalid-commit  # cron only (auto_commit)

    def _send_claimed(self, send_args):
        """The loop: claim and build a chunk, then deliver each mail (_deliver)."""
        auto_commit = send_args["auto_commit"]
        pending = self.ids
        while pending:
            outgoing, pending = self.browse(pending)._build_outgoing(**send_args["build_args"], auto_commit=auto_commit)
            if auto_commit is True:
                # what building created (other modules' records of each message,
                # mail_tracking's) must not vanish in a rollback below (_claim,
                # _record_lost_outcome) while its messages still go
                self.env.cr.commit()  # pylint: disable=invalid-commit  # cron only (auto_commit)
            order = list(outgoing)
            for position, (mail_id, built) in enumerate(outgoing.items()):
                if self._queue_run_must_stop():
                    return True  # the rest stays queued for the next run
                try:
                    session_alive = self.browse(mail_id)._deliver(built, **send_args)
                except (MemoryError, smtplib.SMTPServerDisconnected):
                    raise
                except Exception as exc:
                    self.browse(mail_id)._recover_lost_outcome(built, exc, send_args)
                    continue
                if not session_alive:
                    # The SMTP session is gone: the rest of the batch stays
                    # queued for the next run.
                    self.browse(order[position + 1 :] + pending)._trigger_queue()
                    return True
        return True

    def _recover_lost_outcome(self, built, exc, send_args):
        """Recording the outcome of this email failed (a bug, a constraint, a
        conflict): in the cron, it gets what is known of it and the batch goes
        on (_record_lost_outcome); elsewhere, as in stock, ``exc`` is raised."""
        if send_args["auto_commit"] is not True or send_args["raise_exception"]:
            raise exc
        _logger.exception("Email %s: recording the outcome of sending it failed", self.id)
        self.env.cr.rollback()
        self._record_lost_outcome(built, exc)
        self.env.cr.commit()  # pylint: disable=invalid-commit  # cron only (auto_commit)

    def _fail_connection(self, connection, raise_exception, auto_commit=False):
        """The session of these mails could not be opened: as stock's send()
        does, they fail with the reason (raise it with raise_exception), and
        are tried again later unless waiting cannot mend it."""
        if raise_exception:
            raise MailDeliveryException(self.env._("Unable to connect to SMTP Server"), connection.error)
        mails = self.browse(self._claim_chunk(self.ids, auto_commit))
        if not mails:
            return True
        mails.write({"state": "exception", "failure_reason": connection.message})
        attempt = Attempt(
            mail_server_id=connection.mail_server_id,
            failure_type="mail_smtp",
            failure_reason=connection.message,
            temporary=not connection.permanent,
        )
        mails._record_outcome(attempt)
        return True

    # ------------------------------------------------------------------
    # Claim and build
    # ------------------------------------------------------------------

    def _build_outgoing(self, alias_domain_id=False, mail_server=False, auto_commit=False, chunk=SEND_CHUNK):
        """Claim the first ``chunk`` of these mails (_claim_chunk), read the
        claimed ones together and build their messages, up to about
        SEND_CHUNK_BYTES of bodies and attachments. Return ({mail id:
        OutgoingMail} in order, ids left for later). No other module's hook
        (_prepare_outgoing_list, build_email) runs for a mail not claimed."""
        ids = self.ids[:chunk]
        # what this transaction wrote is what the claims below must compare with
        self.env["mail.message"].flush_model()
        self.flush_model()
        claimed = self._claim_chunk(ids, auto_commit)
        self.env.cr.execute("SELECT id, write_date FROM mail_mail WHERE id = ANY(%s)", (claimed,))
        read_at = dict(self.env.cr.fetchall())
        mails = self.browse([mail_id for mail_id in ids if mail_id in read_at])  # deleted ones are gone
        with_unfollow = mails.filtered(lambda mail: mail.body_html and "/mail/unfollow" in mail.body_html)
        follower_status = (
            self.env["mail.followers"]._get_mail_recipients_follower_status(with_unfollow.ids)
            if with_unfollow
            else None
        )
        # The company's default sender and bounce addresses, worked out once
        # for the chunk rather than once per message, given to build_email and
        # send_email as stock's _send gives an alias domain's.
        IrMailServer = self.env["ir.mail_server"]
        defaults = {
            "domain_notifications_email": IrMailServer._get_default_from_address(),
            "domain_bounce_address": IrMailServer._get_default_bounce_address(),
        }
        outgoing = {}
        size = 0
        for mail in mails:
            if size >= SEND_CHUNK_BYTES:
                break
            built = OutgoingMail(
                read_at=read_at[mail.id],
                mail_server_id=mail.mail_server_id.id,
                is_notification=mail.is_notification,
                values={name: mail[name] for name in KEPT_FIELDS},
            )
            outgoing[mail.id] = built
            if mail.state != "outgoing":
                built.not_waiting = True  # _claim decides, on what the database says then
                continue
            built.problem = mail._header_problem()
            if built.problem:
                continue
            built.nobody = mail._no_recipient_problem()  # still built and handed over, as in stock
            built.unsendable = mail._unsendable_addresses()
            try:
                mail._build_messages(built, alias_domain_id, mail_server, follower_status, defaults)
            except (MemoryError, psycopg2.Error):
                raise
            except Exception as exc:  # noqa: BLE001  # reported on the mail by _deliver, as stock does
                built.error = exc
            size += built.size
        # read but not built (the byte budget was reached) first, then the rest
        not_built = [mail_id for mail_id in ids if mail_id in read_at and mail_id not in outgoing]
        return outgoing, not_built + self.ids[len(ids) :]

    def _claim_chunk(self, ids, auto_commit):
        """Take the mails of ``ids`` that are waiting and that no other worker
        holds, before anything is built for them; return their ids. Outside
        the cron the row locks do it, until the transaction ends. The cron
        commits after each mail, which ends row locks: there the claim is the
        worker's database connection (backend pid), written on the mails and
        committed; it lapses when that connection ends (a killed worker)."""
        now = fields.Datetime.now()
        query = f"""SELECT id FROM mail_mail
                     WHERE id = ANY(%(ids)s) AND state = 'outgoing' AND {CLAIM_IS_FREE}
                       FOR NO KEY UPDATE SKIP LOCKED"""
        params = self._claim_params(now, ids=list(ids))
        # a failure: claim again on a new snapshot (see _execute_claim)
        if not self._execute_claim(query, params, auto_commit) and not self._execute_claim(query, params, auto_commit):
            _logger.info("Email(s) %s: being sent by another worker, left for a later run", list(ids))
            return []
        claimed = [row[0] for row in self.env.cr.fetchall()]
        if claimed and auto_commit is True:
            self.env.cr.execute(
                """UPDATE mail_mail SET sending_claim_pid = COALESCE(%s, pg_backend_pid()), sending_claimed_at = %s
                    WHERE id = ANY(%s)""",
                (self._claimant(), now, claimed),
            )
            self.env.cr.commit()  # pylint: disable=invalid-commit  # cron only (auto_commit)
        return claimed

    def _release_claims(self):
        """Give back the mails this worker claimed and did not send (its run
        ended in time, or the SMTP session was lost)."""
        self.env.cr.execute(
            f"""UPDATE mail_mail SET sending_claim_pid = NULL, sending_claimed_at = NULL
                 WHERE id = ANY(%(ids)s) AND state = 'outgoing' AND {CLAIM_OURS}""",
            {"ids": self.ids, "claimant": self._claimant()},
        )

    def _build_messages(self, built, alias_domain_id, mail_server, follower_status, defaults):
        """The RFC 2822 messages of this mail, as stock _send builds them,
        less those whose every address had it already (recipient fates)."""
        self.ensure_one()
        emails_from = tools.mail.email_split_and_format_normalize(self.email_from)
        email_from = emails_from[0] if emails_from else self.email_from
        email_list = self._prepare_outgoing_list(
            mail_server=mail_server or self.mail_server_id, recipients_follower_status=follower_status
        )
        done = fates.addresses_done(self.recipient_fates)
        for email in email_list:
            validated = email.pop("email_to_normalized", [])
            if validated:  # what stock makes of a broken address is reported, not sent
                validated = [address for address in validated if address.rpartition("@")[0]] or validated
            if done and validated:
                validated = [address for address in validated if address not in done]
                if not validated:
                    if email.get("partner_id"):
                        built.got_it_before.append(email["partner_id"].id)
                    continue  # every address of this message has had it
            server_context = {"send_validated_to": validated}
            if alias_domain_id:
                alias_domain = self.env["mail.alias.domain"].sudo().browse(alias_domain_id)
                server_context.update(
                    domain_notifications_email=alias_domain.default_from_email,
                    domain_bounce_address=email["headers"].get("Return-Path") or alias_domain.bounce_email,
                )
            else:
                server_context.update(
                    domain_notifications_email=defaults["domain_notifications_email"],
                    domain_bounce_address=email["headers"].get("Return-Path") or defaults["domain_bounce_address"],
                )
                # the company has none, as found for the chunk: send_email need
                # not look again (ir.mail_server._get_default_bounce_address)
                if not server_context["domain_bounce_address"]:
                    server_context["recruitment_mail_no_bounce_address"] = True
                if not server_context["domain_notifications_email"]:
                    server_context["recruitment_mail_no_default_from"] = True
            message = (
                self.env["ir.mail_server"]
                .with_context(**server_context)
                .build_email(
                    email_from=email_from,
                    email_to=email["email_to"],
                    subject=email["subject"],
                    body=email["body"],
                    body_alternative=email["body_alternative"],
                    email_cc=email["email_cc"],
                    reply_to=email["reply_to"],
                    attachments=email["attachments"],
                    message_id=email["message_id"],
                    references=email["references"],
                    object_id=email["object_id"],
                    subtype="html",
                    subtype_alternative="plain",
                    headers=email["headers"],
                )
            )
            partner = email.pop("partner_id", None)
            built.emails.append((message, partner, email.get("email_to"), server_context))
            built.size += len(email["body"] or "") + sum(
                len(content or b"") for _name, content, _type in email["attachments"]
            )
        built.message_id = self.message_id

    def _execute_claim(self, query, params, auto_commit):
        """Run a claiming query (FOR NO KEY UPDATE) and return True, or False
        when another worker updated one of its rows since this transaction
        began (serialization failure): then, in the cron, the transaction is
        rolled back (everything before a claim is committed already) for the
        caller to skip them or claim again on a new snapshot; elsewhere the
        failure is raised."""
        try:
            self.env.cr.execute(query, params, log_exceptions=False)
        except psycopg2.errors.SerializationFailure:
            if auto_commit is not True:
                raise
            self.env.cr.rollback()
            return False
        return True

    def _claim(self, auto_commit=False, read_at=None):
        """Lock this mail for sending and check, in the database rather than
        in the cache, that it is still waiting: another worker (a second cron
        process, or a user's Send now) may have sent it since it was picked.
        A mail another worker holds, or changed under our feet, is skipped,
        not waited for. Return False (skip it), CLAIM_SAME, or CLAIM_CHANGED
        when it was written since ``read_at`` (its write_date when read)."""
        self.ensure_one()
        return self._claim_each({self.id: read_at}, auto_commit)[self.id]

    def _claim_each(self, read_at, auto_commit=False):
        """_claim for each mail of ``read_at`` ({id: its write_date when read,
        or None}) in one query: {id: False, CLAIM_SAME or CLAIM_CHANGED}."""
        query = f"""SELECT id, state, write_date, {CLAIM_IS_FREE}
                     FROM mail_mail WHERE id = ANY(%(ids)s) FOR NO KEY UPDATE SKIP LOCKED"""
        params = self._claim_params(fields.Datetime.now(), ids=list(read_at))
        if not self._execute_claim(query, params, auto_commit):
            # skip them all: they go in a later run
            _logger.info("Email(s) %s: being sent by another worker, skipped", list(read_at))
            return dict.fromkeys(read_at, False)
        rows = {mail_id: (state, write_date, free) for mail_id, state, write_date, free in self.env.cr.fetchall()}
        claims = {}
        for mail_id, when in read_at.items():
            state, write_date, free = rows.get(mail_id, (None, None, False))
            if state != "outgoing" or not free:
                claims[mail_id] = False  # gone, held by another worker, or no longer waiting
            else:
                claims[mail_id] = CLAIM_SAME if when is not None and write_date == when else CLAIM_CHANGED
        return claims
