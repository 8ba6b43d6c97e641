"""The queue as an agency runs it: a real Odoo server with its default cron
threads and time limits, draining a backlog into an SMTP server a round trip
away. Stock Odoo 18 beside recruitment_mail.

For each delay of BENCH_SERVER_DELAYS (ms, default "50") and each side, on a
fresh copy of that side's template database (bench/run.sh builds them):

1. start the SMTP sink (scripts/smtp_sink.py) in its own process with that
   reply delay, counting round trips and connections;
2. queue BENCH_SERVER_MAILS (ours, default 10,000) or BENCH_SERVER_STOCK_MAILS
   (stock, default 1,000: stock sends about 4.7 emails/s at 50 ms) emails
   (queue_worker.py queue; ours: the mail server's Connections set to
   BENCH_SERVER_CONNECTIONS, default 8), and make the queue cron due;
3. start `odoo` on that database as an agency runs it: no cron option (two
   cron threads, limit_time_real 120 s), HTTP on a free port;
4. wait until the sink holds every email (or BENCH_SERVER_TIMEOUT_S, default
   900), stop the server, and check every Message-Id arrived exactly once.

BENCH_SERVER_ODOO_ARGS adds arguments to the server's command line.
The rate is counted from the first email the sink received to the last, so
that the server's start does not count. Writes BENCH_OUT/server.json.
"""

from __future__ import annotations

import collections
import os
import shutil
import signal
import subprocess
import time

from benchlib import createdb_from, dropdb, env_setting, keep_dbs, log, out_dir, psql, python, save_json, template_db
from queue_bench import SinkProcess, free_port, queue_mails


def sink_times(sink: SinkProcess) -> list[float]:
    """Arrival time (epoch seconds) of every message the sink stored."""
    import datetime as dt
    import json

    index = sink.directory / "index.jsonl"
    if not index.exists():
        return []
    times = []
    with open(index, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                times.append(dt.datetime.fromisoformat(json.loads(line)["time"]).timestamp())
    return times


def start_odoo(db: str, tag: str) -> subprocess.Popen:
    logfile = out_dir() / f"server-{tag}.log"
    args = [
        python(),
        "-m",
        "odoo",
        "-d",
        db,
        f"--addons-path={env_setting('BENCH_ADDONS_PATH')}",
        f"--data-dir={env_setting('BENCH_DATA_DIR')}",
        f"--db-filter=^{db}$",
        f"--http-port={free_port()}",
        "--http-interface=127.0.0.1",
        f"--gevent-port={free_port()}",
        "--log-level=info",
        f"--logfile={logfile}",
        # e.g. "--log-handler=odoo.sql_db:DEBUG" to see each email's SQL
        *os.environ.get("BENCH_SERVER_ODOO_ARGS", "").split(),
    ]
    return subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)


def cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system, every thread) the process has used so far."""
    try:
        fields = open(f"/proc/{pid}/stat", encoding="ascii").read().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stop_odoo(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def server_run(side: str, delay_ms: float, mails: int, connections: int) -> dict:
    tag = f"{side}-d{delay_ms:g}"
    db = f"{env_setting('BENCH_PREFIX')}srv_{side}_d{delay_ms:g}".replace(".", "_")
    mailbox = out_dir() / f"mailbox-server-{tag}"
    createdb_from(template_db(side), db)
    timeout = float(os.environ.get("BENCH_SERVER_TIMEOUT_S", "900"))
    try:
        with SinkProcess(mailbox, reply_delay_ms=delay_ms) as sink:
            queue_mails(
                db,
                sink,
                mails,
                int(os.environ.get("BENCH_QUEUE_SENDERS", "20")),
                f"server-{tag}",
                smtp_connections=connections if side == "ours" else 0,
            )
            # the queue cron is due now (stock's runs hourly; ours is also triggered by the new mail)
            psql(
                db,
                "UPDATE ir_cron SET nextcall = now() AT TIME ZONE 'UTC' - interval '1 minute' "
                "WHERE id = (SELECT res_id FROM ir_model_data WHERE module = 'mail' "
                "AND name = 'ir_cron_mail_scheduler_action')",
            )
            proc = start_odoo(db, tag)
            started = time.monotonic()
            exited = None
            # Odoo's CPU time while it sends: from the first poll that saw an
            # email arrive to the one that saw the last (server start left out)
            cpu_first = cpu_last = None
            received_first = received_last = 0
            try:
                while sink.received() < mails and time.monotonic() - started < timeout:
                    received, cpu = sink.received(), cpu_seconds(proc.pid)
                    if received and cpu is not None:
                        if cpu_first is None:
                            cpu_first, received_first = cpu, received
                        cpu_last, received_last = cpu, received
                    if proc.poll() is not None:
                        # stock's queue run outlives the cron time limit and the server stops
                        exited = proc.returncode
                        log(f"  Odoo exited ({exited}) after {sink.received()} emails, see server-{tag}.log")
                        break
                    time.sleep(1)
                received, cpu = sink.received(), cpu_seconds(proc.pid)
                if cpu is not None and cpu_first is not None:
                    cpu_last, received_last = cpu, received
                time.sleep(2)  # anything sent twice arrives now
            finally:
                stop_odoo(proc)
            ids = sink.message_ids()
            times = sink_times(sink)
        stats = sink.stats()
        counts = collections.Counter(ids)
        seconds = (max(times) - min(times)) if len(times) > 1 else None
        restarts = _count(out_dir() / f"server-{tag}.log", "virtual real time limit")
        return {
            "side": side,
            "reply_delay_ms": delay_ms,
            "mails": mails,
            "smtp_connections": connections if side == "ours" else None,
            "received": len(ids),
            "distinct": len(counts),
            "duplicates": sum(count - 1 for count in counts.values()),
            "lost": mails - len(counts),
            "seconds": seconds,
            "emails_per_s": (len(counts) - 1) / seconds if seconds else None,
            "round_trips_per_email": stats.get("round_trips", 0) / len(ids) if ids else None,
            "odoo_cpu_ms_per_email": (
                1000 * (cpu_last - cpu_first) / (received_last - received_first)
                if cpu_first is not None and received_last > received_first
                else None
            ),
            "max_connections": stats.get("max_connections"),
            "time_limit_kills": restarts,
            "server_exited": exited,
        }
    finally:
        shutil.rmtree(mailbox, ignore_errors=True)
        if not keep_dbs():
            dropdb(db)


def _count(path, text) -> int:
    try:
        return path.read_text(errors="replace").count(text)
    except OSError:
        return 0


def main():
    delays = [float(d) for d in os.environ.get("BENCH_SERVER_DELAYS", "50").split(",") if d.strip()]
    runs = []
    for delay_ms in delays:
        sides = os.environ.get("BENCH_SERVER_SIDES", "stock,ours").split(",")
        for side, mails in (
            ("stock", int(os.environ.get("BENCH_SERVER_STOCK_MAILS", "1000"))),
            ("ours", int(os.environ.get("BENCH_SERVER_MAILS", "10000"))),
        ):
            if side not in sides:
                continue
            connections = int(os.environ.get("BENCH_SERVER_CONNECTIONS", "8"))
            log(f"server {delay_ms:g} ms, {side}: {mails} emails")
            result = server_run(side, delay_ms, mails, connections)
            log(
                f"  {side}: {result['emails_per_s'] or 0:.1f} emails/s, {result['round_trips_per_email'] or 0:.2f} "
                f"round trips/email, {result['odoo_cpu_ms_per_email'] or 0:.1f} ms of Odoo CPU/email, "
                f"{result['duplicates']} duplicates, {result['lost']} lost, "
                f"{result['max_connections']} connections at most, {result['time_limit_kills']} time-limit kills"
            )
            runs.append(result)
    save_json("server.json", {"runs": runs})


if __name__ == "__main__":
    main()
