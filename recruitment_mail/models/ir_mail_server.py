# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html).
import base64
import contextvars
import functools
import ipaddress
import logging
import os
import smtplib
import ssl
import tempfile
from datetime import timedelta

from odoo import api, fields, models, tools
from odoo.exceptions import UserError, ValidationError
from odoo.tools.translate import LazyTranslate

from odoo.addons.base.models import ir_mail_server as base_ir_mail_server
from odoo.addons.base.models.ir_mail_server import MailDeliveryException

from ..tools.delivery import FailedConnection
from ..tools.smtp_errors import (
    ClassifiedDeliveryError,
    delivery_failure,
    describe_error,
    is_permanent_connection_error,
    smtp_reply,
)
from ..tools.smtp_senders import SESSION_POOL, PooledSession

_logger = logging.getLogger(__name__)

MAX_CONNECTIONS = 16  # connections one queue run opens to one server, at most
_lt = LazyTranslate(__name__)

# --- Verifying the server's certificate ---------------------------------------
# Stock Odoo 18 opens SMTP over SSL/TLS and STARTTLS with smtplib's default
# context, which checks no certificate. IrMailServer.connect() below sets
# _TLS_CONTEXT for the duration of stock's connect(); the SMTP connection class
# of stock's module then asks it for the context to use (VerifyingSMTPConnection),
# so that stock's connect() itself stays untouched. Unset (any other caller,
# any database without the add-on), the connection behaves exactly as stock's.
_TLS_CONTEXT = contextvars.ContextVar("recruitment_mail_tls_context", default=None)


def is_loopback_host(host):
    """Whether ``host`` is this machine: localhost, 127.0.0.0/8, ::1."""
    host = (host or "").strip().strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def default_tls_context():
    """A context that verifies the server's certificate chain against the
    system's authorities and its host name (tests add their own authority)."""
    return ssl.create_default_context()


def verifying_tls_context(certificate=None, private_key=None):
    """The verifying context, with the client certificate of a server that
    authenticates with one (stock's "SSL certificate" authentication)."""
    context = default_tls_context()
    if certificate and private_key:
        # ssl loads a certificate chain from files only; the directory is the
        # process owner's alone and is gone once they are loaded.
        with tempfile.TemporaryDirectory() as directory:
            paths = []
            for name, data in (("certificate.pem", certificate), ("key.pem", private_key)):
                path = os.path.join(directory, name)
                with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as file:
                    file.write(data)
                paths.append(path)
            context.load_cert_chain(*paths)
    return context


class VerifyingSMTPConnection(base_ir_mail_server.SMTPConnection):
    """Stock's SMTP connection, given a verifying TLS context while
    recruitment_mail connects to a server that asks for one."""

    def __init__(self, server, port, encryption, context=None):
        make_context = _TLS_CONTEXT.get()
        if make_context and encryption == "ssl":
            context = make_context() or context
        super().__init__(server, port, encryption, context=context)

    def starttls(self, *args, **kwargs):
        make_context = _TLS_CONTEXT.get()
        if make_context:
            kwargs["context"] = make_context() or kwargs.get("context")
        return self.__obj__.starttls(*args, **kwargs)


if not issubclass(base_ir_mail_server.SMTPConnection, VerifyingSMTPConnection):
    base_ir_mail_server.SMTPConnection = VerifyingSMTPConnection

CERTIFICATE_PROBLEMS = {
    # OpenSSL's X509_V_ERR_* codes, as ssl.SSLCertVerificationError.verify_code
    9: _lt("it is not valid yet"),
    10: _lt("it has expired"),
    18: _lt("it is self-signed"),
    19: _lt("it is signed by a self-signed certificate that is not trusted"),
    20: _lt("it is signed by an authority that is not trusted"),
    21: _lt("it is signed by an authority that is not trusted"),
    23: _lt("it has been revoked"),
    62: _lt("it was issued for another host name"),
    64: _lt("it was issued for another host name"),  # an IP address, as smtp_host
}


