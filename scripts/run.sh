#!/usr/bin/env bash
# `make run`: start Odoo with recruitment_mail on http://localhost:$HTTP_PORT,
# sending mail to a local SMTP sink (var/mailbox/) or to a real SMTP server.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

DB="${DB:-recruitment_mail}"
HTTP_PORT="${HTTP_PORT:-8069}"
SMTP_HOST="${SMTP_HOST:-127.0.0.1}"
SMTP_PORT="${SMTP_PORT:-2525}"
SMTP_USER="${SMTP_USER:-}"
SMTP_PASSWORD="${SMTP_PASSWORD:-}"
SMTP_ENCRYPTION="${SMTP_ENCRYPTION:-none}"
SMTP_FROM_FILTER="${SMTP_FROM_FILTER:-}"
REAL_SMTP="${REAL_SMTP:-0}"
MAILBOX="$VAR_DIR/mailbox"

case "$SMTP_ENCRYPTION" in none|starttls|ssl) ;; *) die "SMTP_ENCRYPTION must be none, starttls or ssl";; esac
# A non-local host always means a real server; REAL_SMTP=1 forces it for a local one.
case "$SMTP_HOST" in 127.0.0.1|localhost) ;; *) REAL_SMTP=1 ;; esac

mkdir -p "$VAR_DIR/log" "$MAILBOX"
ensure_postgres
find_odoo
ensure_python_deps "$REPO_ROOT/requirements.txt" email_validator flufl.bounce
ADDONS_PATH="$(addons_path)"

SINK_PIDFILE="$VAR_DIR/smtp_sink.pid"
# The pid in the pid file, if that process is still an SMTP sink (pids get reused).
live_sink_pid() {
    local pid
    pid="$(cat "$SINK_PIDFILE" 2>/dev/null)" || return 0
    if grep -q smtp_sink.py "/proc/$pid/cmdline" 2>/dev/null; then echo "$pid"; fi
}
stop_sink() {
    local pid; pid="$(live_sink_pid)"
    if [ -n "$pid" ]; then
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    rm -f "$SINK_PIDFILE"
}

if [ "$REAL_SMTP" = "1" ]; then
    MAIL_SERVER_NAME="SMTP server"
    MAIL_WHERE="real SMTP server $SMTP_HOST:$SMTP_PORT ($SMTP_ENCRYPTION)"
else
    MAIL_SERVER_NAME="Local SMTP sink"
    MAIL_WHERE="$MAILBOX (SMTP sink on $SMTP_HOST:$SMTP_PORT; index in $MAILBOX/index.jsonl)"
    if [ "$SMTP_ENCRYPTION" != "none" ]; then
        log "the local sink speaks plain SMTP only: ignoring SMTP_ENCRYPTION=$SMTP_ENCRYPTION"
        SMTP_ENCRYPTION=none
    fi
    ensure_python_deps "$REPO_ROOT/requirements-dev.txt" aiosmtpd
    # A live sink means another `make run` is still up (sinks exit with their Odoo).
    other="$(live_sink_pid)"
    [ -z "$other" ] || die "an SMTP sink (pid $other) is already running: is another 'make run' up?"
    rm -f "$SINK_PIDFILE"
    # --watch-pid $$: this shell becomes Odoo at the `exec` below, so the sink
    # exits by itself within a second of Odoo stopping, however Odoo stops.
    sink_args=(--host "$SMTP_HOST" --port "$SMTP_PORT" --dir "$MAILBOX"
               --watch-pid $$ --pidfile "$SINK_PIDFILE")
    if [ -n "$SMTP_USER" ]; then sink_args+=(--user "$SMTP_USER"); fi
    SMTP_SINK_PASSWORD="$SMTP_PASSWORD" "$PYTHON" "$REPO_ROOT/scripts/smtp_sink.py" "${sink_args[@]}" \
        >>"$VAR_DIR/log/smtp_sink.log" 2>&1 &
    sink_pid=$!
    echo "$sink_pid" >"$SINK_PIDFILE"
    trap stop_sink EXIT  # until the exec: stop the sink if setting up Odoo fails
    sleep 1
    kill -0 "$sink_pid" 2>/dev/null \
        || { tail -n 5 "$VAR_DIR/log/smtp_sink.log" >&2; die "SMTP sink did not start (port $SMTP_PORT busy?)"; }
    log "SMTP sink running (pid $sink_pid), log: var/log/smtp_sink.log"
fi

# Odoo's fallback SMTP settings (used when no outgoing mail server record
# applies), in a config file of our own so that the password is on no command
# line: mail sent while the database is created (the recruitment demo data's
# activity notifications) goes to the configured server, never to whatever
# listens on localhost:25.
ODOO_CONF="$VAR_DIR/odoo-run.conf"
(
    umask 077
    {
        echo "[options]"
        echo "smtp_server = $SMTP_HOST"
        echo "smtp_port = $SMTP_PORT"
        [ -z "$SMTP_USER" ] || echo "smtp_user = $SMTP_USER"
        [ -z "$SMTP_PASSWORD" ] || echo "smtp_password = $SMTP_PASSWORD"
        # Odoo's fallback speaks STARTTLS only; SSL-on-connect comes with the server record below
        [ "$SMTP_ENCRYPTION" = "none" ] || echo "smtp_ssl = True"
        [ -z "$SMTP_FROM_FILTER" ] || echo "from_filter = $SMTP_FROM_FILTER"
    } >"$ODOO_CONF"
)
common=(-c "$ODOO_CONF" -d "$DB" --addons-path="$ADDONS_PATH" --db-filter="^$DB\$")
# Install on first run (with demo data), upgrade afterwards (keeps the data).
# Judged by the module's state, so a first install that failed half-way is retried.
if [ "$(module_state "$DB" "$MODULE")" = "installed" ]; then
    log "database $DB exists: updating $MODULE"
    "${ODOO[@]}" "${common[@]}" -u "$MODULE" --stop-after-init --no-http
else
    log "creating database $DB with $MODULE and demo data (about a minute)"
    "${ODOO[@]}" "${common[@]}" -i "$MODULE" --stop-after-init --no-http
fi

log "configuring outgoing mail: $MAIL_WHERE"
RM_MAIL_SERVER_NAME="$MAIL_SERVER_NAME" RM_SMTP_HOST="$SMTP_HOST" RM_SMTP_PORT="$SMTP_PORT" \
RM_SMTP_USER="$SMTP_USER" RM_SMTP_PASSWORD="$SMTP_PASSWORD" RM_SMTP_ENCRYPTION="$SMTP_ENCRYPTION" \
RM_SMTP_FROM_FILTER="$SMTP_FROM_FILTER" \
    "${ODOO[@]}" shell "${common[@]}" --no-http --log-level=warn <"$REPO_ROOT/scripts/configure_mail.py"

cat <<EOF

  Odoo with $MODULE:  http://localhost:$HTTP_PORT   (database $DB)
  Login:              admin / admin
  Outgoing mail:      $MAIL_WHERE
  Stop with Ctrl-C.

EOF
# exec: Ctrl-C and kill reach Odoo directly; the sink follows it (--watch-pid).
trap - EXIT
exec "${ODOO[@]}" "${common[@]}" --http-port="$HTTP_PORT" --max-cron-threads=1
