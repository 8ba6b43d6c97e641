# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html).
from datetime import timedelta
from unittest.mock import patch

from freezegun import freeze_time

from odoo import fields
from odoo.exceptions import AccessError
from odoo.tests import tagged

from odoo.addons.mail.tests.common import mail_new_test_user

from .common import OutboxCase


@tagged("post_install", "-at_install")
class TestSentItems(OutboxCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.admin = cls.env.ref("base.user_admin")

    def test_sent_mail_is_kept_where_stock_would_delete_it(self):
        mail = self.queue_mail(
            auto_delete=True,
            attachment_ids=[
                (0, 0, {"name": "cv.pdf", "datas": "UERGIGNvbnRlbnQ=", "res_model": "mail.message", "res_id": 0})
            ],
        )
        self.run_cron()
        self.assertTrue(mail.exists(), "stock Odoo deletes sent auto_delete mail; Sent items keeps it")
        self.assertEqual(mail.outbox_status, "sent")
        self.assertEqual(mail.attachment_ids.mapped("name"), ["cv.pdf"])
        self.assertIn("see you on Tuesday", mail.body_html)
        # only a mailing's email (Keep Archives off) loses its body once sent
        self.assertFalse(mail.body_status)
        self.env["mail.mail"]._gc_sent_mail()
        self.assertIn("see you on Tuesday", mail.body_html)

    def test_a_kept_email_shows_in_no_chatter_stock_would_not_show_it_in(self):
        """A template email about a candidate (auto_delete, as Odoo's
        recruitment templates are) is deleted by stock once sent, its message
        with it: here it stays in Sent items and the Email tab, and leaves the
        candidate's chatter as in stock."""
        anna = self.env["res.partner"].create({"name": "Anna", "email": "anna@example.com"})
        candidate = self.env["hr.candidate"].create({"partner_id": anna.id, "partner_name": "Anna"})
        mail = self.queue_mail(
            user=self.officer,
            email_to=False,
            recipient_ids=[(6, 0, anna.ids)],
            auto_delete=True,
            model="hr.candidate",
            res_id=candidate.id,
        )
        self.assertIn(mail.mail_message_id, candidate.message_ids, "queued: in the chatter, as in stock")
        self.run_cron()
        candidate.invalidate_recordset()
        self.assertEqual(mail.outbox_status, "sent")
        self.assertNotIn(mail.mail_message_id, candidate.message_ids, "sent: gone from the chatter, as in stock")
        self.assertIn(mail, self.sent_items(self.officer, "my_mail"))
        self.assertIn(mail, candidate.with_user(self.officer).contact_mail_ids)
        self.assertIn("see you on Tuesday", mail.body_html)

    def test_a_chatter_notification_stays_in_the_chatter(self):
        message = self.post_vacancy_in_chatter(
            "Night Shift Lead", self.env["res.partner"].create({"name": "Lea", "email": "lea@example.com"})
        )
        self.assertTrue(message.exists())
        self.assertEqual(message.model, "hr.job")

    def post_vacancy_in_chatter(self, job_name, partner, **smtp_kwargs):
        """An officer writes to ``partner`` from the vacancy's chatter; the
        queue runs."""
        job = self.env["hr.job"].create({"name": job_name})
        with self.smtp(**smtp_kwargs):
            message = job.with_user(self.officer).message_post(
                body="<p>New vacancy for you</p>",
                subject="Vacancy",
                partner_ids=partner.ids,
                message_type="comment",
                subtype_xmlid="mail.mt_comment",
            )
            self.env["mail.mail"].process_email_queue()
        self.env.invalidate_all()
        return message

    def test_chatter_email_to_a_candidate_lands_in_sent_items(self):
        candidate_partner = self.env["res.partner"].create({"name": "Anna", "email": "anna@example.com"})
        self.post_vacancy_in_chatter("Warehouse Team Leader", candidate_partner)
        sent = self.sent_items(self.officer, "my_mail")
        self.assertEqual(len(sent), 1)
        self.assertEqual(sent.recipient_ids, candidate_partner)
        self.assertEqual(sent.record_name, "Warehouse Team Leader")
        self.assertEqual(self.delivered_to(), ["anna@example.com"])
        # the chatter's envelope on the message: delivered
        notification = sent.mail_message_id.notification_ids
        self.assertEqual(notification.mapped("notification_status"), ["sent"])

    def test_chatter_email_refused_by_the_server_shows_on_the_message(self):
        gone = self.env["res.partner"].create({"name": "Gone", "email": "gone@example.com"})
        message = self.post_vacancy_in_chatter(
            "Forklift Driver", gone, refuse={"gone@example.com": (550, b"5.1.1 User unknown")}
        )
        # the chatter's envelope turns red with the server's reason, as in stock
        notification = message.notification_ids
        self.assertEqual(notification.notification_status, "exception")
        self.assertIn("550 5.1.1 User unknown", notification.failure_reason)
        failed = self.outbox(self.officer, "my_mail")
        self.assertEqual(failed.outbox_status, "failed")

    def test_sent_items_default_to_mine_and_widen_to_everyone(self):
        mine = self.queue_mail(user=self.officer, subject="Mine")
        colleagues = self.queue_mail(user=self.colleague, subject="Colleague's")
        self.run_cron()
        action = self.env.ref("recruitment_mail.mail_mail_action_sent")
        self.assertIn("'search_default_my_mail': 1", action.context)
        self.assertEqual(self.sent_items(self.officer, "my_mail") & (mine | colleagues), mine)
        self.assertEqual(
            self.sent_items(self.officer, "my_mail", "everyone") & (mine | colleagues),
            mine | colleagues,
            "Show mail from everyone widens the list even with My mail still ticked",
        )

    def test_sent_items_newest_first(self):
        first = self.queue_mail(subject="first")
        self.run_cron()
        with freeze_time(fields.Datetime.now() + timedelta(minutes=5)):
            second = self.queue_mail(subject="second")
            self.run_cron()
        arch = self.env.ref("recruitment_mail.mail_mail_view_tree_sent").arch
        self.assertIn('default_order="date_sent desc, id desc"', arch)
        listed = self.env["mail.mail"].search([("id", "in", (first | second).ids)], order="date_sent desc, id desc")
        self.assertEqual(listed.mapped("subject"), ["second", "first"])


@tagged("post_install", "-at_install")
class TestSystemMail(OutboxCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.manager = mail_new_test_user(
            cls.env,
            login="manager_sys",
            name="Max Manager",
            groups="hr_recruitment.group_hr_recruitment_manager",
        )
        cls.admin = cls.env.ref("base.user_admin")

    def check_while_queued(self, check):
        """Ask Odoo for a password reset of the administrator and run
        ``check`` on the email at the moment Odoo hands it over for sending
        (Odoo creates and sends it inside a savepoint it then drops)."""
        Mail = type(self.env["mail.mail"])
        send = Mail.send
        seen = []

        def send_and_check(mails, *args, **kwargs):
            seen.append(mails.id)
            check(mails)
            return send(mails, *args, **kwargs)

        with self.smtp(), patch.object(Mail, "send", send_and_check):
            self.admin.action_reset_password()
        self.assertEqual(len(seen), 1)
        return seen[0]

    def test_password_reset_is_never_readable_by_others_before_or_after_sending(self):
        def check(mail):
            self.assertTrue(mail.is_system_mail)
            self.assertIn("reset_password", mail.body_html)
            for user in (self.officer, self.manager, self.recruiter):
                self.assertFalse(self.env["mail.mail"].with_user(user).search([("id", "=", mail.id)]), user.login)
                with self.assertRaises(AccessError):
                    mail.with_user(user).read(["body_html"])
                message = mail.mail_message_id
                self.assertFalse(self.env["mail.message"].with_user(user).search([("id", "=", message.id)]))
                with self.assertRaises(AccessError):
                    message.with_user(user).read(["body"])
            self.assertEqual(self.env["mail.mail"].with_user(self.admin).search([("id", "=", mail.id)]), mail)

        mail_id = self.check_while_queued(check)
        self.assertEqual(self.delivered_to(), [self.admin.email])
        self.assertFalse(self.env["mail.mail"].browse(mail_id).exists(), "not kept after sending, as in stock")


@tagged("post_install", "-at_install")
class TestRetention(OutboxCase):
    def test_retention_cron_deletes_exactly_the_mail_older_than_the_period(self):
        self.env["ir.config_parameter"].sudo().set_param("recruitment_mail.retention_days", 30)
        now = fields.Datetime.now()
        old = self.queue_mail(subject="old")
        recent = self.queue_mail(subject="recent")
        failed_old = self.queue_mail(subject="failed old", email_to="x@@example.com")
        self.run_cron()
        old.sudo().write({"date_sent": now - timedelta(days=31)})
        recent.sudo().write({"date_sent": now - timedelta(days=29)})
        failed_old.sudo().write({"last_attempt_date": now - timedelta(days=400)})
        deleted = self.env["mail.mail"]._gc_sent_mail()
        self.assertEqual(deleted, 1)
        self.assertFalse(old.exists())
        self.assertTrue(recent.exists())
        self.assertTrue(failed_old.exists(), "failed mail waits in the Outbox, retention is for sent mail")

    def test_zero_keeps_sent_mail_forever(self):
        self.env["ir.config_parameter"].sudo().set_param("recruitment_mail.retention_days", 0)
        old = self.queue_mail()
        self.run_cron()
        old.sudo().write({"date_sent": fields.Datetime.now() - timedelta(days=3650)})
        self.assertEqual(self.env["mail.mail"]._gc_sent_mail(), 0)
        self.assertTrue(old.exists())

    def test_retention_is_a_setting(self):
        settings = self.env["res.config.settings"].create({"recruitment_mail_retention_days": 90})
        settings.execute()
        self.assertEqual(self.env["ir.config_parameter"].sudo().get_param("recruitment_mail.retention_days"), "90")
