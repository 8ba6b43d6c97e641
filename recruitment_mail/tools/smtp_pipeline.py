# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html).
"""Several emails through one SMTP connection in few round trips (RFC 2920
PIPELINING), on top of :class:`smtplib.SMTP`. Standard library only: no Odoo.

    smtp = smtplib.SMTP(host, port)          # connected; EHLO, STARTTLS, AUTH done
    envelopes = [envelope_for(smtp, msg, key=mail_id) for mail_id, msg in ...]
    for outcome in send_envelopes(smtp, envelopes):
        ...  # outcome.key, .accepted, .refused, .error, .in_doubt

Each :class:`Outcome` says what ``smtp.sendmail()`` would have returned or
raised for that envelope alone. With PIPELINING, an envelope's MAIL FROM, its
RCPT TOs and DATA go in one write; its message, once the server answered DATA
with 354, goes in one write together with the next envelope's MAIL, RCPT and
DATA. A lone email costs two round trips, each further one about one (plain
``sendmail`` costs four: MAIL, RCPT, DATA, end of data). Message data is only
ever written after a 354 for it, so a refused DATA never makes the server read
message lines as commands. Without PIPELINING the envelopes go one command at
a time, with the same outcomes.

One ``smtplib.SMTP`` object belongs to one thread at a time, as with smtplib.
Odoo's ``ir.mail_server.connect()`` returns a wrapper (``SMTPConnection``)
that keeps the ``smtplib.SMTP`` in ``__obj__`` and only passes some of its
attributes through: both functions take either and work on the wrapped object.
"""

from __future__ import annotations

import copy
import dataclasses
import email.generator
import email.utils
import io
import logging
import smtplib

__all__ = ["Envelope", "Outcome", "envelope_for", "send_envelopes"]

_logger = logging.getLogger(__name__)

CRLF = b"\r\n"

# Errors of one envelope's own data (found before anything is written for it):
# an address with a line break (ValueError), a non-ASCII address without
# SMTPUTF8 (UnicodeEncodeError), SMTPUTF8 asked of a server without it.
_ENVELOPE_ERRORS = (ValueError, UnicodeError, smtplib.SMTPNotSupportedError)
# The connection is gone (smtplib closes the SMTP object for these).
_CONNECTION_ERRORS = (smtplib.SMTPServerDisconnected, OSError)


@dataclasses.dataclass
class Envelope:
    """One SMTP transaction to make: MAIL FROM ``sender``, RCPT TO each of
    ``recipients``, then ``data`` (the flattened message, CRLF line ends, not
    dot-stuffed)."""

    sender: str
    recipients: list[str]
    data: bytes
    mail_options: tuple = ()
    rcpt_options: tuple = ()
    key: object = None


@dataclasses.dataclass
class Outcome:
    """What became of one envelope; ``error`` is what ``smtp.sendmail()``
    would have raised for it alone (``None``: sent to ``accepted``)."""

    key: object
    accepted: list[str]
    refused: dict[str, tuple[int, bytes]]
    error: Exception | None = None
    in_doubt: bool = False


def envelope_for(smtp, msg, from_addr=None, to_addrs=None, mail_options=(), rcpt_options=(), key=None) -> Envelope:
    """The envelope ``smtp.send_message(msg, from_addr, to_addrs, mail_options,
    rcpt_options)`` would send, as Python 3.11's smtplib builds it: sender and
    recipients from the (Resent-)Sender/From and To/Cc/Bcc headers when not
    given, Bcc and Resent-Bcc left out of the data, SMTPUTF8 and BODY=8BITMIME
    when an address is not ASCII (SMTPNotSupportedError if the server does not
    offer SMTPUTF8). Sends EHLO first if it was not done (the server's
    extensions decide the flattening)."""
    smtp = _unwrap(smtp)
    smtp.ehlo_or_helo_if_needed()
    resent = msg.get_all("Resent-Date")
    if resent is None:
        header_prefix = ""
    elif len(resent) == 1:
        header_prefix = "Resent-"
    else:
        raise ValueError("message has more than one 'Resent-' header block")
    if from_addr is None:
        # Prefer the sender field per RFC 2822:3.6.2.
        sender_field = header_prefix + "Sender"
        from_addr = msg[sender_field] if sender_field in msg else msg[header_prefix + "From"]
        from_addr = email.utils.getaddresses([from_addr])[0][1]
    if to_addrs is None:
        addr_fields = [
            f
            for f in (msg[header_prefix + "To"], msg[header_prefix + "Bcc"], msg[header_prefix + "Cc"])
            if f is not None
        ]
        to_addrs = [a[1] for a in email.utils.getaddresses(addr_fields)]
    elif isinstance(to_addrs, str):
        to_addrs = [to_addrs]
    msg_copy = copy.copy(msg)
    del msg_copy["Bcc"]
    del msg_copy["Resent-Bcc"]
    international = False
    try:
        "".join([from_addr, *to_addrs]).encode("ascii")
    except UnicodeEncodeError:
        if not smtp.has_extn("smtputf8"):
            raise smtplib.SMTPNotSupportedError(
                "One or more source or delivery addresses require"
                " internationalized email support, but the server"
                " does not advertise the required SMTPUTF8 capability"
            ) from None
        international = True
    with io.BytesIO() as bytesmsg:
        if international:
            generator = email.generator.BytesGenerator(bytesmsg, policy=msg.policy.clone(utf8=True))
            mail_options = (*mail_options, "SMTPUTF8", "BODY=8BITMIME")
        else:
            generator = email.generator.BytesGenerator(bytesmsg)
        generator.flatten(msg_copy, linesep="\r\n")
        data = bytesmsg.getvalue()
    return Envelope(
        sender=from_addr,
        recipients=list(to_addrs),
        data=data,
        mail_options=tuple(mail_options),
        rcpt_options=tuple(rcpt_options),
        key=key,
    )


