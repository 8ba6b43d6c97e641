"""Chaos test of the delivery queue (GitHub issue #6, "Delivery you can trust").

Two Odoo server processes work the queue of ONE database (each with one cron
thread, as two production workers would), sending to tests/chaos_smtp.py: a
real SMTP server that answers 4xx at RCPT or DATA, drops the connection before
answering DATA, answers slowly, refuses connections for a couple of seconds now
and then, and answers 550 to every recipient whose address contains "bounce".

The test queues CHAOS_EMAILS emails (default 300; `make chaos` uses 2000),
about 10% of them to a "bounce" address, lets both cron threads run and also
runs the queue on both servers at once from threads ("Run Manually", or the
cron's code directly when the cron thread holds the job, see Driver), so that
the workers really overlap, until no email is waiting. Retries are immediate
(retry delays "0" minutes) and an email may be tried CHAOS_MAX_ATTEMPTS times
(default 1000, see below). The summary says how much the workers overlapped.

Then, counting from what the SMTP server itself recorded (by Message-Id):
every email is either Sent and received exactly once, or Failed with a reason
and received zero times; the Failed ones are exactly the "bounce" ones (an
email that used up its attempts on temporary failures is allowed to be Failed
too, with a temporary reason, and is reported); none missing, none twice.

The SIGKILL variants kill one worker with SIGKILL mid-run, let the survivor
carry on, start a new worker, and check the same, except that the killed
worker's emails in flight may arrive twice, and only if the SMTP server had
stored them from that worker (250 given, worker killed before it committed
"sent"): the duplicate a queue that commits after sending cannot avoid, at
most one per SMTP session of the killed worker (its cron run and a manual run
may both be sending). "while-sending" kills a worker that has an SMTP session
open, wherever it is; "after-250" kills the worker whose message was just
stored, before the 250 is written, so that this duplicate happens: that email
arrives twice.

Environment: CHAOS_EMAILS, CHAOS_SEED (reuse a printed seed: same sequence of
SMTP fates, though which email meets which fate depends on timing),
CHAOS_MAX_ATTEMPTS, CHAOS_TIMEOUT (seconds to drain the queue).
Each test prints one summary line (also in <log dir>/chaos-summary.txt and at
the end of the pytest run); server logs and the SMTP server's mailbox
(index.jsonl) are kept in the log directory.
"""

from __future__ import annotations

import collections
import contextlib
import os
import random
import re
import secrets
import shutil
import subprocess
import threading
import time

import psutil
import pytest
import requests

from chaos_smtp import ChaosSmtp, is_bounce
from conftest import REPORT_LINES, OdooServer, _psql
from rpc import OdooRpc, RpcError

EMAILS = int(os.environ.get("CHAOS_EMAILS") or 300)
SEED = int(os.environ.get("CHAOS_SEED") or secrets.randbits(32))
# Retries are immediate here (retry delays "0"), so attempts stop measuring
# time: while connections are refused, each queue run fails its whole batch at
# connect() and is re-triggered at once (about every 0.1 s), costing every
# due email an attempt each time. A couple of seconds of outage is dozens of
# attempts. The limit is therefore far above what the outages burn, so that an
# email ends Failed for its recipient, never for the outages; an email that
# does use up its attempts is allowed (Failed, temporary reason) and reported.
MAX_ATTEMPTS = int(os.environ.get("CHAOS_MAX_ATTEMPTS") or 1000)
DRAIN_TIMEOUT = float(os.environ.get("CHAOS_TIMEOUT") or max(240.0, EMAILS * 0.3))
BOUNCE_SHARE = 0.10
CHUNK = 250  # emails per create() call
CRON_XMLID = "mail.ir_cron_mail_scheduler_action"
SENDER = "Agency <jobs@agency.example.com>"
FIELDS = [
    "subject",
    "email_to",
    "state",
    "outbox_status",
    "message_id",
    "attempt_count",
    "failure_reason",
    "failure_type",
    "next_attempt_date",
]

pytestmark = pytest.mark.chaos


# --- reporting ------------------------------------------------------------------


def report(request, harness, line: str) -> None:
    """Print a summary line now, keep it for the end of the run and in the log dir."""
    print(line)
    request.config.stash.setdefault(REPORT_LINES, []).append(line)
    with open(harness.log_dir / "chaos-summary.txt", "a", encoding="utf-8") as fh:
        fh.write(line + "\n")


