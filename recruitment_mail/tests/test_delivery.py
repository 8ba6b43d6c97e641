# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html).
import smtplib
import threading
import time
from datetime import timedelta
from unittest.mock import patch

from freezegun import freeze_time
from lxml import etree

from odoo import fields
from odoo.exceptions import ValidationError
from odoo.tests import tagged
from odoo.tools import config
from odoo.tools.safe_eval import safe_eval

from odoo.addons.base.models.ir_mail_server import IrMailServer as BaseIrMailServer

from .common import OutboxCase


@tagged("post_install", "-at_install")
class TestRetries(OutboxCase):
    def test_temporary_failure_is_retried_with_growing_delays_then_fails(self):
        mail = self.queue_mail()
        busy = {"anna@example.com": (451, b"4.7.1 Try again later")}
        waits = []
        now = fields.Datetime.now()
        for attempt in range(1, 6):
            with freeze_time(now):
                self.run_cron(refuse=busy)
            self.assertEqual(mail.attempt_count, attempt)
            self.assertIn("451 4.7.1 Try again later", mail.failure_reason)
            if attempt < 5:
                self.assertEqual(mail.outbox_status, "queued")
                waits.append(round((mail.next_attempt_date - now).total_seconds() / 60))
                with freeze_time(mail.next_attempt_date - timedelta(seconds=1)):
                    self.assertNotIn(mail.id, self.env["mail.mail"]._pick_due_ids(100), "not before its time")
                now = mail.next_attempt_date + timedelta(seconds=1)
        self.assertEqual(waits, [1, 5, 15, 60])
        self.assertEqual(mail.outbox_status, "failed")
        self.assertEqual(mail.failure_type, "mail_rejected")

    def test_a_refused_connection_charges_each_email_its_own_attempt(self):
        self.env["ir.config_parameter"].sudo().set_param("recruitment_mail.max_attempts", 3)
        veteran = self.queue_mail(subject="veteran")
        fresh = self.queue_mail(subject="fresh")
        veteran.sudo().write({"attempt_count": 2})
        self.run_cron(connect_error=ConnectionRefusedError(111, "Connection refused"))
        self.assertEqual((veteran.attempt_count, veteran.outbox_status), (3, "failed"), "its last attempt")
        self.assertEqual((fresh.attempt_count, fresh.outbox_status), (1, "queued"), "its first attempt")
        self.assertLess(fresh.next_attempt_date, fields.Datetime.now() + timedelta(minutes=2))

    def test_permanent_rejection_fails_at_once(self):
        mail = self.queue_mail(email_to="gone@example.com")
        self.run_cron(refuse={"gone@example.com": (550, b"5.1.1 User unknown")})
        self.assertEqual(mail.outbox_status, "failed")
        self.assertEqual(mail.attempt_count, 1)
        self.assertFalse(mail.next_attempt_date)

    def test_queue_interval_is_a_setting(self):
        settings = self.env["res.config.settings"].create({})
        self.assertEqual(settings.recruitment_mail_queue_interval, 1)
        settings.recruitment_mail_queue_interval = 5
        settings.execute()
        self.assertEqual((self.cron.interval_number, self.cron.interval_type), (5, "minutes"))

    def test_queue_batch_size_zero_means_no_limit_as_in_stock(self):
        mails = self.queue_mail(email_to="a@example.com") | self.queue_mail(email_to="b@example.com")
        self.env["ir.config_parameter"].set_param("mail.mail.queue.batch.size", "0")
        self.run_cron()
        self.assertEqual(sorted(self.delivered_to()), ["a@example.com", "b@example.com"])
        self.assertEqual(set(mails.mapped("outbox_status")), {"sent"})

    def test_retry_policy_is_a_setting(self):
        self.env["res.config.settings"].create(
            {"recruitment_mail_max_attempts": 3, "recruitment_mail_retry_delays": "2, 10"}
        ).execute()
        self.assertEqual(self.env["mail.mail"]._retry_policy(), (3, [2, 10]))

    def test_mail_retried_then_sent_clears_the_failure(self):
        mail = self.queue_mail()
        self.run_cron(send_error=smtplib.SMTPServerDisconnected("Connection unexpectedly closed"))
        self.assertEqual(mail.outbox_status, "queued")
        with freeze_time(mail.next_attempt_date + timedelta(seconds=1)):
            self.run_cron()
        self.assertEqual(mail.outbox_status, "sent")
        self.assertFalse(mail.failure_reason)
        self.assertFalse(mail.failure_type)
        self.assertFalse(mail.next_attempt_date)
        self.assertEqual(self.delivered_to(), ["anna@example.com"])

    def test_a_dead_server_fails_no_mail_for_other_servers(self):
        other = self.env["ir.mail_server"].create(
            {"name": "Backup SMTP", "smtp_host": "backup.agency.example.com", "smtp_port": 25, "sequence": 2}
        )
        on_dead = self.queue_mail(subject="via dead", mail_server_id=self.mail_server.id)
        on_other = self.queue_mail(subject="via other", mail_server_id=other.id)

        def connect(host, port, *args, **kwargs):
            if host == "smtp.agency.example.com":
                raise ConnectionRefusedError(111, "Connection refused")
            return self.testing_smtp_session

        with self.smtp(), patch("smtplib.SMTP", side_effect=connect):
            self.env["mail.mail"].process_email_queue()
        self.env.invalidate_all()
        self.assertEqual(on_other.outbox_status, "sent")
        self.assertEqual(on_dead.outbox_status, "queued")
        self.assertIn("Connection refused", on_dead.failure_reason)


