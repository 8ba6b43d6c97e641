#!/usr/bin/env bash
# Run Odoo 18's own outgoing-mail tests (test_mail, test_mass_mailing,
# test_mail_full, and a few of mail and mass_mailing) on a database where
# recruitment_mail is installed AND loaded in the registry (issue #13).
#
#   scripts/odoo_suites.sh               the add-on's run: compared to tests/odoo_suites_expected.txt
#   STOCK=1 scripts/odoo_suites.sh       the same tests without recruitment_mail (its dependencies
#                                        contacts and hr_recruitment are installed): what fails in stock
#   TEST_TAGS='/test_mail:TestMailMail' scripts/odoo_suites.sh    a subset (Odoo --test-tags syntax)
#   SUITES_DB=mydb scripts/odoo_suites.sh    reuse a database installed as below (no install, not dropped;
#                                        its schema must match the code: -u recruitment_mail after changes)
#   ADDONS_DIR=/path scripts/odoo_suites.sh  test the recruitment_mail/ found there (e.g. a `git archive` of a commit)
#   KEEP_DBS=1 scripts/odoo_suites.sh    keep the throwaway database and data dir
#
# Why not `odoo --test-tags ...`: with --test-tags and no -i/-u, Odoo 18 runs the
# post_install tests on the loaded registry (service/server.py preload_registries),
# but the at_install tests (most of test_mail's) run *while the registry loads*,
# at their module's place in the load order (modules/loading.py
# load_module_graph: `test_enable and (needs_update or not updating)`). test_mail
# loads before recruitment_mail (33rd and 55th of 57 modules here), so its at_install
# tests would run without the add-on's overrides, proving nothing. -u test_mail
# does the same at the same place. So this script loads the registry with a
# test tag no test has (test mode on, nothing run during loading), then runs the
# selected tests, at_install ones first, then post_install ones, with Odoo's own
# loader (make_suite/run_suite) on the fully loaded registry (see run_tests below).
#
# Output: logs in var/log/suites-<pid>/ (install.log, tests.log, failures.txt),
# var/log/suites-latest (or suites-stock-latest) points at the last run; the last
# line printed is "N passed, M failed". Exit status: 0 when the failing tests are
# exactly those declared in tests/odoo_suites_expected.txt (add-on run), or when
# the tests ran (STOCK=1, which has no expectations); 1 otherwise.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

KEEP_DBS="${KEEP_DBS:-0}"
STOCK="${STOCK:-0}"
SUITES_DB="${SUITES_DB:-}"
EXPECTED_FILE="${EXPECTED_FILE:-$REPO_ROOT/tests/odoo_suites_expected.txt}"

