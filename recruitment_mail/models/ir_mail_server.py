# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html).
import logging
import smtplib
import ssl
from datetime import timedelta

from odoo import api, fields, models, tools
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

    max_per_minute = fields.Integer(
        "Emails per minute",
        help="The most this server accepts per minute (0: no limit). Email over "
        "the limit waits in the Outbox for the next minute; it counts no failed attempt.",
    )
    max_per_hour = fields.Integer("Emails per hour", help="The most this server accepts per hour (0: no limit).")

    # The queue works out the company's default sender and bounce addresses
    # once for a chunk of mails (mail.mail._build_outgoing) instead of once
    # per message: after each commit, reading them means reading the user
    # and the company again.
    @api.model
    def _get_default_bounce_address(self):
        defaults = self.env.context.get("recruitment_mail_defaults")
        if defaults is not None:
            return defaults["bounce"]
        return super()._get_default_bounce_address()

    @api.model
    def _get_default_from_address(self):
        defaults = self.env.context.get("recruitment_mail_defaults")
        if defaults is not None:
            return defaults["from"]
        return super()._get_default_from_address()

    def _sending_capacity(self, lane=1, lanes=1):
        """How many more emails this server may be handed now, or None when
        it has no limit. Counts every attempt handed to it, sent or not.
        With several sending lanes, each has its share of the limits and
        counts its own attempts (its mails: id mod lanes), so that together
        they stay within them."""
        self.ensure_one()
        if not self.max_per_minute and not self.max_per_hour:
            return None
        now = fields.Datetime.now()
        self.env["mail.mail"].flush_model(["smtp_server_id", "last_attempt_date"])
        left = []
        for limit, window in ((self.max_per_minute, timedelta(minutes=1)), (self.max_per_hour, timedelta(hours=1))):
            if limit:
                share = limit // lanes + (1 if lane <= limit % lanes else 0)
                self.env.cr.execute(
                    """SELECT count(*) FROM mail_mail
                        WHERE smtp_server_id = %(server)s AND last_attempt_date > %(since)s
                          AND (%(lanes)s = 1 OR mod(id, %(lanes)s) = %(lane)s - 1)""",
                    {"server": self.id, "since": now - window, "lane": lane, "lanes": lanes},
                )
                left.append(max(share - self.env.cr.fetchone()[0], 0))
        return min(left)

    def _limit_description(self):
        self.ensure_one()
        parts = []
        if self.max_per_minute:
            parts.append(self.env._("%(count)s per minute", count=self.max_per_minute))
        if self.max_per_hour:
            parts.append(self.env._("%(count)s per hour", count=self.max_per_hour))
        return self.env._("the sending limit of %(server)s (%(limits)s)", server=self.name, limits=", ".join(parts))

    def connect(
        self,
        host=None,
        port=None,
        user=None,
        password=None,
        encryption=None,
        smtp_from=None,
        ssl_certificate=None,
        ssl_private_key=None,
        smtp_debug=False,
        mail_server_id=None,
        allow_archived=False,
    ):
        connection = self.env.context.get("recruitment_mail_connection")
        if connection is not None:
            connection["mail_server_id"] = self._server_to_use(mail_server_id, host, smtp_from).id
        try:
            return super().connect(
                host=host,
                port=port,
                user=user,
                password=password,
                encryption=encryption,
                smtp_from=smtp_from,
                ssl_certificate=ssl_certificate,
                ssl_private_key=ssl_private_key,
                smtp_debug=smtp_debug,
                mail_server_id=mail_server_id,
                allow_archived=allow_archived,
            )
        except Exception as exc:
            if not self.env.context.get("recruitment_mail_sending"):
                raise
            message = self._connection_failure_message(exc, mail_server_id, host, port, smtp_from)
            _logger.warning("Outbox: %s", message)
            if connection is not None:
                # a refused login (5xx) or a refused certificate will not mend by waiting
                connection["permanent"] = isinstance(exc, ssl.SSLCertVerificationError) or (
                    isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code >= 500
                )
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
            name=name,
            address=address,
            what=what,
        )

    def send_email(
        self,
        message,
        mail_server_id=None,
        smtp_server=None,
        smtp_port=None,
        smtp_user=None,
        smtp_password=None,
        smtp_encryption=None,
        smtp_ssl_certificate=None,
        smtp_ssl_private_key=None,
        smtp_debug=False,
        smtp_session=None,
    ):
        try:
            return super().send_email(
                message,
                mail_server_id=mail_server_id,
                smtp_server=smtp_server,
                smtp_port=smtp_port,
                smtp_user=smtp_user,
                smtp_password=smtp_password,
                smtp_encryption=smtp_encryption,
                smtp_ssl_certificate=smtp_ssl_certificate,
                smtp_ssl_private_key=smtp_ssl_private_key,
                smtp_debug=smtp_debug,
                smtp_session=smtp_session,
            )
        except MailDeliveryException as exc:
            cause = exc.__cause__ or exc.__context__
            explained = self._delivery_failure_message(cause) if cause else None
            if not explained:
                raise
            failure_type, text, temporary = explained
            report = self.env.context.get("recruitment_mail_report")
            if report is not None:
                report.update(failure_type=failure_type, temporary=temporary)
            raise MailDeliveryException(text) from cause

    def _delivery_failure_message(self, exc):
        """(failure type, message, temporary) for the SMTP server's answer to
        one email: the server's own code and words, and which address it
        refused. 4xx replies and lost connections are temporary (try again
        later); 5xx replies are permanent."""
        if isinstance(exc, smtplib.SMTPRecipientsRefused):
            refused = "; ".join(
                f"{address}: {smtp_reply(smtplib.SMTPResponseException(code, text))}"
                for address, (code, text) in exc.recipients.items()
            )
            temporary = all(400 <= code < 500 for code, _text in exc.recipients.values())
            return (
                "mail_rejected",
                self.env._("The mail server refused the recipient %(refused)s", refused=refused),
                temporary,
            )
        if isinstance(exc, smtplib.SMTPSenderRefused):
            return (
                "mail_rejected",
                self.env._(
                    "The mail server refused the sender %(sender)s: %(reply)s",
                    sender=exc.sender,
                    reply=smtp_reply(exc),
                ),
                400 <= exc.smtp_code < 500,
            )
        if isinstance(exc, smtplib.SMTPResponseException):
            return (
                "mail_rejected",
                self.env._("The mail server rejected the email: %(reply)s", reply=smtp_reply(exc)),
                400 <= exc.smtp_code < 500,
            )
        if isinstance(exc, smtplib.SMTPNotSupportedError):
            return (
                "mail_email_invalid",
                self.env._(
                    "The mail server does not accept this email: %(error)s. Addresses with non-ASCII "
                    "characters before the @ need a server that supports SMTPUTF8.",
                    error=describe_error(exc),
                ),
                False,
            )
        if isinstance(exc, (OSError, smtplib.SMTPException)):
            return (
                "mail_smtp",
                self.env._(
                    "The connection to the mail server failed while sending: %(error)s. "
                    "Check the SMTP settings if this happens again.",
                    error=describe_error(exc),
                ),
                True,
            )
        return None