@tagged("post_install", "-at_install")
class TestSendingLimits(OutboxCase):
    def test_server_limit_leaves_the_rest_queued_without_an_attempt(self):
        self.mail_server.max_per_minute = 2
        mails = self.env["mail.mail"].browse()
        for n in range(5):
            mails |= self.queue_mail(subject=f"mail {n}", email_to=f"c{n}@example.com")
        now = fields.Datetime.now()
        with freeze_time(now):
            self.run_cron()
        self.assertEqual(len(self.delivered_to()), 2)
        waiting = mails.filtered(lambda m: m.state == "outgoing")
        self.assertEqual(len(waiting), 3)
        self.assertEqual(set(waiting.mapped("attempt_count")), {0})
        self.assertIn("sending limit of Agency SMTP (2 per minute)", waiting[0].waiting_reason)
        with freeze_time(now + timedelta(seconds=10)):
            self.run_cron()
        self.assertEqual(len(self.delivered_to()), 0, "still within the same minute")
        with freeze_time(now + timedelta(minutes=1, seconds=1)):
            self.run_cron()
        self.assertEqual(len(self.delivered_to()), 2)
        self.assertFalse(any(mails.filtered(lambda m: m.state == "sent").mapped("waiting_reason")))

    def test_hourly_limit(self):
        self.mail_server.max_per_hour = 3
        for n in range(4):
            self.queue_mail(email_to=f"h{n}@example.com")
        self.run_cron()
        self.assertEqual(len(self.delivered_to()), 3)


