# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html).
from datetime import timedelta

from freezegun import freeze_time

from odoo import fields
from odoo.exceptions import UserError
from odoo.tests import Form, tagged

from .common import OutboxCase


class ScheduledCase(OutboxCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tag_driver = cls.env["hr.applicant.category"].create({"name": "HGV driver"})
        cls.job = cls.env["hr.job"].create(
            {
                "name": "HGV Driver (Leeds)",
                "description": "<p>Night shifts, class 1 licence.</p>",
                "candidate_tag_ids": [(6, 0, cls.tag_driver.ids)],
            }
        )

        def candidate(name, email, **values):
            partner = cls.env["res.partner"].create({"name": name, "email": email})
            return cls.env["hr.candidate"].create({"partner_id": partner.id, "partner_name": name, **values})

        cls.anna = candidate("Anna Kowalski", "anna@example.com", categ_ids=[(6, 0, cls.tag_driver.ids)])
        cls.tom = candidate("Tom Okafor", "tom@example.com")
        cls.nomail = cls.env["hr.candidate"].create({"partner_name": "No Mail"})
        cls.blocked = candidate("Bea Blocked", "bea@example.com")
        cls.env["mail.blacklist"].create({"email": "bea@example.com"})
        cls.quiet = candidate("Quentin Quiet", "quentin@example.com")
        cls.quiet.partner_id.bulk_mail_opt_out = True

    def jobs_by_email(self, candidates, **values):
        if candidates:
            values["candidate_ids"] = [(6, 0, candidates.ids)]
        return (
            self.env["recruitment.jobs.by.email"]
            .with_user(self.officer)
            .with_context(default_job_id=self.job.id)
            .create(values)
        )


@tagged("post_install", "-at_install")
class TestJobsByEmail(ScheduledCase):
    def test_send_vacancy_to_chosen_candidates_links_and_renders(self):
        wizard = self.jobs_by_email(self.anna | self.tom)
        self.assertEqual((wizard.recipient_count, wizard.skipped_count), (2, 0))
        wizard.action_send()
        mails = self.env["mail.mail"].search([("job_id", "=", self.job.id)])
        self.assertEqual(len(mails), 2)
        self.assertEqual(mails.candidate_id, self.anna | self.tom)
        self.assertEqual(set(mails.mapped("outbox_status")), {"queued"})
        anna_mail = mails.filtered(lambda m: m.candidate_id == self.anna)
        self.assertEqual(anna_mail.subject, "New vacancy: HGV Driver (Leeds)")
        self.assertIn("Dear Anna Kowalski", anna_mail.body_html)
        self.assertIn("Night shifts, class 1 licence.", anna_mail.body_html)
        self.assertIn("reply to this email", anna_mail.body_html)
        self.assertEqual(anna_mail.recipient_ids, self.anna.partner_id)
        self.assertIn(anna_mail, self.anna.with_user(self.officer).contact_mail_ids)
        self.run_cron()
        self.assertEqual(sorted(self.delivered_to()), ["anna@example.com", "tom@example.com"])

    def test_apply_link_uses_the_vacancy_alias(self):
        self.job.alias_name = "hgv-jobs"
        wizard = self.jobs_by_email(self.anna)
        wizard.action_send()
        mail = self.env["mail.mail"].search([("job_id", "=", self.job.id)])
        if self.job.alias_email:
            self.assertIn(f"mailto:{self.job.alias_email}", mail.body_html)

    def test_skips_no_email_blacklisted_and_opted_out_with_reasons(self):
        wizard = self.jobs_by_email(self.anna | self.nomail | self.blocked | self.quiet)
        self.assertEqual((wizard.recipient_count, wizard.skipped_count), (1, 3))
        self.assertIn("No Mail: no email address", wizard.skipped_summary)
        self.assertIn("Bea Blocked: blacklisted", wizard.skipped_summary)
        self.assertIn("Quentin Quiet: opted out of bulk email", wizard.skipped_summary)
        action = wizard.action_send()
        self.assertIn("3 candidate(s) skipped", action["params"]["message"])
        self.assertEqual(self.env["mail.mail"].search([("job_id", "=", self.job.id)]).candidate_id, self.anna)

    def test_same_vacancy_not_sent_twice_within_the_interval_unless_forced(self):
        self.jobs_by_email(self.anna).action_send()
        again = self.jobs_by_email(self.anna | self.tom)
        self.assertEqual(again.recipient_count, 1)
        self.assertIn("Anna Kowalski: already sent this vacancy on", again.skipped_summary)
        forced = self.jobs_by_email(self.anna, force=True)
        self.assertEqual((forced.recipient_count, forced.skipped_count), (1, 0))
        with freeze_time(fields.Datetime.now() + timedelta(days=31)):
            later = self.jobs_by_email(self.anna)
            self.assertEqual(later.recipient_count, 1)

    def test_interval_is_a_setting(self):
        self.env["res.config.settings"].create({"recruitment_mail_job_email_interval_days": 7}).execute()
        self.jobs_by_email(self.anna).action_send()
        with freeze_time(fields.Datetime.now() + timedelta(days=8)):
            self.assertEqual(self.jobs_by_email(self.anna).recipient_count, 1)

    def test_matching_candidates_by_tag_and_department(self):
        department = self.env["hr.department"].create({"name": "Logistics"})
        self.job.department_id = department
        other_job = self.env["hr.job"].create({"name": "Forklift driver", "department_id": department.id})
        self.env["hr.applicant"].create({"candidate_id": self.tom.id, "job_id": other_job.id})
        wizard = self.jobs_by_email(self.env["hr.candidate"], candidate_source="matching")
        self.assertEqual(wizard.candidate_ids, self.anna | self.tom)

    def test_schedule_for_later(self):
        tomorrow = fields.Datetime.now() + timedelta(days=1)
        self.jobs_by_email(self.anna | self.tom, send_mode="later", scheduled_date=tomorrow).action_send()
        mails = self.env["mail.mail"].search([("job_id", "=", self.job.id)])
        self.assertEqual(set(mails.mapped("outbox_status")), {"scheduled"})
        self.run_cron()
        self.assertEqual(self.delivered_to(), [])
        with freeze_time(tomorrow + timedelta(minutes=1)):
            self.run_cron()
        self.assertEqual(len(self.delivered_to()), 2)

    def test_vacancy_form_offers_send_by_email(self):
        action = self.job.with_user(self.officer).action_jobs_by_email()
        self.assertEqual(action["res_model"], "recruitment.jobs.by.email")
        form = Form(self.env["recruitment.jobs.by.email"].with_user(self.officer).with_context(**action["context"]))
        self.assertEqual(form.job_id, self.job)
        self.assertEqual(form.template_id, self.env.ref("recruitment_mail.mail_template_new_vacancy"))


@tagged("post_install", "-at_install")
class TestBulkEmail(ScheduledCase):
    def composer(self, records, **values):
        return Form(
            self.env["mail.compose.message"]
            .with_user(self.officer)
            .with_context(
                default_composition_mode="mass_mail",
                default_model=records._name,
                active_model=records._name,
                active_ids=records.ids,
                default_res_ids=records.ids,
            )
        )

    def test_bulk_email_to_candidates_scheduled_for_tomorrow(self):
        tomorrow = fields.Datetime.now() + timedelta(days=1)
        candidates = self.anna | self.tom | self.nomail | self.blocked | self.quiet
        form = self.composer(candidates)
        form.subject = "Open day on Friday"
        form.body = "<p>Join us on Friday.</p>"
        form.send_later_date = tomorrow
        composer = form.save()
        action = composer.action_send_mail()
        message = action["params"]["message"]
        self.assertIn("2 email(s) scheduled", message)
        self.assertIn("3 skipped", message)
        self.assertIn("1 blacklisted", message)
        self.assertIn("1 opted out", message)
        self.assertIn("1 without an email address", message)

        mails = self.env["mail.mail"].search([("subject", "=", "Open day on Friday"), ("state", "!=", "cancel")])
        self.assertEqual(len(mails), 2)
        self.assertEqual(set(mails.mapped("outbox_status")), {"scheduled"})
        self.run_cron()
        self.assertEqual(self.delivered_to(), [], "nothing leaves before its time")
        with freeze_time(tomorrow + timedelta(minutes=1)):
            self.run_cron()
        self.assertEqual(sorted(self.delivered_to()), ["anna@example.com", "tom@example.com"])

    def test_bulk_email_to_contacts_one_per_recipient(self):
        partners = self.anna.partner_id | self.tom.partner_id
        form = self.composer(partners)
        form.subject = "Agency news"
        form.body = "<p>News</p>"
        form.save().action_send_mail()
        mails = self.env["mail.mail"].search([("subject", "=", "Agency news")])
        self.assertEqual(mails.recipient_ids, partners)
        self.assertEqual([len(mail.recipient_ids) for mail in mails], [1, 1])


@tagged("post_install", "-at_install")
class TestRescheduleInOutbox(ScheduledCase):
    def test_reschedule_many_and_send_now(self):
        later = fields.Datetime.now() + timedelta(days=2)
        mails = self.queue_mail(user=self.officer, scheduled_date=later) | self.queue_mail(
            user=self.officer, scheduled_date=later
        )
        new_date = fields.Datetime.now() + timedelta(days=5)
        action = mails.with_user(self.officer).action_reschedule()
        wizard = (
            self.env[action["res_model"]]
            .with_user(self.officer)
            .with_context(**action["context"])
            .create({"scheduled_date": new_date})
        )
        wizard.action_reschedule()
        self.assertEqual(set(mails.mapped("scheduled_date")), {new_date})
        self.assertEqual(set(mails.mapped("outbox_status")), {"scheduled"})

        mails[0].with_user(self.officer).action_send_now()
        self.assertEqual(mails[0].outbox_status, "queued")
        self.run_cron()
        self.assertEqual(len(self.delivered_to()), 1)
        self.assertEqual(mails[1].outbox_status, "scheduled")

    def test_failed_mail_cannot_be_rescheduled(self):
        failed = self.queue_mail(user=self.officer, email_to="x@@example.com")
        self.run_cron()
        wizard = (
            self.env["recruitment.mail.reschedule"]
            .with_user(self.officer)
            .with_context(active_model="mail.mail", active_ids=failed.ids)
            .create({"scheduled_date": fields.Datetime.now()})
        )
        with self.assertRaisesRegex(UserError, "resend failed emails instead"):
            wizard.action_reschedule()
