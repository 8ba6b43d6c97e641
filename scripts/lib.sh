# shellcheck shell=bash
# Shared helpers for scripts/run.sh and scripts/test.sh. Source it, don't run it.
#
# After `find_odoo`, these are set:
#   PYTHON      interpreter that can import odoo (python3, or .venv-odoo/bin/python)
#   ODOO        bash array: the command that starts Odoo (python -m odoo / odoo-bin)
#   RM_ODOO_CMD the same command as one string, exported for the system tests
# `addons_path` prints the --addons-path value: ADDONS_DIR (default: repo root)
# followed by Odoo's own addons directories.

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export REPO_ROOT
# Where recruitment_mail/ lives; overridable so the harness can be tried on a stand-in.
ADDONS_DIR="${ADDONS_DIR:-$REPO_ROOT}"
ADDONS_DIR="$(cd "$ADDONS_DIR" && pwd)"
export ADDONS_DIR
MODULE="${MODULE:-recruitment_mail}"
VAR_DIR="$REPO_ROOT/var"  # runtime files (logs, mailbox, pid files); git ignores it
export VAR_DIR
# USER is not always set (e.g. in CI); PostgreSQL roles are named after it.
CURRENT_USER="$(id -un)"

log() { printf '[%s] %s\n' "$(basename "$0")" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Run a command as the postgres OS user (to create our role); root uses runuser,
# others need password-less sudo.
_as_postgres() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo -n -u postgres -- "$@"
    else
        die "cannot run '$*' as user postgres (not root and no sudo)"
    fi
}

# Start the local PostgreSQL cluster if it is down, make sure a superuser role
# exists for the current OS user (Odoo and createdb connect over the Unix socket
# with peer authentication), and wait until it accepts connections. Idempotent.
ensure_postgres() {
    ensure_base_packages
    # An already reachable server (possibly configured through PGHOST/PGPORT) is used as is.
    if ! pg_isready -q 2>/dev/null; then
        command -v pg_lsclusters >/dev/null 2>&1 \
            || die "PostgreSQL is not installed (Debian: apt-get install postgresql)"
        local clusters ver name status
        clusters="$(pg_lsclusters -h 2>/dev/null || true)"
        if [ -z "$clusters" ]; then
            # Package installed but no cluster (happens in some images): create one
            # for the newest server version found.
            ver="$(find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' 2>/dev/null | sort -V | tail -n1)"
            [ -n "$ver" ] || die "no PostgreSQL server under /usr/lib/postgresql"
            log "creating PostgreSQL cluster $ver/main"
            pg_createcluster "$ver" main >/dev/null
            clusters="$(pg_lsclusters -h)"
        fi
        # Columns: version cluster port status owner datadir logfile
        while read -r ver name _ status _; do
            case "$status" in
                online*) ;;
                *) log "starting PostgreSQL cluster $ver/$name"
                   pg_ctlcluster "$ver" "$name" start ;;
            esac
        done <<<"$clusters"
    fi
    local i
    for i in $(seq 1 60); do
        pg_isready -q 2>/dev/null && break
        [ "$i" -eq 60 ] && die "PostgreSQL did not become ready in 30 s"
        sleep 0.5
    done
    # Our own role: checked as the postgres user, since we may not be able to log in yet.
    if [ "$(_as_postgres psql -d postgres -tAc \
            "SELECT 1 FROM pg_roles WHERE rolname = '$CURRENT_USER'")" != "1" ]; then
        log "creating PostgreSQL superuser role '$CURRENT_USER'"
        _as_postgres createuser -s "$CURRENT_USER"
    fi
}

# Install the Debian packages whose command is missing: ensure_debian_packages
# "pg_lsclusters:postgresql-common" "chromium:chromium" ... (command:package).
# Nothing is installed, and apt is not asked, when every command is there.
ensure_debian_packages() {
    local need=() pair
    for pair in "$@"; do
        command -v "${pair%%:*}" >/dev/null 2>&1 || need+=("${pair#*:}")
    done
    [ "${#need[@]}" -gt 0 ] || return 0
    command -v apt-get >/dev/null 2>&1 || die "missing: ${need[*]} (install them; this is not a Debian system)"
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null 2>&1 || die "missing: ${need[*]} (install them, or run as root)"
        sudo="sudo"
    fi
    log "installing Debian packages: ${need[*]}"
    $sudo apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
}

# What both commands need on the machine: PostgreSQL (server and cluster tools).
ensure_base_packages() {
    if [ -z "$(ls /usr/lib/postgresql/*/bin/postgres 2>/dev/null)" ] && ! pg_isready -q 2>/dev/null; then
        ensure_debian_packages "postgres-server-missing:postgresql"
    fi
    ensure_debian_packages "pg_lsclusters:postgresql-common" "psql:postgresql-client"
}

# psql as ourselves against the maintenance database; prints bare values.
pg_query() { psql -X -q -d postgres -tAc "$1"; }

db_exists() {
    [ "$(pg_query "SELECT 1 FROM pg_database WHERE datname = '$1'")" = "1" ]
}

# State of an Odoo module in a database ("installed", ...), empty if unknown.
module_state() {
    db_exists "$1" || return 0
    psql -X -q -d "$1" -tAc "SELECT state FROM ir_module_module WHERE name = '$2'" 2>/dev/null || true
}

