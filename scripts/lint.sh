#!/usr/bin/env bash
# make lint: the code-quality checks of .pre-commit-config.yaml, run directly from
# pip-installed tools so that they work offline and change no file:
#   ruff check / ruff format --check      whole repository (pyproject.toml)
#   pylint + pylint_odoo                  recruitment_mail (.pylintrc)
#   oca-checks-odoo-module                recruitment_mail manifest, XML, CSV
#   oca-checks-po                         recruitment_mail/i18n/*.po[t]
#   gen_readme.py --check                 recruitment_mail/README.rst matches readme/
#   hygiene                               trailing whitespace, final newline, CRLF,
#                                         merge conflict markers, XML syntax,
#                                         executable bit vs shebang
# Every check runs even when an earlier one fails; the exit status is 1 when any
# found a problem (2 when the tools are missing: REQUIREMENTS below has the pip line).
# LINT_PYTHON: the Python whose packages are used (default python3), e.g. a
# virtualenv kept for linting.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 2

PYTHON="${LINT_PYTHON:-python3}"
ADDON=recruitment_mail
REQUIREMENTS=(ruff==0.17.6 pylint-odoo==10.0.12 oca-odoo-pre-commit-hooks==0.0.33 pre-commit-hooks==6.0.0)

if ! "$PYTHON" -c 'import ruff, pylint, pylint_odoo, oca_pre_commit_hooks, pre_commit_hooks' >/dev/null 2>&1; then
    echo "lint: the lint tools are missing for $PYTHON; install them with" >&2
    echo "  $PYTHON -m pip install ${REQUIREMENTS[*]}" >&2
    exit 2
fi

failed=()
run() {  # run NAME COMMAND...: print a header, run, remember a failure
    local name="$1"; shift
    echo "== $name"
    if "$@"; then
        echo "   ok"
    else
        failed+=("$name")
    fi
}

# Source files git knows or would add (tracked + untracked, not ignored).
mapfile -t files < <(git ls-files --cached --others --exclude-standard | sort -u)
existing=()
for f in "${files[@]}"; do [ -f "$f" ] && existing+=("$f"); done
xml_files=(); po_files=(); not_rst=(); executables=()
for f in "${existing[@]}"; do
    [ -x "$f" ] && executables+=("$f")
    case "$f" in
        *.xml) xml_files+=("$f") ;;
        "$ADDON"/i18n/*.po | "$ADDON"/i18n/*.pot) po_files+=("$f") ;;
    esac
    # reStructuredText titles underlined with ======= look like conflict markers
    case "$f" in *.rst) ;; *) not_rst+=("$f") ;; esac
done

run "ruff check" "$PYTHON" -m ruff check --no-fix --output-format=concise .
run "ruff format --check" "$PYTHON" -m ruff format --check --output-format=concise .
run "pylint-odoo" "$PYTHON" -m pylint --rcfile=.pylintrc "$ADDON"
run "oca-checks-odoo-module" "$PYTHON" -c \
    'import sys; from oca_pre_commit_hooks.cli import main; sys.exit(main())' "$ADDON"
if [ "${#po_files[@]}" -gt 0 ]; then
    # As OCA configures it: .po/.pot files are written by Odoo's exporter, whose
    # line wrapping and order po-pretty-format would second-guess.
    run "oca-checks-po" "$PYTHON" -c \
        'import sys; from oca_pre_commit_hooks.cli_po import main; sys.exit(main())' \
        --disable=po-pretty-format "${po_files[@]}"
fi
if [ "${#xml_files[@]}" -gt 0 ]; then
    run "check-xml" "$PYTHON" -m pre_commit_hooks.check_xml "${xml_files[@]}"
fi
run "check-merge-conflict" "$PYTHON" -m pre_commit_hooks.check_merge_conflict --assume-in-merge "${not_rst[@]}"
run "check-case-conflict" "$PYTHON" -m pre_commit_hooks.check_case_conflict "${existing[@]}"
if [ "${#executables[@]}" -gt 0 ]; then
    run "check-executables-have-shebangs" "$PYTHON" -m pre_commit_hooks.check_executables_have_shebangs \
        "${executables[@]}"
fi
run "README.rst up to date" "$PYTHON" scripts/gen_readme.py --check
run "whitespace" "$PYTHON" - "${existing[@]}" <<'EOF'
"""Check-only versions of pre-commit's trailing-whitespace, end-of-file-fixer
and mixed-line-ending (which rewrite files): report, change nothing."""
import re
import sys

# Generated or binary files, as excluded in .pre-commit-config.yaml.
SKIP = re.compile(r"(^|/)README\.rst$|\.pot?$|\.(png|jpe?g|gif|ico|svg|webp|pdf|woff2?|ttf|eot)$")
problems = 0
for path in sys.argv[1:]:
    if SKIP.search(path):
        continue
    with open(path, "rb") as f:
        data = f.read()
    if not data or b"\0" in data:
        continue
    for number, line in enumerate(data.split(b"\n"), 1):
        if line.rstrip(b"\r") != line.rstrip(b"\r").rstrip():
            print(f"{path}:{number}: trailing whitespace")
            problems += 1
        if line.endswith(b"\r"):
            print(f"{path}:{number}: CRLF line ending")
            problems += 1
    if not data.endswith(b"\n"):
        print(f"{path}: no newline at end of file")
        problems += 1
    elif data.endswith(b"\n\n"):
        print(f"{path}: blank line(s) at end of file")
        problems += 1
sys.exit(1 if problems else 0)
EOF

if [ "${#failed[@]}" -gt 0 ]; then
    echo "lint: problems found by: ${failed[*]}"
    exit 1
fi
echo "lint: all checks passed"
