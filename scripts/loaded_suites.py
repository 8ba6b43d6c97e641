"""Run Odoo tests on a fully loaded registry and write their outcome as JSON.

    python3 scripts/loaded_suites.py DB TAGS MODULES RESULTS.json [odoo options...]

DB: an installed database; TAGS: Odoo --test-tags specs ("/mail_tracking,/mail_debrand");
MODULES: comma-separated modules whose tests are looked at (empty: every loaded
module); RESULTS.json: where the outcome goes; then Odoo's own options
(--addons-path, --data-dir, --http-port, --logfile, ...).

Why: `odoo -i X --test-enable` runs X's at_install tests while X installs, at
its place in the load order, i.e. possibly before recruitment_mail is in the
registry, and `--test-tags` without -i/-u runs at_install tests while the
registry loads, again at each module's place (modules/loading.py). Here the
registry is loaded in test mode with a tag no test has (nothing runs while it
loads), then the selected tests run, at_install ones first, then post_install
ones, with Odoo's own loader (make_suite/run_suite) on the fully loaded
registry: the approach of scripts/odoo_suites.sh, as a file of its own.

RESULTS.json: {"probe": {...}, "tests": {"module:Class.method": {"status":
"pass"|"fail"|"error"|"skip", "message": last lines of the traceback}},
"summary": {"run", "failures", "errors", "seconds"}}.
"""

import json
import logging
import sys
import threading
import time
import traceback

import odoo
from odoo.tools import config

db, tags, modules, results_path, *odoo_args = sys.argv[1:]
config.parse_config(["-d", db, *odoo_args, "--test-tags", "rm_loaded_suites_nothing_while_loading"])
_logger = logging.getLogger("odoo.tests.loaded_suites")

from odoo.modules.registry import Registry  # noqa: E402
from odoo.service import server  # noqa: E402
from odoo.tests import case, loader  # noqa: E402
from odoo.tests.result import OdooTestResult  # noqa: E402

OUTCOMES = {}
ORDER = []


def test_key(test):
    """module:Class.method (module:Class.setUpClass for an error outside any test)."""
    test_id = test.id()
    holder = None
    if " (" in test_id and test_id.endswith(")"):  # unittest's _ErrorHolder: "setUpClass (pkg.mod.Class)"
        holder, test_id = test_id[:-1].split(" (", 1)
    subtest = ""
    if " " in test_id:  # a subtest: "pkg.mod.Class.method (params)"
        test_id, subtest = test_id.split(" ", 1)
    parts = test_id.split(".")
    module = parts[2] if len(parts) > 2 and parts[:2] == ["odoo", "addons"] else parts[0]
    name = f"{parts[-1]}.{holder}" if holder else ".".join(parts[-2:])
    return f"{module}:{name}" + (f" {subtest}" if subtest else "")


def essence(err):
    """The exception and its message: what an assertion said."""
    lines = traceback.format_exception_only(err[0], err[1])
    return " ".join(line.strip() for line in lines)[:2000]


def where(err):
    """file:line of the test code (the innermost frame in a tests/ folder)."""
    found = ""
    for frame in traceback.extract_tb(err[2]):
        if "/tests/" in frame.filename:
            found = f"{frame.filename.split('/odoo/addons/')[-1].split('/addons/')[-1]}:{frame.lineno}"
    return found


class RecordingResult(OdooTestResult):
    """Odoo's result, that also keeps each test's outcome."""

    def _note(self, test, status, err=None):
        subtest = ""
        if isinstance(test, case._SubTest):  # reported under its test
            subtest, test = test._subDescription(), test.test_case
        key = test_key(test)
        if key not in OUTCOMES:
            ORDER.append(key)
        previous = OUTCOMES.get(key)
        if previous and previous["status"] in ("fail", "error") and status == "pass":
            return  # a test whose subtest failed stays failed
        OUTCOMES[key] = {"status": status}
        if err is not None:
            OUTCOMES[key].update(message=(f"{subtest}: " if subtest else "") + essence(err), at=where(err))

    def startTest(self, test):
        super().startTest(test)
        self._note(test, "pass")

    def addError(self, test, err):
        super().addError(test, err)
        self._note(test, "error", err)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._note(test, "fail", err)

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        key = test_key(test)
        if key not in OUTCOMES:
            ORDER.append(key)
        OUTCOMES[key] = {"status": "skip", "message": str(reason)}


loader.OdooTestResult = RecordingResult  # run_suite builds its result from this name

# The HTTP server, as `odoo --test-tags` starts it even with --no-http:
# HttpCase-based tests need its port.
server.load_server_wide_modules()
server.server = server.ThreadedServer(odoo.http.root)
server.server.start(stop=True)

threading.current_thread().dbname = db
registry = Registry.new(db, update_module=False)


def owners(model, method):
    """The modules that define ``method`` on ``model``, outermost (called first) first."""
    found = []
    for cls in registry[model].__mro__:
        if method in vars(cls):
            module = cls.__module__
            found.append(module.split(".")[2] if module.startswith("odoo.addons.") else module)
    return found


probe = {
    "recruitment_mail_loaded": "recruitment_mail" in registry._init_modules,
    "modules_loaded": len(registry._init_modules),
    "ir.mail_server.send_email": owners("ir.mail_server", "send_email"),
    "ir.mail_server.build_email": owners("ir.mail_server", "build_email"),
    "mail.mail._send": owners("mail.mail", "_send"),
    "mail.mail._prepare_outgoing_list": owners("mail.mail", "_prepare_outgoing_list"),
    "mail.mail._postprocess_sent_message": owners("mail.mail", "_postprocess_sent_message"),
}
_logger.info("PROBE %s", json.dumps(probe))

config["test_tags"] = tags
module_names = [m for m in modules.split(",") if m] or sorted(registry._init_modules)
missing = [m for m in module_names if m not in registry._init_modules]
if missing:
    _logger.error("not loaded in %s: %s", db, ", ".join(missing))
report = registry._assertion_report
t0 = time.time()
for position in ("at_install", "post_install"):
    suite = loader.make_suite(module_names, position)
    _logger.info("Running %d %s tests on the loaded registry", suite.countTestCases(), position)
    if position == "post_install" and suite.has_http_case():  # as preload_registries does
        with registry.cursor() as cr:
            odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})["ir.qweb"]._pregenerate_assets_bundles()
    result = loader.run_suite(suite, global_report=report)
    report.update(result)
seconds = time.time() - t0
report.log_stats()
(_logger.error if not report.wasSuccessful() else _logger.info)("%s when loading database %r", report, db)
with open(results_path, "w", encoding="utf-8") as fh:
    json.dump(
        {
            "probe": probe,
            "missing_modules": missing,
            "tests": {key: OUTCOMES[key] for key in ORDER},
            "summary": {
                "run": report.testsRun,
                "failures": report.failures_count,
                "errors": report.errors_count,
                "seconds": round(seconds, 1),
            },
        },
        fh,
        indent=1,
    )
server.server.stop()  # shuts the HTTP server down, closes the database connections
sys.exit(0 if report.wasSuccessful() and not missing else 1)