# Decide which Odoo to use: the one python3 imports, else a source tree given in
# ODOO_SRC, else install Odoo 18.0 from source into .venv-odoo (needs internet).
find_odoo() {
    PYTHON="${PYTHON:-python3}"
    if [ -n "${ODOO_SRC:-}" ] && ! "$PYTHON" -c 'import odoo' >/dev/null 2>&1; then
        [ -f "$ODOO_SRC/odoo-bin" ] || die "ODOO_SRC=$ODOO_SRC has no odoo-bin"
        ODOO_SRC="$(cd "$ODOO_SRC" && pwd)"
        export PYTHONPATH="$ODOO_SRC${PYTHONPATH:+:$PYTHONPATH}"
        ODOO=("$PYTHON" "$ODOO_SRC/odoo-bin")
    elif "$PYTHON" -c 'import odoo' >/dev/null 2>&1; then
        ODOO=("$PYTHON" -m odoo)
    elif [ -x "$REPO_ROOT/.venv-odoo/bin/python" ] \
            && "$REPO_ROOT/.venv-odoo/bin/python" -c 'import odoo' >/dev/null 2>&1; then
        PYTHON="$REPO_ROOT/.venv-odoo/bin/python"
        ODOO=("$PYTHON" -m odoo)
    else
        install_odoo_from_source
        PYTHON="$REPO_ROOT/.venv-odoo/bin/python"
        ODOO=("$PYTHON" -m odoo)
    fi
    "$PYTHON" -c 'import odoo.release as r, sys; sys.exit(r.version_info[0] != 18)' \
        || log "WARNING: this Odoo is not 18.x; recruitment_mail targets 18.0"
    RM_ODOO_CMD="${ODOO[*]}"
    export PYTHON RM_ODOO_CMD
}

# Fallback when no Odoo is available: official 18.0 sources in .venv-odoo/src,
# a virtualenv in .venv-odoo. Needs network access to GitHub, PyPI and Debian.
install_odoo_from_source() {
    local venv="$REPO_ROOT/.venv-odoo"
    log "No importable Odoo found (python3 cannot 'import odoo' and ODOO_SRC is unset)."
    log "Installing Odoo 18.0 from https://github.com/odoo/odoo into $venv (needs internet; several minutes)."
    command -v git >/dev/null 2>&1 || die "git is required to fetch Odoo"
    # Headers needed to build python-ldap and psycopg2 from source.
    local pkgs=() p
    for p in libldap2-dev libsasl2-dev libpq-dev build-essential python3-dev; do
        dpkg -s "$p" >/dev/null 2>&1 || pkgs+=("$p")
    done
    if [ "${#pkgs[@]}" -gt 0 ]; then
        local sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
        $sudo apt-get update -qq
        $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}"
    fi
    if [ ! -f "$venv/src/odoo-bin" ]; then
        rm -rf "$venv/src"
        git clone --depth 1 -b 18.0 https://github.com/odoo/odoo "$venv/src"
    fi
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
    "$venv/bin/python" -m pip install -q --upgrade pip wheel
    # Some requirements (cbor2) build with setuptools' pkg_resources, gone in setuptools 81.
    local constraints="$venv/build-constraints.txt"
    echo 'setuptools<81' >"$constraints"
    PIP_CONSTRAINT="$constraints" PIP_BUILD_CONSTRAINT="$constraints" "$venv/bin/python" -m pip install -q "setuptools<81" \
        -r "$venv/src/requirements.txt"
    "$venv/bin/python" -m pip install -q -e "$venv/src"
    "$venv/bin/python" -c 'import odoo' || die "Odoo installation in $venv failed"
}

# Comma-separated addons path: ADDONS_DIR first, then Odoo's bundled addons.
addons_path() {
    "$PYTHON" "$REPO_ROOT/scripts/addons_path.py" "$ADDONS_DIR"
}

# Install python packages from a requirements file only when one of the given
# import names is missing, so normal runs never touch the network.
ensure_python_deps() {
    local req="$1"; shift
    local mod missing=0
    for mod in "$@"; do
        "$PYTHON" -c "import $mod" >/dev/null 2>&1 || { missing=1; break; }
    done
    if [ "$missing" -eq 1 ]; then
        log "installing python packages from $(basename "$req")"
        "$PYTHON" -m pip install -q -r "$req"
    fi
}

# Odoo's filestore copy that goes with `createdb -T`: attachments live on disk.
copy_filestore() {
    local data_dir="$1" from="$2" to="$3"
    if [ -d "$data_dir/filestore/$from" ]; then
        mkdir -p "$data_dir/filestore"
        cp -a "$data_dir/filestore/$from" "$data_dir/filestore/$to"
    fi
}

# What runs killed outright (no EXIT trap) left behind: the databases whose
# name matches the SQL regex $1 and whose run's pid (the first number in the
# name) is gone, and the directories given next whose name ends in "-<pid>"
# of a run that is gone.
drop_leftovers() {
    local pattern="$1" db pid dir
    shift
    for db in $(pg_query "SELECT datname FROM pg_database WHERE datname ~ '$pattern'"); do
        pid="$(grep -oE '[0-9]+' <<<"$db" | head -n 1)"
        if ! kill -0 "$pid" 2>/dev/null; then
            log "dropping $db, left over by an interrupted run"
            dropdb --if-exists --force "$db" >/dev/null 2>&1 || true
        fi
    done
    for dir in "$@"; do
        if [ -d "$dir" ] && ! kill -0 "${dir##*-}" 2>/dev/null; then rm -rf "$dir"; fi
    done
}
