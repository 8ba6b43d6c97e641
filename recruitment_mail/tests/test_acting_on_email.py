# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html).
"""Seeing an email is not acting on it: who may send, queue, cancel,
reschedule and edit which email (models/mail_mail_access.py)."""

from datetime import timedelta

from odoo import Command, fields
from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged

from odoo.addons.mail.tests.common import mail_new_test_user

from .common import OutboxCase


class ActingCase(OutboxCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.manager = mail_new_test_user(
            cls.env,
            login="manager_act",
            name="Max Manager",
            email="max@agency.example.com",
            groups="hr_recruitment.group_hr_recruitment_manager",
        )
        cls.admin = mail_new_test_user(
            cls.env, login="admin_act", name="Ada Admin", email="ada@agency.example.com", groups="base.group_system"
        )
        cls.portal = mail_new_test_user(cls.env, login="portal_act", name="Paula Portal", groups="base.group_portal")

    def setUp(self):
        super().setUp()
        later = fields.Datetime.now() + timedelta(days=3)
        self.queued = self.queue_mail(user=self.colleague, subject="Colin's queued", email_to="q@example.com")
        self.scheduled = self.queue_mail(
            user=self.colleague, subject="Colin's scheduled", email_to="s@example.com", scheduled_date=later
        )
        self.failed = self.queue_mail(user=self.colleague, subject="Colin's failed", email_to="bad@@example.com")
        self.run_cron()  # the failed one fails; the queued one is sent
        self.queued = self.queue_mail(user=self.colleague, subject="Colin's queued", email_to="q@example.com")
        self.assertEqual(
            (self.queued.outbox_status, self.scheduled.outbox_status, self.failed.outbox_status),
            ("queued", "scheduled", "failed"),
        )

    def snapshot(self, mails):
        self.env.invalidate_all()
        return [(mail.state, mail.scheduled_date, mail.attempt_count, mail.failure_type) for mail in mails]

    def assert_refused(self, error, call, mails):
        """``call`` raises ``error``, changes none of ``mails`` and sends nothing."""
        before = self.snapshot(mails)
        with self.smtp(), self.assertRaises(error) as caught:
            call()
        self.assertEqual(self.emails, [], "nothing reached the SMTP server")
        self.assertEqual(self.snapshot(mails), before, "nothing changed")
        return str(caught.exception)


@tagged("post_install", "-at_install")
class TestSendingIsAnAct(ActingCase):
    def test_user_sends_own_queued_email_but_not_a_colleagues(self):
        own = self.queue_mail(user=self.recruiter, email_to="anna@example.com")
        with self.smtp():
            own.send()
        self.assertEqual(self.delivered_to(), ["anna@example.com"])
        self.assertEqual(own.outbox_status, "sent")
        for mail in (self.queued, self.failed):
            self.assert_refused(AccessError, mail.with_user(self.recruiter).send, mail)

    def test_officer_reads_a_colleagues_email_but_no_door_sends_or_changes_it(self):
        mails = self.queued | self.scheduled | self.failed
        officer_mails = mails.with_user(self.officer)
        self.assertEqual(officer_mails.mapped("subject"), mails.mapped("subject"), "the officer sees them")
        doors = [
            "send",
            "send_after_commit",
            "mark_outgoing",
            "action_retry",
            "cancel",
            "action_resend",
            "action_send_now",
            "action_reschedule",
            "action_delete",
        ]
        for mail in officer_mails:
            for door in doors:
                with self.subTest(mail=mail.subject, door=door):
                    message = self.assert_refused(AccessError, getattr(mail, door), mails)
                    self.assertIn("own email", message)

    def test_manager_sends_anyones_queued_email_but_nobody_sends_scheduled_email_early(self):
        with self.smtp():
            self.queued.with_user(self.manager).send()
        self.assertEqual(self.delivered_to(), ["q@example.com"])
        for user in (self.colleague, self.manager, self.admin):
            with self.subTest(user=user.login):
                message = self.assert_refused(UserError, self.scheduled.with_user(user).send, self.scheduled)
                self.assertIn("scheduled", message)
                self.assert_refused(UserError, self.scheduled.with_user(user).send_after_commit, self.scheduled)
        # Send now is the owner's way: the date goes, the queue sends it.
        self.scheduled.with_user(self.colleague).action_send_now()
        self.assertEqual(self.scheduled.outbox_status, "queued")
        self.run_cron()
        self.assertEqual(self.delivered_to(), ["s@example.com"])

    def test_send_is_for_queued_email(self):
        message = self.assert_refused(UserError, self.failed.with_user(self.colleague).send, self.failed)
        self.assertIn("queued or scheduled", message)

    def test_queue_again_and_cancel_own_email(self):
        colleague_failed = self.failed.with_user(self.colleague)
        colleague_failed.mark_outgoing()
        self.assertEqual(self.failed.outbox_status, "queued")
        self.queued.with_user(self.colleague).cancel()
        self.assertEqual(self.queued.state, "cancel")
        self.queued.with_user(self.colleague).action_retry()  # only failed mail is retried
        self.assertEqual(self.queued.state, "cancel")
        self.queued.with_user(self.colleague).mark_outgoing()
        self.assertEqual(self.queued.state, "outgoing")
        sent = self.queue_mail(user=self.colleague, email_to="x@example.com")
        self.run_cron()
        self.assertEqual(sent.state, "sent")
        self.assert_refused(UserError, sent.with_user(self.colleague).mark_outgoing, sent)
        self.assert_refused(UserError, sent.with_user(self.colleague).cancel, sent)

    def test_portal_user_acts_on_nothing(self):
        for door in ("send", "mark_outgoing", "cancel", "action_resend", "action_send_now"):
            with self.subTest(door=door):
                self.assert_refused(AccessError, getattr(self.queued.with_user(self.portal), door), self.queued)

    def test_system_email_is_the_administrators_alone(self):
        reset = self.env["mail.mail"].create(
            {
                "subject": "Password reset",
                "body_html": '<a href="/web/reset_password?token=abc">reset</a>',
                "email_to": "rita@agency.example.com",
                "model": "res.users",
                "res_id": self.recruiter.id,
            }
        )
        self.assertTrue(reset.is_system_mail)
        for user in (self.recruiter, self.manager):
            with self.subTest(user=user.login):
                self.assert_refused(AccessError, reset.with_user(user).send, reset)
                self.assert_refused(AccessError, reset.with_user(user).cancel, reset)
        with self.smtp():
            reset.with_user(self.admin).send()
        self.assertEqual(self.delivered_to(), ["rita@agency.example.com"])


@tagged("post_install", "-at_install")
class TestTheQueueIsTheCrons(ActingCase):
    def test_users_do_not_run_the_queue(self):
        for user in (self.recruiter, self.officer, self.manager):
            with self.subTest(user=user.login):
                message = self.assert_refused(
                    AccessError, self.env["mail.mail"].with_user(user).process_email_queue, self.queued
                )
                self.assertIn("Send now", message)

    def test_cron_and_administrators_run_it(self):
        with self.smtp():
            self.env["mail.mail"].with_user(self.admin).process_email_queue()
        self.assertEqual(self.delivered_to(), ["q@example.com"])

    def test_the_crons_user_runs_it_in_a_cron_run_only(self):
        self.cron.user_id = self.officer
        progress = self.env["ir.cron.progress"].create({"cron_id": self.cron.id, "remaining": 0, "done": 0})
        queue = self.env["mail.mail"].with_user(self.officer)
        other_cron = self.env["ir.cron"].search([("id", "!=", self.cron.id)], limit=1)
        other_progress = self.env["ir.cron.progress"].create({"cron_id": other_cron.id, "remaining": 0, "done": 0})
        self.assert_refused(
            AccessError, queue.with_context(ir_cron_progress_id=other_progress.id).process_email_queue, self.queued
        )
        with self.smtp():
            queue.with_context(ir_cron_progress_id=progress.id).process_email_queue()
        self.assertEqual(self.delivered_to(), ["q@example.com"])


@tagged("post_install", "-at_install")
class TestOutboxEditing(ActingCase):
    def test_user_edits_what_the_outbox_edits_on_own_waiting_email(self):
        attachment = self.env["ir.attachment"].with_user(self.colleague).create({"name": "cv.txt", "raw": b"CV"})
        later = fields.Datetime.now() + timedelta(days=5)
        self.failed.with_user(self.colleague).write(
            {
                "email_to": "good@example.com",
                "email_cc": "cc@example.com",
                "subject": "Corrected",
                "body_html": "<p>Corrected</p>",
                "attachment_ids": [Command.link(attachment.id)],
                "scheduled_date": later,
                "recipient_ids": [Command.link(self.officer.partner_id.id)],
            }
        )
        self.assertEqual(
            (self.failed.email_to, self.failed.subject, self.failed.attachment_ids, self.failed.scheduled_date),
            ("good@example.com", "Corrected", attachment, later),
        )

    def test_user_cannot_repoint_or_reassign_own_email(self):
        other_message = self.failed.mail_message_id  # the colleague's
        own = self.queue_mail(user=self.recruiter, email_to="anna@example.com")
        refused = {
            "mail_message_id": other_message.id,
            "author_id": self.colleague.partner_id.id,
            "mail_user_id": self.colleague.id,
            "state": "sent",
            "mail_server_id": self.mail_server.id,
            "email_from": "ceo@agency.example.com",
            "model": "res.users",
            "res_id": self.admin.id,
            "headers": "{'X-Forged': '1'}",
            "auto_delete": True,
            "unrestricted_attachment_ids": [Command.set(self.failed.attachment_ids.ids)],
        }
        for name, value in refused.items():
            with self.subTest(field=name):
                message = self.assert_refused(
                    AccessError, lambda n=name, v=value: own.with_user(self.recruiter).write({n: v}), own
                )
                self.assertIn("only its recipients", message)
        self.assertEqual(own.mail_message_id.author_id, self.recruiter.partner_id)

    def test_sent_email_is_not_edited(self):
        sent = self.queue_mail(user=self.recruiter, email_to="anna@example.com")
        self.run_cron()
        message = self.assert_refused(
            UserError, lambda: sent.with_user(self.recruiter).write({"email_to": "other@example.com"}), sent
        )
        self.assertIn("failed", message)
        self.assertEqual(sent.email_to, "anna@example.com")

    def test_colleagues_and_officers_do_not_edit_it_managers_do(self):
        for user in (self.recruiter, self.officer):
            with self.subTest(user=user.login):
                self.assert_refused(
                    AccessError,
                    lambda u=user: self.failed.with_user(u).write({"email_to": "evil@example.com"}),
                    self.failed,
                )
        self.failed.with_user(self.manager).write({"email_to": "fixed@example.com"})
        self.assertEqual(self.failed.email_to, "fixed@example.com")
        self.assert_refused(
            AccessError,
            lambda: self.failed.with_user(self.manager).write({"mail_message_id": self.queued.mail_message_id.id}),
            self.failed,
        )

    def test_administrators_edit_email_as_in_stock_odoo(self):
        self.failed.with_user(self.admin).write({"mail_message_id": self.queued.mail_message_id.id, "state": "cancel"})
        self.assertEqual(self.failed.state, "cancel")

    def test_only_administrators_create_email_directly(self):
        values = {"email_to": "x@example.com", "mail_message_id": self.failed.mail_message_id.id}
        for user in (self.recruiter, self.officer, self.manager):
            with self.subTest(user=user.login), self.assertRaises(AccessError):
                self.env["mail.mail"].with_user(user).create(values)
        self.assertTrue(self.env["mail.mail"].with_user(self.admin).create({"email_to": "x@example.com"}))


@tagged("post_install", "-at_install")
class TestMessageOfAnEmail(ActingCase):
    def test_who_may_write_a_record_cannot_change_the_emails_its_messages_carry(self):
        # Stock Odoo lets whoever may write a record write and delete the
        # messages posted on it; that door is open to Olga on a candidate...
        candidate = self.env["hr.candidate"].create({"partner_name": "Lea", "email_from": "lea@example.com"})
        self.assertTrue(candidate.with_user(self.officer).has_access("write"))
        note = self.env["mail.message"].create(
            {"subject": "Note", "message_type": "comment", "model": "hr.candidate", "res_id": candidate.id}
        )
        note.with_user(self.officer).write({"subject": "Changed by Olga"})
        self.assertEqual(note.subject, "Changed by Olga")
        note.with_user(self.officer).unlink()
        self.assertFalse(note.exists())
        # ... but not onto the message of Colin's email to that candidate.
        mail = self.queue_mail(
            user=self.colleague, email_to="lea@example.com", model="hr.candidate", res_id=candidate.id
        )
        message = mail.mail_message_id.with_user(self.officer)
        for values in (
            {"subject": "Forged"},
            {"author_id": self.officer.partner_id.id},
            {"email_from": "evil@example.com"},
            {"attachment_ids": [Command.clear()]},
        ):
            with self.subTest(values=values):
                self.assert_refused(AccessError, lambda v=values: message.write(v), mail)
        self.assert_refused(AccessError, message.unlink, mail)
        self.assertEqual(mail.subject, "Interview on Tuesday")
        self.assertTrue(mail.exists())

    def test_owner_changes_subject_and_attachments_of_the_message_not_who_sent_it(self):
        mail = self.queue_mail(user=self.recruiter, email_to="q3@example.com")
        message = mail.mail_message_id.with_user(self.recruiter)
        message.write({"subject": "New subject", "body": "<p>chatter text</p>"})
        self.assertEqual(mail.subject, "New subject")
        for values in (
            {"author_id": self.colleague.partner_id.id},
            {"email_from": "ceo@agency.example.com"},
            {"model": "res.users"},
            {"mail_server_id": self.mail_server.id},
        ):
            with self.subTest(values=values):
                self.assert_refused(AccessError, lambda v=values: message.write(v), mail)
        # The chatter's part of the message stays the chatter's.
        message.write({"email_layout_xmlid": "mail.mail_notification_light", "is_internal": True})


@tagged("post_install", "-at_install")
class TestWizards(ActingCase):
    def test_reschedule_wizard_acts_on_own_email_only(self):
        later = fields.Datetime.now() + timedelta(days=9)
        Wizard = self.env["recruitment.mail.reschedule"]
        for user in (self.recruiter, self.officer):
            with self.subTest(user=user.login):
                wizard = Wizard.with_user(user).create(
                    {"mail_ids": [Command.set((self.queued | self.scheduled).ids)], "scheduled_date": later}
                )
                self.assert_refused(AccessError, wizard.action_reschedule, self.queued | self.scheduled)
        wizard = Wizard.with_user(self.colleague).create(
            {"mail_ids": [Command.set(self.scheduled.ids)], "scheduled_date": later}
        )
        wizard.action_reschedule()
        self.assertEqual(self.scheduled.scheduled_date, later)

    def test_reschedule_action_is_refused_before_the_wizard_opens(self):
        self.assert_refused(AccessError, self.queued.with_user(self.officer).action_reschedule, self.queued)
        action = self.queued.with_user(self.colleague).action_reschedule()
        self.assertEqual(action["res_model"], "recruitment.mail.reschedule")

    def test_jobs_by_email_takes_vacancy_templates_only(self):
        job = self.env["hr.job"].create({"name": "Welder"})
        candidate = self.env["hr.candidate"].create({"partner_name": "Lea", "email_from": "lea@example.com"})
        wizard = (
            self.env["recruitment.jobs.by.email"]
            .with_user(self.officer)
            .create(
                {
                    "job_id": job.id,
                    "candidate_ids": [Command.set(candidate.ids)],
                    "template_id": self.env["mail.template"]
                    .create({"name": "Users", "model_id": self.env.ref("base.model_res_users").id})
                    .id,
                }
            )
        )
        with self.assertRaises(UserError):
            wizard.action_send()
        self.assertFalse(self.env["mail.mail"].search([("job_id", "=", job.id)]))