# --- pieces ---------------------------------------------------------------------


@pytest.fixture
def chaos_smtp(harness, request):
    name = re.sub(r"\W+", "-", request.node.name).strip("-")
    directory = harness.log_dir / f"chaos-mailbox-{name}"
    shutil.rmtree(directory, ignore_errors=True)
    server = ChaosSmtp("127.0.0.1", 0, directory, seed=SEED).start()
    yield server
    server.stop()


class Workers:
    """Odoo servers sharing one database, the first started by the factory."""

    def __init__(self, harness, odoo_server_factory, smtp_port):
        self.harness = harness
        self.smtp_port = smtp_port
        self.first = odoo_server_factory(smtp_port=smtp_port)
        self.first.name = "A"
        self.db = self.first.db
        self.all = [self.first]

    def start(self, name: str) -> OdooServer:
        server = OdooServer(self.harness, self.db, self.smtp_port)
        server.name = name
        server.logfile = self.harness.log_dir / f"odoo-{self.db}-{name}.log"
        server.start()
        self.all.append(server)
        return server

    @property
    def alive(self):
        return [s for s in self.all if s.proc and s.proc.poll() is None]

    def stop_extra(self):
        for server in self.all[1:]:
            server.stop()


@pytest.fixture
def workers(harness, odoo_server_factory, chaos_smtp):
    group = Workers(harness, odoo_server_factory, chaos_smtp.port)
    yield group
    group.stop_extra()  # the factory stops the first one and drops the database


class Driver(threading.Thread):
    """Runs the queue on one server, over and over, until stopped.

    First as "Run Manually" does (ir.cron.method_direct_trigger): it takes the
    cron's lock, runs the cron's code and releases the lock at its first
    commit, which is how two workers overlap in production. But a cron thread
    that has work re-acquires the lock within milliseconds, for up to ten runs
    in a row, so "Run Manually" is refused almost every time. When it is, the
    driver runs the cron's code itself (mail.mail.process_email_queue over
    RPC), which is what a manual run that got in does once it has released
    the lock. Without this the two servers hardly ever send at the same time.
    """

    def __init__(self, server: OdooServer, cron_id: int, stop: threading.Event):
        super().__init__(name=f"driver-{server.name}", daemon=True)
        self.server, self.cron_id, self.stop_event = server, cron_id, stop
        self.rpc = OdooRpc(server.url, server.db, timeout=900)
        self.runs = self.unlocked_runs = 0
        self.errors: list = []

    def run(self):
        while not self.stop_event.is_set():
            if self.server.proc is None or self.server.proc.poll() is not None:
                return  # killed
            try:
                try:
                    self.rpc.execute_kw("ir.cron", "method_direct_trigger", [[self.cron_id]])
                    self.runs += 1
                except RpcError as exc:
                    if "currently being executed" not in exc.message:
                        raise
                    self.rpc.execute_kw("mail.mail", "process_email_queue", [])
                    self.unlocked_runs += 1
                self.stop_event.wait(random.uniform(0.05, 0.3))
            except RpcError as exc:
                self.errors.append(exc.message.splitlines()[0][:200])
                self.stop_event.wait(0.2)
            except requests.RequestException as exc:
                # The request of a killed worker may break before it is reaped.
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.server.proc.wait(1)
                if self.server.proc.poll() is not None:
                    return
                self.errors.append(f"{type(exc).__name__}: {exc}"[:200])
                self.stop_event.wait(0.5)


class PortSampler(threading.Thread):
    """Which worker each SMTP session comes from: samples the workers'
    connections to the SMTP server (client port -> worker name)."""

    def __init__(self, workers: Workers, smtp_port: int, stop: threading.Event):
        super().__init__(name="port-sampler", daemon=True)
        self.workers, self.smtp_port, self.stop_event = workers, smtp_port, stop
        self.owner: dict = {}

    def run(self):
        while not self.stop_event.wait(0.05):
            for server in self.workers.alive:
                for port in smtp_ports(server, self.smtp_port):
                    self.owner[port] = server.name

    def overlap(self, chaos: ChaosSmtp) -> str:
        """Transactions per worker, and how many began while another worker
        had a session open."""
        by_worker = collections.Counter()
        crossed = 0
        for _when, port, others in list(chaos.transactions):
            mine = self.owner.get(port, "?")
            by_worker[mine] += 1
            if any(self.owner.get(other, mine) != mine for other in others):
                crossed += 1
        per = " ".join(f"{name}={count}" for name, count in sorted(by_worker.items()))
        concurrent = sum(1 for _when, _port, others in chaos.transactions if others)
        return (
            f"transactions by worker {per}; begun while another session was open: {concurrent}, "
            f"of another worker: {crossed}"
        )