def send_envelopes(smtp, envelopes) -> list[Outcome]:
    """Send ``envelopes`` over ``smtp`` (connected, EHLO and any STARTTLS/AUTH
    done); one :class:`Outcome` per envelope, in order.

    A refused sender, all recipients refused, a refused DATA or message fail
    that envelope only (the server's transaction is reset with RSET and the
    next envelope goes on). A lost connection (or a 421 reply, after which
    smtplib closes the connection too) fails every envelope not answered yet
    with that error; the one whose end of data was written without an answer
    has ``in_doubt`` set: the server may have taken it. ``smtp`` stays usable
    for more envelopes unless the connection was lost (then ``smtp.sock`` is
    None, as smtplib leaves it). Any other exception (a bug) propagates, after
    closing ``smtp``, whose protocol state is then unknown."""
    smtp = _unwrap(smtp)
    envelopes = list(envelopes)
    sender = _Sender(smtp, envelopes)
    try:
        smtp.ehlo_or_helo_if_needed()
        sender = (_PipelinedSender if smtp.has_extn("pipelining") else _StepSender)(smtp, envelopes)
        sender.run()
    except _CONNECTION_ERRORS as exc:
        sender.connection_lost(exc)
    except BaseException:
        smtp.close()
        raise
    return sender.outcomes


# --- internals ----------------------------------------------------------------------


def _unwrap(smtp):
    """The ``smtplib.SMTP`` inside Odoo's ``SMTPConnection`` wrapper, or ``smtp`` itself."""
    return getattr(smtp, "__obj__", smtp)


def _data_bytes(data) -> bytes:
    """The message as bytes, as ``SMTP.sendmail`` takes it (str: line ends fixed, ASCII)."""
    if isinstance(data, str):
        return smtplib._fix_eols(data).encode("ascii")
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"message data must be bytes, not {type(data).__name__}")
    return bytes(data)


def _dot_stuffed(data: bytes) -> bytes:
    """The message as ``SMTP.data`` writes it: leading dots doubled, then CRLF "." CRLF."""
    quoted = smtplib._quote_periods(data)
    if quoted[-2:] != CRLF:
        quoted += CRLF
    return quoted + b"." + CRLF


def _mail_options(smtp, envelope: Envelope, size: int) -> list:
    """ESMTP options of MAIL FROM as ``SMTP.sendmail`` puts them (SIZE first)."""
    options = []
    if smtp.does_esmtp:
        if smtp.has_extn("size"):
            options.append(f"size={size}")
        options.extend(envelope.mail_options)
    return options


def _command(verb: str, address: str, options) -> str:
    line = f"{verb}:{smtplib.quoteaddr(address)}"
    if options:
        line += " " + " ".join(options)
    if "\r" in line or "\n" in line:
        # as SMTP.putcmd refuses it
        raise ValueError(f"command and arguments contain prohibited newline characters: {line!r}")
    return line


