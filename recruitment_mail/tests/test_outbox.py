# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html).
import smtplib
from datetime import timedelta

from freezegun import freeze_time

from odoo import fields
from odoo.exceptions import UserError
from odoo.tests import tagged

from .common import OutboxCase


@tagged("post_install", "-at_install")
class TestOutboxStatus(OutboxCase):
    def test_status_of_queued_scheduled_and_failed_email(self):
        queued = self.queue_mail(subject="Queued")
        scheduled = self.queue_mail(subject="Scheduled", scheduled_date=fields.Datetime.now() + timedelta(days=1))
        failed = self.queue_mail(subject="Failed", email_to="bob@@example.com")
        self.run_cron()

        self.assertEqual(queued.outbox_status, "sent")
        self.assertEqual(scheduled.outbox_status, "scheduled")
        self.assertEqual(failed.outbox_status, "failed")
        self.assertEqual(
            dict(self.env["mail.mail"]._fields["outbox_status"]._description_selection(self.env)),
            {
                "queued": "Queued",
                "scheduled": "Scheduled",
                "failed": "Failed",
                "partial": "Partly sent",
                "sent": "Sent",
                "cancel": "Cancelled",
            },
        )

    def test_outbox_lists_what_has_not_gone_out_with_filters(self):
        queued = self.queue_mail(subject="Queued")
        scheduled = self.queue_mail(subject="Scheduled", scheduled_date=fields.Datetime.now() + timedelta(hours=2))
        failed = self.queue_mail(subject="Failed", email_to="bob@@example.com")
        sent = self.queue_mail(subject="Sent")
        with self.smtp():
            (failed | sent).send()
        self.assertEqual(sent.state, "sent")
        mine = queued | scheduled | failed

        self.assertEqual(self.outbox(self.recruiter, "my_mail"), mine)
        self.assertEqual(self.outbox(self.recruiter, "my_mail", "queued"), queued)
        self.assertEqual(self.outbox(self.recruiter, "my_mail", "scheduled"), scheduled)
        self.assertEqual(self.outbox(self.recruiter, "my_mail", "failed"), failed)
        self.assertEqual(self.sent_items(self.recruiter, "my_mail"), sent)

    def test_outbox_newest_first_and_grouped_by_status(self):
        first = self.queue_mail(subject="First", email_to="x@@example.com")
        second = self.queue_mail(subject="Second")
        Mail = self.env["mail.mail"].with_user(self.recruiter)
        listed = Mail.search([("id", "in", (first | second).ids)], order=None)
        # the list view's default order
        arch = self.env.ref("recruitment_mail.mail_mail_view_tree_outbox").arch
        self.assertIn('default_order="id desc"', arch)
        self.assertEqual(Mail.search([("id", "in", listed.ids)], order="id desc")[0], second)
        with self.smtp():
            first.send()
        groups = Mail.read_group([("id", "in", (first | second).ids)], ["outbox_status"], ["outbox_status"])
        self.assertEqual(
            {g["outbox_status"]: g["outbox_status_count"] for g in groups},
            {"queued": 1, "failed": 1},
        )


