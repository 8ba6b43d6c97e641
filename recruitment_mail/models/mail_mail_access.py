# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html).
"""Seeing is not acting.

Stock Odoo lets only administrators touch mail.mail; recruitment_mail opens
it to every internal user (own email), officers (everyone's, read) and
managers (everyone's). Reading is governed by the record rules. Every public
method that sends, queues, cancels or reschedules email is checked here,
before anything is written or handed to the SMTP server:

- the caller must be allowed to act on *each* email: the write rules say who
  (own email for users, everyone's for managers, all email for administrators);
- nobody has an email sent before its scheduled date by calling send();
- only Odoo's queue cron and administrators run the queue;
- users change only what the Outbox edits, on their own waiting email.

Superuser calls (env.su: Odoo's chatter, composer, templates and crons all
send with sudo) keep stock behaviour: the checks are for the caller, and what
a check allows then runs with sudo, as Odoo's own paths do.
"""

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.http import request

# What the Outbox lets a user edit on a waiting email.
OUTBOX_EDITABLE_FIELDS = frozenset(
    {"email_to", "email_cc", "recipient_ids", "subject", "body_html", "attachment_ids", "scheduled_date"}
)
# Of those, the ones that live on the email's message (mail.mail _inherits
# mail.message): shared by every email of that message.
MESSAGE_FIELDS = frozenset({"subject", "attachment_ids"})
WAITING_STATES = ("outgoing", "exception")


