"""Helpers shared by the benchmark scripts in bench/.

Two kinds of scripts use this module:

* orchestrators (queue_bench.py, lists_bench.py) that never import Odoo: they
  create and drop databases, start the SMTP sink and run workers as separate
  processes, so that every measurement starts from a clean process (peak RSS,
  caches) and no two programs share a GIL;
* workers (queue_worker.py, lists_worker.py) that run inside an Odoo
  registry, outside Odoo's test mode, with real commits.

Settings come from the environment that bench/run.sh exports:

    BENCH_PYTHON       interpreter that imports odoo            (python3)
    BENCH_ADDONS_PATH  Odoo --addons-path (our repository first)
    BENCH_DATA_DIR     throwaway Odoo data dir of this run
    BENCH_OUT          directory receiving JSON results and logs of this run
    BENCH_PREFIX       prefix of every database this run creates (rm_bench_<pid>_)
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = REPO_ROOT / "bench"
SIDES = ("stock", "ours")


# --- environment ------------------------------------------------------------------


def env_setting(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None:
        sys.exit(f"{name} is not set: run the benchmarks through `make bench` (bench/run.sh)")
    return value


def out_dir() -> Path:
    path = Path(env_setting("BENCH_OUT"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def python() -> str:
    return os.environ.get("BENCH_PYTHON") or sys.executable


def log(message: str) -> None:
    """Progress for the person running the benchmark, on stderr (stdout is for results)."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- databases (orchestrators) ------------------------------------------------------


def psql(db: str, sql: str) -> str:
    return subprocess.run(
        ["psql", "-X", "-q", "-d", db, "-tAc", sql], check=True, capture_output=True, text=True
    ).stdout.strip()


def _filestore(db: str) -> Path:
    return Path(env_setting("BENCH_DATA_DIR")) / "filestore" / db


def createdb_from(template: str, db: str) -> None:
    """A copy of ``template`` with its filestore (attachments live on disk)."""
    dropdb(db)
    subprocess.run(["createdb", "-T", template, db], check=True)
    if _filestore(template).is_dir():
        shutil.copytree(_filestore(template), _filestore(db))


def dropdb(db: str) -> None:
    subprocess.run(["dropdb", "--if-exists", "--force", db], check=False, capture_output=True)
    shutil.rmtree(_filestore(db), ignore_errors=True)


def keep_dbs() -> bool:
    return os.environ.get("KEEP", "0") == "1"


def template_db(side: str) -> str:
    return f"{env_setting('BENCH_PREFIX')}tpl_{side}"


def run_worker(script: str, *args: str, log_name: str) -> dict:
    """Run a worker script in its own Odoo process; return the JSON it prints last.

    The worker's stderr (Odoo's log is in a file, see odoo_env) goes to
    BENCH_OUT/<log_name>.stderr so a failure can be diagnosed afterwards.
    """
    stderr_path = out_dir() / f"{log_name}.stderr"
    cmd = [python(), str(BENCH_DIR / script), *args, "--odoo-log", str(out_dir() / f"{log_name}.log")]
    with open(stderr_path, "w") as stderr:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=stderr, text=True)
    if proc.returncode != 0:
        tail = stderr_path.read_text().splitlines()[-25:]
        raise RuntimeError(
            f"{script} {' '.join(args)} failed (exit {proc.returncode}):\n"
            + "\n".join(tail)
            + f"\n(full output: {stderr_path})"
        )
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    return json.loads(lines[-1]) if lines else {}


def run_workers_side_by_side(script: str, arg_lists: list[list[str]], log_names: list[str]) -> list[dict]:
    """Like run_worker, for several workers started at once (as several cron
    workers run side by side); returns their JSON results in order."""
    procs = []
    for args, log_name in zip(arg_lists, log_names, strict=True):
        stderr = open(out_dir() / f"{log_name}.stderr", "w")  # noqa: SIM115  # closed below
        cmd = [python(), str(BENCH_DIR / script), *args, "--odoo-log", str(out_dir() / f"{log_name}.log")]
        procs.append((subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=stderr, text=True), stderr, log_name))
    results = []
    for proc, stderr, log_name in procs:
        stdout, _ = proc.communicate()
        stderr.close()
        if proc.returncode != 0:
            tail = (out_dir() / f"{log_name}.stderr").read_text().splitlines()[-25:]
            raise RuntimeError(f"{script} ({log_name}) failed (exit {proc.returncode}):\n" + "\n".join(tail))
        lines = [line for line in stdout.splitlines() if line.strip()]
        results.append(json.loads(lines[-1]) if lines else {})
    return results


# --- Odoo (workers) -----------------------------------------------------------------


