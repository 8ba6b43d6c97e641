#!/usr/bin/env bash
# The OCA mail modules agencies run beside recruitment_mail (issue #13 point 8),
# as an addons folder for Odoo's --addons-path:
#
#   scripts/oca_addons.sh        prints the folder (var/oca-addons) on stdout
#
# The wheels are PyPI's (pinned below, with their sha256), downloaded only when
# missing into a cache outside the repository ($OCA_WHEELS_DIR, else
# ${XDG_CACHE_HOME:-~/.cache}/recruitment_mail/oca-wheels, else var/oca-wheels),
# so that a fresh clone does not fetch them again; a cached wheel is used only
# when its sha256 is the pinned one. Their addon directories (odoo/addons/<name>
# in the wheel) are unpacked into var/oca-addons. They are NOT pip-installed: a
# wheel installed into the environment makes `odoo` a namespace package and
# `import odoo` breaks. Neither wheel needs another odoo-addon-* wheel or a
# python library (their METADATA requires odoo==18.0.* only). Idempotent: a
# second run does nothing but print the folder.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

# name==version sha256 (odoo-addon-<module>: the module's manifest version + OCA's build number)
PINS=(
    "odoo-addon-mail_tracking==18.0.1.0.11.2 9938799cf6d056f193e4b17c848d0eb3b8c7229110aa35e9baa8200ff04e35cb"
    "odoo-addon-mail_debrand==18.0.1.0.1.5 89ac9cf3cd8ab4e6a71886b2c1645e93cba92cbafa86984c116d8f2b9969dcd8"
)
CACHE_HOME="${XDG_CACHE_HOME:-${HOME:+$HOME/.cache}}"
WHEELS_DIR="${OCA_WHEELS_DIR:-${CACHE_HOME:+$CACHE_HOME/recruitment_mail/oca-wheels}}"
if [ -z "$WHEELS_DIR" ] || ! mkdir -p "$WHEELS_DIR" 2>/dev/null || [ ! -w "$WHEELS_DIR" ]; then
    WHEELS_DIR="$VAR_DIR/oca-wheels"  # no writable cache: inside the repository (git ignores var/)
fi
OCA_ADDONS_DIR="${OCA_ADDONS_DIR:-$VAR_DIR/oca-addons}"
STAMP="$OCA_ADDONS_DIR/.pins"

find_odoo >/dev/null
mkdir -p "$WHEELS_DIR" "$OCA_ADDONS_DIR"

wanted_stamp="$(printf '%s\n' "${PINS[@]}")"
modules=()
for pin in "${PINS[@]}"; do
    spec="${pin%% *}"
    name="${spec%%==*}"
    modules+=("${name#odoo-addon-}")
done

all_there=1
for m in "${modules[@]}"; do
    [ -f "$OCA_ADDONS_DIR/$m/__manifest__.py" ] || all_there=0
done
if [ "$all_there" = "1" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$wanted_stamp" ]; then
    echo "$OCA_ADDONS_DIR"
    exit 0
fi

# wheel file name of a pin: odoo_addon_mail_tracking-18.0.1.0.11.2-py3-none-any.whl
wheel_of() {
    local spec="$1" name version
    name="${spec%%==*}"
    version="${spec#*==}"
    echo "$WHEELS_DIR/${name//-/_}-${version}-py3-none-any.whl"
}

for pin in "${PINS[@]}"; do
    spec="${pin%% *}"
    sha="${pin##* }"
    wheel="$(wheel_of "$spec")"
    if [ -f "$wheel" ] && [ "$(sha256sum "$wheel" | cut -d' ' -f1)" = "$sha" ]; then
        continue
    fi
    rm -f "$wheel"
    log "downloading $spec into ${WHEELS_DIR#"$REPO_ROOT"/}"
    req="$(mktemp)"
    printf '%s --hash=sha256:%s\n' "$spec" "$sha" >"$req"
    # --no-deps: their only requirement is odoo itself, which must not be fetched
    if ! "$PYTHON" -m pip download -q --no-deps --require-hashes --only-binary=:all: \
            -r "$req" -d "$WHEELS_DIR" >&2; then
        rm -f "$req"
        die "could not download $spec from PyPI"
    fi
    rm -f "$req"
    [ -f "$wheel" ] || die "pip downloaded $spec, but $wheel is not there"
done

# Unpack each wheel's odoo/addons/<module> into a scratch folder, then swap it in.
scratch="$(mktemp -d "$OCA_ADDONS_DIR/.unpack.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT
for pin in "${PINS[@]}"; do
    spec="${pin%% *}"
    wheel="$(wheel_of "$spec")"
    "$PYTHON" - "$wheel" "$scratch" <<'PY'
import os
import sys
import zipfile

wheel, target = sys.argv[1:]
prefix = "odoo/addons/"
with zipfile.ZipFile(wheel) as archive:
    members = [name for name in archive.namelist() if name.startswith(prefix) and not name.endswith("/")]
    if not members:
        sys.exit(f"{wheel}: no {prefix}<module>/ in it")
    for name in members:
        relative = name[len(prefix):]
        if relative.startswith("/") or ".." in relative.split("/"):
            sys.exit(f"{wheel}: unsafe path {name}")
        path = os.path.join(target, relative)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with archive.open(name) as src, open(path, "wb") as dst:
            dst.write(src.read())
PY
done
for m in "${modules[@]}"; do
    [ -f "$scratch/$m/__manifest__.py" ] || die "the wheels have no $m/__manifest__.py"
    rm -rf "${OCA_ADDONS_DIR:?}/$m"
    mv "$scratch/$m" "$OCA_ADDONS_DIR/$m"
done
printf '%s\n' "$wanted_stamp" >"$STAMP"
log "unpacked ${modules[*]} into ${OCA_ADDONS_DIR#"$REPO_ROOT"/}"
echo "$OCA_ADDONS_DIR"