@tagged("post_install", "-at_install")
class TestOutboxSending(OutboxCase):
    def test_cron_sends_queued_mail_and_keeps_scheduled_until_due(self):
        now = fields.Datetime.now()
        queued = self.queue_mail(email_to="anna@example.com")
        later = self.queue_mail(email_to="lea@example.com", scheduled_date=now + timedelta(hours=1))

        self.run_cron()
        self.assertEqual(self.delivered_to(), ["anna@example.com"])
        self.assertEqual((queued.state, later.state), ("sent", "outgoing"))
        self.assertEqual(later.outbox_status, "scheduled")
        self.assertTrue(queued.date_sent)
        self.assertEqual(queued.attempt_count, 1)
        self.assertEqual(queued.smtp_server_id, self.mail_server)

        with freeze_time(now + timedelta(hours=1, minutes=1)):
            self.run_cron()
        self.assertEqual(self.delivered_to(), ["lea@example.com"])
        self.assertEqual(later.outbox_status, "sent")

    def test_scheduled_mail_that_is_due_is_queued_then_sent(self):
        now = fields.Datetime.now()
        mail = self.queue_mail(scheduled_date=now + timedelta(minutes=30))
        with freeze_time(now + timedelta(minutes=31)):
            self.env["mail.mail"]._promote_due_scheduled()
            self.assertEqual(mail.outbox_status, "queued")

    def test_queue_takes_oldest_due_mail_first(self):
        now = fields.Datetime.now()
        newest = self.queue_mail(subject="newest")
        oldest = self.queue_mail(subject="oldest")
        was_scheduled = self.queue_mail(subject="was scheduled", scheduled_date=now - timedelta(days=2))
        self.env.cr.execute("UPDATE mail_mail SET create_date = %s WHERE id = %s", (now - timedelta(days=1), oldest.id))
        self.env.cr.execute(
            "UPDATE mail_mail SET create_date = %s WHERE id = %s", (now - timedelta(days=3), was_scheduled.id)
        )
        picked = self.env["mail.mail"]._pick_due_ids(limit=2)
        self.assertEqual(picked, [was_scheduled.id, oldest.id])
        self.assertNotIn(newest.id, picked)

    def test_mail_sent_by_another_worker_since_the_pick_is_not_sent_again(self):
        mails = self.queue_mail(subject="one") | self.queue_mail(subject="two")
        picked = self.env["mail.mail"].browse(self.env["mail.mail"]._pick_due_ids(limit=10)) & mails
        picked.mapped("state")  # in this worker's cache: outgoing
        self.env.cr.execute("UPDATE mail_mail SET state = 'sent' WHERE id = %s", (mails[0].id,))
        with self.smtp():
            picked.send()
        self.assertEqual(len(self.delivered_to()), 1, "the other worker's mail is not sent twice")
        self.env.invalidate_all()
        self.assertEqual(mails[1].state, "sent")

    def test_new_mail_wakes_the_queue_cron(self):
        Trigger = self.env["ir.cron.trigger"].sudo()
        before = Trigger.search([("cron_id", "=", self.cron.id)])
        at = fields.Datetime.now() + timedelta(days=2)
        self.queue_mail()
        self.queue_mail(scheduled_date=at)
        triggers = Trigger.search([("cron_id", "=", self.cron.id)]) - before
        self.assertEqual(len(triggers), 2)
        self.assertIn(at, triggers.mapped("call_at"))

    def test_queue_cron_runs_every_minute(self):
        self.assertEqual((self.cron.interval_number, self.cron.interval_type), (1, "minutes"))
        self.assertTrue(self.cron.active)


