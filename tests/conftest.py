"""System-test harness: real Odoo server processes, a real SMTP server, JSON-RPC.

Plain pytest (not pytest-odoo). `make test` runs these with:
    RM_TEMPLATE_DB  database with recruitment_mail installed (no demo) to copy;
                    without it, the harness installs one itself once per session
    RM_ADDONS_PATH  Odoo --addons-path (default: scripts/addons_path.py output)
    RM_ODOO_CMD     command starting Odoo (default: "<this python> -m odoo")
    RM_DATA_DIR     Odoo data dir holding the template's filestore (default: temp)
    RM_DB_PREFIX    prefix of the databases created here (default "rm_sys_")
    RM_LOG_DIR      where Odoo server logs are kept (default: temp)
    RM_MODULE       module under test (default "recruitment_mail")

Fixtures:
    smtp_server          session-wide SMTP sink (scripts/smtp_sink.SmtpSink) on a
                         free port; reset before each test (messages cleared,
                         `reject` emptied, `fail_data` unset, restarted if stopped)
    odoo_server          session-wide Odoo server on a fresh copy of the template,
                         mail going to smtp_server through ir.mail_server "Test SMTP"
    odoo_server_factory  start more servers (each on its own fresh database), for
                         tests that need a pristine database; stopped after the test
    rpc                  odoo_server.rpc (external JSON-RPC API as admin)

Mail queued by one test (mail.mail) stays in the shared database; tests that
count messages should send what they queue (odoo_server.run_mail_queue()).
"""

from __future__ import annotations

import ctypes
import os
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "scripts"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from rpc import OdooRpc, RpcError, WebSession  # noqa: E402
from smtp_sink import SmtpSink, free_port  # noqa: E402

MODULE = os.environ.get("RM_MODULE", "recruitment_mail")
DB_PREFIX = os.environ.get("RM_DB_PREFIX", "rm_sys_")
ADMIN_LOGIN = ADMIN_PASSWORD = "admin"  # a fresh database without demo data


# Lines a test wants shown at the end of the run (e.g. the chaos tests' counts):
# request.config.stash.setdefault(REPORT_LINES, []).append(line)
REPORT_LINES = pytest.StashKey[list]()


def pytest_configure(config):
    config.addinivalue_line("markers", "chaos: chaos tests of the delivery queue (make chaos)")


def pytest_terminal_summary(terminalreporter):
    lines = terminalreporter.config.stash.get(REPORT_LINES, [])
    if lines:
        terminalreporter.section("reports")
        for line in lines:
            terminalreporter.write_line(line)


# pytest-odoo (installed for the add-on's own tests) registers autouse fixtures that
# load an Odoo registry in this process; these tests talk to real servers instead.
# test.sh disables the plugin (-p no:odoo); these no-ops cover a bare `pytest tests/`.
@pytest.fixture(scope="session")
def load_registry():
    yield


@pytest.fixture(scope="session")
def load_http():
    yield


@pytest.fixture(scope="module")
def enable_odoo_test_flag():
    yield


# --- environment ---------------------------------------------------------------


def _odoo_cmd() -> list:
    cmd = os.environ.get("RM_ODOO_CMD")
    return shlex.split(cmd) if cmd else [sys.executable, "-m", "odoo"]


def _addons_path() -> str:
    if os.environ.get("RM_ADDONS_PATH"):
        return os.environ["RM_ADDONS_PATH"]
    addons_dir = os.environ.get("ADDONS_DIR") or str(REPO_ROOT)
    return subprocess.check_output(
        [_odoo_cmd()[0], str(REPO_ROOT / "scripts" / "addons_path.py"), addons_dir], text=True
    ).strip()


def _psql(db: str, sql: str) -> str:
    return subprocess.run(
        ["psql", "-X", "-q", "-d", db, "-tAc", sql], check=True, capture_output=True, text=True
    ).stdout.strip()


def _dropdb(db: str) -> None:
    subprocess.run(["dropdb", "--if-exists", "--force", db], capture_output=True)


