# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html).
import dataclasses
import logging
import re
import smtplib
import textwrap
import threading
import time
from datetime import timedelta
from email.message import Message as EmailMessage

import psycopg2
from email_validator import EmailNotValidError, validate_email
from flufl.bounce import all_failures

from odoo import Command, api, fields, models, modules, tools
from odoo.exceptions import UserError
from odoo.tools import SQL, config, sql

from odoo.addons.base.models.ir_mail_server import MailDeliveryException

from .ir_mail_server import describe_error, smtp_reply

_logger = logging.getLogger(__name__)

OUTBOX_STATUSES = [
    ("queued", "Queued"),
    ("scheduled", "Scheduled"),
    ("failed", "Failed"),
    ("partial", "Partly sent"),
    ("sent", "Sent"),
    ("cancel", "Cancelled"),
]
DEFAULT_MAX_ATTEMPTS = 5
DEFAULT_RETRY_DELAYS = "1, 5, 15, 60, 240"
OUTBOX_STATE_TO_STATUS = {"exception": "failed", "sent": "sent", "cancel": "cancel"}
IN_OUTBOX = ("queued", "scheduled", "failed", "partial")
# What happened to one recipient address (mail.mail.recipient_fates)
FATE_DELIVERED = "delivered"
FATE_DEFERRED = "deferred"  # refused for now (4xx): tried again
FATE_REFUSED = "refused"  # refused for good (5xx) or not an address: Resend tries again

# Sending builds the messages of this many mails from one read of them all,
# and holds at most about this many bytes of bodies and attachments at once.
SEND_CHUNK = 100
SEND_CHUNK_BYTES = 32 * 1024 * 1024
# What recording the outcome of a send reads of the mail (here and in stock):
# kept from that read for a mail unchanged since (CLAIM_SAME).
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
)
NO_VALID_RECIPIENT = object()  # _hand_over: no address to send one message to
CLAIM_SAME = "same"
CLAIM_CHANGED = "changed"
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
# A queue run's claim on the mails it is sending (_claim_chunk) lapses when its
# database connection ends, or after this long: runs end within about a minute.
CLAIM_LAPSE = timedelta(minutes=10)
# SQL: nobody else holds this mail (its claim is ours, lapsed, or of a closed connection)
CLAIM_IS_FREE = """(sending_claim_pid IS NULL OR sending_claim_pid = pg_backend_pid()
    OR sending_claimed_at < %(stale)s OR sending_claim_pid NOT IN (SELECT pid FROM pg_stat_activity))"""


@dataclasses.dataclass
class OutgoingMail:
    """A mail whose messages are built, waiting for its claim (_deliver)."""

    read_at: object = None  # its write_date when it was read
    mail_server_id: int | None = None
    is_notification: bool = False
    message_id: str = ""
    problem: tuple | None = None  # (failure type, message): cannot be addressed
    unsendable: list = dataclasses.field(default_factory=list)  # [(address, reason)] Odoo cannot send to
    got_it_before: list = dataclasses.field(default_factory=list)  # ids of recipient partners already reached
    error: Exception | None = None  # building it failed: reported as stock does
    emails: list = dataclasses.field(default_factory=list)  # (message, partner, email_to, server context)
    size: int = 0
    not_waiting: bool = False  # not waiting when it was read: nothing built
    delivered: bool = False  # the SMTP server accepted at least one of its messages
    values: dict = dataclasses.field(default_factory=dict)  # KEPT_FIELDS as read


class RecordingSession:
    """An SMTP session that keeps the server's answer to the recipients of
    the message send_email hands it: smtplib returns the recipients refused
    by a server that accepted others instead of raising."""

    def __init__(self, session):
        self._session = session
        self.recipients = []
        self.refused = {}
        # What went wrong inside send_email: the server's refusal (here) or
        # Odoo's own check of the message (ir.mail_server._prepare_email_message),
        # kept because an override of send_email between this add-on's and
        # stock's (mail_tracking's) may swallow the exception and return False.
        self.error = None
        self.handed = False  # send_message was called: the message reached the server

    def send_message(self, msg, from_addr=None, to_addrs=None, *args, **kwargs):
        self.recipients = list(to_addrs or [])
        self.refused = {}
        self.handed = True
        try:
            self.refused = self._session.send_message(msg, from_addr, to_addrs, *args, **kwargs) or {}
        except Exception as exc:
            self.error = exc
            raise
        return self.refused

    def __getattr__(self, name):
        return getattr(self._session, name)


# Mail that carries a login link or code: kept out of everyone's sight but
# administrators', and deleted once sent as stock Odoo does.
SYSTEM_MAIL_MODELS = ("res.users", "portal.wizard.user")
SYSTEM_MAIL_MARKERS = ("/web/reset_password", "/web/signup", "signup_token", "auth_totp")

# Splits a To/Cc field on commas, semicolons and line ends that are outside
# quotes and angle brackets: email.utils.getaddresses() silently rewrites malformed
# addresses ("bob@@x.com" becomes "@x.com"), which would hide the very
# mistake the user has to see.
_ADDRESS_TOKEN = re.compile(r'(?:"[^"]*"|<[^>]*>|[^,;"<\r\n]+)+')
_ANGLE_ADDR = re.compile(r"<([^>]*)>\s*$")
_LINE_BREAK = re.compile(r"[\r\n]")
_QUOTED_NAME = re.compile(r'"[^"]*"')


def raw_address_tokens(value):
    """The entries of a To/Cc header value exactly as typed, names included."""
    return [token.strip() for token in _ADDRESS_TOKEN.findall(value or "") if token.strip()]


def split_raw_addresses(value):
    """Return the addresses of a To/Cc header value exactly as typed."""
    addresses = []
    for token in raw_address_tokens(value):
        angle = _ANGLE_ADDR.search(token)
        addresses.append((angle.group(1) if angle else token).strip())
    return [address for address in addresses if address]


def address_syntax_error(address):
    """Explain what is wrong with one address, or return None when it is valid."""
    try:
        valid = validate_email(address, check_deliverability=False)
    except EmailNotValidError as exc:
        return str(exc)
    if valid.ascii_email is None:
        # Odoo hands SMTP only ASCII addresses (no SMTPUTF8); a domain is
        # converted (ascii_address), a local part cannot be.
        return "It has non-ASCII characters before the @-sign: only a mail server with SMTPUTF8 takes it."
    return None


def ascii_address(address):
    """The address with an internationalised domain in its ASCII (IDNA)
    form, which SMTP servers and Odoo accept: lea@exämple.fr is sent as
    lea@xn--exmple-cua.fr."""
    if address.isascii():
        return address
    try:
        return validate_email(address, check_deliverability=False).ascii_email or address
    except EmailNotValidError:
        return address


def sendable_addresses(value):
    """The addresses of ``value`` (To, Cc, a contact's email) that Odoo sends
    to: as stock normalises them, less what that leaves of a broken address
    ("tom@@example.com" gives "@example.com", which no server takes)."""
    return [address for address in tools.email_normalize_all(value or "") if address.rpartition("@")[0]]


def normalize_address(address):
    """The form an address is kept in (recipient_fates): as Odoo normalises it."""
    return tools.email_normalize(address) or (address or "").strip().lower()


