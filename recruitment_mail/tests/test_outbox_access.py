# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html).
from odoo.exceptions import AccessError
from odoo.tests import tagged

from odoo.addons.mail.tests.common import mail_new_test_user

from .common import OutboxCase


@tagged("post_install", "-at_install")
class TestOutboxAccess(OutboxCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.manager = mail_new_test_user(
            cls.env,
            login="manager_rm",
            name="Max Manager",
            groups="hr_recruitment.group_hr_recruitment_manager",
        )
        cls.portal = mail_new_test_user(cls.env, login="portal_rm", name="Paula Portal", groups="base.group_portal")

    def setUp(self):
        super().setUp()
        self.colleague_mail = self.queue_mail(user=self.colleague, email_to="bad@@example.com")
        self.own_mail = self.queue_mail(user=self.recruiter, email_to="bad2@@example.com")
        self.run_cron()

    def test_user_sees_and_resends_own_mail_only(self):
        visible = self.env["mail.mail"].with_user(self.recruiter).search([("outbox_status", "=", "failed")])
        self.assertIn(self.own_mail, visible)
        self.assertNotIn(self.colleague_mail, visible)
        self.own_mail.with_user(self.recruiter).action_resend()
        self.assertEqual(self.own_mail.outbox_status, "queued")

    def test_user_without_rights_cannot_resend_or_delete_others_mail(self):
        with self.assertRaises(AccessError):
            self.colleague_mail.with_user(self.recruiter).action_resend()
        with self.assertRaises(AccessError):
            self.colleague_mail.with_user(self.recruiter).action_delete()
        self.assertEqual(self.colleague_mail.outbox_status, "failed")

    def test_officer_sees_everyone_but_cannot_act_on_it(self):
        self.assertEqual(
            self.outbox(self.officer, "failed", "everyone") & (self.own_mail | self.colleague_mail),
            self.own_mail | self.colleague_mail,
        )
        with self.assertRaises(AccessError):
            self.colleague_mail.with_user(self.officer).action_resend()
        with self.assertRaises(AccessError):
            self.colleague_mail.with_user(self.officer).action_delete()

    def test_plain_user_is_not_offered_show_mail_from_everyone(self):
        with self.assertRaises(AssertionError):
            self.outbox(self.recruiter, "everyone")

    def test_manager_resends_and_deletes_anyones_mail(self):
        self.colleague_mail.with_user(self.manager).action_resend()
        self.assertEqual(self.colleague_mail.outbox_status, "queued")
        self.colleague_mail.with_user(self.manager).action_delete()
        self.assertFalse(self.colleague_mail.exists())

    def test_portal_user_sees_no_mail(self):
        with self.assertRaises(AccessError):
            self.env["mail.mail"].with_user(self.portal).search([])
        with self.assertRaises(AccessError):
            self.own_mail.with_user(self.portal).action_resend()


@tagged("post_install", "-at_install")
class TestMultiCompany(OutboxCase):
    def test_officer_sees_only_mail_of_allowed_companies(self):
        other_company = self.env["res.company"].create({"name": "Agency North"})
        officer = mail_new_test_user(
            self.env,
            login="officer_mc",
            name="Olga Officer",
            groups="hr_recruitment.group_hr_recruitment_user",
            company_id=self.env.company.id,
            company_ids=[(6, 0, self.env.company.ids)],
        )
        job_here = self.env["hr.job"].create({"name": "Here", "company_id": self.env.company.id})
        job_north = self.env["hr.job"].create({"name": "North", "company_id": other_company.id})
        here = self.queue_mail(
            user=self.colleague, model="hr.job", res_id=job_here.id, record_company_id=self.env.company.id
        )
        north = self.queue_mail(
            user=self.colleague, model="hr.job", res_id=job_north.id, record_company_id=other_company.id
        )
        visible = self.env["mail.mail"].with_user(officer).search([("id", "in", (here | north).ids)])
        self.assertEqual(visible, here)
        with self.assertRaises(AccessError):
            north.with_user(officer).read(["subject"])
