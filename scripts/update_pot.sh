#!/usr/bin/env bash
# Regenerate recruitment_mail/i18n/recruitment_mail.pot with Odoo's own exporter:
# install the add-on (without demo data) into a throwaway database, export its
# terms (views, fields, selections, menus, data, and the self.env._() / _() calls
# in its Python code), then drop the database. Run it after changing any
# user-visible text, then commit the .pot.
#   bash scripts/update_pot.sh            (POT_DB=name to choose the database name)
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

POT_DB="${POT_DB:-rm_pot_tmp_$$}"
POT_FILE="$ADDONS_DIR/$MODULE/i18n/$MODULE.pot"
DATA_DIR="$VAR_DIR/pot-data-$$"     # throwaway Odoo data dir (filestore, sessions)
LOG_FILE="$VAR_DIR/log/update_pot.log"

ensure_postgres
find_odoo
ADDONS_PATH="$(addons_path)"
db_exists "$POT_DB" && die "database $POT_DB exists already; drop it or set POT_DB"

cleanup() {
    dropdb --if-exists --force "$POT_DB" >/dev/null 2>&1 || true
    rm -rf "$DATA_DIR"
}
trap cleanup EXIT

mkdir -p "$(dirname "$LOG_FILE")" "$(dirname "$POT_FILE")"
: >"$LOG_FILE"
odoo_step() {  # odoo_step WHAT ARGS...: run Odoo once, show the log's tail on failure
    local what="$1"; shift
    log "$what"
    if ! "${ODOO[@]}" -d "$POT_DB" --addons-path="$ADDONS_PATH" --data-dir="$DATA_DIR" \
            --no-http --max-cron-threads=0 --stop-after-init --log-level=warn \
            --logfile="$LOG_FILE" "$@" </dev/null; then
        tail -n 40 "$LOG_FILE" >&2
        die "$what failed (log: $LOG_FILE)"
    fi
}

odoo_step "installing $MODULE into the throwaway database $POT_DB" -i "$MODULE" --without-demo=all
odoo_step "exporting the terms of $MODULE" --i18n-export="$POT_FILE" --modules="$MODULE"

msgids=$("$PYTHON" - "$POT_FILE" <<'EOF'
import sys
import polib  # Odoo's own dependency
print(len([entry for entry in polib.pofile(sys.argv[1]) if entry.msgid]))
EOF
)
log "wrote ${POT_FILE#"$REPO_ROOT"/} ($msgids msgids)"