@tagged("post_install", "-at_install")
class TestBadInput(OutboxCase):
    def test_line_break_in_a_recipient_name_is_refused_not_sent(self):
        mail = self.queue_mail(email_to='"Bob\r\nBcc: everyone@example.com" <bob@example.com>')
        self.run_cron()
        self.assertEqual(mail.outbox_status, "failed")
        self.assertIn("header injection", mail.failure_reason)
        self.assertEqual(self.delivered_to(), [])

    def test_line_break_in_the_sender_is_refused(self):
        mail = self.queue_mail(email_from="jobs@agency.example.com\r\nBcc: everyone@example.com")
        self.run_cron()
        self.assertEqual(mail.outbox_status, "failed")
        self.assertIn("From field contains a line break", mail.failure_reason)

    def test_one_address_per_line_in_to_is_fine(self):
        mail = self.queue_mail(email_to="anna@example.com\nlea@example.com")
        self.run_cron()
        self.assertEqual(mail.outbox_status, "sent")
        self.assertEqual(sorted(self.delivered_to()), ["anna@example.com", "lea@example.com"])

    def test_line_break_in_the_subject_does_not_split_the_header(self):
        mail = self.queue_mail(subject="Interview\r\nBcc: everyone@example.com")
        self.run_cron()
        self.assertEqual(mail.outbox_status, "sent")
        self.assertEqual(self.delivered_to(), ["anna@example.com"])
        raw = self.emails[0]["message"]
        self.assertNotIn("\nBcc:", raw)
        self.assertIn("Subject: Interview Bcc: everyone@example.com", raw)

    def test_non_ascii_names_and_domains_are_sent(self):
        mail = self.queue_mail(email_to='"Léa Müller" <lea@exämple.fr>', subject="Entretien à 10h")
        partner = self.env["res.partner"].create({"name": "Zoë Ünal", "email": "zoe@bücher.example"})
        other = self.queue_mail(email_to=False, recipient_ids=[(4, partner.id)])
        self.run_cron()
        self.assertEqual((mail.outbox_status, other.outbox_status), ("sent", "sent"))
        self.assertEqual(sorted(self.delivered_to()), ["lea@xn--exmple-cua.fr", "zoe@xn--bcher-kva.example"])
        self.assertIn("Léa Müller", str(self.emails[0]["msg_to"]) + str(self.emails[1]["msg_to"]))

    def test_non_ascii_before_the_at_sign_is_handed_to_the_server_as_in_stock(self):
        mail = self.queue_mail(email_to="élodie@example.fr")
        self.run_cron()
        self.assertEqual(self.delivered_to(), ["élodie@example.fr"], "a server with SMTPUTF8 takes it")
        self.assertEqual(mail.outbox_status, "sent")

    def test_non_ascii_before_the_at_sign_fails_clearly_on_a_server_without_smtputf8(self):
        mail = self.queue_mail(email_to="élodie@example.fr")
        # what smtplib raises when the server does not advertise SMTPUTF8
        self.run_cron(send_error=smtplib.SMTPNotSupportedError("SMTPUTF8 not supported by the server"))
        self.assertEqual(mail.outbox_status, "failed")
        self.assertEqual(mail.failure_type, "mail_email_invalid")
        self.assertIn("non-ASCII characters before the @ need a server that supports SMTPUTF8", mail.failure_reason)

    def test_no_recipient_fails_with_a_reason(self):
        mail = self.queue_mail(email_to=False)
        self.run_cron()
        self.assertEqual(mail.failure_type, "mail_email_missing")
        self.assertIn("no recipient", mail.failure_reason)

    def test_invalid_sender_fails_with_a_reason(self):
        mail = self.queue_mail(email_from="not an address")
        self.run_cron()
        self.assertEqual(mail.outbox_status, "failed")
        self.assertEqual(mail.failure_type, "mail_from_invalid")
        self.assertTrue(mail.failure_reason)

    def test_message_too_big_for_the_server_fails_with_its_reply(self):
        mail = self.queue_mail(
            attachment_ids=[
                (
                    0,
                    0,
                    {"name": "portfolio.pdf", "raw": b"%PDF" + b"x" * 1024, "res_model": "mail.message", "res_id": 0},
                )
            ]
        )
        self.run_cron(
            send_error=smtplib.SMTPSenderRefused(
                552, b"5.3.4 Message size exceeds fixed maximum message size", "jobs@agency.example.com"
            )
        )
        self.assertEqual(mail.outbox_status, "failed")
        self.assertIn("552 5.3.4 Message size exceeds", mail.failure_reason)

    def test_five_megabyte_body_is_sent(self):
        body = "<p>" + ("Lorem ipsum dolor sit amet. " * 190000) + "</p>"
        self.assertGreater(len(body), 5_000_000)
        mail = self.queue_mail(body_html=body)
        ok = self.queue_mail(subject="small one")
        self.run_cron()
        self.assertEqual(mail.outbox_status, "sent")
        self.assertEqual(ok.outbox_status, "sent")
        self.assertGreater(len(self.emails[0]["message"]) + len(self.emails[1]["message"]), 5_000_000)