@tagged("post_install", "-at_install")
class TestFailureMessages(OutboxCase):
    def test_invalid_address_fails_with_address_syntax_error(self):
        mail = self.queue_mail(email_to="Tom <tom.okafor@@example.com>")
        self.run_cron()
        self.assertEqual(mail.outbox_status, "failed")
        self.assertEqual(mail.failure_type, "mail_email_invalid")
        self.assertIn("Address syntax error", mail.failure_reason)
        self.assertIn("tom.okafor@@example.com", mail.failure_reason)
        self.assertIn("invalid characters", mail.failure_reason)
        self.assertEqual(self.delivered_to(), [])

    def test_an_invalid_address_beside_a_valid_one_is_reported_the_valid_one_sent(self):
        """As stock: the email goes to the valid address; here the other one's
        reason is kept and the email is Partly sent in the Outbox."""
        mail = self.queue_mail(email_to="Tom <tom.okafor@@example.com>, anna@example.com")
        self.run_cron()
        self.assertEqual(self.delivered_to(), ["anna@example.com"])
        self.assertEqual(mail.outbox_status, "partial")
        self.assertIn("Partly sent: delivered to 1, refused 1", mail.failure_summary)
        self.assertIn("Address syntax error: 'tom.okafor@@example.com'", mail.recipients_report)

    def test_recipient_contact_without_email_says_so(self):
        partner = self.env["res.partner"].create({"name": "No Email Candidate"})
        mail = self.queue_mail(email_to=False, recipient_ids=[(4, partner.id)])
        self.run_cron()
        self.assertEqual(mail.failure_type, "mail_email_missing")
        self.assertIn("No Email Candidate", mail.failure_reason)

    def test_smtp_rejection_shows_server_code_and_text(self):
        mail = self.queue_mail(email_to="gone@example.com")
        ok = self.queue_mail(email_to="anna@example.com")
        self.run_cron(refuse={"gone@example.com": (550, b"5.1.1 User unknown")})
        self.assertEqual(mail.outbox_status, "failed")
        self.assertEqual(mail.failure_type, "mail_rejected")
        self.assertIn("550 5.1.1 User unknown", mail.failure_reason)
        self.assertIn("gone@example.com", mail.failure_reason)
        self.assertEqual(mail.failure_summary, mail.failure_reason.splitlines()[0])
        self.assertEqual(ok.state, "sent", "a failing mail does not stop the others")

    def test_message_refused_after_data_shows_server_reply(self):
        mail = self.queue_mail()
        self.run_cron(send_error=smtplib.SMTPDataError(554, b"5.7.1 Message rejected as spam"))
        self.assertEqual(mail.failure_type, "mail_rejected")
        self.assertIn("554 5.7.1 Message rejected as spam", mail.failure_reason)

    def test_connection_refused_names_the_server_and_points_at_settings(self):
        self.env["ir.config_parameter"].sudo().set_param("recruitment_mail.max_attempts", 2)
        mail = self.queue_mail()
        refused = ConnectionRefusedError(111, "Connection refused")
        self.run_cron(connect_error=refused)
        # temporary: queued again, saying why and when it is tried next
        self.assertEqual(mail.outbox_status, "queued")
        self.assertEqual(mail.failure_type, "mail_smtp")
        self.assertIn('"Agency SMTP"', mail.failure_reason)
        self.assertIn("smtp.agency.example.com:587", mail.failure_reason)
        self.assertIn("Connection refused", mail.failure_reason)
        self.assertIn("Check the SMTP settings", mail.failure_reason)
        self.assertTrue(mail.next_attempt_date)
        with freeze_time(mail.next_attempt_date + timedelta(seconds=1)):
            self.run_cron(connect_error=refused)
        self.assertEqual(mail.outbox_status, "failed", "the last attempt fails it")
        self.assertEqual(mail.attempt_count, 2)
        self.assertIn("Connection refused", mail.failure_reason)
        self.assertEqual(mail.smtp_server_id, self.mail_server)
        action = mail.action_open_mail_server()
        self.assertEqual((action["res_model"], action["res_id"]), ("ir.mail_server", self.mail_server.id))

    def test_login_refused_names_the_server(self):
        self.mail_server.write({"smtp_user": "agency", "smtp_pass": "wrong"})
        mail = self.queue_mail()
        self.run_cron(login_error=smtplib.SMTPAuthenticationError(535, b"5.7.8 Authentication credentials invalid"))
        self.assertEqual(mail.failure_type, "mail_smtp")
        self.assertIn("refused the login", mail.failure_reason)
        self.assertIn("535 5.7.8 Authentication credentials invalid", mail.failure_reason)
        self.assertIn('"Agency SMTP"', mail.failure_reason)
        self.assertEqual(mail.outbox_status, "failed", "a refused login (5xx) fails at once, it is not retried")
        self.assertFalse(mail.next_attempt_date)

    def test_connection_dropped_while_sending_retries_one_and_keeps_the_rest_queued(self):
        first = self.queue_mail(subject="first")
        second = self.queue_mail(subject="second")
        self.run_cron(send_error=smtplib.SMTPServerDisconnected("Connection unexpectedly closed"))
        mails = first | second
        self.assertEqual(set(mails.mapped("outbox_status")), {"queued"})
        tried = mails.filtered("attempt_count")
        self.assertEqual(len(tried), 1)
        self.assertIn("closed the connection", tried.failure_reason)
        self.assertTrue(tried.next_attempt_date)
        self.assertFalse((mails - tried).failure_reason)

    def test_every_failed_email_says_why(self):
        self.queue_mail(email_to="bad@@example.com")
        self.queue_mail(email_to="gone@example.com")
        self.queue_mail(email_to=False)
        self.run_cron(refuse={"gone@example.com": (550, b"5.1.1 User unknown")})
        failed = self.env["mail.mail"].search([("outbox_status", "=", "failed")])
        self.assertGreaterEqual(len(failed), 3)
        for mail in failed:
            self.assertTrue(mail.failure_reason and mail.failure_reason.strip(), mail.subject)

    def test_failed_email_is_kept_even_when_marked_auto_delete(self):
        mail = self.queue_mail(email_to="bad@@example.com", auto_delete=True)
        self.run_cron()
        self.assertTrue(mail.exists())
        self.assertEqual(mail.outbox_status, "failed")


