"""Sending through a provider far away (issue #16): emails/s and round trips
per email when every reply of the SMTP server comes one round trip late.

The SMTP sink (scripts/smtp_sink.py, its own process) delays the reply that
ends each turn of the conversation by BENCH_PROVIDER_DELAYS ms (default
"0,50": local, and a provider ~50 ms away) and counts the turns (round trips).
For each delay:

1. the FLOOR: plain smtplib, ``sendmail()`` of pre-built messages one by one,
   on 1 and on 8 connections (one thread each, the emails shared out);
2. PIPELINED: recruitment_mail/tools/smtp_pipeline.py's ``send_envelopes()``
   (RFC 2920) on 1 and on 8 connections, in batches of BENCH_PROVIDER_BATCH
   (default 100) envelopes per call, as a queue run would hand them over;
3. the Odoo queues, stock and recruitment_mail's, draining queued email to the
   same sink (``odoo_queue_runs``: queue_bench.py's drain, its sink started
   with the delay; ours with the mail server's Connections = 8). Off by
   default (BENCH_PROVIDER_ODOO=1 turns it on): stock needs about 0.2 s per
   email at 50 ms, so it runs on BENCH_PROVIDER_STOCK_MAILS (default 1,000)
   and its rate is reported as measured on that many.

Each run: BENCH_PROVIDER_MAILS (default 10,000) emails of 2 KB, a fresh sink,
then the sink's Message-Ids are checked: every email exactly once (duplicates
and losses are reported, and fail the run). A run that would take longer than
BENCH_PROVIDER_MAX_S (default 600) at its expected round trips per email runs
on fewer emails (at least 1,000); the report says on how many.

Writes BENCH_OUT/provider.json (bench/report.py adds its table to the report).
Standalone: BENCH_OUT=var/bench/provider python3 bench/provider_bench.py
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import smtplib
import sys
import threading
import time
from email.message import EmailMessage
from pathlib import Path

from benchlib import REPO_ROOT, log, out_dir, save_json
from queue_bench import SinkProcess, drain_once

MODULE = "recruitment_mail"
SENDERS = 20
# Round trips per email each way costs (sendmail: MAIL, RCPT, DATA, end of
# data), to keep a run within BENCH_PROVIDER_MAX_S.
EXPECTED_ROUND_TRIPS = {"floor": 4.0, "pipelined": 1.0}
MIN_MAILS = 1000


def load_pipeline():
    """smtp_pipeline.py of the add-on copy this run measures (bench/run.sh
    copies the add-on into BENCH_DATA_DIR/addons), else of the repository."""
    copy = Path(os.environ.get("BENCH_DATA_DIR", "/nonexistent")) / "addons" / MODULE / "tools" / "smtp_pipeline.py"
    path = copy if copy.is_file() else REPO_ROOT / MODULE / "tools" / "smtp_pipeline.py"
    spec = importlib.util.spec_from_file_location("smtp_pipeline", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["smtp_pipeline"] = module
    spec.loader.exec_module(module)
    return module


smtp_pipeline = load_pipeline()

_PARAGRAPH = (
    "Thank you for your application. We would like to invite you to an interview "
    "with our client to discuss the position in more detail. Please let us know which "
    "of the proposed dates suits you best, and bring a copy of your references.\n"
)


def build_messages(count: int, tag: str) -> list[EmailMessage]:
    """``count`` emails of about 2 KB, from SENDERS addresses, each with its own Message-Id."""
    messages = []
    for n in range(count):
        msg = EmailMessage()
        msg["From"] = f'"Recruiter {n % SENDERS}" <recruiter{n % SENDERS}@agency.example>'
        msg["To"] = f'"Candidate {n}" <candidate{n}@example.com>'
        msg["Subject"] = f"Interview invitation {n}"
        msg["Message-Id"] = f"<bench-{tag}-{n}@agency.example>"
        body = f"Dear Candidate {n},\n\n" + _PARAGRAPH * 7 + "\nKind regards,\nThe recruitment team\n"
        msg.set_content(body[:2048])
        messages.append(msg)
    return messages


def _share(items: list, parts: int) -> list[list]:
    return [items[i::parts] for i in range(parts)]


def _floor_worker(port: int, messages: list, errors: list) -> None:
    """One connection, ``sendmail()`` per email: what stock Odoo's send does."""
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
            smtp.ehlo()
            for msg in messages:
                smtp.send_message(msg)
    except Exception as exc:  # reported by the run
        errors.append(repr(exc))