# --- the selection -----------------------------------------------------------
# Odoo --test-tags specs, one test class each ([tag][/module][:Class][.method]).
# All about outgoing mail: what recruitment_mail overrides (mail.mail's queue,
# _send, _postprocess_sent_message and auto-delete, ir.mail_server, bounces
# through the gateway, address checks) and what builds the mail it sends.
SELECTION=(
    # mail.mail itself: sending, states, failure types/reasons, auto_delete,
    # recipients, headers, attachments, scheduled date.
    /test_mail:TestMailMail
    # choice of outgoing server and From per mail, batching per server.
    /test_mail:TestMailMailServer
    # a bounce received while the mail is being sent (concurrent transactions).
    /test_mail:TestMailMailRace
    # ir.mail_server: from_filter matching, server selection (the add-on
    # overrides ir.mail_server).
    /mail:TestIrMailServer
    # SMTP session that was never opened: quit() must not hide the real error.
    /mail:MailCase
    # composer (mail.compose.message) in comment and mass mail modes: the mail.mail
    # it creates, auto_delete, sending, blacklist/opt-out/duplicate cancellation.
    /test_mail:TestComposerForm
    /test_mail:TestComposerInternals
    /test_mail:TestComposerResultsComment
    /test_mail:TestComposerResultsCommentStatus
    /test_mail:TestComposerResultsMass
    /test_mail:TestComposerResultsMassStatus
    /test_mail:TestMailComposerMixin
    # incoming gateway: routing, replies, loops, and bounces (DSN) that update
    # the sent mail/notification (the add-on turns a bounced mail back to Failed).
    /test_mail:TestEmailParsing
    /test_mail:TestMailgateway
    /test_mail:TestMailGatewayLoops
    /test_mail:TestMailGatewayReplies
    /test_mail:TestMailThreadCC
    # end-to-end flow: post, notify, send, reply through the gateway (post_install).
    /test_mail:TestMailFlow
    # scheduled messages (mail.scheduled.message) posted and sent by their cron.
    /test_mail:TestScheduledMessageAccess
    /test_mail:TestScheduledMessageBusiness
    # message_post / message_notify: the mail.mail and mail.notification they create,
    # their sending (force_send) and auto-deletion.
    /test_mail:TestMailNotifyAPI
    /test_mail:TestMessageNotify
    /test_mail:TestMessageLog
    /test_mail:TestMessagePost
    /test_mail:TestMessagePostHelpers
    /test_mail:TestMessagePostGlobal
    /test_mail:TestMessagePostLang
    # who gets notified by email (post_install).
    /test_mail:RecipientsNotificationTest
    # templates: send_mail, rendering of mail values, languages.
    /test_mail:TestMailTemplate
    /test_mail:TestMailTemplateLanguages
    /test_mail:TestMailTemplateTools
    # server actions that send email (mail_post / template).
    /test_mail:TestServerActionsEmail
    # mail.thread internals: notification email values, recipients, no-thread models.
    /test_mail:TestAPI
    /test_mail:TestChatterTweaks
    /test_mail:TestDiscuss
    /test_mail:TestNoThread
    # resend wizard for failed notifications (mail.resend.message).
    /test_mail:TestMailResend
    # mail.thread.blacklist: blacklisted recipients.
    /test_mail:TestMailThread
    # mass mailing: sending, traces (sent/bounced/cancelled), servers, test mail.
    /test_mass_mailing:TestMassMailing
    /test_mass_mailing:TestMassMailingServer
    /test_mass_mailing:TestMailingTest
    /test_mass_mailing:TestMailingStatistics
    # retry of a mailing's failed mails (its cron sends them again); mailings
    # sent by their cron, scheduled, with a sending limit.
    /mass_mailing:TestMailingRetry
    /mass_mailing:TestMassMailFeatures
    # blacklist: consistency, access, mixin, and auto-blacklist after bounces.
    /test_mass_mailing:TestBLAccessRights
    /test_mass_mailing:TestBLConsistency
    /test_mass_mailing:TestBLMixin
    /test_mass_mailing:TestAutoBlacklist
    # full stack (portal, sms, rating installed): a mass mailing and thread internals.
    /test_mail_full:TestMassMailing
    /test_mail_full:TestMailThreadInternals
)
DEFAULT_TAGS="$(IFS=,; echo "${SELECTION[*]}")"
TEST_TAGS="${TEST_TAGS:-$DEFAULT_TAGS}"
# Modules whose tests are looked at: those named in the tags (all loaded ones if a spec names none).
TEST_MODULES="$(grep -oE '/[A-Za-z0-9_]+' <<<"$TEST_TAGS" | tr -d / | sort -u | paste -sd, -)"
if tr ',' '\n' <<<"$TEST_TAGS" | grep -qvE '^[-+]?[A-Za-z0-9_*]*/'; then TEST_MODULES=""; fi

TEST_INSTALL_MODULES="test_mail,test_mass_mailing,test_mail_full"
if [ "$STOCK" = "1" ]; then
    # the add-on's dependencies, so that the only difference is the add-on itself
    INSTALL_MODULES="contacts,hr_recruitment,$TEST_INSTALL_MODULES"
    LABEL="stock"
else
    INSTALL_MODULES="$MODULE,$TEST_INSTALL_MODULES"
    LABEL="$MODULE"
fi

# Give up before any test ran: still end with the summary line.
fail_early() {
    log "ERROR: $*"
    echo "0 passed, 1 failed"
    exit 1
}

ensure_postgres
find_odoo
ADDONS_PATH="$(addons_path)"