class _Sender:
    """Shared bookkeeping of both ways of sending."""

    def __init__(self, smtp, envelopes):
        self.smtp = smtp
        self.envelopes = envelopes
        self.outcomes: list[Outcome | None] = [None] * len(envelopes)
        self.current: int | None = None  # the envelope being answered
        self.dot_written = False  # its end of data is (being) written, not answered

    def done(self, index: int, accepted=(), refused=None, error=None, in_doubt=False) -> None:
        envelope = self.envelopes[index]
        self.outcomes[index] = Outcome(envelope.key, list(accepted), dict(refused or {}), error, in_doubt)

    def connection_lost(self, exc: Exception) -> None:
        self.smtp.close()
        for index, outcome in enumerate(self.outcomes):
            if outcome is None:
                in_doubt = index == self.current and self.dot_written
                self.done(index, refused=self._refused_so_far(index), error=exc, in_doubt=in_doubt)

    def _refused_so_far(self, index: int) -> dict:
        return {}

    def reset(self) -> None:
        """RSET after a failed transaction, ignoring its reply as ``SMTP._rset``."""
        self.smtp.putcmd("rset")
        self.read_reply()

    def read_reply(self) -> tuple[int, bytes]:
        code, text = self.smtp.getreply()
        if code == 421:  # the server is closing the connection
            self.smtp.close()
        return code, text

    def closed(self) -> bool:
        return self.smtp.sock is None


class _StepSender(_Sender):
    """No PIPELINING: each command waits for its reply, as ``SMTP.sendmail``
    (which is not called directly only to know when the end of data was written)."""

    def __init__(self, smtp, envelopes):
        super().__init__(smtp, envelopes)
        self.refused: dict = {}

    def _refused_so_far(self, index):
        return self.refused if index == self.current else {}

    def run(self) -> None:
        for index, envelope in enumerate(self.envelopes):
            if self.closed():
                raise smtplib.SMTPServerDisconnected("Connection closed before this message was sent")
            self.current, self.dot_written, self.refused = index, False, {}
            self.send_one(index, envelope)

    def send_one(self, index: int, envelope: Envelope) -> None:
        smtp = self.smtp
        data = _data_bytes(envelope.data)
        recipients = [envelope.recipients] if isinstance(envelope.recipients, str) else list(envelope.recipients)
        try:
            code, text = smtp.mail(envelope.sender, _mail_options(smtp, envelope, len(data)))
        except _ENVELOPE_ERRORS as exc:
            self.done(index, error=exc)
            return
        if code != 250:
            self.fail(index, code, smtplib.SMTPSenderRefused(code, text, envelope.sender))
            return
        refused = self.refused
        for recipient in recipients:
            try:
                code, text = smtp.rcpt(recipient, envelope.rcpt_options)
            except _ENVELOPE_ERRORS as exc:
                self.done(index, refused=refused, error=exc)
                self.reset()
                return
            if code not in (250, 251):
                refused[recipient] = (code, text)
            if code == 421:
                smtp.close()
                self.done(index, refused=refused, error=smtplib.SMTPRecipientsRefused(dict(refused)))
                return
        if len(refused) == len(recipients):
            self.fail(index, 0, smtplib.SMTPRecipientsRefused(dict(refused)), refused)
            return
        smtp.putcmd("data")
        code, text = self.read_reply()
        if code != 354:
            self.fail(index, code, smtplib.SMTPDataError(code, text), refused)
            return
        self.dot_written = True  # from here on, the server may have the whole message
        smtp.send(_dot_stuffed(data))
        code, text = self.read_reply()
        self.dot_written = False
        if code != 250:
            self.fail(index, code, smtplib.SMTPDataError(code, text), refused)
            return
        self.done(index, [r for r in recipients if r not in refused], refused)

    def fail(self, index: int, code: int, error: Exception, refused=None) -> None:
        """The envelope failed: RSET as ``SMTP.sendmail`` does, or close on 421."""
        self.done(index, refused=refused, error=error)
        if code == 421:
            self.smtp.close()
        elif not self.closed():
            try:
                self.reset()
            except smtplib.SMTPServerDisconnected as exc:  # as SMTP._rset: the next envelope will find out
                _logger.debug("RSET after a failed envelope: %s", exc)


class _Transaction:
    """One envelope's pipelined commands, written, with their replies read so far."""

    def __init__(self, index: int, envelope: Envelope, data: bytes, commands: bytes):
        self.index = index
        self.envelope = envelope
        self.data = data
        self.commands = commands
        self.recipients = list(envelope.recipients)
        self.refused: dict = {}


