# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html).
from odoo import fields, models


class HookProbe(models.Model):
    """One row each time a hook of another module ran for an email, as
    mail_tracking's tracking rows are."""

    _name = "recruitment.mail.hook.probe"
    _description = "Hook probe"

    mail_id = fields.Integer(index=True)
    hook = fields.Char()


class MailMail(models.Model):
    _inherit = "mail.mail"

    def _prepare_outgoing_list(self, mail_server=False, recipients_follower_status=None):
        self.env["recruitment.mail.hook.probe"].sudo().create({"mail_id": self.id, "hook": "build"})
        return super()._prepare_outgoing_list(
            mail_server=mail_server, recipients_follower_status=recipients_follower_status
        )

    def _send(
        self,
        auto_commit=False,
        raise_exception=False,
        smtp_session=None,
        alias_domain_id=False,
        mail_server=False,
        post_send_callback=None,
    ):
        self.env["recruitment.mail.hook.probe"].sudo().create(
            [{"mail_id": mail_id, "hook": "_send"} for mail_id in self.ids]
        )
        return super()._send(
            auto_commit=auto_commit,
            raise_exception=raise_exception,
            smtp_session=smtp_session,
            alias_domain_id=alias_domain_id,
            mail_server=mail_server,
            post_send_callback=post_send_callback,
        )