def queue_emails(rpc, tag: str, rng: random.Random) -> list:
    """Queue EMAILS emails with unique subjects, about 10% to a "bounce"
    address; returns their ids."""
    bounce_at = set(rng.sample(range(EMAILS), max(1, round(EMAILS * BOUNCE_SHARE))))
    values = []
    for n in range(EMAILS):
        who = f"bounce{n}" if n in bounce_at else f"candidate{n}"
        subject = f"Chaos {tag} #{n:05d}"
        values.append(
            {
                "subject": subject,
                "email_from": SENDER,
                "email_to": f"{who}@example.com",
                "body_html": f"<p>Dear {who}, your application #{n} is in progress.</p>",
            }
        )
    ids = []
    for start in range(0, EMAILS, CHUNK):
        created = rpc.create("mail.mail", values[start : start + CHUNK])
        ids += created if isinstance(created, list) else [created]
    assert len(ids) == EMAILS
    return ids


def _id_array(ids) -> str:
    return "'{" + ",".join(map(str, ids)) + "}'::int[]"


def state_counts(db: str, ids) -> dict:
    out = _psql(db, f"SELECT state, count(*) FROM mail_mail WHERE id = ANY({_id_array(ids)}) GROUP BY state")
    return {state: int(count) for state, count in (line.split("|") for line in out.splitlines() if line)}


def smtp_ports(server: OdooServer, smtp_port: int) -> set:
    """Local ports of the server's established connections to the SMTP server."""
    try:
        proc = psutil.Process(server.proc.pid)
        conns = proc.net_connections("tcp") if hasattr(proc, "net_connections") else proc.connections("tcp")
    except (psutil.Error, AttributeError):
        return set()
    return {
        c.laddr.port for c in conns if c.raddr and c.raddr.port == smtp_port and c.status == psutil.CONN_ESTABLISHED
    }


def log_stats(servers) -> dict:
    """What the server logs say, summed over the workers."""
    patterns = {
        "refused_connects": r"Outbox: .*could not be reached",
        "skipped_claims": r"is being sent by another worker: skipped",
    }
    stats = dict.fromkeys(patterns, 0)
    for server in servers:
        text = server.log_text()
        for key, pattern in patterns.items():
            stats[key] += len(re.findall(pattern, text, re.M))
    return stats


def drain(workers: Workers, ids, stop: threading.Event, timeout: float, on_tick=None) -> float:
    """Wait until no email of the run is waiting; returns the seconds it took."""
    start = time.monotonic()
    counts = {}
    while time.monotonic() - start < timeout:
        counts = state_counts(workers.db, ids)
        if sum(counts.values()) == EMAILS and not counts.get("outgoing"):
            return time.monotonic() - start
        if on_tick:
            on_tick()
        time.sleep(0.5)
    stop.set()
    waiting = _psql(
        workers.db,
        f"""SELECT attempt_count, count(*) FROM mail_mail
                                     WHERE id = ANY({_id_array(ids)}) AND state = 'outgoing'
                                  GROUP BY attempt_count ORDER BY 1""",
    )
    pytest.fail(
        f"the queue was not drained within {timeout:.0f} s: emails by state {counts}; "
        f"waiting emails by attempt count (attempts|emails): {waiting.split()}; "
        f"workers alive: {[s.name for s in workers.alive]}; logs in {workers.harness.log_dir}"
    )


