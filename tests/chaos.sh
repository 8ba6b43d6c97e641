#!/usr/bin/env bash
# `make chaos`: the chaos tests of the delivery queue (tests/test_chaos_system.py,
# GitHub issue #6) at full size: CHAOS_EMAILS emails (default 2000) sent by two
# Odoo workers on one database to a misbehaving SMTP server (tests/chaos_smtp.py),
# once as is and once with a worker killed by SIGKILL. Each test prints one
# summary line: emails, sent, failed, duplicates, losses, failures injected by
# kind, how much the workers overlapped, the seed.
#
# The harness installs the add-on into a template database itself (tests/conftest.py);
# every database is dropped at the end. Logs (Odoo servers, the SMTP server's
# mailbox, chaos-summary.txt) stay in var/log/chaos-<pid>/ until the next run.
# Environment: CHAOS_EMAILS, CHAOS_SEED, CHAOS_MAX_ATTEMPTS, CHAOS_TIMEOUT (see the
# test module), PYTEST_ARGS (extra pytest arguments), KEEP_DBS=1 (keep databases).
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
cd "$REPO_ROOT"

export CHAOS_EMAILS="${CHAOS_EMAILS:-2000}"
PYTEST_ARGS="${PYTEST_ARGS:-}"
KEEP_DBS="${KEEP_DBS:-0}"

ensure_postgres
find_odoo
ensure_python_deps "$REPO_ROOT/requirements-dev.txt" pytest aiosmtpd email_validator flufl.bounce requests
pytest_extra=()
eval "pytest_extra=($PYTEST_ARGS)"

RUN_ID="$$"
# Named like scripts/test.sh's system-test databases, so that `make test` also
# drops what an interrupted chaos run left behind.
DB_PREFIX="rm_sys_${RUN_ID}_"
LOG_DIR="$VAR_DIR/log/chaos-$RUN_ID"

cleanup() {
    [ "$KEEP_DBS" = "1" ] && return 0
    local db
    for db in $(pg_query "SELECT datname FROM pg_database WHERE datname LIKE '${DB_PREFIX//_/\\_}%'" 2>/dev/null); do
        dropdb --if-exists --force "$db" >/dev/null 2>&1 || true
    done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for dir in "$VAR_DIR"/log/chaos-*; do
    if [ -d "$dir" ] && [ ! -L "$dir" ] && ! kill -0 "${dir##*-}" 2>/dev/null; then rm -rf "$dir"; fi
done
mkdir -p "$LOG_DIR"
ln -sfn "chaos-$RUN_ID" "$VAR_DIR/log/chaos-latest"

log "chaos tests with $CHAOS_EMAILS emails (logs: ${LOG_DIR#"$REPO_ROOT"/})"
RM_ADDONS_PATH="$(addons_path)" RM_DB_PREFIX="$DB_PREFIX" RM_LOG_DIR="$LOG_DIR" RM_MODULE="$MODULE" \
    "$PYTHON" -m pytest -p no:cacheprovider -p no:odoo -m chaos "${pytest_extra[@]}" "$REPO_ROOT/tests"