@contextlib.contextmanager
def odoo_env(db: str, odoo_log: str, uid: int | None = None):
    """An Odoo environment on ``db`` as a cron or a request would have it: not in
    test mode (so Odoo commits), superuser unless ``uid`` is given.

    Odoo's own log goes to ``odoo_log`` at level info, as on a production
    server (the per-email "sent" lines are part of what each email costs).
    """
    import odoo
    from odoo.tools import config

    config.parse_config(
        [
            "-d",
            db,
            f"--addons-path={env_setting('BENCH_ADDONS_PATH')}",
            f"--data-dir={env_setting('BENCH_DATA_DIR')}",
            "--no-http",
            "--max-cron-threads=0",
            "--log-level=info",
            f"--logfile={odoo_log}",
        ]
    )
    from odoo.modules.registry import Registry

    threading.current_thread().dbname = db
    registry = Registry(db)
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, uid or odoo.SUPERUSER_ID, {})
        yield env


class QueryRecorder:
    """Counts (and optionally keeps) every SQL statement run in this thread.

    Uses the ``query_hooks`` attribute Odoo's cursor calls for each execute(),
    so it sees the ORM's queries on every cursor of the thread, and of the
    threads that take this thread's hooks (the add-on's Recorder).
    """

    def __init__(self, keep: bool = False):
        self.keep = keep
        self.count = 0
        self.seconds = 0.0
        self.queries: list[tuple[str, object, float]] = []
        self.active = True
        self._lock = threading.Lock()

    def __call__(self, cr, query, params, start, delay):
        if not self.active:
            return
        with self._lock:  # the add-on's queue run may record in a thread of its own
            self.count += 1
            self.seconds += delay
            if self.keep:
                text = query.decode() if isinstance(query, bytes) else str(query)
                self.queries.append((text, params, delay))

    def __enter__(self):
        thread = threading.current_thread()
        hooks = list(getattr(thread, "query_hooks", ()))
        hooks.append(self)
        thread.query_hooks = hooks
        return self

    def __exit__(self, *exc):
        thread = threading.current_thread()
        thread.query_hooks = [hook for hook in getattr(thread, "query_hooks", ()) if hook is not self]

    @contextlib.contextmanager
    def paused(self):
        """Leave the benchmark's own bookkeeping queries out of the count."""
        self.active = False
        try:
            yield
        finally:
            self.active = True


class CommitCounter:
    """Counts and times transaction commits (Odoo's Cursor.commit) while
    active. The ORM's flush that precedes each commit is left out of the time
    (its statements are counted by QueryRecorder): what remains is PostgreSQL
    making the transaction durable."""

    def __init__(self):
        self.count = 0
        self.seconds = 0.0
        self._original = None

    def __enter__(self):
        from odoo import sql_db

        original = self._original = sql_db.Cursor.commit
        counter = self

        def commit(cursor):
            counter.count += 1
            cursor.flush()
            start = time.perf_counter()
            try:
                return original(cursor)
            finally:
                counter.seconds += time.perf_counter() - start

        sql_db.Cursor.commit = commit
        return self

    def __exit__(self, *exc):
        from odoo import sql_db

        sql_db.Cursor.commit = self._original


_PLACEHOLDER_RUN = re.compile(r"%s(\s*,\s*%s)+")
_NUMBER = re.compile(r"\b\d+\b")
_SPACES = re.compile(r"\s+")


_FETCH_COLUMNS = re.compile(r'^SELECT ("(\w+)"\."\w+"(->>%s)?, )+"\2"\."\w+"(->>%s)? FROM')
_UPDATE_COLUMNS = re.compile(r'^UPDATE ("\w+") SET .* FROM \(VALUES .*\bWHERE .*"__tmp"\."id"$')


def normalize_sql(query: str) -> str:
    """One line per statement shape: placeholders lists and numbers folded, so
    the same statement run for different mails groups together."""
    text = _SPACES.sub(" ", query).strip()
    text = _PLACEHOLDER_RUN.sub("%s...", text)
    return _NUMBER.sub("N", text)


def sql_label(normalized: str) -> str:
    """The statement without its column list, so that the ORM's read or write
    of a record pairs up between stock and ours even though ours has more
    columns (the full text is kept beside it)."""
    text = _FETCH_COLUMNS.sub(lambda m: f'SELECT <columns of "{m.group(2)}"> FROM', normalized)
    return _UPDATE_COLUMNS.sub(lambda m: f"UPDATE {m.group(1)} SET <columns> (the ORM's flush)", text)


# --- measurements -------------------------------------------------------------------


def median(values):
    return statistics.median(values) if values else None


def rss_now_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def peak_rss_mb() -> float:
    # ru_maxrss is in KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def emit(result: dict) -> None:
    """A worker's result: one JSON line, the last line of its stdout."""
    print(json.dumps(result, default=str), flush=True)


def save_json(name: str, data) -> Path:
    path = out_dir() / name
    path.write_text(json.dumps(data, indent=2, default=str))
    return path