@tagged("post_install", "-at_install")
class TestResendDelete(OutboxCase):
    def test_resend_queues_failed_mail_and_sends_it_once_fixed(self):
        mail = self.queue_mail(email_to="anna@@example.com")
        self.run_cron()
        self.assertEqual(mail.outbox_status, "failed")

        mail.with_user(self.recruiter).write({"email_to": "anna@example.com"})
        Trigger = self.env["ir.cron.trigger"].sudo()
        before = Trigger.search_count([("cron_id", "=", self.cron.id)])
        action = mail.with_user(self.recruiter).action_resend()
        self.assertEqual(action["params"]["type"], "success")
        self.assertEqual(mail.outbox_status, "queued")
        self.assertFalse(mail.failure_type)
        self.assertGreater(
            Trigger.search_count([("cron_id", "=", self.cron.id)]),
            before,
            "Resend wakes the cron instead of making the user wait for SMTP",
        )
        self.run_cron()
        self.assertEqual(mail.outbox_status, "sent")
        self.assertEqual(self.delivered_to(), ["anna@example.com"])
        self.assertEqual(mail.attempt_count, 1, "attempts count again from a resend")

    def test_resend_many_at_once(self):
        mails = self.queue_mail(email_to="a@@example.com") | self.queue_mail(email_to="b@@example.com")
        self.run_cron()
        mails.with_user(self.recruiter).action_resend()
        self.assertEqual(set(mails.mapped("outbox_status")), {"queued"})

    def test_resend_refuses_queued_or_sent_mail(self):
        queued = self.queue_mail(subject="Still queued")
        with self.assertRaisesRegex(UserError, "Only failed or partly sent emails can be resent.*Still queued"):
            queued.with_user(self.recruiter).action_resend()
        sent = self.queue_mail(subject="Already sent")
        self.run_cron()
        self.assertEqual(sent.state, "sent")
        with self.assertRaisesRegex(UserError, "Only failed or partly sent emails can be resent"):
            sent.with_user(self.recruiter).action_resend()

    def test_delete_removes_mail_from_the_outbox(self):
        failed = self.queue_mail(email_to="bad@@example.com")
        queued = self.queue_mail(scheduled_date=fields.Datetime.now() + timedelta(days=1))
        self.run_cron()
        (failed | queued).with_user(self.recruiter).action_delete()
        self.assertFalse((failed | queued).exists())
        self.assertFalse(self.outbox(self.recruiter, "my_mail"))

    def test_sent_mail_cannot_be_deleted_from_the_outbox(self):
        sent = self.queue_mail()
        self.run_cron()
        with self.assertRaisesRegex(UserError, "Sent emails cannot be deleted"):
            sent.with_user(self.recruiter).action_delete()
        self.assertTrue(sent.exists())


@tagged("post_install", "-at_install")
class TestOutboxColumns(OutboxCase):
    def test_to_column_shows_typed_addresses_and_recipient_contacts(self):
        anna = self.env["res.partner"].create({"name": "Anna Kowalski", "email": "anna@example.com"})
        mail = self.queue_mail(email_to='"Priya" <priya@example.com>', recipient_ids=[(4, anna.id)])
        self.assertEqual(mail.recipients_display, "priya@example.com, Anna Kowalski")