def check(rpc, ids, chaos: ChaosSmtp, kill_info=None) -> tuple:
    """Compare the database with the SMTP server's record: (counts, problems,
    exhausted emails, duplicated emails). A duplicate is a problem unless it
    is the killed worker's email in flight (kill_info["stored_in_flight"])."""
    mails = rpc.read("mail.mail", ids, FIELDS)
    received = collections.Counter(chaos.message_ids())
    ours = {m["message_id"] for m in mails}
    problems = []
    counts = collections.Counter()
    exhausted = []
    duplicated = []
    for m in mails:
        copies = received.get(m["message_id"], 0)
        bounce = is_bounce(m["email_to"])
        label = f"mail {m['id']} {m['subject']!r} to {m['email_to']} {m['message_id']}"
        if m["state"] == "sent":
            counts["sent"] += 1
            if bounce:
                problems.append(f"{label}: Sent although its recipient is always refused (550)")
            if copies == 0:
                counts["losses"] += 1
                problems.append(f"{label}: LOST: state sent, but the SMTP server never accepted it")
            elif copies > 1:
                counts["duplicates"] += 1
                duplicated.append((m, copies))
        elif m["state"] == "exception":
            counts["failed"] += 1
            reason = (m["failure_reason"] or "").strip()
            if not reason:
                problems.append(f"{label}: Failed without a failure reason")
            if copies:
                counts["failed_but_delivered"] += 1
                problems.append(f"{label}: Failed, but the SMTP server accepted it {copies} time(s)")
            if bounce:
                counts["bounced"] += 1
                if m["failure_type"] != "mail_rejected" or "550" not in reason:
                    problems.append(
                        f"{label}: bounce failed with {m['failure_type']}: {reason!r}, expected the 550 rejection"
                    )
            elif "550" in reason or m["attempt_count"] < MAX_ATTEMPTS:
                problems.append(
                    f"{label}: Failed after {m['attempt_count']} attempt(s) "
                    f"({m['failure_type']}): {reason!r}, expected Sent"
                )
            else:
                exhausted.append(m)
        else:
            counts["stuck"] += 1
            problems.append(f"{label}: left in state {m['state']!r} ({m['outbox_status']})")
    counts["exhausted"] = len(exhausted)
    strangers = [mid for mid in received if mid not in ours]
    if strangers:
        problems.append(
            f"the SMTP server received {len(strangers)} message(s) that are not this run's emails: {strangers[:5]}"
        )
    for m, copies in duplicated:
        if kill_info and copies == 2 and m["message_id"] in kill_info["stored_in_flight"]:
            counts["explained_duplicates"] += 1
            continue
        problems.append(
            f"mail {m['id']} {m['subject']!r} {m['message_id']}: DUPLICATE, received "
            f"{copies} times; {m['attempt_count']} attempt(s) recorded"
        )
    counts["attempts_max"] = max((m["attempt_count"] for m in mails), default=0)
    counts["retried"] = sum(1 for m in mails if m["attempt_count"] > 1)
    return counts, problems, exhausted, duplicated


def summary(kind, counts, chaos, logs, drivers, sampler, elapsed, extra="") -> str:
    inj = chaos.counts()
    return (
        f"CHAOS {kind}: emails={EMAILS} sent={counts['sent']} failed={counts['failed']} "
        f"(bounced={counts['bounced']} exhausted={counts['exhausted']}) "
        f"duplicates={counts['duplicates']} losses={counts['losses']} | injected: "
        f"rcpt_4xx={inj['rcpt_4xx']} data_4xx={inj['data_4xx']} rcpt_5xx={inj['rcpt_5xx']} "
        f"disconnect={inj['disconnect']} slow={inj['slow']} "
        f"refused_windows={inj['outages']} ({inj['outage_s']} s, "
        f"{logs['refused_connects']} refused connects seen) | retried={counts['retried']} "
        f"attempts_max={counts['attempts_max']}/{MAX_ATTEMPTS} "
        f"manual_runs={sum(d.runs for d in drivers)} unlocked_runs={sum(d.unlocked_runs for d in drivers)} "
        f"skipped_claims={logs['skipped_claims']} driver_errors={sum(len(d.errors) for d in drivers)} "
        f"| {sampler.overlap(chaos)}{extra} | drain={elapsed:.1f}s seed={SEED}"
    )


def explain(problems, harness) -> str:
    text = "\n".join(problems[:40])
    if len(problems) > 40:
        text += f"\n... and {len(problems) - 40} more"
    return f"{text}\n(server logs and the SMTP server's mailbox are in {harness.log_dir})"