# One concern per file (docs: DESIGN): mail_mail.py says what the Outbox does,
# this file who may do it.
class MailMail(models.Model):
    _inherit = "mail.mail"  # pylint: disable=consider-merging-classes-inherited

    # ------------------------------------------------------------------
    # Checks
    # ------------------------------------------------------------------

    def _check_can_act(self, action):
        """Raise AccessError unless the caller may act on every email of
        ``self`` (``action``: "resend these emails"...). The write rules
        decide: own email for internal users, everyone's for managers, all of
        it for administrators."""
        if self.env.su or self.has_access("write"):
            return
        raise AccessError(
            self.env._(
                "You cannot %(action)s. Users act on their own email only, recruitment managers on "
                "everyone's, and only administrators on the email Odoo sends on its own behalf "
                "(password reset, invitations).",
                action=action,
            )
        )

    def _check_state(self, action, states=WAITING_STATES):
        """Raise UserError when an email of ``self`` is not in ``states``."""
        wrong = self.filtered(lambda mail: mail.state not in states)
        if wrong:
            labels = {
                "outgoing": self.env._("queued or scheduled"),
                "exception": self.env._("failed"),
                "cancel": self.env._("cancelled"),
                "sent": self.env._("sent"),
            }
            raise UserError(
                self.env._(
                    "You can %(action)s only when they are %(allowed)s, not: %(emails)s.",
                    action=action,
                    allowed=self.env._(" or ").join(labels[state] for state in states),
                    emails=self._describe(wrong),
                )
            )

    def _check_not_scheduled(self):
        """Nobody has an email sent before its scheduled date by calling
        send(): only the queue sends it, when it is due. The Outbox's Send now
        (action_send_now) clears the date first, which the owner may do."""
        now = fields.Datetime.now()
        scheduled = self.filtered(lambda mail: mail.scheduled_date and mail.scheduled_date > now)
        if scheduled:
            raise UserError(
                self.env._(
                    "These emails are scheduled and go out at their date: %(emails)s. To send one "
                    "earlier, use Send now or Reschedule in the Outbox.",
                    emails=self._describe(scheduled),
                )
            )

    @api.model
    def _describe(self, mails):
        return ", ".join(
            f'"{mail.subject or self.env._("(no subject)")}" ({mail._outbox_status_label()})' for mail in mails[:10]
        )

    def _may_run_queue(self):
        """Odoo's queue cron (run as the superuser, or as the user an
        administrator gave it), and administrators (Run Manually, a script)."""
        if self.env.is_system():
            return True
        origin = self.env.uid_origin
        if origin and self.env["res.users"].sudo().browse(origin)._is_system():
            return True  # an administrator runs a cron set to another user
        if request:
            return False  # a user's request is not the cron, whatever its context says
        progress_id = self.env.context.get("ir_cron_progress_id")
        if not progress_id:
            return False
        cron = self.env["ir.cron.progress"].sudo().browse(progress_id).exists().cron_id
        return bool(cron) and cron in self._lane_crons() and cron.user_id == self.env.user

    # ------------------------------------------------------------------
    # Sending and the queue
    # ------------------------------------------------------------------

    @api.model
    def process_email_queue(self, ids=None, batch_size=1000):
        if not self.env.su:
            if not self._may_run_queue():
                raise AccessError(
                    self.env._(
                        "Only Odoo's email queue (its scheduled action) and administrators run the "
                        "queue. To send your own email at once, use Send now in the Outbox."
                    )
                )
            # allowed: the queue runs as the cron does
            return super(MailMail, self.sudo()).process_email_queue(ids=ids, batch_size=batch_size)
        return super().process_email_queue(ids=ids, batch_size=batch_size)

    def send(self, auto_commit=False, raise_exception=False, post_send_callback=None):
        if self.env.su:
            return super().send(
                auto_commit=auto_commit, raise_exception=raise_exception, post_send_callback=post_send_callback
            )
        self._check_can_act(self.env._("send these emails"))
        self._check_state(self.env._("send these emails"), states=("outgoing",))
        self._check_not_scheduled()
        # Committing per email is the queue's way (auto_commit), never a
        # request's: a caller's call is one transaction.
        return super(MailMail, self.sudo()).send(auto_commit=False, raise_exception=raise_exception)

    def send_after_commit(self):
        if self.env.su:
            return super().send_after_commit()
        self._check_can_act(self.env._("send these emails"))
        self._check_state(self.env._("send these emails"), states=("outgoing",))
        self._check_not_scheduled()
        return super(MailMail, self.sudo()).send_after_commit()

    def mark_outgoing(self):
        if self.env.su:
            return super().mark_outgoing()
        self._check_can_act(self.env._("send these emails again"))
        self._check_state(self.env._("send these emails again"), states=("exception", "cancel"))
        return super(MailMail, self.sudo()).mark_outgoing()

    def action_retry(self):
        if self.env.su:
            return super().action_retry()
        self._check_can_act(self.env._("send these emails again"))
        return super(MailMail, self.sudo()).action_retry()

    def cancel(self):
        if self.env.su:
            return super().cancel()
        self._check_can_act(self.env._("cancel these emails"))
        self._check_state(self.env._("cancel these emails"))
        return super(MailMail, self.sudo()).cancel()

    # ------------------------------------------------------------------
    # The Outbox's actions
    # ------------------------------------------------------------------

    def action_resend(self):
        if self.env.su:
            return super().action_resend()
        self._check_can_act(self.env._("resend these emails"))
        return super(MailMail, self.sudo()).action_resend()

    def action_delete(self):
        self._check_can_act(self.env._("delete these emails"))
        return super().action_delete()

    def action_send_now(self):
        if self.env.su:
            return super().action_send_now()
        self._check_can_act(self.env._("send these emails"))
        return super(MailMail, self.sudo()).action_send_now()

    def action_reschedule(self):
        self._check_can_act(self.env._("reschedule these emails"))
        return super().action_reschedule()

    # ------------------------------------------------------------------
    # CRUD: what a user may create and change
    # ------------------------------------------------------------------

    @api.model_create_multi
    def create(self, vals_list):
        # As in stock Odoo only administrators create email directly; Odoo's
        # chatter, composer and templates and the add-on's Jobs by Email
        # create it with sudo, authored by the user.
        if not self.env.is_system():
            raise AccessError(
                self.env._(
                    "Emails are created by writing them (chatter, composer, Jobs by Email), not directly; "
                    "only administrators create them directly."
                )
            )
        return super().create(vals_list)

    def write(self, vals):
        if not self.env.is_system():
            self._check_outbox_edit(vals)
        return super().write(vals)

    def _check_outbox_edit(self, vals):
        """Users (managers included) change what the Outbox edits, on waiting
        email they may act on; administrators edit email as in stock Odoo."""
        refused = sorted(set(vals) - OUTBOX_EDITABLE_FIELDS)
        if refused:
            raise AccessError(
                self.env._(
                    "On an email you can change only its recipients (To, Cc, recipient contacts), "
                    "subject, body, attachments and scheduled date, not: %(fields)s.",
                    fields=", ".join(
                        f"{self._fields[name].string} ({name})" if name in self._fields else name for name in refused
                    ),
                )
            )
        if not vals:
            return
        mails = self
        if MESSAGE_FIELDS & set(vals):
            # the subject and attachments are the message's: every email of it changes
            mails |= self.sudo().search([("mail_message_id", "in", self.sudo().mail_message_id.ids)]).with_env(self.env)
        mails._check_can_act(self.env._("change these emails"))
        mails._check_state(self.env._("change these emails"))
