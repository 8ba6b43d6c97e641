# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html).
import shutil

from odoo import http
from odoo.tests import HttpCase, tagged

from odoo.addons.mail.tests.common import mail_new_test_user


class OutboxTourCase(HttpCase):
    """Data the tours click through: the administrator's failed, queued and
    sent email, a colleague's sent email, a candidate emailed about a vacancy."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Odoo skips browser tests silently without these; here that is a failure.
        import websocket  # noqa: F401  pylint: disable=unused-import,import-outside-toplevel

        assert shutil.which("chromium") or shutil.which("google-chrome") or shutil.which("chromium-browser"), (
            "Chromium is needed for the tours (Debian: apt-get install chromium)"
        )
        # Odoo reads every module's manifest (ast.literal_eval) on the first
        # request for a static file, in each request thread that comes before
        # it is cached, and the browser's first page asks for several at once.
        # CPython 3.11's ast module keeps one recursion-depth counter for all
        # threads (python/cpython#106905), so on a busy machine two threads
        # parsing at once failed with "AST constructor recursion depth
        # mismatch" and the page never loaded: read them once, here.
        assert "recruitment_mail" in http.root.statics
        cls.admin = cls.env.ref("base.user_admin")
        colleague = mail_new_test_user(
            cls.env, login="tour_colleague", name="Colin Colleague", groups="base.group_user"
        )
        Mail = cls.env["mail.mail"]

        def mail(subject, user, **values):
            return Mail.create(
                {
                    "subject": subject,
                    "email_from": "jobs@agency.example.com",
                    "email_to": "anna@example.com",
                    "author_id": user.partner_id.id,
                    "body_html": f"<p>{subject}</p>",
                    **values,
                }
            )

        mail(
            "Tour failed email",
            cls.admin,
            state="exception",
            failure_type="mail_email_invalid",
            failure_reason="Address syntax error: 'anna@@example.com'.",
        )
        mail(
            "Tour email to delete",
            cls.admin,
            state="exception",
            failure_type="mail_email_invalid",
            failure_reason="Address syntax error: 'x@@example.com'.",
        )
        mail("Tour queued email", cls.admin)
        mail("Tour sent by me", cls.admin, state="sent")
        mail("Tour sent by a colleague", colleague, state="sent")
        job = cls.env["hr.job"].create({"name": "Tour Vacancy Driver"})
        partner = cls.env["res.partner"].create({"name": "Anna Tour", "email": "anna.tour@example.com"})
        cls.candidate = cls.env["hr.candidate"].create({"partner_id": partner.id, "partner_name": "Anna Tour"})
        mail(
            "Tour vacancy email",
            cls.admin,
            state="sent",
            model="hr.job",
            res_id=job.id,
            email_to="anna.tour@example.com",
            body_html="<p>Dear Anna, the Tour vacancy is open.</p>",
        )

    def run_tours(self):
        self.start_tour("/odoo/outbox", "recruitment_mail_outbox_tour", login="admin")
        self.start_tour(
            f"/odoo/action-hr_recruitment.action_hr_candidate/{self.candidate.id}",
            "recruitment_mail_email_tab_tour",
            login="admin",
        )


@tagged("post_install", "-at_install")
class TestOutboxTours(OutboxTourCase):
    def test_outbox_sent_items_and_email_tab_in_the_browser(self):
        self.run_tours()


@tagged("post_install", "-at_install")
class TestOutboxToursOnAPhone(OutboxTourCase):
    browser_size = "375x667"
    touch_enabled = True

    def test_outbox_sent_items_and_email_tab_on_a_phone(self):
        self.start_tour("/odoo/outbox", "recruitment_mail_outbox_mobile_tour", login="admin")
        self.start_tour("/odoo/sent-items", "recruitment_mail_sent_items_mobile_tour", login="admin")
        self.start_tour(
            f"/odoo/action-hr_recruitment.action_hr_candidate/{self.candidate.id}",
            "recruitment_mail_email_tab_mobile_tour",
            login="admin",
        )
