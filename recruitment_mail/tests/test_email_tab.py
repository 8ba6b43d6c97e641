# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html).
from unittest.mock import patch

from odoo.tests import Form, tagged

from ..hooks import backfill
from .common import OutboxCase


@tagged("post_install", "-at_install")
class TestEmailTab(OutboxCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.client = cls.env["res.partner"].create({"name": "Northwind Logistics", "is_company": True})
        cls.client_contact = cls.env["res.partner"].create(
            {"name": "Priya Shah", "email": "priya.shah@northwind.example.com", "parent_id": cls.client.id}
        )
        cls.anna_partner = cls.env["res.partner"].create({"name": "Anna Kowalski", "email": "anna.k@example.com"})
        cls.anna = cls.env["hr.candidate"].create({"partner_id": cls.anna_partner.id, "partner_name": "Anna Kowalski"})
        cls.job = cls.env["hr.job"].create({"name": "Warehouse Team Leader"})

    def post(self, record, partners, body="<p>Hello</p>", user=None):
        """Send an email from a record's chatter, as a recruiter does."""
        with self.smtp():
            record.with_user(user or self.officer).message_post(
                body=body,
                subject=f"About {record.display_name}",
                partner_ids=partners.ids,
                message_type="comment",
                subtype_xmlid="mail.mt_comment",
            )
            self.env["mail.mail"].process_email_queue()
        self.env.invalidate_all()
        return self.env["mail.mail"].search([("model", "=", record._name), ("res_id", "=", record.id)])

    def test_vacancy_email_appears_in_candidate_and_contact_tabs_with_vacancy_icon(self):
        mail = self.post(self.job, self.anna_partner)
        self.assertEqual(mail.recipient_ids, self.anna_partner, "who receives it is unchanged")
        self.assertEqual(mail.job_id, self.job)
        self.assertFalse(mail.placement_id)
        self.assertIn(mail, self.anna.with_user(self.officer).contact_mail_ids)
        self.assertIn(mail, self.anna_partner.with_user(self.officer).contact_mail_ids)
        self.assertEqual(self.anna.with_user(self.officer).contact_mail_count, 1)
        action = mail.with_user(self.officer).action_open_vacancy()
        self.assertEqual((action["res_model"], action["res_id"]), ("hr.job", self.job.id))
        self.assertIn(mail, self.job.with_user(self.officer).contact_mail_ids)

    def test_hired_application_email_carries_the_placement_icon(self):
        applicant = self.env["hr.applicant"].create({"candidate_id": self.anna.id, "job_id": self.job.id})
        hired_stage = self.env["hr.recruitment.stage"].search([("hired_stage", "=", True)], limit=1)
        applicant.stage_id = hired_stage
        self.assertEqual(applicant.application_status, "hired")
        mail = self.post(applicant, self.anna_partner)
        self.assertEqual(mail.placement_id, applicant)
        self.assertEqual(mail.job_id, self.job)
        self.assertEqual(mail.candidate_id, self.anna)
        action = mail.with_user(self.officer).action_open_placement()
        self.assertEqual((action["res_model"], action["res_id"]), ("hr.applicant", applicant.id))
        self.assertIn(mail, applicant.with_user(self.officer).contact_mail_ids)
        self.assertIn(mail, self.anna.with_user(self.officer).contact_mail_ids)

    def test_ongoing_application_is_not_a_placement(self):
        applicant = self.env["hr.applicant"].create({"candidate_id": self.anna.id, "job_id": self.job.id})
        mail = self.post(applicant, self.anna_partner)
        self.assertEqual(mail.applicant_id, applicant)
        self.assertFalse(mail.placement_id)

    def test_raw_to_address_of_a_known_contact_is_found_by_address(self):
        mail = self.queue_mail(user=self.officer, email_to='"Priya" <Priya.Shah@Northwind.example.com>')
        self.assertEqual(mail.contact_ids, self.client_contact)
        self.assertFalse(mail.recipient_ids, "matching by address adds no recipient")
        self.run_cron()
        self.assertEqual(self.delivered_to(), ["priya.shah@northwind.example.com"])
        self.assertIn(mail, self.client_contact.with_user(self.officer).contact_mail_ids)

    def test_company_tab_lists_email_sent_to_its_contacts(self):
        mail = self.queue_mail(user=self.officer, email_to="priya.shah@northwind.example.com")
        self.assertIn(mail, self.client.with_user(self.officer).contact_mail_ids)

    def test_tab_and_its_button_list_the_same_email(self):
        """The tab reads the emails its own way (_contact_mail_query); it
        must find what the smart button's domain finds, for every user."""
        second = self.env["res.partner"].create(
            {"name": "Omar Haddad", "email": "omar@northwind.example.com", "parent_id": self.client.id}
        )
        gone = self.env["res.partner"].create(
            {"name": "Gus Gone", "email": "gus@northwind.example.com", "parent_id": self.client.id}
        )
        omar = self.env["hr.candidate"].create({"partner_id": second.id, "partner_name": "Omar Haddad"})
        both = self.queue_mail(
            user=self.officer, email_to="priya.shah@northwind.example.com, omar@northwind.example.com"
        )
        self.queue_mail(user=self.colleague, email_to="omar@northwind.example.com")
        self.queue_mail(user=self.recruiter, email_to="gus@northwind.example.com")
        self.queue_mail(user=self.recruiter, email_to="northwind@example.com", recipient_ids=[(6, 0, self.client.ids)])
        self.queue_mail(user=self.recruiter, email_to="omar.private@example.com", candidate_id=omar.id)
        self.queue_mail(user=self.recruiter, email_to="someone@example.com")
        gone.active = False
        self.assertEqual(both.contact_ids, self.client_contact | second)
        everyone = (self.officer, self.recruiter, self.colleague)
        for record, users, officer_sees in ((self.client, everyone, 3), (omar, [self.officer], 2)):
            for user in users:  # only recruitment officers may open a candidate
                self.env.invalidate_all()
                mine = record.with_user(user)
                expected = self.button_list(mine)
                self.assertEqual(mine.contact_mail_ids, expected, f"{record.display_name}, {user.name}")
                self.assertEqual(mine.contact_mail_count, len(expected), f"{record.display_name}, {user.name}")
            self.assertEqual(record.with_user(self.officer).contact_mail_count, officer_sees, record.display_name)
            # more than a tabful: the tab shows the newest, the count is counted
            self.env.invalidate_all()
            with patch.object(type(record), "_contact_mail_tab_limit", 2):
                mine = record.with_user(self.officer)
                self.assertEqual(mine.contact_mail_ids.ids, sorted(mine.contact_mail_ids.ids, reverse=True))
                self.assertEqual(len(mine.contact_mail_ids), 2)
                self.assertEqual(mine.contact_mail_count, officer_sees)

    def button_list(self, record, filters=True):
        """The emails the Emails button lists, as the web client opens it: the
        action's domain and, with ``filters``, its default search facets."""
        action = record.action_open_contact_mail()
        domain = list(action["domain"])
        if filters:
            for key, value in action.get("context", {}).items():
                if key.startswith("search_default_"):
                    domain.append((key.removeprefix("search_default_"), "=", value))
        return self.env["mail.mail"].with_user(record.env.user).search(domain)

    def test_candidate_tab_lists_email_sent_to_the_candidate_not_about_them(self):
        """Seed: "an itemised list of all the Emails sent to the contact". A
        recruiter's "assigned to you" note and an email to a client about the
        candidate are about the candidate, not sent to them: they are in the
        list the Emails button opens once its "Contact" filter is removed."""
        to_anna = self.queue_mail(user=self.officer, email_to="anna.k@example.com", candidate_id=self.anna.id)
        to_client = self.queue_mail(
            user=self.officer, email_to="priya.shah@northwind.example.com", candidate_id=self.anna.id
        )
        to_recruiter = self.queue_mail(
            user=self.officer, recipient_ids=[(6, 0, self.recruiter.partner_id.ids)], candidate_id=self.anna.id
        )
        anna = self.anna.with_user(self.officer)
        self.assertEqual(anna.contact_mail_ids, to_anna)
        self.assertEqual(anna.contact_mail_count, 1)
        self.assertEqual(self.button_list(anna), to_anna)
        self.assertEqual(self.button_list(anna, filters=False), to_anna | to_client | to_recruiter)
        self.assertEqual(
            self.outbox(self.officer, "everyone", "about_candidate") & (to_client | to_recruiter),
            to_client | to_recruiter,
        )
        self.assertIn(to_client, self.client.with_user(self.officer).contact_mail_ids)
        self.assertNotIn(to_recruiter, anna.contact_mail_ids)

    def test_tab_shows_only_what_the_user_may_see(self):
        mail = self.queue_mail(user=self.colleague, email_to="anna.k@example.com")
        self.assertIn(mail, self.anna_partner.with_user(self.officer).contact_mail_ids)
        self.assertNotIn(mail, self.anna_partner.with_user(self.recruiter).contact_mail_ids)
        own = self.queue_mail(user=self.recruiter, email_to="anna.k@example.com")
        self.env.invalidate_all()  # a new request
        self.assertEqual(self.anna_partner.with_user(self.recruiter).contact_mail_ids, own)

    def test_candidate_form_shows_the_email_tab(self):
        self.queue_mail(user=self.officer, email_to="anna.k@example.com", subject="Shortlisted")
        form = Form(self.anna.with_user(self.officer))
        self.assertEqual(len(form.contact_mail_ids), 1)
        self.assertEqual(form.contact_mail_ids[0].subject, "Shortlisted")
        self.assertEqual(form.contact_mail_count_label, "1", "the Emails button")
        action = self.anna.with_user(self.officer).action_open_contact_mail()
        self.assertEqual(self.env["mail.mail"].with_user(self.officer).search(action["domain"]).subject, "Shortlisted")

    def test_vacancy_and_placement_filters(self):
        about_job = self.post(self.job, self.anna_partner)
        plain = self.queue_mail(user=self.officer, email_to="someone@example.com")
        self.run_cron()
        sent = self.sent_items(self.officer, "my_mail", "about_vacancy")
        self.assertIn(about_job, sent)
        self.assertNotIn(plain, sent)
        self.assertFalse(self.sent_items(self.officer, "my_mail", "about_placement") & (about_job | plain))

    def test_backfill_links_email_that_existed_before_the_install(self):
        mail = self.post(self.job, self.anna_partner)
        raw = self.queue_mail(user=self.officer, email_to="priya.shah@northwind.example.com")
        self.env.flush_all()
        self.env.cr.execute(
            """UPDATE mail_mail SET job_id = NULL, candidate_id = NULL, outbox_status = NULL,
                      mail_user_id = NULL, date_sent = NULL WHERE id IN %s""",
            (tuple((mail | raw).ids),),
        )
        self.env.cr.execute("DELETE FROM mail_mail_contact_rel WHERE mail_id IN %s", (tuple((mail | raw).ids),))
        self.env.invalidate_all()
        self.assertFalse(mail.job_id)

        backfill(self.env, batch_size=1)
        self.assertEqual(mail.job_id, self.job)
        self.assertEqual(mail.contact_ids, self.anna_partner)
        self.assertEqual(mail.outbox_status, "sent")
        self.assertEqual(mail.mail_user_id, self.officer)
        self.assertTrue(mail.date_sent)
        self.assertEqual(raw.contact_ids, self.client_contact)
        self.assertEqual(raw.outbox_status, "queued")

    def test_vacancy_given_at_creation_is_kept(self):
        """Jobs by Email creates its emails with the vacancy already set."""
        other_job = self.env["hr.job"].create({"name": "Night Care Nurse"})
        mail = self.queue_mail(user=self.officer, model="hr.job", res_id=self.job.id, job_id=other_job.id)
        self.assertEqual(mail.job_id, other_job)


@tagged("post_install", "-at_install")
class TestEmailCount(OutboxCase):
    def test_the_button_counts_up_to_its_limit_then_says_more(self):
        contact = self.env["res.partner"].create({"name": "Busy Client", "email": "busy@client.example.com"})
        for n in range(5):
            self.queue_mail(email_to="busy@client.example.com", subject=f"Shortlist {n}")
        self.env.invalidate_all()
        self.assertEqual((contact.contact_mail_count, contact.contact_mail_count_label), (5, "5"))
        with (
            patch.object(type(contact), "_contact_mail_tab_limit", 2),
            patch.object(type(contact), "_contact_mail_count_limit", 3),
        ):
            self.env.invalidate_all()
            self.assertEqual(len(contact.contact_mail_ids), 2, "the tab shows the newest")
            self.assertEqual((contact.contact_mail_count, contact.contact_mail_count_label), (3, "3+"))
        with patch.object(type(contact), "_contact_mail_count_limit", 5):
            self.env.invalidate_all()
            self.assertEqual(contact.contact_mail_count_label, "5", "exactly the limit is not more")
