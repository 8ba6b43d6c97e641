#!/usr/bin/env bash
# `make test`: install recruitment_mail once into a template database, then run
#   (a) the add-on's own Odoo tests (recruitment_mail/tests) with pytest-odoo
#       on a copy of the template, and
#   (b) the system tests (tests/) with plain pytest; they copy the template per
#       Odoo server they start;
#   (c) Odoo's own mail suites with the add-on loaded (scripts/odoo_suites.sh), and
#   (d) the OCA mail modules' own tests beside it (scripts/oca_suites.sh);
#       (c) and (d) are skipped when PYTEST_ARGS narrows the run (ODOO_SUITES=1,
#       OCA_SUITES=1 run them anyway).
# Every throwaway database is dropped at the end. The last line printed is the
# combined "N passed, M failed".
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

PYTEST_ARGS="${PYTEST_ARGS:-}"   # extra pytest arguments for both runs, e.g. "-x -k smoke"
KEEP_DBS="${KEEP_DBS:-0}"        # 1: keep the databases for post-mortem debugging

ensure_postgres
# Chromium for the browser tours (Odoo's HttpCase finds it on PATH).
command -v google-chrome >/dev/null 2>&1 || ensure_debian_packages "chromium:chromium"
find_odoo
ensure_python_deps "$REPO_ROOT/requirements-dev.txt" pytest pytest_odoo aiosmtpd email_validator flufl.bounce requests websocket
ADDONS_PATH="$(addons_path)"
# Split PYTEST_ARGS like a shell would, so quoting works: PYTEST_ARGS="-k 'a or b'".
pytest_extra=()
eval "pytest_extra=($PYTEST_ARGS)"

RUN_ID="$$"
TPL_DB="rm_test_tpl_$RUN_ID"
UNIT_DB="rm_test_unit_$RUN_ID"
SYS_PREFIX="rm_sys_${RUN_ID}_"       # system-test databases are named $SYS_PREFIX<random>
DATA_DIR="$VAR_DIR/test-data-$RUN_ID" # throwaway Odoo data dir (filestores, sessions)
# Logs and junit files of this run; kept after it for post-mortems, until the next
# run starts. Per run, because two runs may go on at once on one machine.
LOG_DIR="$VAR_DIR/log/test-$RUN_ID"

