# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html).
import smtplib
from contextlib import ExitStack, contextmanager
from unittest.mock import patch

from lxml import etree

from odoo.osv import expression
from odoo.tests import TransactionCase
from odoo.tools.safe_eval import safe_eval

from odoo.addons.base.tests.common import MockSmtplibCase
from odoo.addons.mail.tests.common import mail_new_test_user


class OutboxCase(TransactionCase, MockSmtplibCase):
    """Helpers that make Outbox tests read like what a recruiter does: queue
    email, let the cron run, look at the Outbox, press Resend or Delete.

    SMTP is mocked at the smtplib level (these are unit tests); delivery to a
    real SMTP server is proven by the system tests in the repository's tests/.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        cls.mail_server = cls.env["ir.mail_server"].create(
            {
                "name": "Agency SMTP",
                "smtp_host": "smtp.agency.example.com",
                "smtp_port": 587,
                "sequence": 1,
            }
        )
        cls.recruiter = mail_new_test_user(
            cls.env,
            login="recruiter_rm",
            name="Rita Recruiter",
            email="rita@agency.example.com",
            groups="base.group_user",
        )
        cls.colleague = mail_new_test_user(
            cls.env,
            login="colleague_rm",
            name="Colin Colleague",
            email="colin@agency.example.com",
            groups="base.group_user",
        )
        cls.officer = mail_new_test_user(
            cls.env,
            login="officer_rm",
            name="Olga Officer",
            email="olga@agency.example.com",
            groups="hr_recruitment.group_hr_recruitment_user",
        )
        cls.cron = cls.env.ref("mail.ir_cron_mail_scheduler_action")

    # -- creating email -------------------------------------------------

    def queue_mail(self, user=None, **values):
        """Queue an email as ``user`` wrote it (mail.mail is created with sudo
        by Odoo's own composer and chatter)."""
        user = user or self.recruiter
        vals = {
            "subject": "Interview on Tuesday",
            "body_html": "<p>Dear candidate, see you on Tuesday.</p>",
            "email_from": "Agency <jobs@agency.example.com>",
            "email_to": "anna@example.com",
            "author_id": user.partner_id.id,
        }
        vals.update(values)
        return self.env["mail.mail"].with_user(user).sudo().create(vals).with_user(user).sudo(False)

    # -- the cron ----------------------------------------------------------

    @contextmanager
    def smtp(self, refuse=None, send_error=None, connect_error=None, login_error=None):
        """A mocked SMTP server: records what it is handed, or answers like a
        real server would (refused recipients, dropped connection, ...)."""
        refuse = refuse or {}
        with self.mock_smtplib_connection(), ExitStack() as stack:
            session = self.testing_smtp_session
            record = session.send_message

            def send_message(message, smtp_from, smtp_to_list):
                # as smtplib: raises when every recipient is refused, else
                # sends to the others and returns the refused ones
                refused = {addr: refuse[addr] for addr in smtp_to_list if addr in refuse}
                if refused and len(refused) == len(smtp_to_list):
                    raise smtplib.SMTPRecipientsRefused(refused)
                if send_error:
                    raise send_error
                record(message, smtp_from, [addr for addr in smtp_to_list if addr not in refused])
                return refused

            stack.enter_context(patch.object(session, "send_message", side_effect=send_message))
            if connect_error:
                stack.enter_context(patch("smtplib.SMTP", side_effect=connect_error))
            if login_error:
                stack.enter_context(patch.object(session, "login", side_effect=login_error))
            yield

    def run_cron(self, **smtp_kwargs):
        """What Odoo's cron does every minute."""
        with self.smtp(**smtp_kwargs):
            self.env["mail.mail"].process_email_queue()
        self.env.invalidate_all()

    def delivered_to(self):
        """Every address the SMTP server accepted a message for."""
        return [addr for email in self.emails for addr in email["smtp_to_list"]]

    # -- what the user sees ------------------------------------------------

    def outbox(self, user, *filters):
        """The Outbox as ``user`` sees it, with search filters switched on by name."""
        action = self.env.ref("recruitment_mail.mail_mail_action_outbox")
        return self._action_records(action, user, filters)

    def sent_items(self, user, *filters):
        action = self.env.ref("recruitment_mail.mail_mail_action_sent")
        return self._action_records(action, user, filters)

    def _action_records(self, action, user, filters):
        """Search as the web client does: the action's domain, and the chosen
        filters OR-ed within a group of the search view and AND-ed across."""
        env = self.env(user=user)
        domain = safe_eval(action.domain or "[]", {"uid": user.id})
        groups = {}
        for name in filters:
            group, filter_domain = self.filter_domain(action, name, user)
            groups.setdefault(group, []).append(filter_domain)
        for group_domains in groups.values():
            domain = expression.AND([domain, expression.OR(group_domains)])
        return env["mail.mail"].search(domain)

    def filter_domain(self, action, name, user):
        """(group number, domain) of the search view's filter ``name``."""
        arch = (
            self.env["mail.mail"]
            .with_user(user)
            .get_views([(action.search_view_id.id, "search")])["views"]["search"]["arch"]
        )
        group = 0
        for node in etree.fromstring(arch):
            if node.tag == "separator":
                group += 1
            elif node.tag == "filter" and node.get("name") == name:
                return group, safe_eval(node.get("domain"), {"uid": user.id})
        self.fail(f"the search view offers no filter {name!r} to {user.login}")
