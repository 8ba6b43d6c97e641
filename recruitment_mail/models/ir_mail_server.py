# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html).
import logging
import smtplib

from odoo import models, tools
from odoo.exceptions import UserError

from odoo.addons.base.models.ir_mail_server import MailDeliveryException

_logger = logging.getLogger(__name__)


def smtp_reply(exc):
    """'550 5.1.1 User unknown' from an smtplib exception carrying a reply."""
    text = exc.smtp_error
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{exc.smtp_code} {' '.join(str(text).split())}".strip()


def describe_error(exc):
    """A one-line, human description of a network or SMTP error."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or exc.__class__.__name__


class IrMailServer(models.Model):
    _inherit = "ir.mail_server"

    def connect(self, host=None, port=None, user=None, password=None, encryption=None,
                smtp_from=None, ssl_certificate=None, ssl_private_key=None, smtp_debug=False,
                mail_server_id=None, allow_archived=False):
        connection = self.env.context.get("recruitment_mail_connection")
        if connection is not None:
            connection["mail_server_id"] = self._server_to_use(mail_server_id, host, smtp_from).id
        try:
            return super().connect(
                host=host, port=port, user=user, password=password, encryption=encryption,
                smtp_from=smtp_from, ssl_certificate=ssl_certificate, ssl_private_key=ssl_private_key,
                smtp_debug=smtp_debug, mail_server_id=mail_server_id, allow_archived=allow_archived,
            )
        except Exception as exc:
            if not self.env.context.get("recruitment_mail_sending"):
                raise
            message = self._connection_failure_message(exc, mail_server_id, host, port, smtp_from)
            _logger.warning("Outbox: %s", message)
            raise UserError(message) from exc

    def _server_to_use(self, mail_server_id, host, smtp_from):
        """The ir.mail_server record connect() uses, if any (as it chooses it)."""
        if mail_server_id:
            return self.sudo().browse(mail_server_id)
        if host:
            return self.browse()
        return self.sudo()._find_mail_server(smtp_from)[0] or self.browse()

    def _connection_failure_message(self, exc, mail_server_id, host, port, smtp_from):
        """Name the server that could not be reached or refused the login, and
        say where to fix it."""
        server = self._server_to_use(mail_server_id, host, smtp_from)
        if server:
            name = server.name
            address = f"{server.smtp_host}:{server.smtp_port}"
        else:
            name = self.env._("configured in the server options")
            address = f"{host or tools.config.get('smtp_server')}:{port or tools.config.get('smtp_port')}"
        if isinstance(exc, smtplib.SMTPAuthenticationError):
            what = self.env._("refused the login: %(reply)s", reply=smtp_reply(exc))
        elif isinstance(exc, smtplib.SMTPResponseException):
            what = self.env._("answered with an error: %(reply)s", reply=smtp_reply(exc))
        elif isinstance(exc, UserError):
            what = self.env._("could not be used: %(error)s", error=exc.args[0])
        else:
            what = self.env._("could not be reached: %(error)s", error=describe_error(exc))
        return self.env._(
            'The outgoing mail server "%(name)s" (%(address)s) %(what)s. '
            "Check the SMTP settings of this server and use Test Connection.",
            name=name, address=address, what=what,
        )

    def send_email(self, message, mail_server_id=None, smtp_server=None, smtp_port=None,
                   smtp_user=None, smtp_password=None, smtp_encryption=None,
                   smtp_ssl_certificate=None, smtp_ssl_private_key=None,
                   smtp_debug=False, smtp_session=None):
        try:
            return super().send_email(
                message, mail_server_id=mail_server_id, smtp_server=smtp_server, smtp_port=smtp_port,
                smtp_user=smtp_user, smtp_password=smtp_password, smtp_encryption=smtp_encryption,
                smtp_ssl_certificate=smtp_ssl_certificate, smtp_ssl_private_key=smtp_ssl_private_key,
                smtp_debug=smtp_debug, smtp_session=smtp_session,
            )
        except MailDeliveryException as exc:
            cause = exc.__cause__ or exc.__context__
            explained = self._delivery_failure_message(cause) if cause else None
            if not explained:
                raise
            failure_type, text = explained
            report = self.env.context.get("recruitment_mail_report")
            if report is not None:
                report["failure_type"] = failure_type
                report["smtp_code"] = getattr(cause, "smtp_code", None)
            raise MailDeliveryException(text) from cause

    def _delivery_failure_message(self, exc):
        """(failure type, message) for the SMTP server's answer to one email:
        the server's own code and words, and which address it refused."""
        if isinstance(exc, smtplib.SMTPRecipientsRefused):
            refused = "; ".join(
                f"{address}: {smtp_reply(smtplib.SMTPResponseException(code, text))}"
                for address, (code, text) in exc.recipients.items()
            )
            return "mail_rejected", self.env._("The mail server refused the recipient %(refused)s", refused=refused)
        if isinstance(exc, smtplib.SMTPSenderRefused):
            return "mail_rejected", self.env._(
                "The mail server refused the sender %(sender)s: %(reply)s",
                sender=exc.sender, reply=smtp_reply(exc),
            )
        if isinstance(exc, smtplib.SMTPResponseException):
            return "mail_rejected", self.env._("The mail server rejected the email: %(reply)s", reply=smtp_reply(exc))
        if isinstance(exc, (OSError, smtplib.SMTPException)):
            return "mail_smtp", self.env._(
                "The connection to the mail server failed while sending: %(error)s. "
                "Check the SMTP settings if this happens again.",
                error=describe_error(exc),
            )
        return None