class IrMailServer(models.Model):
    _inherit = "ir.mail_server"

    max_per_minute = fields.Integer(
        "Emails per minute",
        help="The most this server accepts per minute (0: no limit). Email over "
        "the limit waits in the Outbox for the next minute; it counts no failed attempt.",
    )
    max_per_hour = fields.Integer("Emails per hour", help="The most this server accepts per hour (0: no limit).")
    smtp_connections = fields.Integer(
        "Connections",
        default=1,
        help="How many SMTP connections one run of the email queue opens to this server at once. "
        "A provider far away answers every command after a network round trip: several connections "
        "send side by side. Stay within what the provider allows (often 2 to 10).",
    )
    smtp_verify_certificate = fields.Boolean(
        "Verify the server's certificate",
        compute="_compute_smtp_verify_certificate",
        store=True,
        readonly=False,
        precompute=True,
        help="With SSL/TLS or STARTTLS, send only once the server has shown a valid certificate, "
        "signed by a recognised authority and issued for its host name. On for a new server, "
        "off for one on this machine (localhost) and for servers that existed before "
        "Recruitment Mail was installed; set again when the host changes.",
    )

    @api.depends("smtp_host")
    def _compute_smtp_verify_certificate(self):
        for server in self:
            server.smtp_verify_certificate = not is_loopback_host(server.smtp_host)

    @api.constrains("smtp_connections")
    def _check_smtp_connections(self):
        for server in self:
            if not 1 <= server.smtp_connections <= MAX_CONNECTIONS:
                raise ValidationError(self.env._("Connections: from 1 to %(max)s.", max=MAX_CONNECTIONS))

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
        # mail.mail.send(): the session of an earlier batch to the same server,
        # kept open (tools/smtp_senders.py)
        pool = SESSION_POOL.get() if not host and self.env.context.get("recruitment_mail_sending") else None
        if pool is not None:
            session = self._pooled_session(pool, mail_server_id, smtp_from)
            if session is not None:
                return session
        tls = _TLS_CONTEXT.set(functools.partial(self._tls_context_for, mail_server_id, host, smtp_from))
        try:
            connection = super().connect(
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
            return PooledSession(connection, pool) if pool is not None and connection is not None else connection
        except Exception as exc:
            if not self.env.context.get("recruitment_mail_sending"):
                raise
            # mail.mail.send(): the failure is handed to _send, which records
            # it on the mails of this session (mail.mail._fail_connection)
            message = self._connection_failure_message(exc, mail_server_id, host, port, smtp_from)
            _logger.warning("Outbox: %s", message)
            return FailedConnection(
                error=UserError(message),
                message=message,
                mail_server_id=self._server_to_use(mail_server_id, host, smtp_from).id or None,
                permanent=is_permanent_connection_error(exc),
            )
        finally:
            _TLS_CONTEXT.reset(tls)

    # mail.mail's sending works out the company's defaults once for the mails
    # it builds (_build_messages) and gives them to send_email in the context
    # as stock's _send gives an alias domain's; where the company has none, it
    # says so, that send_email need not look again for each message (a read
    # of the user and company after each commit).
    @api.model
    def _get_default_bounce_address(self):
        if self.env.context.get("recruitment_mail_no_bounce_address"):
            return None
        return super()._get_default_bounce_address()

    @api.model
    def _get_default_from_address(self):
        if self.env.context.get("recruitment_mail_no_default_from"):
            return None
        return super()._get_default_from_address()

    def _pooled_session(self, pool, mail_server_id, smtp_from):
        """A session of this send() to the server connect() would open for
        (mail_server_id, smtp_from): the first of the run still sending to
        it, else an idle one; set up as stock's connect() sets up a new one
        (smtp_from and from_filter). None when there is none."""
        if not pool.runs and not any(pool.idle.values()):
            return None  # the send()'s first connection: stock's connect() finds the server
        if mail_server_id:
            mail_server = self.sudo().browse(mail_server_id)
            if not mail_server.active:
                return None  # stock's connect() says why
        else:
            mail_server, smtp_from = self.sudo()._find_mail_server(smtp_from)
            mail_server = mail_server or self.browse()  # None: the server of Odoo's configuration file
        key = mail_server.id or None
        run = pool.runs.get(key)
        if run is not None and run.usable():
            connection = run.connections[0]  # its senders go on with the mails of the batch before
        else:
            sessions = pool.take(key, 1)
            if not sessions:
                return None
            connection = sessions[0]
        connection.from_filter = mail_server.from_filter if mail_server else self._get_default_from_filter()
        connection.smtp_from = smtp_from
        return PooledSession(connection, pool)

    def _tls_context_for(self, mail_server_id, host, smtp_from):
        """The TLS context of the connection connect() is opening: a verifying
        one when its mail server asks for it, else None (stock's)."""
        server = self._server_to_use(mail_server_id, host, smtp_from)
        if not server or not server.smtp_verify_certificate or server.smtp_authentication == "cli":
            return None
        certificate = private_key = None
        if server.smtp_authentication == "certificate":
            certificate = base64.b64decode(server.smtp_ssl_certificate or b"")
            private_key = base64.b64decode(server.smtp_ssl_private_key or b"")
        return verifying_tls_context(certificate, private_key)

    def test_smtp_connection(self, autodetect_max_email_size=False):
        try:
            return super().test_smtp_connection(autodetect_max_email_size=autodetect_max_email_size)
        except UserError as exc:
            cause = exc.__cause__
            if isinstance(cause, ssl.SSLCertVerificationError):
                server = self[:1] if len(self) == 1 else self.browse()
                raise UserError(self._certificate_failure_message(cause, server)) from cause
            raise

    def _certificate_failure_message(self, exc, server):
        """Why the server's certificate was refused, in plain words, and what to do."""
        problem = CERTIFICATE_PROBLEMS.get(getattr(exc, "verify_code", None))
        detail = (getattr(exc, "verify_message", None) or describe_error(exc)).rstrip(".")
        return self.env._(
            'The outgoing mail server "%(name)s" (%(address)s) presented a certificate that cannot be '
            "trusted: %(problem)s (%(detail)s). Install a certificate from a recognised authority on the "
            'mail server or, if you trust this server and the network to it, untick "Verify the '
            "server's certificate\" on it.",
            name=server.name or self.env._("configured in the server options"),
            address=f"{server.smtp_host}:{server.smtp_port}" if server else "",
            problem=str(problem) if problem else self.env._("it could not be verified"),
            detail=detail,
        )

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
        if isinstance(exc, ssl.SSLCertVerificationError):
            return self._certificate_failure_message(exc, server)
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
            failure = delivery_failure(cause, self.env) if cause else None
            if not failure:
                raise
            raise ClassifiedDeliveryError(failure) from cause

    def _prepare_email_message(self, message, smtp_session):
        try:
            return super()._prepare_email_message(message, smtp_session)
        except Exception as exc:
            if hasattr(smtp_session, "handed"):  # the queue's RecordingSession (mail_mail.py)
                smtp_session.error = exc
            raise

    def _delivery_exception(self, cause):
        """What send_email raises when ``cause`` goes wrong inside it, for the
        queue (mail.mail._hand_over) when another module's send_email
        (mail_tracking's) swallowed it and returned False."""
        if isinstance(cause, (AssertionError, smtplib.SMTPServerDisconnected)):
            return cause  # stock raises them as they are
        failure = delivery_failure(cause, self.env)
        if failure:
            error = ClassifiedDeliveryError(failure)
        else:
            error = MailDeliveryException(self.env._("Mail Delivery Failed"), tools.exception_to_unicode(cause))
        error.__cause__ = cause
        return error
