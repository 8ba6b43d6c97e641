# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html).
"""SMTP replies and errors: their classification (permanent or temporary)
and their wording for the user. The wording is translated with the caller's
``env._``, so that the words come in the user's language; nothing else of the
environment is used (no database)."""

import dataclasses
import smtplib
import ssl

from odoo.addons.base.models.ir_mail_server import MailDeliveryException


@dataclasses.dataclass(frozen=True)
class DeliveryFailure:
    """Why the SMTP server did not take an email, as the Outbox records it."""

    failure_type: str  # mail.mail failure_type
    reason: str  # the server's words, for the user
    temporary: bool  # 4xx or a lost connection: tried again later


class ClassifiedDeliveryError(MailDeliveryException):
    """What ir.mail_server.send_email raises for an SMTP refusal, in the
    user's words (args[0], as stock's MailDeliveryException) with its
    classification (``failure``) for the queue."""

    def __init__(self, failure):
        super().__init__(failure.reason)
        self.failure = failure


def smtp_reply_text(code, text):
    """'550 5.1.1 User unknown' from a reply code and its text."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{code} {' '.join(str(text).split())}".strip()


def smtp_reply(exc):
    """'550 5.1.1 User unknown' from an smtplib exception carrying a reply."""
    return smtp_reply_text(exc.smtp_code, exc.smtp_error)


def describe_error(exc):
    """A one-line, human description of a network or SMTP error."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or exc.__class__.__name__


def refused_recipients(exc):
    """{address: (code, reply)} when ``exc`` (as send_email raises it) is the
    server refusing every recipient of a message, else None."""
    cause = exc if isinstance(exc, smtplib.SMTPRecipientsRefused) else (exc.__cause__ or exc.__context__)
    if isinstance(cause, smtplib.SMTPRecipientsRefused):
        return cause.recipients
    return None


def is_permanent_connection_error(exc):
    """A refused login (5xx) or a refused certificate: waiting will not mend it."""
    return isinstance(exc, ssl.SSLCertVerificationError) or (
        isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code >= 500
    )


def delivery_failure(exc, env):
    """The DeliveryFailure of the SMTP server's answer to one email: the
    server's own code and words, and which address it refused. 4xx replies
    and lost connections are temporary (tried again later); 5xx replies are
    permanent. None for an error that is not the server's answer."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        refused = "; ".join(
            f"{address}: {smtp_reply_text(code, text)}" for address, (code, text) in exc.recipients.items()
        )
        temporary = all(400 <= code < 500 for code, _text in exc.recipients.values())
        return DeliveryFailure(
            "mail_rejected", env._("The mail server refused the recipient %(refused)s", refused=refused), temporary
        )
    if isinstance(exc, smtplib.SMTPSenderRefused):
        reason = env._(
            "The mail server refused the sender %(sender)s: %(reply)s", sender=exc.sender, reply=smtp_reply(exc)
        )
        return DeliveryFailure("mail_rejected", reason, 400 <= exc.smtp_code < 500)
    if isinstance(exc, smtplib.SMTPResponseException):
        reason = env._("The mail server rejected the email: %(reply)s", reply=smtp_reply(exc))
        return DeliveryFailure("mail_rejected", reason, 400 <= exc.smtp_code < 500)
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        reason = env._(
            "The mail server does not accept this email: %(error)s. Addresses with non-ASCII "
            "characters before the @ need a server that supports SMTPUTF8.",
            error=describe_error(exc),
        )
        return DeliveryFailure("mail_email_invalid", reason, False)
    if isinstance(exc, (OSError, smtplib.SMTPException)):
        reason = env._(
            "The connection to the mail server failed while sending: %(error)s. "
            "Check the SMTP settings if this happens again.",
            error=describe_error(exc),
        )
        return DeliveryFailure("mail_smtp", reason, True)
    return None
