#!/usr/bin/env python3
"""A real SMTP server (aiosmtpd) that keeps every message it receives.

Used by `make run` as a local mail sink and, in-process, by the system tests
(tests/conftest.py imports `SmtpSink` from here).

Each accepted message is stored as ``<dir>/<timestamp>-<n>.eml`` (the raw
bytes received after DATA) and described by one JSON line appended to
``<dir>/index.jsonl``: time, mail_from, rcpt_tos, message_id, subject, file.

Failure simulation for tests: addresses in ``SmtpSink.reject`` are refused at
RCPT TO with ``550 5.1.1 User unknown``; ``fail_data`` (an SMTP reply such as
``"451 4.3.0 Try again later"``) makes DATA fail; ``stop()`` makes the port
refuse connections, ``start()`` brings it back on the same port. A subclass
can answer RCPT/DATA its own way by setting ``handler_class`` to a subclass of
``_Handler`` (tests/chaos_smtp.py does); storage stays ``SmtpSink._store``.

A provider far away (issue #16), for measuring round trips:

* ``pipelining`` (default on; CLI ``--no-pipelining``): EHLO advertises
  PIPELINING (RFC 2920). aiosmtpd always reads commands line by line, so a
  client may send several at once either way; the keyword tells it that it may.
* ``reply_delay`` seconds (default 0; CLI ``--reply-delay-ms``): the network
  round trip. The model is one delay per *turn*, not per reply: a reply is
  delayed only when, after it, the server has nothing left to answer and must
  wait for the client, i.e. when its input buffer holds no further complete
  line. A client that sends MAIL, RCPT and DATA in one write (pipelining) gets
  the first two replies at once and waits ``reply_delay`` for the 354, as it
  would wait one round trip for the three replies over a real network; a
  client that sends one command and waits for its reply pays ``reply_delay``
  for each. The continuation lines of a multi-line reply (``250-``) are never
  delayed, nor is the greeting.
* ``round_trips``: how many turns the server has had (replies sent, then
  waiting for the client), counted whether or not ``reply_delay`` is set, the
  greeting excluded; ``connections`` (opened so far, that sent a command) and
  ``max_connections`` (most open at once). ``stats()`` returns them with the
  message count; the CLI writes them as JSON to ``--stats-file`` every second
  and when it stops.

CLI::

    python3 scripts/smtp_sink.py --host 127.0.0.1 --port 2525 --dir var/mailbox
    python3 scripts/smtp_sink.py --port 2525 --dir var/mailbox --reply-delay-ms 50 --stats-file var/sink.json
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import email
import email.policy
import json
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

_logger = logging.getLogger("smtp_sink")

REJECT_REPLY = "550 5.1.1 User unknown"

# aiosmtpd warns on every successful AUTH about its own legacy attribute; drop that noise.
logging.getLogger("mail.log").addFilter(lambda record: "login_data is deprecated" not in record.getMessage())


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free right now on ``host``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@dataclass
class Received:
    """One message as the server got it."""

    time: str
    mail_from: str
    rcpt_tos: list
    raw: bytes = field(repr=False)
    path: str | None = None

    @property
    def message(self) -> email.message.EmailMessage:
        return email.message_from_bytes(self.raw, policy=email.policy.default)


class _Handler:
    def __init__(self, sink: SmtpSink):
        self.sink = sink

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        # aiosmtpd's 5-argument hook: it hands over its EHLO lines (ending with
        # "250 HELP") and sends back what we return; the hook records the name.
        session.host_name = hostname
        if self.sink.pipelining:
            responses.insert(len(responses) - 1, "250-PIPELINING")
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in {a.lower() for a in self.sink.reject}:
            _logger.info("rejected recipient %s", address)
            return REJECT_REPLY
        reply = self.sink.reject_replies.get(address.lower())
        if reply:
            _logger.info("refused recipient %s: %s", address, reply)
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.sink.data_delay:
            await asyncio.sleep(self.sink.data_delay)  # a slow server, or one far away
        if self.sink.fail_data:
            _logger.info("refused DATA from %s: %s", envelope.mail_from, self.sink.fail_data)
            return self.sink.fail_data
        self.sink._store(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content or envelope.content)
        return "250 2.0.0 Message accepted for delivery"


class _Session(SMTP):
    """aiosmtpd's SMTP session with the sink's network model (see the module
    docstring): counts connections and turns, delays the reply that ends a turn."""

    def __init__(self, handler, sink: SmtpSink, **kwargs):
        super().__init__(handler, **kwargs)
        self.sink = sink
        self._greeted = False
        self._counted = False
        self._lost = False

    def connection_lost(self, error) -> None:
        if self._counted and not self._lost:
            self._lost = True
            self.sink._connection_closed()
        super().connection_lost(error)

    def _client_sent_more(self) -> bool:
        """Whether a complete line the client sent is waiting to be read."""
        buffer = getattr(self._reader, "_buffer", None)  # asyncio.StreamReader's input buffer
        return bool(buffer) and b"\n" in buffer

    async def push(self, status):
        line = status.encode("utf-8") if isinstance(status, str) else status
        if not self._greeted:
            self._greeted = True  # the greeting: neither a turn nor delayed
            await super().push(status)
            return
        if not self._counted:
            # A connection counts once the client says something: Controller.start()'s
            # own check connection (greeting, then close) does not.
            self._counted = True
            self.sink._connection_opened()
        if line[3:4] != b"-" and not self._client_sent_more():
            self.sink.round_trips += 1
            if self.sink.reply_delay:
                await asyncio.sleep(self.sink.reply_delay)
        await super().push(status)


class _Controller(Controller):
    """aiosmtpd's Controller creating ``_Session`` servers for the sink."""

    def __init__(self, handler, sink: SmtpSink, **kwargs):
        self.sink = sink
        super().__init__(handler, **kwargs)

    def factory(self):
        return _Session(self.handler, self.sink, **self.SMTP_kwargs)


