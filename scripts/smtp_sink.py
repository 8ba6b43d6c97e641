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

CLI::

    python3 scripts/smtp_sink.py --host 127.0.0.1 --port 2525 --dir var/mailbox
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
from aiosmtpd.smtp import AuthResult, LoginPassword

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


class SmtpSink:
    """SMTP server on ``host:port`` storing messages in memory and in ``directory``.

    ``port=0`` picks a free port once; it is kept across ``stop()``/``start()``.
    ``auth=(user, password)`` advertises AUTH PLAIN/LOGIN (without TLS) and
    only accepts those credentials; ``auth=None`` accepts mail without AUTH.
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
        kwargs = dict(enable_SMTPUTF8=True, ident="recruitment_mail SMTP sink")
        if self.auth:
            kwargs.update(authenticator=self._authenticate, auth_require_tls=False)
        # A fresh Controller each time: a stopped one cannot be restarted.
        controller = Controller(self.handler_class(self), hostname=self.host, port=self.port, **kwargs)
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

    def clear(self) -> None:
        with self._cond:
            self.received.clear()

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
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s smtp_sink: %(message)s", stream=sys.stdout)
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd's per-command chatter
    sink = SmtpSink(
        args.host, args.port, args.dir, reject=args.reject, auth=(args.user, args.password) if args.user else None
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
    while not done.wait(1.0):
        if args.watch_pid and not _pid_alive(args.watch_pid):
            _logger.info("process %s is gone, exiting", args.watch_pid)
            break
    sink.stop()
    if args.pidfile:
        Path(args.pidfile).unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