def refused_recipients(exc):
    """{address: (code, reply)} when ``exc`` (as send_email raises it) is the
    server refusing every recipient of a message, else None."""
    cause = exc.__cause__ or exc.__context__
    if isinstance(cause, smtplib.SMTPRecipientsRefused):
        return cause.recipients
    return None


def delivery_error(exc):
    """What stock _send raises, with raise_exception, for ``exc``."""
    if isinstance(exc, (AssertionError, UnicodeEncodeError)):
        value = f"Invalid text: {exc.object}" if isinstance(exc, UnicodeEncodeError) else ". ".join(exc.args)
        error = MailDeliveryException(value)
        error.__cause__ = exc
        return error
    return exc


def success_notification(message, next_action=None, sticky=False):
    """The client action that shows ``message`` and then runs ``next_action``
    (by default, reloads the current view)."""
    return {
        "type": "ir.actions.client",
        "tag": "display_notification",
        "params": {
            "type": "success",
            "message": message,
            "sticky": sticky,
            "next": next_action or {"type": "ir.actions.client", "tag": "soft_reload"},
        },
    }


class MailMail(models.Model):
    _inherit = "mail.mail"

    outbox_status = fields.Selection(
        OUTBOX_STATUSES,
        string="Outbox status",
        compute="_compute_outbox_status",
        store=True,
        readonly=True,
        index=True,
        help="Queued: waiting to be sent now. Scheduled: to be sent at its scheduled "
        "date. Failed: could not be sent, see the failure message.",
    )
    attempt_count = fields.Integer(
        "Attempts", readonly=True, copy=False, help="Attempts to send since the email was queued or resent."
    )
    next_attempt_date = fields.Datetime(
        "Next attempt",
        readonly=True,
        copy=False,
        help="After a temporary failure (mail server busy or unreachable) the email waits until then.",
    )
    waiting_reason = fields.Char(
        "Waiting for",
        readonly=True,
        copy=False,
        help="Why a due email was left in the queue, e.g. the mail server's sending limit.",
    )
    last_attempt_date = fields.Datetime("Last attempt", readonly=True, copy=False)
    date_sent = fields.Datetime("Sent on", readonly=True, copy=False)
    smtp_server_id = fields.Many2one(
        "ir.mail_server",
        string="Mail server used",
        readonly=True,
        copy=False,
        ondelete="set null",
        help="The outgoing mail server this email was last handed to.",
    )
    recipients_display = fields.Char(
        "Addressed to",
        compute="_compute_recipients_display",
        store=True,
        readonly=True,
        help="Who the email is addressed to: the addresses typed in To and the recipient contacts.",
    )
    failure_summary = fields.Char("Failure message", compute="_compute_failure_summary")
    recipient_fates = fields.Json(
        "Recipients' fate",
        readonly=True,
        copy=False,
        help="{address: [fate, server's reply]} for each recipient address the mail server "
        "accepted (delivered) or refused; the others are still to be sent.",
    )
    recipients_report = fields.Text("Delivery per recipient", compute="_compute_recipients_report")
    sending_claim_pid = fields.Integer(
        "Claimed by",
        readonly=True,
        copy=False,
        help="The database connection (backend pid) of the queue run that took this email to send "
        "it; the claim lapses when that connection ends. See _claim_chunk.",
    )
    sending_claimed_at = fields.Datetime("Claimed at", readonly=True, copy=False)
    company_id = fields.Many2one(
        "res.company",
        string="Email company",
        related="mail_message_id.record_company_id",
        store=True,
        readonly=True,
        help="The company of the record this email is about. Stored on the email so that the "
        "multi-company rule is checked without reading its message.",
    )
    mail_user_id = fields.Many2one(
        "res.users",
        string="User",
        compute="_compute_mail_user_id",
        store=True,
        readonly=True,
        index=True,
        help="The user who wrote or sent this email: its author's user, else the user who created it.",
    )
    is_system_mail = fields.Boolean(
        "System email",
        compute="_compute_is_system_mail",
        store=True,
        readonly=True,
        help="Sent by Odoo on its own behalf (password reset, invitation, "
        "verification code): only administrators can see it.",
    )
    failure_type = fields.Selection(
        selection_add=[("mail_rejected", "Rejected by the mail server"), ("mail_bounce", "Bounced")]
    )

    # What the mail is about and whom it went to: learnt once at creation
    # (see _context_values) and stored, so that lists and Email tabs read it
    # from an index instead of working it out per row.
    job_id = fields.Many2one(
        "hr.job", string="Vacancy", index="btree_not_null", readonly=True, copy=False, ondelete="set null"
    )
    applicant_id = fields.Many2one(
        "hr.applicant", string="Application", index="btree_not_null", readonly=True, copy=False, ondelete="set null"
    )
    placement_id = fields.Many2one(
        "hr.applicant",
        index="btree_not_null",
        readonly=True,
        copy=False,
        ondelete="set null",
        help="A placement is a hired application: the one this email was about, if it was hired then.",
    )
    candidate_id = fields.Many2one(
        "hr.candidate", index="btree_not_null", readonly=True, copy=False, ondelete="set null"
    )
    contact_ids = fields.Many2many(
        "res.partner",
        "mail_mail_contact_rel",
        "mail_id",
        "partner_id",
        string="Contacts",
        readonly=True,
        copy=False,
        help="Every contact this email was addressed to: its recipients, and the contacts "
        "whose email address is in its To or Cc.",
    )

    def _auto_init(self):
        # On install, created before the ORM sees them so that a database with
        # a million emails is not computed in one transaction: the post-init
        # hook fills them in batches (_backfill). On upgrade the ORM computes
        # any new column as usual.
        cr = self.env.cr
        cr.execute("SELECT state FROM ir_module_module WHERE name = 'recruitment_mail'")
        row = cr.fetchone()
        if row and row[0] == "to install":
            for name, column_type in (
                ("outbox_status", "varchar"),
                ("mail_user_id", "int4"),
                ("is_system_mail", "bool"),
                ("recipients_display", "varchar"),
            ):
                if not sql.column_exists(cr, self._table, name):
                    sql.create_column(cr, self._table, name, column_type)
        if not sql.column_exists(cr, self._table, "company_id"):
            # a copy of the message's column: one statement, install or upgrade
            sql.create_column(cr, self._table, "company_id", "int4")
            cr.execute(
                """UPDATE mail_mail mm SET company_id = msg.record_company_id
                     FROM mail_message msg
                    WHERE msg.id = mm.mail_message_id AND msg.record_company_id IS NOT NULL"""
            )
        return super()._auto_init()

    # Partial indexes for the hot queries: the Outbox and Sent items lists
    # (mine and everyone's, newest first), the Email tab's visibility check,
    # the cron's pick of due mail, and a server's sending-limit count. The
    # partial ones cover only the rows their list shows, so they stay small
    # while sent mail piles up; INCLUDE carries what the record rules test
    # (system mail, user, company), so that counting a list's rows is an
    # index-only scan rather than a visit to every heap page they are on.
    # mail_message_id: the ORM joins the message (mail.mail _inherits it) in
    # every search, and PostgreSQL plans an index-only scan only when the
    # index has every column the query names, the join's included.
    _RULE_COLUMNS = "is_system_mail, mail_user_id, company_id, mail_message_id"
    _USER_RULE_COLUMNS = "is_system_mail, company_id, mail_message_id"
    _INDEXES = {
        "mail_mail_rm_outbox_idx": (
            f"(id DESC) INCLUDE ({_RULE_COLUMNS}) WHERE outbox_status IN ('queued', 'scheduled', 'failed', 'partial')"
        ),
        "mail_mail_rm_outbox_user_idx": (
            f"(mail_user_id, id DESC) INCLUDE ({_USER_RULE_COLUMNS}) "
            "WHERE outbox_status IN ('queued', 'scheduled', 'failed', 'partial')"
        ),
        "mail_mail_rm_sent_idx": (
            f"(date_sent DESC, id DESC) INCLUDE ({_RULE_COLUMNS}) WHERE outbox_status IN ('sent', 'partial')"
        ),
        "mail_mail_rm_sent_user_idx": (
            f"(mail_user_id, date_sent DESC, id DESC) INCLUDE ({_USER_RULE_COLUMNS}) "
            "WHERE outbox_status IN ('sent', 'partial')"
        ),
        "mail_mail_rm_rules_idx": f"(id) INCLUDE ({_RULE_COLUMNS})",
        "mail_mail_rm_due_idx": (
            "((COALESCE(next_attempt_date, scheduled_date, create_date)), id) WHERE state = 'outgoing'"
        ),
        "mail_mail_rm_scheduled_idx": "(scheduled_date) WHERE outbox_status = 'scheduled'",
        "mail_mail_rm_server_attempt_idx": "(smtp_server_id, last_attempt_date) WHERE smtp_server_id IS NOT NULL",
    }

    def init(self):
        """Create the indexes of _INDEXES. Each carries its definition as its
        comment, so that one changed by a new version of the add-on is built
        again on upgrade."""
        res = super().init()
        cr = self.env.cr
        for name, definition in self._INDEXES.items():
            cr.execute("SELECT obj_description(to_regclass(%s), 'pg_class'), to_regclass(%s)", (name, name))
            comment, exists = cr.fetchone()
            if exists and comment == definition:
                continue
            if exists:
                _logger.info("Index %s changed: building it again", name)
                cr.execute(SQL("DROP INDEX %s", SQL.identifier(name)))
            # the definitions are constants of this class, not user input
            cr.execute(
                SQL("CREATE INDEX %s ON %s %s", SQL.identifier(name), SQL.identifier(self._table), SQL(definition))
            )
            cr.execute(SQL("COMMENT ON INDEX %s IS %s", SQL.identifier(name), definition))
        return res

    @api.model
    def _backfill(self, batch_size=5000):
        """Give mail that existed before the install its status, user and
        context, a batch at a time."""
        self.env.cr.execute("SELECT id FROM mail_mail ORDER BY id")
        all_ids = [row[0] for row in self.env.cr.fetchall()]
        computed = [
            self._fields[name] for name in ("outbox_status", "mail_user_id", "is_system_mail", "recipients_display")
        ]
        for batch_ids in tools.split_every(batch_size, all_ids):
            mails = self.sudo().browse(batch_ids)
            for field in computed:
                self.env.add_to_compute(field, mails)
            mails._store_context()
            self.env.cr.execute(
                """UPDATE mail_mail SET date_sent = write_date
                    WHERE state = 'sent' AND date_sent IS NULL AND id = ANY(%s)""",
                (list(batch_ids),),
            )
            mails.flush_recordset()
            self.env.invalidate_all()
        _logger.info("Backfilled Outbox data of %s existing email(s)", len(all_ids))

    @api.depends("state", "scheduled_date", "recipient_fates")
    def _compute_outbox_status(self):
        # "Scheduled" depends on the clock: the queue cron turns due scheduled
        # mail into queued mail (_promote_due_scheduled) as it picks it up.
        now = fields.Datetime.now()
        for mail in self:
            if mail.state == "outgoing":
                is_later = mail.scheduled_date and mail.scheduled_date > now
                mail.outbox_status = "scheduled" if is_later else "queued"
            elif mail.state == "sent" and mail._undelivered_fates():
                mail.outbox_status = "partial"
            else:
                mail.outbox_status = OUTBOX_STATE_TO_STATUS.get(mail.state, False)

    @api.depends("email_to", "recipient_ids.name", "recipient_ids.email")
    def _compute_recipients_display(self):
        for mail in self:
            names = split_raw_addresses(mail.email_to) + [
                partner.name or partner.email or "" for partner in mail.recipient_ids
            ]
            mail.recipients_display = ", ".join(name for name in names if name)

    @api.depends("recipient_fates")
    def _compute_recipients_report(self):
        labels = {
            FATE_DELIVERED: self.env._("delivered"),
            FATE_DEFERRED: self.env._("refused for now, tried again"),
            FATE_REFUSED: self.env._("refused"),
        }
        for mail in self:
            mail.recipients_report = "\n".join(
                f"{address}: {labels.get(fate, fate)}" + (f" ({reply})" if reply else "")
                for address, (fate, reply) in sorted((mail.recipient_fates or {}).items())
            )

    def _delivery_summary(self):
        """In words: who got this mail and who did not, with the server's replies."""
        fates = self.recipient_fates or {}
        undelivered = self._undelivered_fates()
        got_it = sum(1 for fate in fates.values() if fate[0] == FATE_DELIVERED)
        details = "; ".join(f"{address}: {reply}" for address, (_fate, reply) in sorted(undelivered.items()))
        if not got_it:
            return self.env._("The mail server refused every recipient: %(details)s", details=details)
        return self.env._(
            "Partly sent: delivered to %(delivered)s, refused %(refused)s. %(details)s",
            delivered=got_it,
            refused=len(undelivered),
            details=details,
        )

    def _undelivered_fates(self):
        """{address: (fate, reply)} of the recipients the server refused."""
        return {
            address: tuple(fate) for address, fate in (self.recipient_fates or {}).items() if fate[0] != FATE_DELIVERED
        }

    def _addresses_done(self):
        """Addresses not to send this mail to again: delivered, or refused for
        good (Resend clears those)."""
        return {address for address, fate in (self.recipient_fates or {}).items() if fate[0] != FATE_DEFERRED}

    @api.depends("failure_reason", "outbox_status", "recipient_fates")
    def _compute_failure_summary(self):
        for mail in self:
            reason = (mail.failure_reason or "").strip()
            if mail.outbox_status == "partial":
                reason = mail._delivery_summary()
            first_line = reason.splitlines()[0] if reason else ""
            mail.failure_summary = textwrap.shorten(first_line, width=120, placeholder=" ...")

    @api.depends("author_id", "create_uid")
    def _compute_mail_user_id(self):
        for mail in self:
            author_user = mail.author_id.user_ids.filtered(lambda user: not user.share)[:1]
            mail.mail_user_id = author_user or mail.create_uid or self.env.user

    @api.depends("model", "body_html")
    def _compute_is_system_mail(self):
        for mail in self:
            body = mail.body_html or ""
            mail.is_system_mail = mail.model in SYSTEM_MAIL_MODELS or any(
                marker in body for marker in SYSTEM_MAIL_MARKERS
            )

    # ------------------------------------------------------------------
    # CRUD
    # ------------------------------------------------------------------

    @api.model_create_multi
    def create(self, vals_list):
        mails = super().create(vals_list)
        mails._store_context(explicit=vals_list)
        mails._trigger_queue()
        return mails

    def _store_context(self, explicit=None):
        """Store the vacancy, placement, candidate and contacts of these mails.
        Values given explicitly at creation (Jobs by Email) are kept."""
        per_mail = self.sudo()._context_values()
        for mail, vals in zip(self, explicit or [{}] * len(self), strict=True):
            values = {key: value for key, value in per_mail[mail.id].items() if not vals.get(key)}
            if values:
                mail.sudo().write(values)

    def _context_values(self):
        """{mail id: values} for the context fields, a few queries per batch.
        Recipients (recipient_ids) are read, never changed."""
        values = {mail.id: {} for mail in self}
        by_model = {}
        for mail in self:
            if mail.model and mail.res_id:
                by_model.setdefault(mail.model, []).append(mail)
        for mail in by_model.get("hr.job", []):
            values[mail.id]["job_id"] = mail.res_id
        for mail in by_model.get("hr.candidate", []):
            values[mail.id]["candidate_id"] = mail.res_id
        applicant_mails = by_model.get("hr.applicant", [])
        if applicant_mails:
            applicants = (
                self.env["hr.applicant"]
                .with_context(active_test=False)
                .browse({mail.res_id for mail in applicant_mails})
                .exists()
            )
            for mail in applicant_mails:
                applicant = applicants.filtered(lambda a, res_id=mail.res_id: a.id == res_id)
                if not applicant:
                    continue
                values[mail.id].update(
                    {
                        "applicant_id": applicant.id,
                        "job_id": applicant.job_id.id,
                        "candidate_id": applicant.candidate_id.id,
                        "placement_id": applicant.id if applicant.application_status == "hired" else False,
                    }
                )
        partners_by_email = self._partners_by_address()
        for mail in self:
            contacts = set(mail.recipient_ids.ids)
            for address in tools.email_normalize_all(f"{mail.email_to or ''},{mail.email_cc or ''}"):
                contacts.update(partners_by_email.get(address, ()))
            if contacts:
                values[mail.id]["contact_ids"] = [Command.set(sorted(contacts))]
        return values

    def _partners_by_address(self):
        addresses = set()
        for mail in self:
            addresses.update(tools.email_normalize_all(f"{mail.email_to or ''},{mail.email_cc or ''}"))
        if not addresses:
            return {}
        partners = (
            self.env["res.partner"]
            .with_context(active_test=False)
            .search_read([("email_normalized", "in", list(addresses))], ["email_normalized"])
        )
        found = {}
        for partner in partners:
            found.setdefault(partner["email_normalized"], []).append(partner["id"])
        return found

    def write(self, vals):
        if vals.get("state") == "outgoing" and "sending_claim_pid" not in vals:
            # queued again (Resend, stock's mark_outgoing...): nobody's to send yet
            vals = dict(vals, sending_claim_pid=False, sending_claimed_at=False)
            if "recipient_fates" not in vals and not self.env.context.get("recruitment_mail_keep_fates"):
                # put back by other means than the add-on's Resend and retries:
                # sent to every recipient again, as stock does
                vals["recipient_fates"] = False
        res = super().write(vals)
        if "scheduled_date" in vals or "next_attempt_date" in vals or vals.get("state") == "outgoing":
            self._trigger_queue()
        return res

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
    # Actions
    # ------------------------------------------------------------------

    def action_resend(self):
        """Put failed (or partly sent) mail back in the queue and have the
        cron send it now, to the recipients who did not get it: those the
        server accepted get nothing again."""
        not_failed = self.filtered(lambda m: m.outbox_status not in ("failed", "partial"))
        if not_failed:
            raise UserError(
                self.env._(
                    "Only failed or partly sent emails can be resent. These are not: %(emails)s",
                    emails=", ".join(
                        f"{mail.subject or self.env._('(no subject)')} ({mail._outbox_status_label()})"
                        for mail in not_failed[:10]
                    ),
                )
            )
        for mail in self.filtered("recipient_fates"):
            delivered = {address: fate for address, fate in mail.recipient_fates.items() if fate[0] == FATE_DELIVERED}
            mail.write({"recipient_fates": delivered or False})
        self.with_context(recruitment_mail_keep_fates=True).write(
            {
                "state": "outgoing",
                "failure_type": False,
                "attempt_count": 0,
                "next_attempt_date": False,
                "waiting_reason": False,
            }
        )
        _logger.info("Outbox: %s failed email(s) resent by user %s: %s", len(self), self.env.uid, self.ids)
        return success_notification(
            self.env._("%(count)s email(s) queued again; they are being sent now.", count=len(self))
        )

    def action_delete(self):
        """Remove mail from the Outbox for good; sent mail is not the Outbox's.
        A partly sent email leaves the Outbox and stays in Sent items: its
        refused recipients are forgotten, not the email."""
        partial = self.filtered(lambda m: m.outbox_status == "partial")
        if partial:
            partial.check_access("write")
            for mail in partial:
                delivered = {a: fate for a, fate in mail.recipient_fates.items() if fate[0] == FATE_DELIVERED}
                mail.sudo().write({"recipient_fates": delivered, "failure_type": False})
            _logger.info("Outbox: %s partly sent email(s) dismissed by user %s", len(partial), self.env.uid)
            if partial == self:
                return success_notification(
                    self.env._(
                        "%(count)s partly sent email(s) left the Outbox; they stay in Sent items.", count=len(self)
                    )
                )
            self = self - partial  # noqa: PLW0642
        sent = self.filtered(lambda m: m.state == "sent")
        if sent:
            raise UserError(
                self.env._(
                    "Sent emails cannot be deleted from the Outbox: %(emails)s",
                    emails=", ".join(mail.subject or self.env._("(no subject)") for mail in sent[:10]),
                )
            )
        count = len(self)
        # Checked as the user; the cascade to each mail's own message is an
        # implementation detail the user need not have rights on.
        self.check_access("unlink")
        _logger.info("Outbox: %s email(s) deleted by user %s: %s", count, self.env.uid, self.ids)
        self.sudo().unlink()
        # From the email's own form there is nothing left to show: back to the Outbox.
        after = (
            self.env["ir.actions.actions"]._for_xml_id("recruitment_mail.action_outbox")
            if self.env.context.get("recruitment_mail_back_to_outbox")
            else None
        )
        return success_notification(self.env._("%(count)s email(s) deleted.", count=count), after)

    def action_send_now(self):
        """Send queued or scheduled mail at once, in the background."""
        not_waiting = self.filtered(lambda m: m.state != "outgoing")
        if not_waiting:
            raise UserError(self.env._("Only queued or scheduled emails can be sent now; resend failed emails."))
        self.write({"scheduled_date": False, "next_attempt_date": False})
        return success_notification(self.env._("%(count)s email(s) are being sent now.", count=len(self)))

    def action_reschedule(self):
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Reschedule"),
            "res_model": "recruitment.mail.reschedule",
            "view_mode": "form",
            "target": "new",
            "context": {"active_model": "mail.mail", "active_ids": self.ids},
        }

    def action_open_mail_server(self):
        """Open the outgoing mail server that failed, or the list of servers."""
        self.ensure_one()
        server = self.smtp_server_id or self.mail_server_id
        if server:
            return {
                "type": "ir.actions.act_window",
                "res_model": "ir.mail_server",
                "res_id": server.id,
                "view_mode": "form",
                "target": "current",
            }
        return self.env["ir.actions.actions"]._for_xml_id("base.action_ir_mail_server_list")

    def action_open_vacancy(self):
        self.ensure_one()
        return self._open_related(self.job_id, self.env._("Vacancy"))

    def action_open_placement(self):
        self.ensure_one()
        return self._open_related(self.placement_id, self.env._("Placement"))

    def _open_related(self, record, name):
        # A fresh context: the Email tab's one names this model's views
        # (form_view_ref...), which must not follow to the vacancy.
        return {
            "type": "ir.actions.act_window",
            "name": name,
            "res_model": record._name,
            "res_id": record.id,
            "views": [(False, "form")],
            "target": "current",
            "context": {},
        }

    def _outbox_status_label(self):
        return dict(self._fields["outbox_status"]._description_selection(self.env)).get(self.outbox_status, self.state)

    # ------------------------------------------------------------------
    # Bounces
    # ------------------------------------------------------------------

    @api.model
    def _receive_bounce_report(self, email_message, message_dict):
        """A delivery failure report (DSN) came back for mail we sent: the
        email is Failed again, with the reason the recipient's server gave.
        flufl.bounce reads the report (any of the formats servers use); a
        report of a temporary delay only is not a failure."""
        msg_ids = message_dict.get("bounced_msg_ids") or []
        if not msg_ids:
            return self.browse()
        mails = self.search([("message_id", "in", msg_ids), ("state", "=", "sent")])
        if not mails:
            return mails
        # stock's bounce handling is also called with no message at all
        # (mass_mailing's tests and helpers pass False) or one without a report
        is_message = isinstance(email_message, EmailMessage)
        temporary, permanent = all_failures(email_message) if is_message else (set(), set())
        bounced = sorted(
            address.decode("utf-8", "replace") if isinstance(address, bytes) else address for address in permanent
        )
        if not bounced and message_dict.get("bounced_email") and not temporary:
            bounced = [message_dict["bounced_email"]]
        if not bounced:
            _logger.info("Delivery report for %s: temporary delay only, email %s stays sent", msg_ids, mails.ids)
            return self.browse()
        detail = self._bounce_detail(email_message) if is_message else ""
        reason = self.env._(
            "Bounced: the recipient's mail server returned this email as undeliverable to %(addresses)s.%(detail)s",
            addresses=", ".join(bounced),
            detail=f" {detail}" if detail else "",
        )
        mails.write({"state": "exception", "failure_type": "mail_bounce", "failure_reason": reason})
        for mail in mails.filtered("recipient_fates"):
            # a bounced address did not get it after all: Resend tries it again
            fates = dict(mail.recipient_fates)
            for address in bounced:
                fates[normalize_address(address)] = [FATE_REFUSED, reason]
            mail.recipient_fates = fates
        _logger.info("Email(s) %s bounced (%s): back in the Outbox as Failed", mails.ids, ", ".join(bounced))
        return mails

    @api.model
    def _bounce_detail(self, email_message):
        """The server's own words from the report: its Diagnostic-Code."""
        for part in email_message.walk():
            if part.get_content_type() != "message/delivery-status":
                continue
            for block in part.get_payload() if part.is_multipart() else []:
                diagnostic = block.get("Diagnostic-Code")
                if diagnostic:
                    return " ".join(str(diagnostic).split(";", 1)[-1].split())
        return ""

    # ------------------------------------------------------------------
    # Retention
    # ------------------------------------------------------------------

    @api.model
    def _gc_sent_mail(self, batch_size=1000):
        """Delete sent mail older than the retention period, a batch per
        transaction, so the queue and the users are never blocked for long."""
        days = int(self.env["ir.config_parameter"].sudo().get_param("recruitment_mail.retention_days", 365))
        if days <= 0:
            return 0
        limit_date = fields.Datetime.now() - timedelta(days=days)
        auto_commit = not getattr(threading.current_thread(), "testing", False)
        self.flush_model(["state", "date_sent"])
        deleted = 0
        while True:
            # SKIP LOCKED: a row someone is working on waits for the next night
            self.env.cr.execute(
                """SELECT id FROM mail_mail
                    WHERE state = 'sent' AND date_sent < %s
                    ORDER BY date_sent
                    LIMIT %s
                    FOR UPDATE SKIP LOCKED""",
                (limit_date, batch_size),
            )
            ids = [row[0] for row in self.env.cr.fetchall()]
            if not ids:
                break
            self.sudo().browse(ids).unlink()
            deleted += len(ids)
            if auto_commit:
                self.env.cr.commit()  # pylint: disable=invalid-commit  # one batch per transaction
            if len(ids) < batch_size:
                break
        if deleted:
            _logger.info("Retention: deleted %s sent email(s) older than %s days", deleted, days)
        return deleted

    # ------------------------------------------------------------------
    # Queue processing
    # ------------------------------------------------------------------

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
        return dict(params, now=now, stale=now - CLAIM_LAPSE, lane=lane, lanes=lanes)

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
        """Scheduled mail whose time has come is Queued from now on."""
        self.flush_model(["outbox_status", "scheduled_date"])
        self.env.cr.execute(
            """UPDATE mail_mail SET outbox_status = 'queued'
                WHERE outbox_status = 'scheduled' AND state = 'outgoing'
                  AND scheduled_date <= %s
            RETURNING id""",
            (fields.Datetime.now(),),
        )
        promoted = [row[0] for row in self.env.cr.fetchall()]
        if promoted:
            self.browse(promoted).invalidate_recordset(["outbox_status"])

    def send(self, auto_commit=False, raise_exception=False, post_send_callback=None):
        # The flags make ir.mail_server.connect() explain a connection failure
        # in words a user can act on and say which server it tried (see
        # ir_mail_server.py), so that the failed mail can point at it.
        return super(MailMail, self.with_context(recruitment_mail_sending=True, recruitment_mail_connection={})).send(
            auto_commit=auto_commit,
            raise_exception=raise_exception,
            post_send_callback=post_send_callback,
        )

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

    def _send(
        self,
        auto_commit=False,
        raise_exception=False,
        smtp_session=None,
        alias_domain_id=False,
        mail_server=False,
        post_send_callback=None,
    ):
        """Send these mails through one SMTP session, one by one: each is
        claimed (_claim), handed to the server, its outcome recorded and, in
        the cron, committed before the next one.

        Stock Odoo reads each mail on its own after the previous commit (a
        commit empties the ORM cache), which costs a dozen queries per mail.
        Here SEND_CHUNK mails at a time are claimed (_claim_chunk), then their
        messages are built from one read of them all (_build_outgoing), so no
        hook runs for a mail another worker holds; each is locked again just
        before SMTP (_claim), and a mail changed since it was read is built
        again. Stock's hooks still run for each
        mail: _prepare_outgoing_list, build_email, send_email and
        _postprocess_sent_message."""
        if auto_commit is True:
            # What was read so far comes from an older snapshot: the claims
            # below must see what other workers committed since.
            self.env.cr.commit()  # pylint: disable=invalid-commit  # cron only (auto_commit)
        build_args = {"alias_domain_id": alias_domain_id, "mail_server": mail_server}
        send_args = {
            "auto_commit": auto_commit,
            "raise_exception": raise_exception,
            "smtp_session": smtp_session,
            "build_args": build_args,
            "post_send_callback": post_send_callback,
        }
        try:
            return self._send_claimed(send_args)
        finally:
            if auto_commit is True:
                self._release_claims()
                self.env.cr.commit()  # pylint: disable=invalid-commit  # cron only (auto_commit)

    def _send_claimed(self, send_args):
        """_send's loop: claim, build, then deliver each mail (_deliver)."""
        auto_commit = send_args["auto_commit"]
        build_args = send_args["build_args"]
        pending = self.ids
        while pending:
            outgoing, pending = self.browse(pending)._build_outgoing(**build_args, auto_commit=auto_commit)
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
                    # Recording the outcome failed (a bug, a constraint, a
                    # conflict): in the cron, this email gets what is known of
                    # it and the batch goes on; elsewhere, as in stock, raise.
                    if auto_commit is not True or send_args["raise_exception"]:
                        raise
                    _logger.exception("Email %s: recording the outcome of sending it failed", mail_id)
                    self.env.cr.rollback()
                    self.browse(mail_id)._record_lost_outcome(built, exc)
                    self.env.cr.commit()  # pylint: disable=invalid-commit  # cron only (auto_commit)
                    continue
                if not session_alive:
                    # The SMTP session is gone: the rest of the batch stays
                    # queued for the next run.
                    self.browse(order[position + 1 :] + pending)._trigger_queue()
                    return True
        return True

    def _build_outgoing(self, alias_domain_id=False, mail_server=False, auto_commit=False):
        """Claim the first SEND_CHUNK of these mails (_claim_chunk), read the
        claimed ones together and build their messages, up to about
        SEND_CHUNK_BYTES of bodies and attachments. Return ({mail id:
        OutgoingMail} in order, ids left for later). No other module's hook
        (_prepare_outgoing_list, build_email) runs for a mail not claimed."""
        ids = self.ids[:SEND_CHUNK]
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
        IrMailServer = self.env["ir.mail_server"]
        defaults = {
            "bounce": IrMailServer._get_default_bounce_address(),
            "from": IrMailServer._get_default_from_address(),
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
            built.problem = mail._recipient_problem()
            if built.problem:
                continue
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
        self.env.cr.execute(
            f"""SELECT id FROM mail_mail
                WHERE id = ANY(%(ids)s) AND state = 'outgoing' AND {CLAIM_IS_FREE}
                  FOR NO KEY UPDATE SKIP LOCKED""",
            {"ids": list(ids), "stale": now - CLAIM_LAPSE},
        )
        claimed = [row[0] for row in self.env.cr.fetchall()]
        if claimed and auto_commit is True:
            self.env.cr.execute(
                """UPDATE mail_mail SET sending_claim_pid = pg_backend_pid(), sending_claimed_at = %s
                    WHERE id = ANY(%s)""",
                (now, claimed),
            )
            self.env.cr.commit()  # pylint: disable=invalid-commit  # cron only (auto_commit)
        return claimed

    def _release_claims(self):
        """Give back the mails this worker claimed and did not send (its run
        ended in time, or the SMTP session was lost)."""
        self.env.cr.execute(
            """UPDATE mail_mail SET sending_claim_pid = NULL, sending_claimed_at = NULL
                WHERE id = ANY(%s) AND state = 'outgoing' AND sending_claim_pid = pg_backend_pid()""",
            (self.ids,),
        )

    def _build_messages(self, built, alias_domain_id, mail_server, follower_status, defaults):
        """The RFC 2822 messages of this mail, as stock _send builds them."""
        self.ensure_one()
        emails_from = tools.mail.email_split_and_format_normalize(self.email_from)
        email_from = emails_from[0] if emails_from else self.email_from
        email_list = self._prepare_outgoing_list(
            mail_server=mail_server or self.mail_server_id, recipients_follower_status=follower_status
        )
        done = self._addresses_done()
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
            server_context = {
                "send_validated_to": validated,
                "recruitment_mail_defaults": defaults,
            }
            if alias_domain_id:
                alias_domain = self.env["mail.alias.domain"].sudo().browse(alias_domain_id)
                server_context.update(
                    domain_notifications_email=alias_domain.default_from_email,
                    domain_bounce_address=email["headers"].get("Return-Path") or alias_domain.bounce_email,
                )
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
        self.ensure_one()
        claim = self._claim(auto_commit, built.read_at)
        if not claim:
            return True
        if claim == CLAIM_CHANGED or built.not_waiting:
            # written since it was built (edited, resent, rescheduled): build it again
            self.invalidate_recordset()
            self.mail_message_id.invalidate_recordset()
            rebuilt, _left = self._build_outgoing(**(build_args or {}))
            built = rebuilt.get(self.id)
            if built is None:  # deleted meanwhile
                return True
        else:
            # Unchanged since it was read: what was read then is what the
            # database holds, no need to read it again after the last commit.
            self._update_cache(built.values, validate=False)
        mail_server = (build_args or {}).get("mail_server")
        report = {"mail_server_id": mail_server.id if mail_server else built.mail_server_id}
        mail = self.with_context(recruitment_mail_report=report)
        if built.problem:
            failure_type, reason = built.problem
            mail._mark_failed(reason, failure_type)
            self._commit_sent(auto_commit, post_send_callback)
            return True
        try:
            mail._deliver_messages(built, smtp_session, raise_exception)
        except smtplib.SMTPServerDisconnected as exc:
            server = mail_server or mail.mail_server_id
            reason = self.env._(
                "The outgoing mail server %(server)s closed the connection while this email "
                "was being sent (%(error)s). Check the SMTP settings if this happens again.",
                server=server.display_name if server else self.env._("(default)"),
                error=describe_error(exc),
            )
            mail._mark_failed(reason, "mail_smtp")
            if raise_exception:
                raise
            self._commit_sent(auto_commit, post_send_callback)
            return False
        self._commit_sent(auto_commit, post_send_callback)
        return True

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

    def _deliver_messages(self, built, smtp_session, raise_exception):
        """The body of stock _send's loop, for one claimed mail whose
        messages are built; what the server answered for each recipient is
        kept on the mail (_record_recipient_fates)."""
        success_pids = list(self.env["res.partner"].browse(built.got_it_before))
        failure_type = None
        failure_reason = None
        res = None
        delivered, refused = set(), {}
        try:
            if built.error:
                raise built.error
            if built.is_notification:
                self._mark_notifications_sending()
            for message, partner, email_to, server_context in built.emails:
                message_res, accepted, now_refused = self._hand_over(built, message, server_context, smtp_session)
                if message_res is NO_VALID_RECIPIENT:
                    if not email_to and failure_type != "mail_email_invalid":
                        failure_type = "mail_email_missing"
                    else:
                        failure_type = "mail_email_invalid"
                    _logger.info("Ignoring invalid recipients for mail.mail %s: %s", built.message_id, email_to)
                    continue
                res = message_res or res
                refused.update(now_refused)
                delivered.update(accepted)
                if accepted:
                    built.delivered = True
                    if partner:
                        success_pids.append(self.env["res.partner"].browse(partner.id))
            res, fate_failure = self._settle_recipients(built, delivered, refused, res)
            if fate_failure and not (res and not refused):
                # (sent, with only addresses stock leaves out too: as stock, their
                # notifications fail with the loop's failure type and no reason)
                failure_type, failure_reason = fate_failure
            if res:
                # as stock: a mail that reached someone is sent, with no failure
                # on it; who did not get it is in recipient_fates (Partly sent)
                vals = {"state": "sent", "failure_reason": False}
                if res != built.message_id:
                    vals["message_id"] = res
                self.write(vals)
                if not modules.module.current_test:
                    _logger.info(
                        "Mail (mail.mail) with ID %r and Message-Id %r successfully sent to %s recipient(s)",
                        self.id,
                        res,
                        len(built.emails),
                    )
            else:
                self.write({"state": "exception", "failure_reason": failure_reason or False})
            self._postprocess_sent_message(
                success_pids=success_pids, failure_reason=failure_reason, failure_type=failure_type
            )
        except MemoryError:
            _logger.exception(
                "MemoryError while sending mail with ID %r: consider raising --limit-memory-hard", self.id
            )
            raise
        except (psycopg2.Error, smtplib.SMTPServerDisconnected):
            _logger.exception("Exception while processing mail with ID %r and Msg-Id %r.", self.id, built.message_id)
            raise
        except Exception as exc:  # noqa: BLE001  # the mail fails with the reason, as in stock _send
            failure_type, failure_reason = self._failure_of(exc, failure_type)
            _logger.exception("failed sending mail (id: %s) due to %s", self.id, failure_reason)
            self.write({"failure_reason": failure_reason, "failure_type": failure_type, "state": "exception"})
            self._postprocess_sent_message(
                success_pids=success_pids, failure_reason=failure_reason, failure_type=failure_type
            )
            if raise_exception:
                raise delivery_error(exc)  # noqa: B904  # the exception itself, or stock's wrapping of it

    def _hand_over(self, built, message, server_context, smtp_session):
        """Hand one message of this mail to the SMTP server. Return (its
        Message-Id or None, the addresses the server accepted, the refused
        ones {address: (code, reply)}); NO_VALID_RECIPIENT first when stock
        found no address to send the message to. Raises as send_email does,
        but for a message whose every recipient is refused when the mail has
        others."""
        IrMailServer = self.env["ir.mail_server"]
        session = RecordingSession(smtp_session) if smtp_session else None
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

    def _settle_recipients(self, built, delivered, refused, res):
        """Keep each recipient's fate (_record_recipient_fates) once the
        messages of this mail were handed over. Return (res: the Message-Id
        when the mail counts as sent, else None; (failure type, reason) when
        a recipient did not get it, else None)."""
        got_it = bool(delivered) or self._delivered_before()
        if not res and got_it:
            res = built.message_id  # this attempt had no one new to reach: it went out before
        if not (refused or built.unsendable or self.recipient_fates):
            return res, None
        fate_failure = self._record_recipient_fates(delivered, refused, built.unsendable)
        if not fate_failure:
            return res, None
        failure_type, failure_reason, temporary = fate_failure
        report = self.env.context.get("recruitment_mail_report")
        if temporary and report is not None:
            report.update(failure_type=failure_type, temporary=True)
        if temporary or not got_it:
            res = None  # tried again for those refused for now, or failed: nobody got it
        return res, (failure_type, failure_reason)

    def _delivered_before(self):
        return any(fate[0] == FATE_DELIVERED for fate in (self.recipient_fates or {}).values())

    def _record_recipient_fates(self, delivered, refused, invalid=()):
        """Keep what the server answered for each recipient of this attempt:
        ``delivered`` addresses, ``refused`` {address: (code, reply)}, and
        ``invalid`` [(address, reason)] that were not addresses at all.
        Return (failure type, reason, temporary) when a recipient did not get
        it: a recipient refused for now (4xx) makes the attempt temporary, so
        that the mail is tried again, for those recipients only."""
        fates = dict(self.recipient_fates or {})
        for address in delivered:
            fates[normalize_address(address)] = [FATE_DELIVERED, ""]
        for address, (code, reply) in refused.items():
            fate = FATE_DEFERRED if 400 <= code < 500 else FATE_REFUSED
            fates[normalize_address(address)] = [fate, smtp_reply(smtplib.SMTPResponseException(code, reply))]
        for address, reason in invalid:
            fates[normalize_address(address)] = [FATE_REFUSED, reason]
        self.write({"recipient_fates": fates})
        undelivered = self._undelivered_fates()
        if not undelivered:
            return None
        reason = self._delivery_summary()
        temporary = any(fate == FATE_DEFERRED for fate, _reply in undelivered.values())
        return "mail_rejected", reason, temporary

    def _keep_out_of_the_chatter(self):
        """Sent mail that stock would have deleted (auto_delete) is kept for
        Sent items, but shows in no chatter where stock would not show it: an
        email that is not a notification takes its message with it in stock,
        so here that message leaves the record's thread."""
        own_messages = self.filtered(lambda mail: not mail.is_notification).mail_message_id
        if own_messages:
            own_messages.write({"model": False, "res_id": False})

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
        """(failure type, reason) of an exception raised while sending, as
        stock _send reports it."""
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

    def _claim(self, auto_commit=False, read_at=None):
        """Lock this mail for sending and check, in the database rather than
        in the cache, that it is still waiting: another worker (a second cron
        process, or a user's Send now) may have sent it since it was picked.
        A mail another worker holds, or changed under our feet, is skipped,
        not waited for. Return False (skip it), CLAIM_SAME, or CLAIM_CHANGED
        when it was written since ``read_at`` (its write_date when read)."""
        self.ensure_one()
        try:
            self.env.cr.execute(
                f"""SELECT state, write_date, {CLAIM_IS_FREE}
                      FROM mail_mail WHERE id = %(id)s FOR NO KEY UPDATE SKIP LOCKED""",
                {"id": self.id, "stale": fields.Datetime.now() - CLAIM_LAPSE},
                log_exceptions=False,
            )
        except psycopg2.errors.SerializationFailure:
            if not auto_commit:
                raise
            # Another worker updated it since our snapshot: it is theirs. With
            # auto_commit everything before this claim is committed already.
            self.env.cr.rollback()
            _logger.info("Email %s is being sent by another worker: skipped", self.id)
            return False
        row = self.env.cr.fetchone()
        if not row or row[0] != "outgoing" or not row[2]:
            return False  # gone, held by another worker, or no longer waiting
        return CLAIM_SAME if read_at is not None and row[1] == read_at else CLAIM_CHANGED

    def _commit_sent(self, auto_commit, post_send_callback):
        if auto_commit is True:
            if post_send_callback:
                post_send_callback(self.ids)
            self.env.cr.commit()  # pylint: disable=invalid-commit  # cron only, as stock _send does

    def _prepare_outgoing_list(self, mail_server=False, recipients_follower_status=None):
        # A line break in a header would split it (header injection): a
        # subject is folded onto one line; addresses are refused earlier.
        emails = super()._prepare_outgoing_list(
            mail_server=mail_server, recipients_follower_status=recipients_follower_status
        )
        for email in emails:
            if email.get("subject") and _LINE_BREAK.search(email["subject"]):
                email["subject"] = " ".join(email["subject"].split())
            for key in ("email_to", "email_cc"):
                email[key] = [self._ascii_formatted(formatted) for formatted in email.get(key) or []]
            email["email_to_normalized"] = [ascii_address(a) for a in email.get("email_to_normalized") or []]
        return emails

    @api.model
    def _ascii_formatted(self, formatted):
        if formatted.isascii():
            return formatted
        return ", ".join(
            tools.formataddr((name, ascii_address(address)))
            for name, address in tools.mail.email_split_tuples(formatted)
        )

    def _recipient_problem(self):
        """Return (failure_type, message) when this mail cannot be addressed,
        checked before anything is handed to the SMTP server so that a mail to
        several people never reaches only some of them."""
        self.ensure_one()
        # One address per line is fine in To and Cc; a line break inside an
        # address or a name, or anywhere in From and Reply-To, is not.
        for label, value in (
            (self.env._("To"), self.email_to),
            (self.env._("Cc"), self.email_cc),
            (self.env._("From"), self.email_from),
            (self.env._("Reply-To"), self.reply_to),
        ):
            broken = [token for token in raw_address_tokens(value) if _LINE_BREAK.search(token)]
            if broken or (
                value and label not in (self.env._("To"), self.env._("Cc")) and _LINE_BREAK.search(value.strip())
            ):
                return "mail_email_invalid", self.env._(
                    "The %(field)s field contains a line break, which could forge email headers "
                    "(header injection). Correct it, then resend.",
                    field=label,
                )
        unsendable = self._unsendable_addresses()
        if self._sendable_addresses():
            # as stock: sent to the valid ones; the others' fate is kept on the mail
            return None
        if unsendable:
            missing = all(not partner.email for partner in self.recipient_ids) and not (self.email_to or self.email_cc)
            return (
                "mail_email_missing" if missing else "mail_email_invalid",
                "\n".join(reason for _address, reason in unsendable),
            )
        return "mail_email_missing", self.env._("This email has no recipient.")

    def _sendable_addresses(self):
        """The addresses Odoo sends this mail to, as stock works them out."""
        addresses = sendable_addresses(f"{self.email_to or ''},{self.email_cc or ''}")
        for partner in self.recipient_ids:
            addresses += sendable_addresses(partner.email or "")
        return addresses

    def _unsendable_addresses(self):
        """[(address, reason)] of the To, Cc and recipient addresses that are
        not email addresses: stock Odoo leaves them out without a word; here
        the reason is kept on the mail."""
        found = []
        for token in raw_address_tokens(self.email_to) + raw_address_tokens(self.email_cc):
            # a lone quoted name is what is left of a name whose address lost its '>'
            if not sendable_addresses(token) and not _QUOTED_NAME.fullmatch(token):
                found.append((token, self._address_error_message(token)))
        for partner in self.recipient_ids:
            if not partner.email:
                found.append(
                    (
                        partner.display_name,
                        self.env._(
                            "No email address for the recipient %(name)s. Add one on the contact, then resend.",
                            name=partner.display_name,
                        ),
                    )
                )
            elif not sendable_addresses(partner.email):
                found.append((partner.email, self._address_error_message(partner.email)))
        return found

    def _address_error_message(self, token):
        angle = _ANGLE_ADDR.search(token)
        address = (angle.group(1) if angle else token).strip()
        error = address_syntax_error(address) or self.env._("It is not an email address.")
        return self.env._("Address syntax error: '%(address)s'. %(reason)s", address=address, reason=error)

    def _mark_failed(self, reason, failure_type):
        _logger.info("Email %s failed (%s): %s", self.id, failure_type, reason)
        # reason and type are written with the attempt, in _postprocess_sent_message
        self.write({"state": "exception"})
        self._postprocess_sent_message(success_pids=[], failure_reason=reason, failure_type=failure_type)

    def _postprocess_sent_message(self, success_pids, failure_reason=False, failure_type=None):
        """Record the attempt on the mail and keep what stock would delete:
        failed mail stays in the Outbox, business mail stays in Sent items.
        A temporary failure (server busy or unreachable) puts the mail back
        in the queue with a growing delay, up to the maximum of attempts."""
        report = self.env.context.get("recruitment_mail_report") or {}
        if failure_type and report.get("failure_type"):
            failure_type = report["failure_type"]
        connection = self.env.context.get("recruitment_mail_connection") or {}
        temporary = (failure_type == "mail_smtp" and not connection.get("permanent")) or report.get("temporary", False)
        server_id = report.get("mail_server_id") or connection.get("mail_server_id")
        now = fields.Datetime.now()
        max_attempts, delays = self._retry_policy()
        retried = self.browse()
        # stock deletes these once sent, and their message with them
        kept = self.filtered(lambda mail: mail.state == "sent" and mail.auto_delete and not mail.is_system_mail)

        def key(mail):
            return mail.attempt_count, mail.state, mail.is_system_mail

        for (attempts, state, is_system), mails in tools.groupby(self, key=key):
            mails = self.browse().concat(*mails)
            vals = {
                "attempt_count": attempts + 1,
                "last_attempt_date": now,
                "smtp_server_id": server_id or False,
                "waiting_reason": False,
                # the outcome is recorded: this run is done with it (_claim_chunk)
                "sending_claim_pid": False,
                "sending_claimed_at": False,
            }
            if state == "sent":
                vals.update(date_sent=now, failure_type=False, next_attempt_date=False)
                if not is_system:
                    vals["auto_delete"] = False
            elif state == "exception":
                vals["auto_delete"] = False
                if failure_type:
                    vals["failure_type"] = failure_type
                if failure_reason:
                    vals["failure_reason"] = failure_reason
                elif any(mail._has_no_usable_reason() for mail in mails):
                    vals["failure_reason"] = mails._no_reason_message(failure_type)
                if temporary and attempts + 1 < max_attempts:
                    delay = delays[min(attempts, len(delays) - 1)]
                    vals.update(state="outgoing", next_attempt_date=now + timedelta(minutes=delay))
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
        kept.sudo()._keep_out_of_the_chatter()
        if retried:
            retried._notifications_wait_for_retry(success_pids)
        done = self - retried
        if not done:
            return True
        return super(MailMail, done)._postprocess_sent_message(
            success_pids, failure_reason=failure_reason, failure_type=failure_type
        )

    @api.model
    def _retry_policy(self):
        """(maximum attempts, delays in minutes between attempts) from Settings."""
        params = self.env["ir.config_parameter"].sudo()
        max_attempts = int(params.get_param("recruitment_mail.max_attempts", DEFAULT_MAX_ATTEMPTS) or 1)
        raw = params.get_param("recruitment_mail.retry_delays", DEFAULT_RETRY_DELAYS) or DEFAULT_RETRY_DELAYS
        delays = [int(part) for part in re.findall(r"\d+", raw)] or [1]
        return max(max_attempts, 1), delays

    def _has_no_usable_reason(self):
        # Stock writes this placeholder before sending and leaves it when the
        # mail fails without an exception to report.
        reason = (self.failure_reason or "").strip()
        return (
            not reason
            or reason.startswith("Error without exception")
            or reason
            == self.env._("Error without exception. Probably due to sending an email without computed recipients.")
        )

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
