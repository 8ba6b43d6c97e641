# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html).
"""The values that travel through one queue run: a mail whose messages are
built (OutgoingMail), what one attempt to send it gave (Attempt), a
connection that could not be opened (FailedConnection), and the SMTP session
wrapper that keeps what the server answered (RecordingSession)."""

import dataclasses


@dataclasses.dataclass
class OutgoingMail:
    """A claimed mail whose messages are built, waiting to be handed over."""

    read_at: object = None  # its write_date when it was read
    mail_server_id: int | None = None
    is_notification: bool = False
    message_id: str = ""
    problem: tuple | None = None  # (failure type, message): a forged header; nothing is built
    # (failure type, message): no address Odoo can send to; built and handed
    # to send_email as in stock, which refuses it (a RecordingSession that
    # sends nothing), then failed with this reason
    nobody: tuple | None = None
    unsendable: list = dataclasses.field(default_factory=list)  # [(address, reason)] Odoo cannot send to
    got_it_before: list = dataclasses.field(default_factory=list)  # ids of recipient partners already reached
    error: Exception | None = None  # building it failed: reported as stock does
    emails: list = dataclasses.field(default_factory=list)  # (message, partner, email_to, server context)
    size: int = 0
    not_waiting: bool = False  # not waiting when it was read: nothing built
    delivered: bool = False  # the SMTP server accepted at least one of its messages
    values: dict = dataclasses.field(default_factory=dict)  # what recording the outcome reads, as read
    claim: object = None  # mail.mail._claim's answer when taken ahead with others' (None: not taken yet)
    # sent through sender threads: per message, (what _hand_over gave when
    # send_email prepared it, its envelopes) (mail_mail_send_pipelined.py)
    captured: list = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Attempt:
    """The outcome of one attempt to send one mail, as it is recorded on it
    (mail.mail._record_attempt)."""

    mail_server_id: int | None = None  # the server it was handed to
    message_id: str | None = None  # set when the mail counts as sent
    success_partner_ids: list = dataclasses.field(default_factory=list)  # recipient partners who got it
    failure_type: str | None = None
    failure_reason: str | None = None
    temporary: bool = False  # the failure may mend: tried again later (retry policy)


@dataclasses.dataclass
class FailedConnection:
    """What ir.mail_server.connect() hands the queue instead of raising when
    it cannot open a session: the mails of that session fail with ``message``,
    naming ``mail_server_id``; tried again later unless ``permanent``."""

    error: Exception
    message: str
    mail_server_id: int | None = None
    permanent: bool = False

    def send_message(self, *args, **kwargs):
        raise self.error

    def quit(self):
        """Nothing to close (stock's send() closes every session it opened)."""


class RecordingSession:
    """An SMTP session that keeps the server's answer to the recipients of
    the message send_email hands it: smtplib returns the recipients refused
    by a server that accepted others instead of raising."""

    def __init__(self, session, refuse_with=None):
        self._session = session
        # A message nobody can be sent to (OutgoingMail.nobody) is handed to
        # send_email as stock hands it, with this session, over no connection
        # (``session`` may be None): stock refuses it before using the session
        # (NO_VALID_RECIPIENT). Should anything still try to send it, it is
        # refused here with AssertionError(refuse_with) and never sent.
        self.refuse_with = refuse_with
        self.recipients = []
        self.refused = {}
        # What went wrong inside send_email: the server's refusal (here) or
        # Odoo's own check of the message (ir.mail_server._prepare_email_message),
        # kept because an override of send_email between this add-on's and
        # stock's (mail_tracking's) may swallow the exception and return False.
        self.error = None
        self.handed = False  # send_message was called: the message reached the server

    def send_message(self, msg, from_addr=None, to_addrs=None, *args, **kwargs):
        if self.refuse_with is not None:
            self.error = AssertionError(self.refuse_with)
            raise self.error
        self.recipients = list(to_addrs or [])
        self.refused = {}
        self.handed = True
        try:
            self.refused = self._session.send_message(msg, from_addr, to_addrs, *args, **kwargs) or {}
        except Exception as exc:
            self.error = exc
            raise
        return self.refused

    def __getattr__(self, name):
        return getattr(self._session, name)