@tagged("post_install", "-at_install")
class TestSendingChunks(OutboxCase):
    """The queue builds the messages of many emails from one read of them all,
    then claims, sends and records each one. What it sends is the email as it
    is when it is claimed."""

    def _changed_by_someone_else(self, mail, **columns):
        """What another user's edit, committed after the queue read the
        email, leaves in the database: new values and a new write date."""
        for column, value in columns.items():
            table = "mail_message" if column == "subject" else "mail_mail"
            record_id = mail.mail_message_id.id if table == "mail_message" else mail.id
            self.env.cr.execute(f"UPDATE {table} SET {column} = %s WHERE id = %s", (value, record_id))
        self.env.cr.execute(
            "UPDATE mail_mail SET write_date = write_date + interval '1 second' WHERE id = %s", (mail.id,)
        )

    def test_an_email_edited_after_it_was_read_goes_out_as_edited(self):
        first = self.queue_mail(subject="First")
        second = self.queue_mail(subject="Old subject", email_to="bob@example.com")
        mails = (first | second).sudo()  # the queue's own steps, as the queue runs them
        mails.flush_recordset()
        outgoing, left = mails._build_outgoing()
        self.assertEqual(list(outgoing), mails.ids)
        self.assertFalse(left)
        self._changed_by_someone_else(second, subject="New subject", email_to="carl@example.com")
        with self.smtp():
            for mail in mails:
                mail._deliver(outgoing[mail.id])
        self.env.invalidate_all()
        self.assertEqual(self.delivered_to(), ["anna@example.com", "carl@example.com"])
        self.assertIn("Subject: New subject", self.emails[1]["message"])
        self.assertEqual(mails.mapped("outbox_status"), ["sent", "sent"])

    def test_an_email_sent_or_deleted_by_someone_else_meanwhile_is_not_sent_again(self):
        sent_elsewhere = self.queue_mail(subject="Sent by the other worker")
        deleted = self.queue_mail(subject="Deleted", email_to="bob@example.com")
        waiting = self.queue_mail(subject="Still waiting", email_to="carl@example.com")
        mails = sent_elsewhere | deleted | waiting
        mails.flush_recordset()
        outgoing, _left = mails._build_outgoing()
        self._changed_by_someone_else(sent_elsewhere, state="sent")
        self.env.cr.execute("DELETE FROM mail_mail WHERE id = %s", (deleted.id,))
        with self.smtp():
            for mail_id, built in outgoing.items():
                self.env["mail.mail"].browse(mail_id)._deliver(built)
        self.assertEqual(self.delivered_to(), ["carl@example.com"])

    def test_a_batch_larger_than_a_chunk_is_sent_whole_in_order_each_once(self):
        mails = self.env["mail.mail"]
        for n in range(7):
            mails |= self.queue_mail(subject=f"Batch {n}", email_to=f"candidate{n}@example.com")
        with patch("odoo.addons.recruitment_mail.models.mail_mail_send.SEND_CHUNK", 3), self.smtp():
            mails.send()
        self.env.invalidate_all()
        self.assertEqual(self.delivered_to(), [f"candidate{n}@example.com" for n in range(7)])
        self.assertEqual(set(mails.mapped("outbox_status")), {"sent"})
        self.assertEqual(mails.mapped("attempt_count"), [1] * 7)

    def test_attachments_beyond_the_memory_budget_wait_for_the_next_chunk(self):
        attachment = self.env["ir.attachment"].create(
            {"name": "cv.pdf", "raw": b"%PDF-1.4 " + b"x" * 4000, "mimetype": "application/pdf"}
        )
        mails = self.env["mail.mail"]
        for n in range(3):
            mails |= self.queue_mail(
                subject=f"CV {n}", email_to=f"client{n}@example.com", attachment_ids=[(4, attachment.id)]
            )
        mails.flush_recordset()
        with patch("odoo.addons.recruitment_mail.models.mail_mail_send.SEND_CHUNK_BYTES", 4000):
            outgoing, left = mails._build_outgoing()
        # the first one exceeds the budget on its own: it goes alone, the rest wait
        self.assertEqual(list(outgoing), mails[:1].ids)
        self.assertEqual(left, mails[1:].ids)
        with patch("odoo.addons.recruitment_mail.models.mail_mail_send.SEND_CHUNK_BYTES", 4000), self.smtp():
            mails.send()
        self.assertEqual(self.delivered_to(), [f"client{n}@example.com" for n in range(3)])
        self.assertTrue(all("cv.pdf" in email["message"] for email in self.emails))