class ChaosRun:
    """One run: settings, a second worker, the emails, the drivers, the drain."""

    def __init__(self, harness, workers: Workers, chaos: ChaosSmtp, request, seed: int, tag: str):
        self.harness, self.workers, self.chaos, self.request = harness, workers, chaos, request
        self.seed, self.tag = seed, tag
        self.stop = threading.Event()
        self.drivers: list = []
        self.sampler = PortSampler(workers, chaos.port, self.stop)
        self.ids: list = []
        self.elapsed = 0.0

    def start(self) -> ChaosRun:
        rpc = self.workers.first.rpc
        for key, value in (("recruitment_mail.retry_delays", "0"), ("recruitment_mail.max_attempts", MAX_ATTEMPTS)):
            rpc.execute_kw("ir.config_parameter", "set_param", [key, str(value)])
        rpc.write("ir.mail_server", rpc.search("ir.mail_server", []), {"max_per_minute": 0, "max_per_hour": 0})
        # Mail left over in the template must not blur the counts.
        assert not rpc.search("mail.mail", [("state", "=", "outgoing")])
        self.cron_id = rpc.ref(CRON_XMLID)
        self.workers.start("B")
        self.begin = time.monotonic()
        self.chaos.start_outages(max(2, EMAILS // 150))
        self.sampler.start()
        self.ids = queue_emails(rpc, self.tag, random.Random(self.seed))
        self.add_drivers(self.workers.alive)
        return self

    def add_drivers(self, servers) -> None:
        for server in servers:
            driver = Driver(server, self.cron_id, self.stop)
            driver.start()
            self.drivers.append(driver)

    def drain(self, on_tick=None, before_final_runs=None) -> None:
        try:
            drain(self.workers, self.ids, self.stop, DRAIN_TIMEOUT, on_tick)
        finally:
            self.elapsed = time.monotonic() - self.begin
            self.stop.set()
            self.chaos.stop_outages()
            for thread in [*self.drivers, self.sampler]:
                thread.join(120)
        if before_final_runs:
            before_final_runs()
        # One more run on every worker alive: nothing is waiting, so nothing may
        # leave (check() would count it as a duplicate).
        for server in self.workers.alive:
            server.run_mail_queue()
        time.sleep(1)

    def verify(self, kill_info=None):
        """(counts, problems, exhausted emails, duplicated emails), see check()."""
        return check(self.workers.alive[0].rpc, self.ids, self.chaos, kill_info)

    def report(self, kind, counts, exhausted, extra="") -> None:
        logs = log_stats(self.workers.all)
        line = summary(kind, counts, self.chaos, logs, self.drivers, self.sampler, self.elapsed, extra)
        report(self.request, self.harness, line)
        for driver in self.drivers:
            for error in driver.errors[:5]:
                report(self.request, self.harness, f"  driver {driver.server.name} error: {error}")
        for m in exhausted:
            report(
                self.request,
                self.harness,
                f"  exhausted: mail {m['id']} {m['subject']!r} after "
                f"{m['attempt_count']} attempts: {m['failure_reason']!r}",
            )


# --- the tests --------------------------------------------------------------------


def test_chaos_two_workers(harness, workers, chaos_smtp, request):
    run = ChaosRun(harness, workers, chaos_smtp, request, SEED, f"{SEED:08x}").start()
    run.drain()
    counts, problems, exhausted, _duplicated = run.verify()
    run.report("2 workers", counts, exhausted)
    assert not problems, explain(problems, harness)
    assert counts["sent"] + counts["failed"] == EMAILS


class Killer:
    """SIGKILLs one worker once a third of the emails has arrived, and starts a
    new worker ("C") on the database three seconds later.

    while-sending: the first worker seen with an SMTP session open, wherever it
        is in its transaction (rarely in the window between the server's 250
        and its own commit, which lasts milliseconds);
    after-250: the worker whose message the SMTP server has just stored, before
        the 250 is written (ChaosSmtp.after_store): the one case that
        duplicates, on purpose.
    """

    def __init__(self, run: ChaosRun, moment: str):
        self.run, self.workers, self.chaos, self.moment = run, run.workers, run.chaos, moment
        self.victim = self.ports = self.at = self.message_id = self.restarted = None
        self.received = 0
        if moment == "after-250":
            self.chaos.after_store = self.after_store

    def _armed(self) -> bool:
        return self.victim is None and len(self.chaos.received) >= EMAILS // 3

    def _kill(self, server, ports, message_id=None) -> None:
        server.proc.kill()
        self.victim, self.ports, self.at, self.message_id = server, ports, time.monotonic(), message_id
        self.received = len(self.chaos.received)

    def after_store(self, port, message_id) -> None:
        """On the SMTP server's event loop, between storing and answering 250."""
        if self._armed():
            for server in self.workers.alive:
                ports = smtp_ports(server, self.chaos.port)
                if port in ports:
                    self._kill(server, ports, message_id)
                    return

    def on_tick(self) -> None:
        if self.moment == "while-sending" and self._armed():
            deadline = time.monotonic() + 10
            while self.victim is None and time.monotonic() < deadline:
                found = [(s, ports) for s in self.workers.alive if (ports := smtp_ports(s, self.chaos.port))]
                if found:
                    self._kill(*found[0])
                else:
                    time.sleep(0.005)
            assert self.victim, "no worker had an SMTP session open for 10 s after a third had arrived"
        if self.victim and not self.restarted and time.monotonic() - self.at > 3:
            self.restart()
            self.run.add_drivers([self.restarted])

    def restart(self) -> None:
        self.victim.proc.wait(10)
        self.restarted = self.workers.start("C")

    def before_final_runs(self) -> None:
        assert self.victim, f"the queue drained before a third of the {EMAILS} emails had arrived"
        if not self.restarted:
            self.restart()  # drained within 3 s of the kill: C only does the final run

    def in_flight(self) -> dict:
        """The last event of each of the victim's SMTP sessions: {port: (event,
        detail, seconds before the kill)}. A message may be stored a moment after
        the kill (its last bytes were on the way): the worker is dead, it counts."""
        last = {}
        for when, port, event, detail in self.chaos.events_of(self.ports):
            last[port] = (event, detail, self.at - when)
        return last

    def stored_in_doubt(self) -> set:
        """The message each of the victim's SMTP sessions stored last: the one
        whose outcome may not have been committed (a sender completes the next
        message only once the last is recorded). With PIPELINING the next
        mail's envelope goes with that end of data, so its events may come
        after it: the last event alone does not tell."""
        stored = {}
        for _when, port, event, detail in self.chaos.events_of(self.ports):
            if event == "stored":
                stored[port] = detail
        return set(stored.values())


@pytest.mark.parametrize("moment", ["while-sending", "after-250"])
def test_chaos_worker_killed(harness, workers, chaos_smtp, request, moment):
    """One worker is killed with SIGKILL mid-run (see Killer); the survivor
    and a restarted worker finish. The same checks, except that the killed
    worker's email in flight may arrive twice if the server had stored it;
    after-250 makes sure it had: exactly that email arrives twice."""
    run = ChaosRun(harness, workers, chaos_smtp, request, SEED + 1, f"{SEED:08x}{moment[0]}")
    killer = Killer(run, moment)
    run.start()
    run.drain(on_tick=killer.on_tick, before_final_runs=killer.before_final_runs)

    in_flight = killer.in_flight()
    stored_in_flight = killer.stored_in_doubt()
    counts, problems, exhausted, duplicated = run.verify({"stored_in_flight": stored_in_flight})
    sessions = "; ".join(
        f"port {port}: last '{event}' {detail} {abs(ago):.3f}s {'before' if ago >= 0 else 'after'}"
        for port, (event, detail, ago) in in_flight.items()
    )
    extra = (
        f" | killed worker {killer.victim.name} after {killer.received} received, "
        f"in flight: {sessions or 'no transaction yet'}; restarted as C"
    )
    run.report(f"SIGKILL {moment}", counts, exhausted, extra)
    for m, copies in duplicated:
        expected = m["message_id"] in stored_in_flight
        report(
            request,
            harness,
            f"  duplicate: mail {m['id']} {m['subject']!r} {m['message_id']} received {copies} times"
            + (" (the killed worker's email in flight, stored before it died: expected)" if expected else ""),
        )
    assert not problems, explain(problems, harness)
    # README "No duplicates": at most the email in flight on each SMTP session
    # of the killed worker (its cron run and a manual run may both be sending)
    unexpected = [m["message_id"] for m, _copies in duplicated if m["message_id"] not in stored_in_flight]
    assert not unexpected, f"received twice, but not in flight on the killed worker: {unexpected}"
    assert all(copies == 2 for _m, copies in duplicated), "an email in flight is sent again once, no more"
    assert counts["duplicates"] <= len(killer.ports), "more duplicates than the killed worker had SMTP sessions"
    if moment == "after-250":
        assert killer.message_id in [m["message_id"] for m, _copies in duplicated], (
            "the email stored just before the kill is sent again, once"
        )
    assert counts["sent"] + counts["failed"] == EMAILS
