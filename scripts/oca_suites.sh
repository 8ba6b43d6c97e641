#!/usr/bin/env bash
# The OCA mail modules' own tests (mail_tracking, mail_debrand) with and
# without recruitment_mail beside them (issue #13 point 8).
#
#   scripts/oca_suites.sh                 both runs, compared
#   OCA_MODULES=mail_tracking scripts/oca_suites.sh     one of them only
#   TEST_TAGS='/mail_tracking:TestMailTracking' scripts/oca_suites.sh   a subset (--test-tags syntax)
#   WITHOUT_DEMO=1 scripts/oca_suites.sh  databases without demo data (OCA's CI has demo data)
#   PARALLEL=0 scripts/oca_suites.sh      the two runs one after the other (default: side by side)
#   KEEP_DBS=1 scripts/oca_suites.sh      keep the databases (rm_oca_stock_<pid>, rm_oca_addon_<pid>)
#   OCA_COUNTS=file scripts/oca_suites.sh  also write "tests failed 0" there (make test sums it)
#   ADDONS_DIR=/path scripts/oca_suites.sh  test the recruitment_mail/ found there
#
# Two throwaway databases get the OCA modules (scripts/oca_addons.sh fetches the
# pinned wheels): (a) "stock": contacts,hr_recruitment + the OCA modules, i.e.
# recruitment_mail's dependencies without it, so that only the add-on differs;
# (b) "addon": recruitment_mail + the OCA modules. In each, the OCA modules'
# tests (at_install, then post_install) run on the fully loaded registry with
# scripts/loaded_suites.py (the approach of scripts/odoo_suites.sh: with
# `-i mail_tracking --test-enable`, mail_tracking's at_install tests would run
# while it installs, before recruitment_mail is in the registry).
#
# Output: logs and results in var/log/oca-suites-<pid>/ (var/log/oca-suites-latest),
# one line per test failing in either run; then the tests that fail ONLY with
# recruitment_mail. Exit 0 only when there are none (and both runs ran). The
# last line is "N passed, M failed": N the tests that passed in run (b), M the
# tests that fail only with recruitment_mail (a test failing in both runs, e.g.
# for want of demo data, is neither).
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

KEEP_DBS="${KEEP_DBS:-0}"
PARALLEL="${PARALLEL:-1}"
WITHOUT_DEMO="${WITHOUT_DEMO:-0}"
OCA_MODULES="${OCA_MODULES:-mail_tracking,mail_debrand}"
TEST_TAGS="${TEST_TAGS:-$(tr ',' '\n' <<<"$OCA_MODULES" | sed 's|^|/|' | paste -sd, -)}"

fail_early() {
    log "ERROR: $*"
    [ -z "${OCA_COUNTS:-}" ] || echo "1 1 0" >"$OCA_COUNTS"
    echo "0 passed, 1 failed"
    exit 1
}

ensure_postgres
find_odoo
OCA_DIR="$(bash "$REPO_ROOT/scripts/oca_addons.sh")" || fail_early "could not get the OCA addons"
ADDONS_PATH="$("$PYTHON" "$REPO_ROOT/scripts/addons_path.py" "$ADDONS_DIR" "$OCA_DIR")"

RUN_ID="$$"
LOG_DIR="$VAR_DIR/log/oca-suites-$RUN_ID"
VARIANTS=(stock addon)
declare -A INSTALL=(
    [stock]="contacts,hr_recruitment,$OCA_MODULES"
    [addon]="$MODULE,$OCA_MODULES"
)

