"""Queue throughput, ours beside stock: how fast the mail queue cron empties a
backlog into a real SMTP server, and what each sent email costs.

For each run (BENCH_QUEUE_RUNS, default 3) and each setup, on a fresh copy of
that setup's template database:

1. start the SMTP sink (scripts/smtp_sink.py) in its own process on a free
   127.0.0.1 port, so it never competes with Odoo for the GIL;
2. queue BENCH_QUEUE_MAILS (default 10,000) emails from BENCH_QUEUE_SENDERS
   (default 20) authors: 2 KB HTML body, one recipient in email_to,
   auto_delete unset, so both setups keep the sent mail (stock deletes sent
   mail only when auto_delete is set, as chatter notifications have it; ours
   keeps business mail whatever the flag says);
3. run the queue cron until the backlog is gone (queue_worker.py drain), with
   mail.mail.queue.batch.size = BENCH_QUEUE_BATCH (default 1000, the batch the
   stock cron asks for) in both setups, and check that the sink received
   every email.

The order of the two setups alternates between runs so that a slow moment of
the machine does not always hit the same side. Figures are medians over runs.

Then:

* the SMTP sink's own ceiling: a plain smtplib client replays the messages
  Odoo sent (the raw .eml files) over one connection to a fresh sink;
* the per-email query breakdown: BENCH_BREAKDOWN_MAILS (default 100) emails
  drained with every SQL statement kept and grouped by shape;
* one run per setup of BENCH_QUEUE_ONE_SENDER_MAILS (default 2,000; 0 skips
  it) emails all from one address, so that each cron run sends them as one
  batch through one SMTP session.

Writes BENCH_OUT/queue.json.
"""

from __future__ import annotations

import json
import os
import shutil
import smtplib
import socket
import subprocess
import time
from email.parser import BytesHeaderParser
from pathlib import Path

from benchlib import (
    REPO_ROOT,
    SIDES,
    createdb_from,
    dropdb,
    env_setting,
    keep_dbs,
    log,
    median,
    out_dir,
    python,
    run_worker,
    run_workers_side_by_side,
    save_json,
    template_db,
)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SinkProcess:
    """scripts/smtp_sink.py as a separate process, storing into ``directory``.

    ``reply_delay_ms``: the provider's round trip (the sink's --reply-delay-ms,
    once per turn of the conversation); ``pipelining``: whether its EHLO offers
    PIPELINING. The sink writes its counters (round trips, connections) to
    ``<directory>.stats.json``: ``stats()`` reads them, final once the process
    has exited.
    """

    def __init__(self, directory: Path, reply_delay_ms: float = 0, pipelining: bool = True):
        self.directory = directory
        self.port = free_port()
        self.proc = None
        self.reply_delay_ms = reply_delay_ms
        self.pipelining = pipelining
        self.stats_file = directory.with_name(directory.name + ".stats.json")

    def __enter__(self):
        shutil.rmtree(self.directory, ignore_errors=True)
        self.directory.mkdir(parents=True)
        self.stats_file.unlink(missing_ok=True)
        log_file = open(out_dir() / f"smtp_sink-{self.directory.name}.log", "w")
        self.proc = subprocess.Popen(
            [
                python(),
                str(REPO_ROOT / "scripts" / "smtp_sink.py"),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--dir",
                str(self.directory),
                "--reply-delay-ms",
                str(self.reply_delay_ms),
                "--stats-file",
                str(self.stats_file),
                *([] if self.pipelining else ["--no-pipelining"]),
            ],
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"SMTP sink did not start, see {log_file.name}")
                time.sleep(0.1)

    def __exit__(self, *exc):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def stats(self) -> dict:
        """The sink's counters (scripts/smtp_sink.py's stats()): round_trips,
        connections, max_connections, messages; final after ``__exit__``."""
        try:
            return json.loads(self.stats_file.read_text())
        except (OSError, ValueError):
            return {}

    def message_ids(self) -> list:
        """Message-Id of every message stored, in arrival order (duplicates kept)."""
        index = self.directory / "index.jsonl"
        if not index.exists():
            return []
        with open(index, encoding="utf-8") as fh:
            return [json.loads(line)["message_id"] for line in fh if line.strip()]

    def received(self) -> int:
        index = self.directory / "index.jsonl"
        if not index.exists():
            return 0
        with open(index, "rb") as fh:
            return sum(1 for _ in fh)


def queue_mails(
    db: str, sink: SinkProcess, count: int, senders: int, tag: str, lanes: int = 1, smtp_connections: int = 0
) -> None:
    """Queue ``count`` emails in ``db`` (queue_worker.py queue), sent to ``sink``;
    ``smtp_connections``: the mail server's Connections (ours, when it has the field)."""
    run_worker(
        "queue_worker.py",
        "queue",
        "--db",
        db,
        "--count",
        str(count),
        "--port",
        str(sink.port),
        "--batch",
        os.environ.get("BENCH_QUEUE_BATCH", "1000"),
        "--senders",
        str(senders),
        *(["--lanes", str(lanes)] if lanes > 1 else []),
        *(["--smtp-connections", str(smtp_connections)] if smtp_connections else []),
        log_name=f"queue-{tag}",
    )


