# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html).
from odoo.tests import tagged

from .common import OutboxCase

REFUSED_FOR_GOOD = (550, b"5.1.1 User unknown")
REFUSED_FOR_NOW = (451, b"4.7.1 Greylisted, try again later")


@tagged("post_install", "-at_install")
class TestRecipientFate(OutboxCase):
    """An SMTP server may accept some recipients of one email and refuse
    others (smtplib returns those refusals instead of raising): every
    recipient's fate is kept on the email and shown in the Outbox."""

    def three_recipients(self):
        return self.queue_mail(email_to="anna@example.com, ben@example.com, carl@example.com")

    def test_a_recipient_refused_for_good_leaves_the_email_partly_sent(self):
        mail = self.three_recipients()
        self.run_cron(refuse={"carl@example.com": REFUSED_FOR_GOOD})
        self.assertEqual(sorted(self.delivered_to()), ["anna@example.com", "ben@example.com"])
        self.assertEqual(mail.state, "sent", "as in stock: it went out")
        self.assertEqual(mail.outbox_status, "partial")
        self.assertIn(mail, self.outbox(self.recruiter, "partial"))
        self.assertIn(mail, self.sent_items(self.recruiter))
        self.assertIn("Partly sent: delivered to 2, refused 1", mail.failure_summary)
        self.assertIn("carl@example.com: 550 5.1.1 User unknown", mail.failure_summary)
        self.assertFalse(mail.failure_reason, "as in stock, a mail that reached someone carries no failure")
        self.assertIn("anna@example.com: delivered", mail.recipients_report)
        # the next runs send nothing more
        self.run_cron()
        self.assertEqual(self.delivered_to(), [])

    def test_resend_goes_only_to_those_who_did_not_get_it(self):
        mail = self.three_recipients()
        self.run_cron(refuse={"carl@example.com": REFUSED_FOR_GOOD})
        mail.with_user(self.recruiter).action_resend()
        self.run_cron()
        self.assertEqual(self.delivered_to(), ["carl@example.com"])
        self.assertEqual(mail.outbox_status, "sent")
        self.assertFalse(mail.failure_summary)
        self.assertNotIn(mail, self.outbox(self.recruiter))

    def test_a_recipient_refused_for_now_is_tried_again_on_its_own(self):
        mail = self.three_recipients()
        self.run_cron(refuse={"ben@example.com": REFUSED_FOR_NOW})
        self.assertEqual(sorted(self.delivered_to()), ["anna@example.com", "carl@example.com"])
        self.assertEqual(mail.outbox_status, "queued")
        self.assertTrue(mail.next_attempt_date)
        self.assertIn("ben@example.com: 451 4.7.1 Greylisted", mail.failure_reason)
        mail.sudo().write({"next_attempt_date": False})  # its time has come
        self.run_cron()
        self.assertEqual(self.delivered_to(), ["ben@example.com"])
        self.assertEqual(mail.outbox_status, "sent")

    def test_refused_for_now_and_for_good_in_one_email(self):
        mail = self.three_recipients()
        self.run_cron(refuse={"ben@example.com": REFUSED_FOR_NOW, "carl@example.com": REFUSED_FOR_GOOD})
        self.assertEqual(self.delivered_to(), ["anna@example.com"])
        self.assertEqual(mail.outbox_status, "queued")
        mail.sudo().write({"next_attempt_date": False})
        self.run_cron(refuse={"carl@example.com": REFUSED_FOR_GOOD})
        self.assertEqual(self.delivered_to(), ["ben@example.com"], "carl, refused for good, is not tried again")
        self.assertEqual(mail.outbox_status, "partial")
        self.assertIn("carl@example.com: refused (550", mail.recipients_report)

    def test_every_recipient_refused_fails_the_email(self):
        mail = self.queue_mail(email_to="carl@example.com")
        self.run_cron(refuse={"carl@example.com": REFUSED_FOR_GOOD})
        self.assertEqual(mail.outbox_status, "failed")
        self.assertIn("550 5.1.1 User unknown", mail.failure_reason)

    def test_delete_of_a_partly_sent_email_keeps_it_in_sent_items(self):
        mail = self.three_recipients()
        self.run_cron(refuse={"carl@example.com": REFUSED_FOR_GOOD})
        mail.with_user(self.recruiter).action_delete()
        self.assertTrue(mail.exists())
        self.assertEqual(mail.outbox_status, "sent")
        self.assertNotIn(mail, self.outbox(self.recruiter))
        self.assertIn(mail, self.sent_items(self.recruiter))

    def test_one_bad_follower_does_not_stop_a_notification_to_fifty(self):
        """Stock sends a notification to the valid recipients and marks only
        the others' notifications failed."""
        partners = self.env["res.partner"].create(
            [{"name": f"Follower {n}", "email": f"follower{n}@example.com"} for n in range(49)]
            + [{"name": "No Address"}]
        )
        job = self.env["hr.job"].create({"name": "Forklift Driver"})
        with self.smtp():
            message = job.with_user(self.officer).message_post(
                body="<p>New applicant</p>",
                partner_ids=partners.ids,
                message_type="comment",
                subtype_xmlid="mail.mt_comment",
            )
            self.env["mail.mail"].process_email_queue()
        self.env.invalidate_all()
        self.assertEqual(len(set(self.delivered_to())), 49)
        notifications = message.notification_ids
        failed = notifications.filtered(lambda n: n.notification_status == "exception")
        self.assertEqual(failed.res_partner_id.mapped("name"), ["No Address"])
        self.assertEqual(len(notifications.filtered(lambda n: n.notification_status == "sent")), 49)

    def test_addresses_odoo_normalises_or_on_special_use_domains_are_sent(self):
        mail = self.queue_mail(
            email_to='"Customer" <customer@example.com, dev@agency.test, it@office.local, ops@corp.internal'
        )
        self.run_cron()
        self.assertEqual(mail.outbox_status, "sent", mail.failure_reason)
        self.assertEqual(
            sorted(self.delivered_to()),
            ["customer@example.com", "dev@agency.test", "it@office.local", "ops@corp.internal"],
        )
