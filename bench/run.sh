#!/usr/bin/env bash
# `make bench`: performance of recruitment_mail at agency scale, measured side
# by side with stock Odoo (the same Odoo with mail, contacts and hr_recruitment
# but without recruitment_mail). Prints one report; see docs/benchmarks.md.
#
#   1. queue throughput: emails/s from the queue cron to a real SMTP server,
#      SQL statements and commits per email, peak RSS (bench/queue_bench.py);
#   2. lists at N = 100,000 and 1,000,000 emails: Outbox, Sent items, Email tab,
#      the cron's look for due mail, with EXPLAIN and the add-on's index sizes
#      (bench/lists_bench.py);
#   3. a provider far away: emails/s and round trips per email with the SMTP
#      server's replies delayed (smtplib one by one vs. recruitment_mail's
#      pipelined sending, 1 and 8 connections; bench/provider_bench.py);
#   4. the queue as an agency runs it: a real Odoo server (default cron threads
#      and time limits) draining a backlog through a sink 50 ms away, stock beside
#      ours with 8 connections (bench/server_bench.py).
#
# Settings (environment or `make bench VAR=value`):
#   BENCH_PARTS           what to run                        ("queue lists")
#   BENCH_SIZES           list database sizes                ("100000 1000000");
#                         BENCH_SIZES=100000 skips the million-email case
#   BENCH_QUEUE_MAILS     emails per queue run               (10000)
#   BENCH_QUEUE_RUNS      queue runs per setup (median)      (3)
#   BENCH_QUEUE_BATCH     mail.mail.queue.batch.size         (1000, the stock cron's batch)
#   BENCH_QUEUE_SENDERS   authors (sender addresses) of the queued mail (20)
#   BENCH_QUEUE_ONE_SENDER_MAILS emails of the one-sender run (2000; 0 skips it)
#   BENCH_QUEUE_LANES     ours' sending lanes in the parallel run (the number of CPUs; 1 skips it)
#   BENCH_BREAKDOWN_MAILS emails drained with every query logged (100)
#   BENCH_REPEAT          timed calls per list (median)      (10)
#   BENCH_PROVIDER        0 skips part 3                     (1)
#   BENCH_PROVIDER_DELAYS round trips in ms                  ("0,50")
#   BENCH_PROVIDER_MAILS  emails per provider run            (10000)
#   BENCH_PROVIDER_MAX_S  longer runs are made on fewer emails (600)
#   BENCH_PROVIDER_ODOO   1: also stock's and ours' queues at each delay (0)
#   BENCH_PROVIDER_STOCK_MAILS emails of stock's queue run there (1000)
#   BENCH_SERVER          0 skips part 4                     (1)
#   BENCH_SERVER_DELAYS   round trips in ms                  ("50")
#   BENCH_SERVER_MAILS    emails of ours' run                (10000)
#   BENCH_SERVER_STOCK_MAILS emails of stock's run           (1000)
#   BENCH_SERVER_CONNECTIONS ours' Connections on the mail server (8)
#   BENCH_SERVER_ODOO_ARGS more arguments for its odoo servers, e.g. "--log-handler=odoo.sql_db:DEBUG"
#   KEEP                  1: keep the rm_bench_* databases afterwards
#
# Results: var/bench/<date>/ (report.md, JSON, EXPLAIN plans, logs);
# var/bench/latest points at the last run. The add-on is copied at the start
# and that copy is what gets measured, whatever happens to the working tree.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
cd "$REPO_ROOT"

BENCH_PARTS="${BENCH_PARTS:-queue lists}"
KEEP="${KEEP:-0}"
export KEEP

ensure_postgres
find_odoo
ensure_python_deps "$REPO_ROOT/requirements-dev.txt" aiosmtpd email_validator