@tagged("post_install", "-at_install")
class TestSendingLanes(OutboxCase):
    """Settings > Parallel sending: several crons send the queue side by side,
    each its own share of it over its own SMTP connection."""

    def set_lanes(self, lanes):
        settings = self.env["res.config.settings"].create({"recruitment_mail_sending_lanes": lanes})
        settings.execute()

    def lane_run(self, lane):
        """What the cron of ``lane`` does when it runs."""
        with self.smtp():
            self.env["mail.mail"].with_context(recruitment_mail_lane=lane).process_email_queue()
        self.env.invalidate_all()

    def test_each_lane_is_a_cron_of_its_own(self):
        main = self.env.ref("mail.ir_cron_mail_scheduler_action")
        self.set_lanes(3)
        crons = self.env["mail.mail"]._lane_crons()
        self.assertEqual(len(crons), 3)
        self.assertEqual(crons[0], main)
        self.assertEqual(set(crons.mapped("interval_number")), {main.interval_number})
        self.assertIn("recruitment_mail_lane=3", crons[2].code)
        self.set_lanes(1)
        self.assertEqual(self.env["mail.mail"]._lane_crons(), main)
        self.assertFalse(self.env.ref("recruitment_mail.ir_cron_mail_lane_2", raise_if_not_found=False))

    def test_more_lanes_than_offered_is_refused(self):
        with self.assertRaises(ValidationError):
            self.env["res.config.settings"].create({"recruitment_mail_sending_lanes": 9})

    def test_lanes_share_the_queue_and_send_each_email_once(self):
        self.set_lanes(2)
        mails = self.env["mail.mail"]
        for n in range(6):
            mails |= self.queue_mail(subject=f"Lane {n}", email_to=f"candidate{n}@example.com")
        self.lane_run(1)
        first = set(self.delivered_to())
        self.assertEqual(len(first), 3, "lane 1 sends its half")
        self.lane_run(2)
        second = set(self.delivered_to())
        self.assertEqual(len(second), 3, "lane 2 sends the other half")
        self.assertFalse(first & second)
        self.assertEqual(set(mails.mapped("outbox_status")), {"sent"})
        self.lane_run(1)
        self.lane_run(2)
        self.assertFalse(self.emails, "nothing is sent twice")

    def test_new_email_wakes_every_lane(self):
        self.set_lanes(2)
        Trigger = self.env["ir.cron.trigger"]
        before = Trigger.search([])
        self.queue_mail()
        woken = (Trigger.search([]) - before).mapped("cron_id")
        self.assertEqual(woken, self.env["mail.mail"]._lane_crons())

    def test_lanes_share_a_server_sending_limit(self):
        self.mail_server.max_per_minute = 5
        self.set_lanes(2)
        for n in range(10):
            self.queue_mail(email_to=f"limit{n}@example.com")
        now = fields.Datetime.now()
        with freeze_time(now):
            self.lane_run(1)
            sent_by_first = len(self.delivered_to())
            self.lane_run(2)
            sent_by_second = len(self.delivered_to())
        self.assertEqual(sent_by_first + sent_by_second, 5, "the limit holds for both lanes together")