class _PipelinedSender(_Sender):
    """PIPELINING (RFC 2920): MAIL, RCPTs and DATA in one write; the message
    and its "." in one write with the next envelope's MAIL, RCPTs and DATA."""

    def __init__(self, smtp, envelopes):
        super().__init__(smtp, envelopes)
        self.position = 0  # next envelope not yet prepared
        self.transaction: _Transaction | None = None

    def _refused_so_far(self, index):
        transaction = self.transaction
        return transaction.refused if transaction and transaction.index == index else {}

    def prepare_next(self) -> _Transaction | None:
        """The next envelope whose commands can be written; those that cannot
        (bad address, no recipient) get their outcome without being sent."""
        smtp = self.smtp
        while self.position < len(self.envelopes):
            index, envelope = self.position, self.envelopes[self.position]
            self.position += 1
            try:
                data = _data_bytes(envelope.data)
                if isinstance(envelope.recipients, str):
                    envelope = dataclasses.replace(envelope, recipients=[envelope.recipients])
                options = _mail_options(smtp, envelope, len(data))
                utf8 = any(option.lower() == "smtputf8" for option in options)
                if utf8 and not smtp.has_extn("smtputf8"):
                    raise smtplib.SMTPNotSupportedError("SMTPUTF8 not supported by server")
                lines = [_command("MAIL FROM", envelope.sender, options)]
                rcpt_options = envelope.rcpt_options if smtp.does_esmtp else ()
                lines += [_command("RCPT TO", recipient, rcpt_options) for recipient in envelope.recipients]
                lines.append("DATA")
                commands = "".join(line + "\r\n" for line in lines).encode("utf-8" if utf8 else "ascii")
            except _ENVELOPE_ERRORS as exc:
                self.done(index, error=exc)
                continue
            if not envelope.recipients:
                # SMTP.sendmail: MAIL, RSET, SMTPRecipientsRefused({}); nothing is written here
                self.done(index, error=smtplib.SMTPRecipientsRefused({}))
                continue
            return _Transaction(index, envelope, data, commands)
        return None

    def run(self) -> None:
        smtp = self.smtp
        transaction = self.prepare_next()
        pending_rset = False  # an RSET is written ahead of the transaction's commands
        if transaction:
            smtp.send(transaction.commands)
        while transaction:
            self.transaction = transaction
            self.current, self.dot_written = transaction.index, False
            if pending_rset:
                pending_rset = False
                self.read_reply()  # its reply is ignored, as SMTP._rset does
                self.check_open()
            ok, data_code = self.read_replies(transaction)
            if not ok:
                if data_code == 354:
                    # a server that took DATA without a valid sender or recipient:
                    # end an empty message, whatever it answers
                    smtp.send(b"." + CRLF)
                    self.read_reply()
                    self.check_open()
                # RSET, pipelined with the next envelope's commands (RFC 2920 allows
                # RSET anywhere in a group)
                following = self.prepare_next()
                smtp.send(b"RSET\r\n" + (following.commands if following else b""))
                if following is None:
                    self.read_reply()
                    self.check_open()
                pending_rset = following is not None
                transaction = following
                continue
            following = self.prepare_next()
            # If this write fails half way, the "." may have gone out already.
            self.dot_written = True
            smtp.send(_dot_stuffed(transaction.data) + (following.commands if following else b""))
            code, text = self.read_reply()
            self.dot_written = False
            envelope = transaction.envelope
            if code == 250:
                accepted = [r for r in envelope.recipients if r not in transaction.refused]
                self.done(transaction.index, accepted, transaction.refused)
            else:
                self.done(transaction.index, refused=transaction.refused, error=smtplib.SMTPDataError(code, text))
                self.check_open()
                if following is None:
                    # as SMTP.sendmail after a refused message; with a following
                    # envelope written already, the server ended the transaction
                    # with its reply to the end of data
                    self.reset()
                    self.check_open()
            transaction = following
        self.transaction = None

    def check_open(self) -> None:
        if self.closed():
            raise smtplib.SMTPServerDisconnected("Connection closed by the server (421)")

    def read_replies(self, transaction: _Transaction) -> tuple[bool, int | None]:
        """Read the replies to MAIL, each RCPT and DATA; give the envelope its
        outcome if it failed. Returns (whether the message may be written, DATA's reply code)."""
        envelope = transaction.envelope
        mail_code, mail_text = self.read_reply()
        if mail_code == 421:
            self.done(transaction.index, error=smtplib.SMTPSenderRefused(mail_code, mail_text, envelope.sender))
            self.check_open()
        refused = transaction.refused
        for recipient in transaction.recipients:
            code, text = self.read_reply()
            if mail_code != 250:
                if code == 421:
                    self.check_open()
                continue  # answers to RCPT without a sender say nothing of the recipient
            if code not in (250, 251):
                refused[recipient] = (code, text)
            if code == 421:
                self.done(transaction.index, refused=refused, error=smtplib.SMTPRecipientsRefused(dict(refused)))
                self.check_open()
        data_code, data_text = self.read_reply()
        if mail_code != 250:
            error = smtplib.SMTPSenderRefused(mail_code, mail_text, envelope.sender)
        elif len(refused) == len(transaction.recipients):
            error = smtplib.SMTPRecipientsRefused(dict(refused))
        elif data_code != 354:
            error = smtplib.SMTPDataError(data_code, data_text)
        else:
            return True, data_code
        self.done(transaction.index, refused=refused if mail_code == 250 else {}, error=error)
        self.check_open()
        return False, data_code