def _die_with_parent():
    """In the child: get SIGTERM if pytest dies, so no Odoo server outlives it."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class Harness:
    """Settings shared by every server of the session."""

    def __init__(self, tmp_root: Path):
        self.odoo_cmd = _odoo_cmd()
        self.addons_path = _addons_path()
        self.data_dir = Path(os.environ.get("RM_DATA_DIR") or tmp_root / "odoo-data")
        self.log_dir = Path(os.environ.get("RM_LOG_DIR") or tmp_root / "logs")
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.template_db = os.environ.get("RM_TEMPLATE_DB")

    def new_db_name(self) -> str:
        return f"{DB_PREFIX}{secrets.token_hex(4)}"

    def base_args(self, db: str) -> list:
        return [
            *self.odoo_cmd,
            "-d",
            db,
            f"--addons-path={self.addons_path}",
            f"--data-dir={self.data_dir}",
            f"--db-filter=^{db}$",
        ]

    def run_odoo(self, db: str, *args: str, label: str) -> None:
        """Run Odoo once on ``db`` (install, update: ``args`` such as "-i", "x")
        and stop; fail the test with the log's tail if it fails."""
        logfile = self.log_dir / f"odoo-{db}-{label}.log"
        proc = subprocess.run(
            [
                *self.base_args(db),
                *args,
                "--stop-after-init",
                "--no-http",
                "--max-cron-threads=0",
                f"--logfile={logfile}",
            ],
            stdin=subprocess.DEVNULL,
        )
        assert proc.returncode == 0, _tail(logfile)

    def build_template(self) -> str:
        """Install the module once into a new database (no demo data)."""
        db = f"{DB_PREFIX}tpl_{secrets.token_hex(4)}"
        logfile = self.log_dir / f"odoo-{db}-install.log"
        proc = subprocess.run(
            [
                *self.base_args(db),
                "-i",
                MODULE,
                "--without-demo=all",
                "--stop-after-init",
                "--no-http",
                "--max-cron-threads=0",
                f"--logfile={logfile}",
            ],
            stdin=subprocess.DEVNULL,
        )
        state = _psql(db, f"SELECT state FROM ir_module_module WHERE name = '{MODULE}'") if proc.returncode == 0 else ""
        if state != "installed":
            _dropdb(db)
            raise RuntimeError(
                f"installing {MODULE} failed (exit {proc.returncode}, state "
                f"{state!r}); see {logfile}:\n{_tail(logfile)}"
            )
        return db

    def copy_db(self, template: str, db: str) -> None:
        subprocess.run(["createdb", "-T", template, db], check=True, capture_output=True)
        src = self.data_dir / "filestore" / template
        if src.is_dir():  # attachments of the template live on disk
            shutil.copytree(src, self.data_dir / "filestore" / db)

    def drop_db(self, db: str) -> None:
        _dropdb(db)
        shutil.rmtree(self.data_dir / "filestore" / db, ignore_errors=True)


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class OdooServer:
    """One `odoo` server process on its own database and free ports."""

    def __init__(self, harness: Harness, db: str, smtp_port: int | None = None, extra_args: tuple = ()):
        self.harness = harness
        self.db = db
        self.smtp_port = smtp_port
        self.extra_args = list(extra_args)
        self.http_port = free_port()
        self.url = f"http://127.0.0.1:{self.http_port}"
        self.logfile = harness.log_dir / f"odoo-{db}.log"
        self.proc: subprocess.Popen | None = None
        self.rpc = OdooRpc(self.url, db, ADMIN_LOGIN, ADMIN_PASSWORD)

    def start(self, timeout: float = 90) -> OdooServer:
        args = [
            *self.harness.base_args(self.db),
            f"--http-port={self.http_port}",
            "--http-interface=127.0.0.1",
            f"--gevent-port={free_port()}",
            "--max-cron-threads=1",
            "--log-level=info",
            f"--logfile={self.logfile}",
            *self.extra_args,
        ]
        if self.smtp_port:
            # Fallback used when no ir.mail_server record applies: the sink, never port 25.
            args += ["--smtp=127.0.0.1", f"--smtp-port={self.smtp_port}"]
        self.proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"Odoo exited with {self.proc.returncode} while starting; {self.logfile}:\n{_tail(self.logfile)}"
                )
            try:
                if requests.get(f"{self.url}/web/login", timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(
                    f"Odoo did not answer /web/login within {timeout}s; {self.logfile}:\n{_tail(self.logfile)}"
                )
            time.sleep(0.5)
        self.rpc.login()
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # Odoo shuts down gracefully on TERM
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None

    # -- conveniences for tests ---------------------------------------------
    def web_session(self, login: str = ADMIN_LOGIN, password: str = ADMIN_PASSWORD) -> WebSession:
        """A new browser-like session logged in as ``login``."""
        session = WebSession(self.url, self.db)
        session.authenticate(login, password)
        return session

    def configure_smtp(self, port: int, host: str = "127.0.0.1", name: str = "Test SMTP") -> int:
        """Create/update the ir.mail_server Odoo uses first (sequence 1)."""
        values = {
            "name": name,
            "smtp_host": host,
            "smtp_port": port,
            "smtp_encryption": "none",
            "smtp_authentication": "login",
            "smtp_user": False,
            "smtp_pass": False,
            "sequence": 1,
            "active": True,
        }
        ids = self.rpc.search("ir.mail_server", [("name", "=", name)])
        if ids:
            self.rpc.write("ir.mail_server", ids, values)
            return ids[0]
        return self.rpc.create("ir.mail_server", values)

    def trigger_cron(self, xmlid: str, timeout: float = 60) -> None:
        """Run a scheduled action now ("Run Manually"); waits out the cron
        thread if it happens to be running the same job."""
        cron_id = self.rpc.ref(xmlid)
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.rpc.execute_kw("ir.cron", "method_direct_trigger", [[cron_id]])
                return
            except RpcError as exc:
                if "currently being executed" not in exc.message or time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def run_mail_queue(self) -> None:
        """Process the outgoing mail queue now (mail's Email Queue Manager cron)."""
        self.trigger_cron("mail.ir_cron_mail_scheduler_action")

    def log_text(self) -> str:
        return self.logfile.read_text(errors="replace") if self.logfile.exists() else ""


@contextmanager
def served(harness: Harness, db: str, smtp_port: int, extra_args=()):
    """An Odoo server on ``db`` (created and prepared by the caller), mail going
    to the SMTP server on ``smtp_port``; stopped and ``db`` dropped afterwards."""
    server = OdooServer(harness, db, smtp_port, extra_args)
    try:
        server.start()
        server.configure_smtp(smtp_port)
        yield server
    finally:
        server.stop()
        harness.drop_db(db)


# --- fixtures --------------------------------------------------------------------

_live_sinks: list = []


@pytest.fixture(scope="session")
def _postgres_ready():
    """A bare `pytest tests/` may run before anything started PostgreSQL."""
    if subprocess.run(["pg_isready", "-q"]).returncode != 0:
        subprocess.run(["bash", "-c", f'. "{REPO_ROOT}/scripts/lib.sh" && ensure_postgres'], check=True)


@pytest.fixture(scope="session")
def harness(tmp_path_factory, _postgres_ready) -> Harness:
    return Harness(tmp_path_factory.mktemp("odoo"))


@pytest.fixture(scope="session")
def template_db(harness):
    if harness.template_db:
        yield harness.template_db
        return
    db = harness.build_template()
    yield db
    harness.drop_db(db)


@pytest.fixture(scope="session")
def smtp_server(tmp_path_factory):
    """Real SMTP server on 127.0.0.1:<free port>; messages also saved as .eml files."""
    sink = SmtpSink("127.0.0.1", 0, tmp_path_factory.mktemp("mailbox")).start()
    _live_sinks.append(sink)
    yield sink
    _live_sinks.remove(sink)
    sink.stop()


@pytest.fixture(autouse=True)
def _reset_smtp_server():
    """Each test starts with an empty, accepting, running SMTP server."""
    for sink in _live_sinks:
        sink.clear()
        sink.reject.clear()
        sink.fail_data = None
        sink.data_delay = 0.0
        sink.reject_replies.clear()
        sink.reply_delay = 0.0
        sink.pipelining = True
        sink.start()
    yield


def _start_server(harness, template_db, smtp_port, extra_args=()) -> OdooServer:
    db = harness.new_db_name()
    harness.copy_db(template_db, db)
    server = OdooServer(harness, db, smtp_port, extra_args)
    try:
        server.start()
        if smtp_port:
            server.configure_smtp(smtp_port)
    except BaseException:
        server.stop()
        harness.drop_db(db)
        raise
    return server


@pytest.fixture(scope="session")
def odoo_server(harness, template_db, smtp_server):
    """Odoo server on a fresh copy of the template; mail goes to ``smtp_server``."""
    server = _start_server(harness, template_db, smtp_server.port)
    yield server
    server.stop()
    harness.drop_db(server.db)


@pytest.fixture
def odoo_server_factory(harness, template_db, smtp_server):
    """``start(smtp_port=<smtp_server's>, extra_args=())`` -> a new OdooServer on
    its own fresh database; all are stopped and dropped after the test."""
    started = []

    def start(smtp_port: int | None = None, extra_args=()):
        server = _start_server(harness, template_db, smtp_port or smtp_server.port, extra_args)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
        harness.drop_db(server.db)


@pytest.fixture
def rpc(odoo_server) -> OdooRpc:
    return odoo_server.rpc