@tagged("post_install", "-at_install")
class TestQueueRunEndsInTime(OutboxCase):
    """A queue run holds its cron's lock, and Odoo refuses to install or
    upgrade a module while any cron is locked: a run stops sending after
    recruitment_mail.queue_run_seconds (and half of Odoo's real-time limit
    for crons) and lets the cron run again."""

    def run_with_clock(self, clock, seconds_per_email):
        """Run the cron with a clock that moves on as each email is sent."""
        IrMailServer = type(self.env["ir.mail_server"])
        original = IrMailServer.send_email

        def timed_send(server, *args, **kwargs):
            clock[0] += seconds_per_email
            return original(server, *args, **kwargs)

        fake_time = type("FakeTime", (), {"time": staticmethod(lambda: clock[0]), "monotonic": time.monotonic})
        with (
            patch("odoo.addons.recruitment_mail.models.mail_mail_queue.time", fake_time),
            patch.object(IrMailServer, "send_email", timed_send),
        ):
            self.run_cron()

    def test_a_run_stops_at_its_time_and_the_cron_runs_again(self):
        self.env["ir.config_parameter"].set_param("recruitment_mail.queue_run_seconds", "25")
        mails = self.env["mail.mail"]
        for n in range(5):
            mails |= self.queue_mail(subject=f"Drain {n}", email_to=f"candidate{n}@example.com")
        self.env["ir.cron.trigger"].search([("cron_id", "=", self.cron.id)]).unlink()
        thread = threading.current_thread()
        clock = [1000.0]
        thread.cron_job_started = clock[0]  # as ir.cron._run_job notes it
        try:
            self.run_with_clock(clock, seconds_per_email=10)
            # 0, 10, 20 s: sent; at 30 s the run is over
            self.assertEqual(self.delivered_to(), [f"candidate{n}@example.com" for n in range(3)])
            self.assertEqual(mails.mapped("outbox_status"), ["sent"] * 3 + ["queued"] * 2)
            self.assertEqual(mails[3:].mapped("attempt_count"), [0, 0], "waiting is not a failed attempt")
            self.assertTrue(
                self.env["ir.cron.trigger"].search([("cron_id", "=", self.cron.id)]),
                "the queue cron is triggered to go on with the rest",
            )
            # Odoo calls the action again within the same run: it ends at once
            self.run_with_clock(clock, seconds_per_email=10)
            self.assertEqual(self.delivered_to(), [])
        finally:
            thread.cron_job_started = None
        # the next run sends the rest
        self.run_with_clock([5000.0], seconds_per_email=10)
        self.assertEqual(self.delivered_to(), ["candidate3@example.com", "candidate4@example.com"])
        self.assertEqual(set(mails.mapped("outbox_status")), {"sent"})

    def test_a_run_ends_within_half_of_the_cron_time_limit(self):
        Mail = self.env["mail.mail"]
        with patch("odoo.addons.recruitment_mail.models.mail_mail_queue.time.time", return_value=1000.0):
            with patch.dict(config.options, {"limit_time_real_cron": 40}):
                self.assertEqual(Mail._queue_run_deadline(), 1020.0)
            with patch.dict(config.options, {"limit_time_real_cron": -1, "limit_time_real": 300}):
                self.assertEqual(Mail._queue_run_deadline(), 1060.0, "the add-on's 60 s")
            with patch.dict(config.options, {"limit_time_real_cron": 0}):
                self.assertEqual(Mail._queue_run_deadline(), 1060.0, "0: Odoo sets no limit")


