# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html).
"""mail.mail as the Outbox and Sent items see it: its fields, what is computed
and stored on it, what it is about (links), and the Outbox actions. The queue
is in mail_mail_queue.py, sending in mail_mail_send.py, the outcome of an
attempt in mail_mail_outcome.py; docs/architecture.md has the map."""

import logging
import textwrap

from odoo import Command, api, fields, models, tools
from odoo.exceptions import UserError
from odoo.tools import SQL

from ..tools import fates
from ..tools.addresses import split_raw_addresses
from ..tools.notifications import success_notification

_logger = logging.getLogger(__name__)

OUTBOX_STATUSES = [
    ("queued", "Queued"),
    ("scheduled", "Scheduled"),
    ("failed", "Failed"),
    ("partial", "Partly sent"),
    ("sent", "Sent"),
    ("cancel", "Cancelled"),
]
# the Outbox shows these; Sent items shows sent and partly sent mail
OUTBOX_SHOWS = ("queued", "scheduled", "failed", "partial")
STATE_TO_OUTBOX_STATUS = {"exception": "failed", "sent": "sent", "cancel": "cancel"}

# Mail that carries a login link or code: kept out of everyone's sight but
# administrators', and deleted once sent as stock Odoo does.
SYSTEM_MAIL_MODELS = ("res.users", "portal.wizard.user")
SYSTEM_MAIL_MARKERS = ("/web/reset_password", "/web/signup", "signup_token", "auth_totp")


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
    body_status = fields.Selection(
        [("to_drop", "To drop once delivered"), ("dropped", "Not kept")],
        string="Body kept",
        readonly=True,
        copy=False,
        help="Email of a mailing sent with Keep Archives off, which stock Odoo deletes once sent: "
        "Sent items keep it, but not the body written for each recipient, dropped once every "
        "recipient got it.",
    )
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
    _IN_OUTBOX = "outbox_status IN ({})".format(", ".join(f"'{status}'" for status in OUTBOX_SHOWS))
    _INDEXES = {
        "mail_mail_rm_outbox_idx": f"(id DESC) INCLUDE ({_RULE_COLUMNS}) WHERE {_IN_OUTBOX}",
        "mail_mail_rm_outbox_user_idx": f"(mail_user_id, id DESC) INCLUDE ({_USER_RULE_COLUMNS}) WHERE {_IN_OUTBOX}",
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
        "mail_mail_rm_body_to_drop_idx": "(id) WHERE body_status = 'to_drop'",
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

    @api.depends("state", "scheduled_date", "recipient_fates")
    def _compute_outbox_status(self):
        # "Scheduled" depends on the clock: the queue cron turns due scheduled
        # mail into queued mail (_promote_due_scheduled) as it picks it up.
        now = fields.Datetime.now()
        for mail in self:
            if mail.state == "outgoing":
                is_later = mail.scheduled_date and mail.scheduled_date > now
                mail.outbox_status = "scheduled" if is_later else "queued"
            elif mail.state == "sent" and fates.undelivered(mail.recipient_fates):
                mail.outbox_status = "partial"
            else:
                mail.outbox_status = STATE_TO_OUTBOX_STATUS.get(mail.state, False)

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
            fates.DELIVERED: self.env._("delivered"),
            fates.DEFERRED: self.env._("refused for now, tried again"),
            fates.REFUSED: self.env._("refused"),
        }
        for mail in self:
            mail.recipients_report = "\n".join(
                f"{address}: {labels.get(fate, fate)}" + (f" ({reply})" if reply else "")
                for address, (fate, reply) in sorted((mail.recipient_fates or {}).items())
            )

    def _delivery_summary(self):
        """In words: who got this mail and who did not, with the server's replies."""
        undelivered = fates.undelivered(self.recipient_fates)
        got_it = fates.delivered_count(self.recipient_fates)
        details = "; ".join(f"{address}: {reply}" for address, (_fate, reply) in sorted(undelivered.items()))
        if not got_it:
            return self.env._("The mail server refused every recipient: %(details)s", details=details)
        return self.env._(
            "Partly sent: delivered to %(delivered)s, refused %(refused)s. %(details)s",
            delivered=got_it,
            refused=len(undelivered),
            details=details,
        )

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

    # ------------------------------------------------------------------
    # Outbox actions

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
        not_kept = self.filtered(lambda m: m.body_status == "dropped")
        if not_kept:
            raise UserError(
                self.env._(
                    "The body of these emails was not kept (a mailing with Keep Archives off): "
                    "they cannot be resent: %(emails)s",
                    emails=", ".join(mail.subject or self.env._("(no subject)") for mail in not_kept[:10]),
                )
            )
        for mail in self.filtered("recipient_fates"):
            mail.write({"recipient_fates": fates.delivered_only(mail.recipient_fates) or False})
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
                delivered = fates.delivered_only(mail.recipient_fates)
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
            self.env["ir.actions.actions"]._for_xml_id("recruitment_mail.mail_mail_action_outbox")
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