def drain_once(
    side: str,
    run: str,
    count: int,
    senders: int | None = None,
    keep_queries: bool = False,
    reply_delay_ms: float = 0,
    smtp_connections: int = 0,
) -> tuple[dict, Path]:
    """Queue ``count`` emails in a fresh database of ``side`` and send them all,
    to a sink answering with ``reply_delay_ms`` of round trip (see SinkProcess).
    The result has the sink's ``smtp_stats`` (round trips, connections)."""
    senders = senders or int(os.environ.get("BENCH_QUEUE_SENDERS", "20"))
    tag = f"{side}-{run}"
    db = f"{env_setting('BENCH_PREFIX')}q_{side}_{run}"
    mailbox = out_dir() / f"mailbox-{tag}"
    createdb_from(template_db(side), db)
    try:
        with SinkProcess(mailbox, reply_delay_ms=reply_delay_ms) as sink:
            queue_mails(db, sink, count, senders, tag, smtp_connections=smtp_connections)
            args = ["drain", "--db", db] + (["--keep-queries"] if keep_queries else [])
            result = run_worker("queue_worker.py", *args, log_name=f"drain-{tag}")
            # the sink may still be writing the last message when the worker exits
            deadline = time.monotonic() + 10
            while sink.received() < result["sent"] and time.monotonic() < deadline:
                time.sleep(0.1)
            result["smtp_received"] = sink.received()
            ids = sink.message_ids()
        result["smtp_stats"] = sink.stats()
        result["smtp_duplicates"] = len(ids) - len(set(ids))
        result["reply_delay_ms"] = reply_delay_ms
        if result["smtp_received"] != result["sent"] or result["sent"] != count:
            raise RuntimeError(
                f"{side} run {run}: queued {count}, Odoo reports {result['sent']} sent, "
                f"the SMTP server received {result['smtp_received']}"
            )
    finally:
        if not keep_dbs():
            dropdb(db)
    return result, mailbox


def drain_lanes(count: int, lanes: int) -> dict:
    """Ours with ``lanes`` sending lanes (Settings > Parallel sending): queue
    ``count`` emails, then run every lane's cron in its own process, side by
    side, as that many cron workers would."""
    tag = f"ours-lanes{lanes}"
    db = f"{env_setting('BENCH_PREFIX')}q_ours_lanes"
    mailbox = out_dir() / f"mailbox-{tag}"
    createdb_from(template_db("ours"), db)
    try:
        with SinkProcess(mailbox) as sink:
            queue_mails(db, sink, count, int(os.environ.get("BENCH_QUEUE_SENDERS", "20")), tag, lanes=lanes)
            runs = run_workers_side_by_side(
                "queue_worker.py",
                [["drain", "--db", db, "--lane", str(lane)] for lane in range(1, lanes + 1)],
                [f"drain-{tag}-lane{lane}" for lane in range(1, lanes + 1)],
            )
            sent = sum(run["sent"] for run in runs)
            deadline = time.monotonic() + 10
            while sink.received() < sent and time.monotonic() < deadline:
                time.sleep(0.1)
            received = sink.received()
        if received != sent or sent != count:
            raise RuntimeError(
                f"{lanes} lanes: queued {count}, Odoo reports {sent} sent, the SMTP server received {received}"
            )
    finally:
        if not keep_dbs():
            dropdb(db)
        shutil.rmtree(mailbox, ignore_errors=True)
    wall = max(run["ended_at"] for run in runs) - min(run["started_at"] for run in runs)
    return {
        "lanes": lanes,
        "mails": count,
        "sent": sent,
        "seconds": wall,
        "emails_per_s": sent / wall,
        "queries_per_email": sum(run["queries"] for run in runs) / sent,
        "commits_per_email": sum(run["commits"] for run in runs) / sent,
        "peak_rss_mb": max(run["peak_rss_mb"] for run in runs),
        "per_lane": [{"sent": run["sent"], "seconds": run["seconds"]} for run in runs],
    }


def smtp_ceiling(source: Path, limit: int) -> float:
    """Messages/s of a plain smtplib client replaying Odoo's messages to a fresh sink."""
    files = sorted(source.glob("*.eml"))[:limit]
    messages = []
    for path in files:
        raw = path.read_bytes()
        headers = BytesHeaderParser().parsebytes(raw)
        messages.append((headers.get("Return-Path") or headers["From"], headers["To"], raw))
    with SinkProcess(out_dir() / "mailbox-ceiling") as sink:
        client = smtplib.SMTP("127.0.0.1", sink.port)
        start = time.perf_counter()
        for mail_from, rcpt, raw in messages:
            client.sendmail(mail_from, [rcpt], raw)
        elapsed = time.perf_counter() - start
        client.quit()
        time.sleep(0.2)
        if sink.received() != len(messages):
            raise RuntimeError(f"ceiling: sent {len(messages)}, sink received {sink.received()}")
    shutil.rmtree(out_dir() / "mailbox-ceiling", ignore_errors=True)
    return len(messages) / elapsed