RUN_ID="$$"
DB="${SUITES_DB:-rm_suites_$RUN_ID}"
DATA_DIR="$VAR_DIR/suites-data-$RUN_ID"
LOG_DIR="$VAR_DIR/log/suites-$RUN_ID"
[ "$STOCK" = "1" ] && LOG_DIR="$VAR_DIR/log/suites-stock-$RUN_ID"
INSTALL_LOG="$LOG_DIR/install.log"
TESTS_LOG="$LOG_DIR/tests.log"

cleanup() {
    if [ "$KEEP_DBS" = "1" ]; then
        [ -z "$SUITES_DB" ] && log "kept database $DB and data dir ${DATA_DIR#"$REPO_ROOT"/} (KEEP_DBS=1)"
        return 0
    fi
    if [ -z "$SUITES_DB" ]; then
        dropdb --if-exists --force "$DB" >/dev/null 2>&1 || true
    fi
    rm -rf "$DATA_DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM  # make Ctrl-C go through the EXIT trap

# Leftovers of runs that were killed outright (no EXIT trap).
drop_leftovers '^rm_suites_[0-9]+$' "$VAR_DIR"/suites-data-*
mkdir -p "$LOG_DIR"
ln -sfn "$(basename "$LOG_DIR")" "$VAR_DIR/log/suites-$([ "$STOCK" = "1" ] && echo stock-)latest"

# --- 1. install, no tests ----------------------------------------------------
install_seconds=0
if [ -n "$SUITES_DB" ]; then
    db_exists "$DB" || fail_early "SUITES_DB=$DB does not exist"
    log "using existing database $DB (no install)"
else
    log "installing $INSTALL_MODULES into $DB (log: ${INSTALL_LOG#"$REPO_ROOT"/})"
    start=$SECONDS
    rc=0
    "${ODOO[@]}" -d "$DB" --addons-path="$ADDONS_PATH" --data-dir="$DATA_DIR" \
        -i "$INSTALL_MODULES" --without-demo=all --stop-after-init --no-http --max-cron-threads=0 \
        --log-level=info --logfile="$INSTALL_LOG" || rc=$?
    install_seconds=$((SECONDS - start))
    for m in ${INSTALL_MODULES//,/ }; do
        state="$(module_state "$DB" "$m")"
        if [ "$rc" -ne 0 ] || [ "$state" != "installed" ]; then
            grep -E ' (ERROR|CRITICAL) |Traceback' "$INSTALL_LOG" | tail -n 20 >&2 || true
            fail_early "installing $INSTALL_MODULES failed (exit $rc, $m is '${state:-unknown}')"
        fi
    done
    log "installed in ${install_seconds} s"
fi
if [ "$STOCK" != "1" ] && [ "$(module_state "$DB" "$MODULE")" != "installed" ]; then
    fail_early "$MODULE is not installed in $DB"
fi
if [ "$STOCK" = "1" ] && [ "$(module_state "$DB" "$MODULE")" = "installed" ]; then
    fail_early "STOCK=1 but $MODULE is installed in $DB"
fi

# --- 2. run the tests on the loaded registry ---------------------------------
# Python driver: arguments are the database, the test tags, the modules whose
# tests are considered (empty: all loaded modules), then Odoo's own options.
run_tests() {
    "$PYTHON" - "$@" <<'PY'
import logging
import sys
import threading
import time

import odoo
from odoo.tools import config

db, tags, modules, *odoo_args = sys.argv[1:]
# Test mode (test cursors, assertion report, readonly pool as in a test run), but
# with a tag that no test has: nothing runs while the registry loads, where
# at_install tests would see only the modules loaded before theirs.
config.parse_config(["-d", db, *odoo_args, "--test-tags", "rm_suites_nothing_while_loading"])
_logger = logging.getLogger("odoo.tests.odoo_suites")

from odoo.modules.registry import Registry  # noqa: E402
from odoo.service import server  # noqa: E402

# The HTTP server, as `odoo --test-tags` starts it even with --no-http: many
# test classes are HttpCase-based (sms/mass_mailing commons) and need its port.
server.load_server_wide_modules()
server.server = server.ThreadedServer(odoo.http.root)
server.server.start(stop=True)

threading.current_thread().dbname = db
registry = Registry.new(db, update_module=False)

# Probe: is recruitment_mail in the registry the tests will use?
MailMail = registry["mail.mail"]
owner = next(cls for cls in MailMail.__mro__ if "_postprocess_sent_message" in vars(cls))
_logger.info(
    "PROBE recruitment_mail loaded=%s; mail.mail has outbox_status=%s; "
    "mail.mail._postprocess_sent_message defined in %s (%s)",
    "recruitment_mail" in registry._init_modules,
    "outbox_status" in MailMail._fields,
    owner.__module__,
    getattr(sys.modules.get(owner.__module__), "__file__", "?"),
)

from odoo.tests import loader  # noqa: E402
from odoo.tests.result import _logger as result_logger  # noqa: E402

config["test_tags"] = tags
module_names = [m for m in modules.split(",") if m] or sorted(registry._init_modules)
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
_logger.info("ODOO_SUITES %d tests in %.2fs", report.testsRun, time.time() - t0)
report.log_stats()
log = result_logger.error if not report.wasSuccessful() else result_logger.info
log("%s when loading database %r", report, db)
server.server.stop()  # shuts the HTTP server down, closes the database connections
sys.exit(0 if report.wasSuccessful() else 1)
PY
}

log "running tests on $DB ($LABEL loaded; log: ${TESTS_LOG#"$REPO_ROOT"/})"
start=$SECONDS
test_rc=0
# a free port for the HTTP server of HttpCase-based tests (several runs may share the machine)
http_port="$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
run_tests "$DB" "$TEST_TAGS" "$TEST_MODULES" \
    --addons-path="$ADDONS_PATH" --data-dir="$DATA_DIR" --no-http --max-cron-threads=0 \
    --http-interface=127.0.0.1 --http-port="$http_port" \
    --log-level=test --logfile="$TESTS_LOG" || test_rc=$?
test_seconds=$((SECONDS - start))
log "tests ran in ${test_seconds} s (exit $test_rc)"

# --- 3. parse the log and compare with the declared differences --------------
"$PYTHON" - "$TESTS_LOG" "$EXPECTED_FILE" "$STOCK" "$MODULE" "$LOG_DIR/failures.txt" \
    "$([ "$TEST_TAGS" = "$DEFAULT_TAGS" ] && echo full || echo subset)" \
    "$install_seconds" "$test_seconds" <<'PY'
import os
import re
import sys

log_path, expected_path, stock, addon, failures_path, selection, install_s, test_s = sys.argv[1:]
stock = stock == "1"
LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ \d+ (?P<level>[A-Z]+) \S+ (?P<logger>\S+): (?P<msg>.*)$")
ADDON_MODULE = re.compile(r"odoo\.addons\.(\w+)\.")
SUMMARY = re.compile(r"(\d+) failed, (\d+) error\(s\) of (\d+) tests when loading database")


def test_key(logger, description):
    """module:Class.method from a log line's logger and a test description."""
    module = (ADDON_MODULE.search(logger + " " + description) or [None, "?"])[1]
    description = description.strip()
    if description.startswith("Subtest "):
        description = description[len("Subtest "):].split(" ", 1)[0]
    holder = re.match(r"(setUpClass|tearDownClass|setUpModule|tearDownModule) \((\S+)\)", description)
    if holder:  # an error outside any test: reported under the class
        return f"{module}:{holder[2].rsplit('.', 1)[-1]}.{holder[1]}"
    return f"{module}:{description.split(' ', 1)[0]}"


started, failures, summary, probe = set(), {}, None, None
lines = open(log_path, encoding="utf-8", errors="replace").read().splitlines()
i = 0
while i < len(lines):
    m = LINE.match(lines[i])
    i += 1
    if not m:
        continue
    msg, logger = m["msg"].rstrip(), m["logger"]  # Odoo ends "Starting <test> ... " with a space
    if msg.startswith("PROBE "):
        probe = msg
    elif msg.startswith("Starting ") and msg.endswith(" ..."):
        started.add(test_key(logger, msg[len("Starting "):-4]))
    elif m["level"] == "ERROR" and (msg.startswith("FAIL: ") or msg.startswith("ERROR: ")):
        kind, description = msg.split(": ", 1)
        key = test_key(logger, description)
        body = []
        while i < len(lines) and not LINE.match(lines[i]):
            body.append(lines[i])
            i += 1
        # the essence: the last line of the traceback (the exception and its message)
        tail = [line for line in body if line.strip()]
        essence = tail[-1].strip() if tail else ""
        for line in reversed(tail):
            if re.match(r"^\w[\w.]*(Error|Exception|Failure)\b", line.strip()):
                essence = " ".join(l.strip() for l in tail[tail.index(line):])[:400]
                break
        failures.setdefault(key, (kind, essence))
    else:
        s = SUMMARY.search(msg)
        if s:
            summary = tuple(int(x) for x in s.groups())

def out(text=""):
    print(text, flush=True)

if summary is None:
    out(f"odoo_suites: no test summary in {log_path}: the test run crashed (see its end)")
    out(f"0 passed, 1 failed")
    sys.exit(1)
if not stock and (not probe or "loaded=True" not in probe or f"odoo.addons.{addon}." not in probe):
    out(f"odoo_suites: {addon} was NOT loaded in the tested registry ({probe})")
    out("0 passed, 1 failed")
    sys.exit(1)

expected = {}
try:
    for raw in open(expected_path, encoding="utf-8"):
        line = raw.split("#", 1)[0].strip()
        if line:
            expected[line] = raw.strip()
except FileNotFoundError:
    pass

with open(failures_path, "w", encoding="utf-8") as fh:
    for key, (kind, essence) in sorted(failures.items()):
        fh.write(f"{key}\t{kind}\t{essence}\n")

n_failed_counted, n_errors, n_run = summary
failed = set(failures)
n_failed = len(failed)
out(f"odoo_suites ({'stock, without ' + addon if stock else addon + ' loaded'}, {selection} selection): "
    f"{n_run} tests run, {n_failed_counted} failure(s), {n_errors} error(s); "
    f"install {install_s} s, tests {test_s} s")
if probe:
    out(f"  {probe}")
out(f"  failing tests: {failures_path}")
for key in sorted(failed):
    kind, essence = failures[key]
    mark = "declared" if key in expected else "NEW"
    out(f"  {kind:5} {mark:8} {key}: {essence[:200]}")

bad = False
if not stock:
    undeclared = sorted(failed - set(expected))
    unexpectedly_passed = sorted(k for k in expected if k not in failed and k in started)
    not_run = sorted(k for k in expected if k not in failed and k not in started)
    if undeclared:
        bad = True
        out(f"UNDECLARED failures ({len(undeclared)}), not in {expected_path}:")
        for key in undeclared:
            out(f"  {key}")
    if unexpectedly_passed:
        bad = True
        out(f"Declared differences that PASSED ({len(unexpectedly_passed)}): remove them from {expected_path}:")
        for key in unexpectedly_passed:
            out(f"  {key}")
    if not_run:
        if selection == "full":
            bad = True
        out(f"Declared differences NOT RUN ({len(not_run)}){' (subset run: ignored)' if selection != 'full' else ''}:")
        for key in not_run:
            out(f"  {key}")
    if not bad:
        out("odoo_suites: OK, the failing tests are exactly the declared differences")
# For make test (scripts/test_summary.py): the tests run, and how many did not
# behave as declared (a declared difference that shows is counted as passed).
if os.environ.get("SUITES_COUNTS"):
    wrong = 0 if stock else len(undeclared) + len(unexpectedly_passed) + (len(not_run) if selection == "full" else 0)
    with open(os.environ["SUITES_COUNTS"], "w", encoding="utf-8") as fh:
        fh.write(f"{max(n_run, wrong)} {wrong} 0\n")
# an error outside any test (setUpClass) fails the class without counting in "run"
out(f"{n_run - len(failed & started)} passed, {n_failed} failed")
sys.exit(1 if bad else 0)
PY