@tagged("post_install", "-at_install")
class TestRetryWaitingForm(OutboxCase):
    def visible_buttons(self, mail, user):
        """The header buttons of the email's form that ``user`` sees."""
        arch = mail.with_user(user).get_views(
            [(self.env.ref("recruitment_mail.mail_mail_view_form_outbox").id, "form")]
        )
        root = etree.fromstring(arch["views"]["form"]["arch"])
        values = mail.with_user(user).read(["state", "outbox_status", "next_attempt_date", "failure_type"])[0]
        return [
            button.get("string")
            for button in root.find("header").iter("button")
            if not safe_eval(button.get("invisible") or "False", values)
        ]

    def test_an_email_refused_for_now_offers_send_now(self):
        mail = self.queue_mail()
        self.run_cron(refuse={"anna@example.com": (451, b"4.7.1 Try again later")})
        self.assertTrue(mail.next_attempt_date)
        admin = self.env.ref("base.user_admin")
        # the server refused the recipient for now: not a matter of SMTP settings
        self.assertEqual(self.visible_buttons(mail, admin), ["Send now", "Reschedule", "Delete"])

    def test_an_email_waiting_for_its_retry_offers_send_now_and_smtp_settings(self):
        mail = self.queue_mail()
        self.run_cron(connect_error=ConnectionRefusedError(111, "Connection refused"))
        self.assertEqual(mail.outbox_status, "queued")
        self.assertTrue(mail.next_attempt_date)
        admin = self.env.ref("base.user_admin")
        self.assertEqual(self.visible_buttons(mail, admin), ["Check SMTP settings", "Send now", "Reschedule", "Delete"])
        self.assertEqual(self.visible_buttons(mail, self.recruiter), ["Send now", "Reschedule", "Delete"])
        mail.with_user(self.recruiter).action_send_now()
        self.assertIn(mail.id, self.env["mail.mail"]._pick_due_ids(100), "due at once")
        self.run_cron()
        self.assertEqual(mail.outbox_status, "sent")
        self.assertEqual(self.delivered_to(), ["anna@example.com"])
        self.assertEqual(self.visible_buttons(mail, admin), [])

    def test_a_plain_queued_email_offers_no_send_now(self):
        mail = self.queue_mail()
        self.assertEqual(self.visible_buttons(mail, self.recruiter), ["Reschedule", "Delete"])


@tagged("post_install", "-at_install")
class TestAnotherModuleSwallowsTheError(OutboxCase):
    """An override of send_email between the add-on's and stock's (OCA's
    mail_tracking) catches the SMTP error and returns False: the Outbox
    still says the server's words, and a 451 is still retried."""

    def run_cron_swallowing(self, **smtp_kwargs):
        original = BaseIrMailServer.send_email

        def swallowing_send_email(server, *args, **kwargs):
            try:
                return original(server, *args, **kwargs)
            except Exception:  # noqa: BLE001  # what mail_tracking does
                return False

        with patch.object(BaseIrMailServer, "send_email", swallowing_send_email):
            self.run_cron(**smtp_kwargs)

    def test_a_550_swallowed_by_another_module_still_fails_with_the_server_words(self):
        mail = self.queue_mail(email_to="carl@example.com")
        self.run_cron_swallowing(refuse={"carl@example.com": (550, b"5.1.1 User unknown")})
        self.assertEqual(mail.outbox_status, "failed")
        self.assertIn("550 5.1.1 User unknown", mail.failure_reason)
        self.assertNotIn("gave no reason", mail.failure_reason)

    def test_a_451_swallowed_by_another_module_is_still_retried(self):
        mail = self.queue_mail(email_to="carl@example.com")
        self.run_cron_swallowing(refuse={"carl@example.com": (451, b"4.7.1 Try again later")})
        self.assertEqual(mail.outbox_status, "queued")
        self.assertTrue(mail.next_attempt_date)

    def test_partial_refusal_swallowed_by_another_module_is_kept(self):
        mail = self.queue_mail(email_to="anna@example.com, carl@example.com")
        self.run_cron_swallowing(refuse={"carl@example.com": (550, b"5.1.1 User unknown")})
        self.assertEqual(mail.outbox_status, "partial")
        self.assertEqual(self.delivered_to(), ["anna@example.com"])