cleanup() {
    local v
    for v in "${VARIANTS[@]}"; do
        if [ "$KEEP_DBS" = "1" ]; then
            log "kept database rm_oca_${v}_$RUN_ID (KEEP_DBS=1)"
        else
            dropdb --if-exists --force "rm_oca_${v}_$RUN_ID" >/dev/null 2>&1 || true
            rm -rf "$VAR_DIR/oca-data-${v}-$RUN_ID"
        fi
    done
    # the runs still going when interrupted
    jobs -p | xargs -r kill 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Leftovers of runs killed outright (no EXIT trap).
drop_leftovers '^rm_oca_(stock|addon)_[0-9]+$' "$VAR_DIR"/oca-data-*
mkdir -p "$LOG_DIR"
ln -sfn "$(basename "$LOG_DIR")" "$VAR_DIR/log/oca-suites-latest"

demo_args=()
[ "$WITHOUT_DEMO" = "1" ] && demo_args=(--without-demo=all)

# One variant: install, check, run the tests. Its exit status says whether the
# results file was written (the tests ran), not whether they passed.
run_variant() {
    local v="$1" db="rm_oca_${1}_$RUN_ID" data="$VAR_DIR/oca-data-${1}-$RUN_ID"
    local install_log="$LOG_DIR/$v-install.log" tests_log="$LOG_DIR/$v-tests.log"
    local start=$SECONDS rc=0 m state port
    log "[$v] installing ${INSTALL[$v]} into $db (log: ${install_log#"$REPO_ROOT"/})"
    "${ODOO[@]}" -d "$db" --addons-path="$ADDONS_PATH" --data-dir="$data" \
        -i "${INSTALL[$v]}" "${demo_args[@]}" --stop-after-init --no-http --max-cron-threads=0 \
        --log-level=info --logfile="$install_log" || rc=$?
    for m in ${INSTALL[$v]//,/ }; do
        state="$(module_state "$db" "$m")"
        if [ "$rc" -ne 0 ] || [ "$state" != "installed" ]; then
            grep -E ' (ERROR|CRITICAL) |Traceback' "$install_log" | tail -n 20 >&2 || true
            log "[$v] ERROR: installing ${INSTALL[$v]} failed (exit $rc, $m is '${state:-unknown}')"
            return 1
        fi
    done
    if [ "$v" = "stock" ] && [ "$(module_state "$db" "$MODULE")" = "installed" ]; then
        log "[$v] ERROR: $MODULE is installed in $db"
        return 1
    fi
    echo "$((SECONDS - start))" >"$LOG_DIR/$v-install.seconds"
    log "[$v] installed in $((SECONDS - start)) s; running $TEST_TAGS (log: ${tests_log#"$REPO_ROOT"/})"
    start=$SECONDS
    port="$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    rc=0
    "$PYTHON" "$REPO_ROOT/scripts/loaded_suites.py" "$db" "$TEST_TAGS" "$OCA_MODULES" "$LOG_DIR/$v-results.json" \
        --addons-path="$ADDONS_PATH" --data-dir="$data" --no-http --max-cron-threads=0 \
        --http-interface=127.0.0.1 --http-port="$port" \
        --log-level=test --logfile="$tests_log" || rc=$?
    echo "$((SECONDS - start))" >"$LOG_DIR/$v-tests.seconds"
    log "[$v] tests ran in $((SECONDS - start)) s (exit $rc)"
    [ -s "$LOG_DIR/$v-results.json" ] || { log "[$v] ERROR: no results (see the end of $tests_log)"; return 1; }
}

declare -A STATUS
if [ "$PARALLEL" = "1" ]; then
    declare -A PIDS
    for v in "${VARIANTS[@]}"; do
        run_variant "$v" &
        PIDS[$v]=$!
    done
    for v in "${VARIANTS[@]}"; do
        STATUS[$v]=0
        wait "${PIDS[$v]}" || STATUS[$v]=$?
    done
else
    for v in "${VARIANTS[@]}"; do
        STATUS[$v]=0
        run_variant "$v" || STATUS[$v]=$?
    done
fi
for v in "${VARIANTS[@]}"; do
    [ "${STATUS[$v]}" -eq 0 ] || fail_early "the $v run did not complete (logs: ${LOG_DIR#"$REPO_ROOT"/})"
done

# --- compare -----------------------------------------------------------------
"$PYTHON" - "$LOG_DIR" "$MODULE" <<'PY'
import json
import os
import sys

log_dir, addon = sys.argv[1:]


def load(variant):
    with open(os.path.join(log_dir, f"{variant}-results.json"), encoding="utf-8") as fh:
        data = json.load(fh)
    for what in ("install", "tests"):
        try:
            with open(os.path.join(log_dir, f"{variant}-{what}.seconds")) as fh:
                data[f"{what}_seconds"] = int(fh.read())
        except (OSError, ValueError):
            data[f"{what}_seconds"] = "?"
    return data


def out(text=""):
    print(text, flush=True)


stock, mine = load("stock"), load("addon")
bad_runs = []
if stock["probe"]["recruitment_mail_loaded"]:
    bad_runs.append(f"{addon} is loaded in the run without it")
if not mine["probe"]["recruitment_mail_loaded"]:
    bad_runs.append(f"{addon} is NOT loaded in the run with it")
for label, data in (("without", stock), ("with", mine)):
    if data["missing_modules"]:
        bad_runs.append(f"not loaded in the run {label} {addon}: {', '.join(data['missing_modules'])}")
    if not data["tests"]:
        bad_runs.append(f"no test ran in the run {label} {addon}")


def failing(data):
    return {key: t for key, t in data["tests"].items() if t["status"] in ("fail", "error")}


f_stock, f_mine = failing(stock), failing(mine)
for label, data, fails in ((f"without {addon}", stock, f_stock), (f"with {addon}", mine, f_mine)):
    s = data["summary"]
    out(
        f"oca_suites ({label}): {s['run']} tests run, {s['failures']} failure(s), {s['errors']} error(s); "
        f"install {data['install_seconds']} s, tests {data['tests_seconds']} s"
    )
out(f"  ir.mail_server.send_email with {addon}, outermost first: {' > '.join(mine['probe']['ir.mail_server.send_email'])}")
out(f"  results: {log_dir}/{{stock,addon}}-results.json, logs: {log_dir}/")

only_mine = sorted(set(f_mine) - set(f_stock))
only_stock = sorted(set(f_stock) - set(f_mine))
both = sorted(set(f_mine) & set(f_stock))
not_run = sorted(key for key in stock["tests"] if key not in mine["tests"])
for title, keys, source in (
    (f"Failing in both runs ({len(both)}): not {addon}'s doing", both, f_mine),
    (f"Failing only WITHOUT {addon} ({len(only_stock)})", only_stock, f_stock),
    (f"Failing only WITH {addon} ({len(only_mine)})", only_mine, f_mine),
):
    if keys:
        out(title + ":")
        for key in keys:
            t = source[key]
            out(f"  {t['status'].upper():5} {key} ({t.get('at', '')}): {t.get('message', '')[:600]}")
if not_run:
    out(f"Run without {addon} but not with it ({len(not_run)}):")
    for key in not_run:
        out(f"  {key}")
for problem in bad_runs:
    out(f"oca_suites: ERROR: {problem}")
regressions = len(only_mine) + len(not_run) + (1 if bad_runs else 0)
if not regressions:
    out(f"oca_suites: OK, no test fails with {addon} that passes without it")
passed = sum(1 for t in mine["tests"].values() if t["status"] == "pass")
if os.environ.get("OCA_COUNTS"):  # for make test (scripts/test_summary.py): tests, failed, skipped
    with open(os.environ["OCA_COUNTS"], "w", encoding="utf-8") as fh:
        fh.write(f"{passed + regressions} {regressions} 0\n")
if both:
    out(f"({len(both)} test(s) failing in both runs are counted neither passed nor failed)")
out(f"{passed} passed, {regressions} failed")
sys.exit(1 if regressions else 0)
PY
