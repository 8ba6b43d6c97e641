"""A misbehaving SMTP server for the chaos system tests (GitHub issue #6).

``ChaosSmtp`` is ``scripts/smtp_sink.SmtpSink`` (same storage and record:
``received``, ``message_ids()``, ``.eml`` files and ``index.jsonl``) with a
handler that, for every SMTP transaction, draws one fate from a seeded random
generator:

    accept      250 after DATA; the message is stored
    rcpt_4xx    ``451 4.3.0 Try again later`` at RCPT TO
    data_4xx    ``451 4.3.0 Try again later`` after DATA; not stored
    disconnect  the connection is closed after the message was received, before
                any answer (the client waits for the reply to DATA and gets
                EOF); not stored
    slow        0.2-1.5 s before the answer to DATA, then 250; stored

and, independently of chance, ``rcpt_5xx``: every recipient whose address
contains "bounce" gets ``550 5.1.1 User unknown`` at RCPT TO, and no other
recipient ever gets a 5xx. A test can therefore predict exactly which emails
must end up failed.

``after_store`` (a callable, default None) is called once a message is
stored and before its 250 is written, on the server's event loop: the chaos
test kills the sending worker there, to hit the one window that legitimately
duplicates.

Refused connections: ``start_outages()`` starts a background thread that, a
bounded number of times, stops listening for a couple of seconds and then
listens again on the same port. Sessions that are already open carry on.

The one rule that keeps duplicates meaningful: a message is stored only when
the answer to its DATA is 250, and that 250 is written right after storing
(nothing is awaited in between). The server never stores a message and then
fails or drops the reply, which is the one case where a client's resend would
legitimately duplicate (transaction complete, reply lost). So any message the
server records twice was sent twice by a client that had learnt it was
accepted, unless the client itself died between our 250 and its own commit.

Randomness: one ``random.Random(seed)`` for the fates (drawn on the server's
event-loop thread, in the order transactions reach RCPT), one derived from
the seed for the outages. The seed fixes the sequence of fates, not which
email gets which fate: that depends on how the workers interleave.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import logging
import random
import threading
import time
from collections import Counter

from smtp_sink import REJECT_REPLY, SmtpSink, _Handler

_logger = logging.getLogger("chaos_smtp")

TEMP_REPLY = "451 4.3.0 Try again later"
BOUNCE_MARK = "bounce"

# Probability of each fate per transaction; about 1 in 5 transactions fails
# temporarily, 1 in 12 is slow.
DEFAULT_WEIGHTS = {
    "accept": 0.72,
    "rcpt_4xx": 0.07,
    "data_4xx": 0.07,
    "disconnect": 0.06,
    "slow": 0.08,
}
SLOW_RANGE = (0.2, 1.5)  # seconds before answering a slow DATA
OUTAGE_LENGTH = (1.5, 3.0)  # seconds without listening
OUTAGE_GAP = (3.0, 8.0)  # seconds of listening between two outages


def is_bounce(address: str) -> bool:
    return BOUNCE_MARK in (address or "").lower()


def _message_id(raw: bytes) -> str:
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    return str(msg["Message-Id"] or "").strip()


class ChaosHandler(_Handler):
    """RCPT and DATA answered according to the transaction's fate."""

    def _fate(self, server, session, envelope) -> str:
        fate = getattr(envelope, "chaos_fate", None)
        if fate is None:  # the first RCPT of a transaction draws its fate
            fate = envelope.chaos_fate = self.sink._draw_fate()
            self.sink._transaction_started(server, session)
        return fate

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        fate = self._fate(server, session, envelope)
        if is_bounce(address):
            self.sink._count("rcpt_5xx", session, address)
            return REJECT_REPLY
        if fate == "rcpt_4xx":
            self.sink._count("rcpt_4xx", session, address)
            return TEMP_REPLY
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        fate = self._fate(server, session, envelope)
        if fate == "data_4xx":
            self.sink._count("data_4xx", session, _message_id(raw))
            return TEMP_REPLY
        if fate == "disconnect":
            self.sink._count("disconnect", session, _message_id(raw))
            server.transport.close()
            # connection_lost() cancels this session's task: no reply is sent.
            await asyncio.sleep(3600)
            return "421 4.4.2 Connection dropped"  # not reached
        if fate == "slow":
            self.sink._count("slow", session, _message_id(raw))
            # Awaited before storing: if the client goes away meanwhile, the
            # task is cancelled here and nothing is stored.
            await asyncio.sleep(self.sink._slow_delay())
        # Store, then answer 250 with no await in between (see module doc).
        self.sink._store(envelope.mail_from, list(envelope.rcpt_tos), raw)
        message_id = _message_id(raw)
        self.sink._event(session, "stored", message_id)
        if self.sink.after_store:
            self.sink.after_store(session.peer[1], message_id)
        return "250 2.0.0 Message accepted for delivery"