@tagged("post_install", "-at_install")
class TestAnEmailNobodyCanBeSentTo(OutboxCase):
    """As in stock, an email with no address Odoo can send to is built and
    handed to send_email, which refuses it (NO_VALID_RECIPIENT) before
    anything goes over the wire, so that other modules' hooks see it (OCA's
    mail_tracking marks its tracking row "no recipient"); the Outbox says
    which address and why."""

    def run_cron_watching(self, swallow=False):
        """Run the queue; return what send_email gave for each message:
        (To, the session it was handed, its result or exception). With
        ``swallow``, an override above stock's returns False instead of
        raising, as mail_tracking's does."""
        seen = []
        original = BaseIrMailServer.send_email

        def watching_send_email(server, message, *args, **kwargs):
            try:
                result = original(server, message, *args, **kwargs)
            except Exception as exc:
                seen.append((message["To"], kwargs.get("smtp_session"), exc))
                if swallow:
                    return False
                raise
            seen.append((message["To"], kwargs.get("smtp_session"), result))
            return result

        with patch.object(BaseIrMailServer, "send_email", watching_send_email):
            self.run_cron()
        return seen

    def test_a_contact_without_an_address_is_handed_to_send_email_which_refuses_it(self):
        partner = self.env["res.partner"].create({"name": "No Email Candidate"})
        mail = self.queue_mail(email_to=False, recipient_ids=[(4, partner.id)])
        seen = self.run_cron_watching()
        self.assertEqual(len(seen), 1, "built and handed over, as in stock")
        to, session, outcome = seen[0]
        self.assertIn("No Email Candidate", to)
        self.assertIsInstance(outcome, AssertionError)
        self.assertEqual(str(outcome), BaseIrMailServer.NO_VALID_RECIPIENT)
        self.assertIsNotNone(session)
        self.assertFalse(session.handed, "nothing reached the server")
        self.assertEqual(self.emails, [])
        self.assertEqual(mail.outbox_status, "failed")
        self.assertEqual(mail.failure_type, "mail_email_missing")
        self.assertIn("No email address for the recipient No Email Candidate", mail.failure_reason)

    def test_refused_by_send_email_and_swallowed_by_another_module_it_still_says_why(self):
        mail = self.queue_mail(email_to="Tom <tom.okafor@@example.com>")
        seen = self.run_cron_watching(swallow=True)
        self.assertEqual([str(outcome) for _to, _session, outcome in seen], [BaseIrMailServer.NO_VALID_RECIPIENT])
        self.assertEqual(self.emails, [])
        self.assertEqual(mail.outbox_status, "failed")
        self.assertEqual(mail.failure_type, "mail_email_invalid")
        self.assertIn("Address syntax error: 'tom.okafor@@example.com'", mail.failure_reason)
        self.assertNotIn("gave no reason", mail.failure_reason)

    def test_no_connection_is_opened_for_it(self):
        mail = self.queue_mail(email_to=False)
        with patch.object(BaseIrMailServer, "connect", side_effect=AssertionError("connected")) as connect:
            mail.sudo()._send(smtp_session=None)
        connect.assert_not_called()
        self.assertEqual(mail.outbox_status, "failed")
        self.assertEqual(mail.failure_type, "mail_email_missing")
        self.assertIn("no recipient", mail.failure_reason)
