# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html).
from odoo.tests import tagged

from .common import OutboxCase

DSN = """From: MAILER-DAEMON@mx.example.com
To: bounce@agency.example.com
Subject: Undelivered Mail Returned to Sender
Message-Id: <dsn-{n}@mx.example.com>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="REPORT"

--REPORT
Content-Type: text/plain

This is the mail system at host mx.example.com. Your message could not be delivered.

--REPORT
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.com

Final-Recipient: rfc822; {address}
Original-Recipient: rfc822;{address}
Action: {action}
Status: {status}
Diagnostic-Code: smtp; {diagnostic}

--REPORT
Content-Type: text/rfc822-headers

Message-Id: {message_id}
From: Agency <jobs@agency.example.com>
To: {address}
Subject: Interview on Tuesday

--REPORT--
"""


@tagged("post_install", "-at_install")
class TestBounces(OutboxCase):
    def receive_report(
        self,
        mail,
        n=1,
        action="failed",
        status="5.1.1",
        diagnostic="550 5.1.1 <anna@example.com>: Recipient address rejected: User unknown",
    ):
        """A delivery status notification arrives through Odoo's mail gateway."""
        raw = DSN.format(
            n=n,
            address="anna@example.com",
            action=action,
            status=status,
            diagnostic=diagnostic,
            message_id=mail.message_id,
        )
        self.env["mail.thread"].message_process(False, raw)
        self.env.invalidate_all()

    def test_bounce_turns_the_sent_email_back_to_failed_with_the_reason(self):
        mail = self.queue_mail(email_to="anna@example.com")
        self.run_cron()
        self.assertEqual(mail.outbox_status, "sent")
        self.receive_report(mail)
        self.assertEqual(mail.outbox_status, "failed")
        self.assertEqual(mail.failure_type, "mail_bounce")
        self.assertIn("anna@example.com", mail.failure_reason)
        self.assertIn("550 5.1.1 <anna@example.com>: Recipient address rejected: User unknown", mail.failure_reason)
        self.assertIn(mail, self.outbox(self.recruiter, "my_mail", "failed"))

        # fixed and resent, it goes out once more
        mail.with_user(self.recruiter).write({"email_to": "anna.k@example.com"})
        mail.with_user(self.recruiter).action_resend()
        self.run_cron()
        self.assertEqual(mail.outbox_status, "sent")
        self.assertEqual(self.delivered_to(), ["anna.k@example.com"])

    def test_delay_report_leaves_the_email_sent(self):
        mail = self.queue_mail(email_to="anna@example.com")
        self.run_cron()
        self.receive_report(
            mail, action="delayed", status="4.4.7", diagnostic="451 4.4.7 Delivery delayed, will keep trying"
        )
        self.assertEqual(mail.outbox_status, "sent")

    def test_report_about_unknown_mail_changes_nothing(self):
        mail = self.queue_mail(email_to="anna@example.com")
        self.run_cron()
        other = self.queue_mail(email_to="lea@example.com")
        self.run_cron()
        raw = DSN.format(
            n=4,
            address="x@example.com",
            action="failed",
            status="5.1.1",
            diagnostic="550 unknown",
            message_id="<not-ours@example.com>",
        )
        self.env["mail.thread"].message_process(False, raw)
        self.env.invalidate_all()
        self.assertEqual((mail | other).mapped("outbox_status"), ["sent", "sent"])

    def test_a_bounce_without_a_message_is_recorded_and_stock_handling_goes_on(self):
        """Odoo's bounce handling is also called with no email message at all
        (mass mailing's helpers pass False): the email is Failed with the
        bounced address, and stock's own handling (the contact's bounce
        counter) still runs."""
        partner = self.env["res.partner"].create({"name": "Anna", "email": "anna@example.com"})
        mail = self.queue_mail(email_to="anna@example.com")
        self.run_cron()
        self.env["mail.thread"]._routing_handle_bounce(
            False,
            {
                "bounced_email": "anna@example.com",
                "bounced_partner": partner,
                "bounced_msg_ids": [mail.message_id],
                "bounced_message": self.env["mail.message"],
                "message_id": "<bounce-1@example.com>",
                "email_from": "mailer-daemon@example.com",
                "to": "bounce@agency.example.com",
                "body": "This is the bounce email",
            },
        )
        self.env.invalidate_all()
        self.assertEqual(mail.outbox_status, "failed")
        self.assertIn("anna@example.com", mail.failure_reason)
        self.assertEqual(partner.message_bounce, 1, "stock's handling ran")