def breakdown_table(groups_by_side: dict, mails: int) -> list[dict]:
    """Statement shapes with their count per sent email, both setups side by side."""
    keys = set()
    for groups in groups_by_side.values():
        keys.update(groups)
    rows = []
    for key in keys:
        row = {"sql": key}
        for side in SIDES:
            group = groups_by_side.get(side, {}).get(key)
            row[side] = group["count"] / mails if group else 0.0
            row[f"{side}_ms"] = 1000 * group["seconds"] / mails if group else 0.0
            row[f"{side}_texts"] = group["texts"] if group else {}
        rows.append(row)
    rows.sort(key=lambda r: (-(r["ours"] - r["stock"]), -r["ours"], r["sql"]))
    return rows


def main():
    count = int(os.environ.get("BENCH_QUEUE_MAILS", "10000"))
    runs = int(os.environ.get("BENCH_QUEUE_RUNS", "3"))
    breakdown_mails = int(os.environ.get("BENCH_BREAKDOWN_MAILS", "100"))
    results = {side: [] for side in SIDES}
    last_mailbox = None
    for run in range(1, runs + 1):
        order = SIDES if run % 2 else tuple(reversed(SIDES))
        for side in order:
            log(f"queue run {run}/{runs}, {side}: {count} emails")
            result, mailbox = drain_once(side, str(run), count)
            log(
                f"  {side}: {result['emails_per_s']:.1f} emails/s, "
                f"{result['queries_per_email']:.2f} queries/email, peak RSS {result['peak_rss_mb']:.0f} MB"
            )
            results[side].append(result)
            save_json(f"queue-run-{side}-{run}.json", result)
            if last_mailbox:
                shutil.rmtree(last_mailbox, ignore_errors=True)
            last_mailbox = mailbox

    log("SMTP sink ceiling: plain smtplib client, one connection")
    ceilings = [smtp_ceiling(last_mailbox, count) for _ in range(runs)]
    shutil.rmtree(last_mailbox, ignore_errors=True)

    log(f"per-email query breakdown ({breakdown_mails} emails per setup)")
    groups = {}
    breakdown_runs = {}
    for side in SIDES:
        result, mailbox = drain_once(side, "breakdown", breakdown_mails, keep_queries=True)
        shutil.rmtree(mailbox, ignore_errors=True)
        groups[side] = result.pop("query_groups")
        breakdown_runs[side] = result

    # Every email from one address (a shared jobs@ mailbox): one sending
    # batch per cron run, so whatever a batch costs per email shows in full.
    one_sender_mails = int(os.environ.get("BENCH_QUEUE_ONE_SENDER_MAILS", "2000"))
    one_sender = {}
    if one_sender_mails:
        for side in SIDES:
            log(f"queue, one sender address, {side}: {one_sender_mails} emails")
            result, mailbox = drain_once(side, "one_sender", one_sender_mails, senders=1)
            shutil.rmtree(mailbox, ignore_errors=True)
            log(f"  {side}: {result['emails_per_s']:.1f} emails/s")
            one_sender[side] = result

    # Ours with parallel sending: as many lanes as this machine has cores.
    lanes = int(os.environ.get("BENCH_QUEUE_LANES", str(os.cpu_count() or 2)))
    lanes_result = None
    if lanes > 1:
        log(f"queue, ours with {lanes} sending lanes side by side: {count} emails")
        lanes_result = drain_lanes(count, lanes)
        log(f"  ours, {lanes} lanes: {lanes_result['emails_per_s']:.1f} emails/s")

    summary = {
        "mails": count,
        "lanes": lanes_result,
        "one_sender": {"mails": one_sender_mails, "sides": one_sender},
        "runs": runs,
        "batch": int(os.environ.get("BENCH_QUEUE_BATCH", "1000")),
        "senders": int(os.environ.get("BENCH_QUEUE_SENDERS", "20")),
        "sides": {
            side: {
                "emails_per_s": median([r["emails_per_s"] for r in results[side]]),
                "queries_per_email": median([r["queries_per_email"] for r in results[side]]),
                "commits_per_email": median([r["commits_per_email"] for r in results[side]]),
                "sql_ms_per_email": median([1000 * r["sql_seconds"] / r["sent"] for r in results[side]]),
                "commit_ms_per_email": median([1000 * r["commit_seconds"] / r["sent"] for r in results[side]]),
                "peak_rss_mb": median([r["peak_rss_mb"] for r in results[side]]),
                "rss_before_mb": median([r["rss_before_mb"] for r in results[side]]),
                "kept_after_send": median([r["kept_after_send"] for r in results[side]]),
                "deleted_after_send": median([r["deleted_after_send"] for r in results[side]]),
                "runs": results[side],
            }
            for side in SIDES
        },
        "smtp_ceiling_per_s": median(ceilings),
        "smtp_ceilings": ceilings,
        "breakdown": {
            "mails": breakdown_mails,
            "runs": breakdown_runs,
            "rows": breakdown_table(groups, breakdown_mails),
        },
    }
    save_json("queue.json", summary)
    log(f"queue results in {out_dir() / 'queue.json'}")


if __name__ == "__main__":
    main()