class ChaosSmtp(SmtpSink):
    """SmtpSink that misbehaves; see the module docstring."""

    handler_class = ChaosHandler

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        directory: str | None = None,
        seed: int = 0,
        weights: dict | None = None,
    ):
        super().__init__(host, port, directory)
        self.seed = seed
        self.weights = dict(weights or DEFAULT_WEIGHTS)
        self._rng = random.Random(seed)
        self._outage_rng = random.Random(seed ^ 0x5EED)
        self._lock = threading.Lock()
        self.injected: Counter = Counter()
        self.outages: list = []  # (start, end) monotonic times of refused-connection windows
        self.events: list = []  # (monotonic time, client port, event, detail)
        # (monotonic time, client port, ports of the other sessions open then)
        self.transactions: list = []
        self._open: dict = {}  # client port -> aiosmtpd SMTP session
        self._outage_thread: threading.Thread | None = None
        self._outage_stop = threading.Event()
        self.listening = False
        # Called as after_store(client port, Message-Id) once a message is
        # stored, before its 250 is written: a test can kill the client there.
        self.after_store = None

    # -- chance ------------------------------------------------------------
    def _draw_fate(self) -> str:
        kinds = list(self.weights)
        return self._rng.choices(kinds, weights=[self.weights[k] for k in kinds])[0]

    def _slow_delay(self) -> float:
        return self._rng.uniform(*SLOW_RANGE)

    def _count(self, kind: str, session, detail: str = "") -> None:
        with self._lock:
            self.injected[kind] += 1
        self._event(session, kind, detail)

    def _event(self, session, event: str, detail: str = "") -> None:
        port = session.peer[1] if session and session.peer else None
        with self._lock:
            self.events.append((time.monotonic(), port, event, detail))

    def _transaction_started(self, server, session) -> None:
        """Note which other sessions are open as a transaction starts (runs on
        the event loop, like every handler)."""
        port = session.peer[1]
        with self._lock:
            self._open[port] = server
            for other, smtp in list(self._open.items()):
                if smtp.transport is None or smtp.transport.is_closing():
                    del self._open[other]
            others = tuple(other for other in self._open if other != port)
            self.transactions.append((time.monotonic(), port, others))

    def counts(self) -> dict:
        """Injected failures by kind, plus the refused-connection windows."""
        with self._lock:
            counts = {
                kind: self.injected.get(kind, 0) for kind in ("rcpt_4xx", "data_4xx", "rcpt_5xx", "disconnect", "slow")
            }
            counts["outages"] = len(self.outages)
            counts["outage_s"] = round(sum(end - start for start, end in self.outages), 1)
        return counts

    def events_of(self, ports) -> list:
        ports = set(ports)
        with self._lock:
            return [event for event in self.events if event[1] in ports]

    # -- lifecycle -----------------------------------------------------------
    def start(self) -> ChaosSmtp:
        super().start()
        self.listening = True
        return self

    def stop(self) -> None:
        self.stop_outages()
        super().stop()
        self.listening = False

    def _set_listening(self, on: bool) -> None:
        """Close or reopen the listening socket on the server's own event loop;
        open sessions are not touched."""
        controller = self._controller
        if controller is None:
            return

        async def toggle():
            if on:
                controller.server = await controller._create_server()
            else:
                controller.server.close()

        asyncio.run_coroutine_threadsafe(toggle(), controller.loop).result(10)
        self.listening = on
        _logger.info("chaos SMTP on port %s: %s", self.port, "listening again" if on else "refusing connections")

    def start_outages(self, count: int, gap=OUTAGE_GAP, length=OUTAGE_LENGTH) -> None:
        """Refuse connections ``count`` times, for ``length`` seconds each,
        ``gap`` seconds apart (random within the ranges)."""
        self._outage_stop.clear()

        def run():
            for _ in range(count):
                if self._outage_stop.wait(self._outage_rng.uniform(*gap)):
                    return
                start = time.monotonic()
                self._set_listening(False)
                try:
                    self._outage_stop.wait(self._outage_rng.uniform(*length))
                finally:
                    self._set_listening(True)
                    with self._lock:
                        self.outages.append((start, time.monotonic()))

        self._outage_thread = threading.Thread(target=run, name="chaos-smtp-outages", daemon=True)
        self._outage_thread.start()

    def stop_outages(self) -> None:
        """End the outages now (listening again) and wait for the thread."""
        self._outage_stop.set()
        if self._outage_thread:
            self._outage_thread.join(15)
            self._outage_thread = None