def _pipelined_worker(port: int, messages: list, errors: list, batch: int) -> None:
    """One connection, ``send_envelopes()`` per batch of envelopes."""
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
            smtp.ehlo()
            for first in range(0, len(messages), batch):
                envelopes = [smtp_pipeline.envelope_for(smtp, msg) for msg in messages[first : first + batch]]
                for outcome in smtp_pipeline.send_envelopes(smtp, envelopes):
                    if outcome.error is not None:
                        errors.append(repr(outcome.error))
                if smtp.sock is None:
                    errors.append("connection lost")
                    return
    except Exception as exc:
        errors.append(repr(exc))


def network_run(mode: str, connections: int, delay_ms: float, mails: int, batch: int) -> dict:
    """Send ``mails`` emails to a fresh sink answering ``delay_ms`` late, on
    ``connections`` connections; check each arrived exactly once."""
    tag = f"{mode}-c{connections}-d{delay_ms:g}"
    messages = build_messages(mails, tag)
    expected = {str(m["Message-Id"]) for m in messages}
    errors: list = []
    mailbox = out_dir() / f"mailbox-provider-{tag}"
    with SinkProcess(mailbox, reply_delay_ms=delay_ms) as sink:
        if mode == "floor":
            threads = [
                threading.Thread(target=_floor_worker, args=(sink.port, part, errors))
                for part in _share(messages, connections)
            ]
        else:
            threads = [
                threading.Thread(target=_pipelined_worker, args=(sink.port, part, errors, batch))
                for part in _share(messages, connections)
            ]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - start
        deadline = time.monotonic() + 10  # the sink may still be writing the last message
        while sink.received() < mails and time.monotonic() < deadline and not errors:
            time.sleep(0.05)
        ids = sink.message_ids()
    stats = sink.stats()
    shutil.rmtree(mailbox, ignore_errors=True)
    result = {
        "mode": mode,
        "connections": connections,
        "delay_ms": delay_ms,
        "mails": mails,
        "batch": batch if mode == "pipelined" else None,
        "seconds": elapsed,
        "emails_per_s": mails / elapsed,
        "received": len(ids),
        "duplicates": len(ids) - len(set(ids)),
        "lost": len(expected - set(ids)),
        "unexpected": len(set(ids) - expected),
        "round_trips": stats.get("round_trips"),
        "round_trips_per_email": stats["round_trips"] / mails if stats.get("round_trips") is not None else None,
        "max_connections": stats.get("max_connections"),
        "errors": errors[:10],
        "error_count": len(errors),
    }
    if result["duplicates"] or result["lost"] or result["unexpected"] or errors:
        save_json(f"provider-{tag}.json", result)
        raise RuntimeError(
            f"{tag}: {result['received']} received for {mails} sent: {result['duplicates']} duplicates, "
            f"{result['lost']} lost, {result['unexpected']} unexpected; errors: {errors[:3]}"
        )
    return result


def mails_for(mode: str, connections: int, delay_ms: float, mails: int) -> int:
    """Fewer emails for a run that would exceed BENCH_PROVIDER_MAX_S (see the docstring)."""
    budget = float(os.environ.get("BENCH_PROVIDER_MAX_S", "600"))
    seconds_per_mail = EXPECTED_ROUND_TRIPS[mode] * delay_ms / 1000 / connections
    if seconds_per_mail and mails * seconds_per_mail > budget:
        return min(mails, max(MIN_MAILS, int(budget / seconds_per_mail)))
    return mails