cleanup() {
    [ "$KEEP_DBS" = "1" ] && return 0
    local db
    for db in $(pg_query "SELECT datname FROM pg_database
                          WHERE datname IN ('$TPL_DB', '$UNIT_DB')
                             OR datname LIKE '${SYS_PREFIX//_/\\_}%'" 2>/dev/null); do
        dropdb --if-exists --force "$db" >/dev/null 2>&1 || true
    done
    rm -rf "$DATA_DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM  # make Ctrl-C go through the EXIT trap

# Leftovers of earlier runs that were killed outright (no EXIT trap): databases
# and data dirs named after a test.sh pid that is no longer running.
drop_leftovers '^rm_test_(tpl|unit)_[0-9]+$|^rm_sys_[0-9]+_' "$VAR_DIR"/test-data-* "$VAR_DIR"/log/test-*
mkdir -p "$LOG_DIR"
ln -sfn "test-$RUN_ID" "$VAR_DIR/log/test-latest"

# --- template database: the add-on installed once, without demo data --------
log "building template database $TPL_DB (logs of this run: ${LOG_DIR#"$REPO_ROOT"/})"
start=$SECONDS
tpl_rc=0
"${ODOO[@]}" -d "$TPL_DB" --addons-path="$ADDONS_PATH" --data-dir="$DATA_DIR" \
    -i "$MODULE" --without-demo=all --stop-after-init --no-http --max-cron-threads=0 \
    --log-level=info --logfile="$LOG_DIR/template-install.log" || tpl_rc=$?
state="$(module_state "$TPL_DB" "$MODULE")"
if [ "$tpl_rc" -ne 0 ] || [ "$state" != "installed" ]; then
    log "installing $MODULE failed (exit $tpl_rc, module state '${state:-none}'); errors from the log:"
    grep -E ' (ERROR|CRITICAL) |^[A-Za-z]*Error|Traceback' "$LOG_DIR/template-install.log" | tail -n 30 >&2 || true
    tail -n 20 "$LOG_DIR/template-install.log" >&2
    cleanup
    "$PYTHON" "$REPO_ROOT/scripts/test_summary.py" "install of $MODULE:1:"
    exit 1
fi
log "template ready in $((SECONDS - start)) s"

# --- (a) the add-on's Odoo tests via pytest-odoo ------------------------------
UNIT_XML="$LOG_DIR/odoo-tests.xml"
SYS_XML="$LOG_DIR/system-tests.xml"
unit_tests_dir="$ADDONS_DIR/$MODULE/tests"
unit_rc="-"
if compgen -G "$unit_tests_dir/test_*.py" >/dev/null; then
    # --odoo-http: serve HTTP in-process so HttpCase tests run instead of being skipped.
    # pytest-odoo imports odoo.tests outside Odoo's test mode, which Odoo reports
    # with a logged ERROR and stack trace; the log-handler option below mutes it.
    createdb -T "$TPL_DB" "$UNIT_DB"
    copy_filestore "$DATA_DIR" "$TPL_DB" "$UNIT_DB"
    log "running $MODULE's Odoo tests (pytest-odoo, database $UNIT_DB)"
    unit_rc=0
    "$PYTHON" -m pytest -p no:cacheprovider \
        --odoo-database="$UNIT_DB" --odoo-addons-path="$ADDONS_PATH" \
        --odoo-http --odoo-log-level=warn --odoo-extra="data-dir=$DATA_DIR" \
        --odoo-extra="log-handler=odoo.tests.common:CRITICAL" \
        --junitxml="$UNIT_XML" "${pytest_extra[@]}" "$unit_tests_dir" || unit_rc=$?
else
    log "no $unit_tests_dir/test_*.py: skipping the add-on's Odoo tests"
fi

# --- (b) system tests: real Odoo servers, real SMTP, JSON-RPC -----------------
log "running system tests (tests/)"
sys_rc=0
# -p no:odoo: pytest-odoo's autouse fixtures would try to load an Odoo registry here.
RM_TEMPLATE_DB="$TPL_DB" RM_ADDONS_PATH="$ADDONS_PATH" RM_DATA_DIR="$DATA_DIR" \
RM_DB_PREFIX="$SYS_PREFIX" RM_LOG_DIR="$LOG_DIR" RM_MODULE="$MODULE" \
    "$PYTHON" -m pytest -p no:cacheprovider -p no:odoo \
        --junitxml="$SYS_XML" "${pytest_extra[@]}" "$REPO_ROOT/tests" || sys_rc=$?

# --- (c) and (d): suites of others' tests -------------------------------------
# run_suite <what> <switch> <counts variable> <counts file> <script>: one stage,
# skipped when PYTEST_ARGS narrows the run unless <switch>=1; sets suite_rc
# ("-" when skipped).
run_suite() {
    local what="$1" switch="$2" counts_var="$3" counts="$4" script="$5"
    suite_rc="-"
    if [ -z "${pytest_extra[*]}" ] || [ "${!switch:-}" = "1" ]; then
        log "running $what"
        suite_rc=0
        env "$counts_var=$counts" KEEP_DBS="$KEEP_DBS" bash "$script" || suite_rc=$?
    else
        log "PYTEST_ARGS given: skipping $what ($switch=1 runs them too)"
    fi
}

# (c) test_mail, test_mass_mailing, test_mail_full with the add-on loaded: every
# failing test must be a difference declared in tests/odoo_suites_expected.txt
# (scripts/odoo_suites.sh).
SUITES_COUNTS="$LOG_DIR/odoo-suites.counts"
run_suite "Odoo's own mail test suites with $MODULE loaded" ODOO_SUITES \
    SUITES_COUNTS "$SUITES_COUNTS" "$REPO_ROOT/scripts/odoo_suites.sh"
suites_rc="$suite_rc"

# (d) mail_tracking and mail_debrand (pinned PyPI wheels) beside the add-on: no
# test may fail with it that passes without it (scripts/oca_suites.sh).
OCA_COUNTS="$LOG_DIR/oca-suites.counts"
run_suite "the OCA mail modules' own tests with and without $MODULE" OCA_SUITES \
    OCA_COUNTS "$OCA_COUNTS" "$REPO_ROOT/scripts/oca_suites.sh"
oca_rc="$suite_rc"

cleanup
"$PYTHON" "$REPO_ROOT/scripts/test_summary.py" \
    "odoo tests:$unit_rc:$UNIT_XML" "system tests:$sys_rc:$SYS_XML" "odoo mail suites:$suites_rc:$SUITES_COUNTS" \
    "oca mail modules:$oca_rc:$OCA_COUNTS"