RUN_ID="$$"
export BENCH_PREFIX="rm_bench_${RUN_ID}_"
BENCH_OUT="$VAR_DIR/bench/$(date +%Y%m%d-%H%M%S)"
export BENCH_OUT
export BENCH_DATA_DIR="$VAR_DIR/bench-data-$RUN_ID"
export BENCH_PYTHON="$PYTHON"
mkdir -p "$BENCH_OUT" "$BENCH_DATA_DIR/addons"
ln -sfn "$(basename "$BENCH_OUT")" "$VAR_DIR/bench/latest"
# Measure one version of the add-on from start to end: every Odoo process of
# the run (install, workers) loads this copy, not the working tree, which may
# be edited while the benchmark runs. Which version it is goes in the report.
cp -a "$ADDONS_DIR/$MODULE" "$BENCH_DATA_DIR/addons/"
export BENCH_ADDON_COMMIT BENCH_ADDON_DIRTY
BENCH_ADDON_COMMIT="$(git -C "$ADDONS_DIR" rev-parse --short HEAD 2>/dev/null || echo unknown)"
BENCH_ADDON_DIRTY="$(git -C "$ADDONS_DIR" status --porcelain -- "$MODULE" 2>/dev/null | wc -l)"
if [ "$BENCH_ADDON_DIRTY" != "0" ]; then
    git -C "$ADDONS_DIR" diff HEAD -- "$MODULE" >"$BENCH_OUT/addon-uncommitted.diff" 2>/dev/null || true
fi
ADDONS_DIR="$BENCH_DATA_DIR/addons"
BENCH_ADDONS_PATH="$(addons_path)"
export BENCH_ADDONS_PATH

cleanup() {
    if [ "$KEEP" = "1" ]; then
        log "KEEP=1: databases ${BENCH_PREFIX}* and $BENCH_DATA_DIR kept"
        return 0
    fi
    local db
    for db in $(pg_query "SELECT datname FROM pg_database
                          WHERE datname LIKE '${BENCH_PREFIX//_/\\_}%'" 2>/dev/null); do
        dropdb --if-exists --force "$db" >/dev/null 2>&1 || true
    done
    rm -rf "$BENCH_DATA_DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM  # make Ctrl-C go through the EXIT trap

# Leftovers of runs killed outright: databases named after a run.sh pid that is gone.
drop_leftovers '^rm_bench_[0-9]+_' "$VAR_DIR"/bench-data-*

"$PYTHON" bench/report.py sysinfo

# --- template databases: stock Odoo and ours, installed once, without demo data ------
build_template() {
    local side="$1" modules="$2" db="${BENCH_PREFIX}tpl_$1"
    log "installing $side ($modules) into $db"
    "${ODOO[@]}" -d "$db" --addons-path="$BENCH_ADDONS_PATH" --data-dir="$BENCH_DATA_DIR" \
        -i "$modules" --without-demo=all --stop-after-init --no-http --max-cron-threads=0 \
        --log-level=warn --logfile="$BENCH_OUT/install-$side.log" \
        || die "installing $modules failed, see $BENCH_OUT/install-$side.log"
    "$PYTHON" bench/setup_worker.py --db "$db" --odoo-log "$BENCH_OUT/setup-$side.log" >/dev/null \
        || die "preparing $db failed, see $BENCH_OUT/setup-$side.log"
}
build_template stock mail,contacts,hr_recruitment
build_template ours "$MODULE"

for part in $BENCH_PARTS; do
    case "$part" in
        queue) "$PYTHON" bench/queue_bench.py ;;
        lists) "$PYTHON" bench/lists_bench.py ;;
        *) die "unknown BENCH_PARTS entry '$part' (queue, lists)" ;;
    esac
done
if [ "${BENCH_PROVIDER:-1}" != "0" ]; then "$PYTHON" bench/provider_bench.py; fi
if [ "${BENCH_SERVER:-1}" != "0" ]; then "$PYTHON" bench/server_bench.py; fi

"$PYTHON" bench/report.py table
log "report: ${BENCH_OUT#"$REPO_ROOT"/}/report.md"