# --- the Odoo queues (hook points) -------------------------------------------------------


def odoo_queue_runs(delay_ms: float) -> dict:
    """Stock Odoo's queue and recruitment_mail's, draining queued email into a
    sink ``delay_ms`` away (queue_bench.drain_once: fresh database from the
    side's template, queue_worker.py queue, then drain with the queue cron's
    own server action, one cron run per batch, as the default cron thread runs
    it). Stock on BENCH_PROVIDER_STOCK_MAILS, ours on BENCH_PROVIDER_MAILS
    with the mail server's Connections set to BENCH_PROVIDER_CONNECTIONS (8;
    set only when this version of the add-on has the field). Needs the
    template databases of bench/run.sh."""
    stock_mails = int(os.environ.get("BENCH_PROVIDER_STOCK_MAILS", "1000"))
    ours_mails = int(os.environ.get("BENCH_PROVIDER_MAILS", "10000"))
    connections = int(os.environ.get("BENCH_PROVIDER_CONNECTIONS", "8"))
    results = {}
    for side, mails, extra in (
        ("stock", stock_mails, {}),
        ("ours", ours_mails, {"smtp_connections": connections}),
    ):
        log(f"provider {delay_ms:g} ms, Odoo queue, {side}: {mails} emails")
        result, mailbox = drain_once(side, f"provider_d{delay_ms:g}", mails, reply_delay_ms=delay_ms, **extra)
        shutil.rmtree(mailbox, ignore_errors=True)
        stats = result.get("smtp_stats") or {}
        results[side] = {
            "mails": mails,
            "smtp_connections": extra.get("smtp_connections"),
            "emails_per_s": result["emails_per_s"],
            "seconds": result["seconds"],
            "round_trips_per_email": stats["round_trips"] / result["sent"] if stats.get("round_trips") else None,
            "max_connections": stats.get("max_connections"),
            "duplicates": result.get("smtp_duplicates"),
            "queries_per_email": result["queries_per_email"],
        }
        log(
            f"  {side}: {result['emails_per_s']:.1f} emails/s, "
            f"{results[side]['round_trips_per_email'] or 0:.2f} round trips/email"
        )
    return results


def main():
    mails = int(os.environ.get("BENCH_PROVIDER_MAILS", "10000"))
    batch = int(os.environ.get("BENCH_PROVIDER_BATCH", "100"))
    delays = [float(d) for d in os.environ.get("BENCH_PROVIDER_DELAYS", "0,50").split(",") if d.strip()]
    connection_counts = [int(c) for c in os.environ.get("BENCH_PROVIDER_CONNECTION_COUNTS", "1,8").split(",")]
    runs = []
    odoo = {}
    for delay_ms in delays:
        for mode in ("floor", "pipelined"):
            for connections in connection_counts:
                count = mails_for(mode, connections, delay_ms, mails)
                log(f"provider {delay_ms:g} ms, {mode}, {connections} connection(s): {count} emails")
                result = network_run(mode, connections, delay_ms, count, batch)
                log(
                    f"  {result['emails_per_s']:.1f} emails/s, {result['round_trips_per_email']:.2f} round trips/email, "
                    f"{result['duplicates']} duplicates, {result['lost']} lost"
                )
                runs.append(result)
        if os.environ.get("BENCH_PROVIDER_ODOO", "0") == "1":
            odoo[f"{delay_ms:g}"] = odoo_queue_runs(delay_ms)
    summary = {"mails": mails, "batch": batch, "delays_ms": delays, "runs": runs, "odoo": odoo}
    save_json("provider.json", summary)
    log(f"provider results in {out_dir() / 'provider.json'}")


if __name__ == "__main__":
    main()