class SmtpSink:
    """SMTP server on ``host:port`` storing messages in memory and in ``directory``.

    ``port=0`` picks a free port once; it is kept across ``stop()``/``start()``.
    ``auth=(user, password)`` advertises AUTH PLAIN/LOGIN (without TLS) and
    only accepts those credentials; ``auth=None`` accepts mail without AUTH.
    ``pipelining`` and ``reply_delay`` (seconds): see the module docstring;
    ``smtputf8=False`` makes a server without SMTPUTF8 (ASCII addresses only).
    """

    # Answers the SMTP commands (aiosmtpd handler); instantiated with the sink.
    handler_class = _Handler

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        directory: str | None = None,
        reject: Iterable[str] = (),
        auth: tuple | None = None,
        pipelining: bool = True,
        reply_delay: float = 0.0,
        smtputf8: bool = True,
    ):
        self.host = host
        self.port = port or free_port(host)
        self.directory = Path(directory) if directory else None
        self.reject = set(reject)
        self.fail_data: str | None = None
        self.data_delay = 0.0  # seconds before answering each message's DATA
        self.reject_replies: dict = {}  # address (lower case) -> reply to its RCPT, e.g. "451 4.7.1 Later"
        self.auth = auth
        self.received: list[Received] = []
        self.pipelining = pipelining  # advertise PIPELINING in EHLO
        self.smtputf8 = smtputf8  # offer SMTPUTF8 (RFC 6531); False: a server that only takes ASCII addresses
        self.reply_delay = reply_delay  # seconds, once per turn (see the module docstring)
        # Updated on the server's event loop only.
        self.round_trips = 0
        self.connections = 0
        self.open_connections = 0
        self.max_connections = 0
        self._cond = threading.Condition()
        self._controller: Controller | None = None
        self._counter = 0
        if self.directory:
            self.directory.mkdir(parents=True, exist_ok=True)

    # -- lifecycle ---------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._controller is not None

    def start(self) -> SmtpSink:
        if self._controller:
            return self
        kwargs = dict(enable_SMTPUTF8=self.smtputf8, ident="recruitment_mail SMTP sink")
        if self.auth:
            kwargs.update(authenticator=self._authenticate, auth_require_tls=False)
        # A fresh Controller each time: a stopped one cannot be restarted.
        controller = _Controller(self.handler_class(self), self, hostname=self.host, port=self.port, **kwargs)
        controller.start()
        self._controller = controller
        _logger.info(
            "SMTP sink listening on %s:%s%s",
            self.host,
            self.port,
            f", storing in {self.directory}" if self.directory else "",
        )
        return self

    def stop(self) -> None:
        controller, self._controller = self._controller, None
        if controller:
            controller.stop()
            _logger.info("SMTP sink on %s:%s stopped", self.host, self.port)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- queries -----------------------------------------------------------
    @property
    def messages(self) -> list:
        """Received messages as parsed ``email.message.EmailMessage`` objects."""
        with self._cond:
            return [r.message for r in self.received]

    def message_ids(self) -> list:
        return [str(m["Message-Id"]).strip() for m in self.messages if m["Message-Id"]]

    def envelope_senders(self) -> dict:
        """Message-Id -> the envelope sender (MAIL FROM) it came with."""
        with self._cond:
            return {str(r.message["Message-Id"]).strip(): r.mail_from for r in self.received}

    def clear(self) -> None:
        with self._cond:
            self.received.clear()

    def stats(self) -> dict:
        """Counters of the network model (see the module docstring)."""
        with self._cond:
            messages = self._counter
        return {
            "messages": messages,
            "round_trips": self.round_trips,
            "connections": self.connections,
            "open_connections": self.open_connections,
            "max_connections": self.max_connections,
            "reply_delay": self.reply_delay,
            "pipelining": self.pipelining,
        }

    def reset_stats(self) -> None:
        """Round trips and connection counts from zero (open connections stay counted)."""
        self.round_trips = 0
        self.connections = 0
        self.max_connections = self.open_connections

    def wait_for(self, count: int = 1, timeout: float = 10.0) -> list:
        """Wait until at least ``count`` messages arrived; return all messages."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.received) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"expected {count} message(s) within {timeout}s, got {len(self.received)}")
                self._cond.wait(left)
        return self.messages

    # -- internals ---------------------------------------------------------
    def _connection_opened(self) -> None:
        self.connections += 1
        self.open_connections += 1
        self.max_connections = max(self.max_connections, self.open_connections)

    def _connection_closed(self) -> None:
        self.open_connections -= 1

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and self.auth
            and auth_data.login.decode() == self.auth[0]
            and auth_data.password.decode() == self.auth[1]
        )
        # handled=False: let aiosmtpd send the 235/535 reply itself.
        return AuthResult(success=bool(ok), handled=False)

    def _store(self, mail_from: str, rcpt_tos: list, raw: bytes) -> None:
        now = dt.datetime.now(dt.timezone.utc)
        rec = Received(now.isoformat(timespec="milliseconds"), mail_from, rcpt_tos, raw)
        msg = rec.message
        with self._cond:
            self._counter += 1
            if self.directory:
                rec.path = str(self._write(now, raw))
                entry = {
                    "time": rec.time,
                    "mail_from": mail_from,
                    "rcpt_tos": rcpt_tos,
                    "message_id": str(msg["Message-Id"] or "").strip(),
                    "subject": str(msg["Subject"] or ""),
                    "file": os.path.basename(rec.path),
                }
                with open(self.directory / "index.jsonl", "a", encoding="utf-8") as fh:
                    fh.write(json.dumps(entry, ensure_ascii=False) + "\n")
            self.received.append(rec)
            self._cond.notify_all()
        _logger.info(
            "message from %s to %s: %r %s%s",
            mail_from,
            ", ".join(rcpt_tos),
            str(msg["Subject"] or ""),
            str(msg["Message-Id"] or "").strip(),
            f" -> {rec.path}" if rec.path else "",
        )

    def _write(self, now: dt.datetime, raw: bytes) -> Path:
        stamp = now.strftime("%Y%m%dT%H%M%S.%f")
        n = self._counter
        while True:
            path = self.directory / f"{stamp}-{n}.eml"
            try:
                with open(path, "xb") as fh:  # never overwrite an earlier message
                    fh.write(raw)
                return path
            except FileExistsError:
                n += 1


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _write_stats(sink: SmtpSink, path: str, written: dict | None) -> dict:
    """Write ``sink.stats()`` to ``path`` (atomically) unless it is ``written``; return it."""
    stats = sink.stats()
    if stats != written:
        tmp = Path(f"{path}.tmp")
        tmp.write_text(json.dumps(stats) + "\n")
        tmp.replace(path)
    return stats


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Local SMTP server that stores every message.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2525)
    parser.add_argument("--dir", default="var/mailbox", help="where .eml files and index.jsonl go")
    parser.add_argument("--user", help="require AUTH with this login (no TLS)")
    parser.add_argument(
        "--password",
        default=os.environ.get("SMTP_SINK_PASSWORD", ""),
        help="password for --user (default: $SMTP_SINK_PASSWORD)",
    )
    parser.add_argument(
        "--reject", action="append", default=[], help="refuse this recipient with 550 5.1.1 (repeatable)"
    )
    parser.add_argument(
        "--watch-pid",
        type=int,
        help="exit when this process is gone (scripts/run.sh passes its own pid, which becomes Odoo's after `exec`)",
    )
    parser.add_argument("--pidfile", help="write our pid here while running")
    parser.add_argument(
        "--no-pipelining", dest="pipelining", action="store_false", help="do not advertise PIPELINING in EHLO"
    )
    parser.add_argument(
        "--reply-delay-ms",
        type=float,
        default=0.0,
        help="network round trip: delay the reply that ends each turn by this many ms (see the docstring)",
    )
    parser.add_argument(
        "--stats-file", help="write round trips, connections and messages here as JSON (every second, and at exit)"
    )
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s smtp_sink: %(message)s", stream=sys.stdout)
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd's per-command chatter
    sink = SmtpSink(
        args.host,
        args.port,
        args.dir,
        reject=args.reject,
        auth=(args.user, args.password) if args.user else None,
        pipelining=args.pipelining,
        reply_delay=args.reply_delay_ms / 1000,
    )
    try:
        sink.start()
    except Exception as exc:  # typically: port already in use
        _logger.error("cannot listen on %s:%s: %s", args.host, args.port, exc)
        return 1

    if args.pidfile:
        Path(args.pidfile).write_text(f"{os.getpid()}\n")
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    written = None
    while not done.wait(1.0):
        if args.stats_file:
            written = _write_stats(sink, args.stats_file, written)
        if args.watch_pid and not _pid_alive(args.watch_pid):
            _logger.info("process %s is gone, exiting", args.watch_pid)
            break
    sink.stop()
    if args.stats_file:
        _write_stats(sink, args.stats_file, None)
    if args.pidfile:
        Path(args.pidfile).unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
