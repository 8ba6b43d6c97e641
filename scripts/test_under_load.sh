#!/usr/bin/env bash
# `make test-under-load`: the whole suite (make test) RUNS times in a row while
# BURNERS CPU-bound processes run beside it, as on a busy CI machine. Prints the
# time and the result of each run; fails if any run fails.
#   RUNS=3 BURNERS=2 make test-under-load
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

RUNS="${RUNS:-3}"
BURNERS="${BURNERS:-2}"
burners=()
stop_burners() {
    local pid
    for pid in "${burners[@]}"; do kill "$pid" 2>/dev/null || true; done
}
trap stop_burners EXIT
trap 'exit 130' INT TERM

for _ in $(seq 1 "$BURNERS"); do
    # a busy loop, bounded so that a forgotten one ends by itself (2 hours)
    timeout 7200 python3 -c 'while True: pass' &
    burners+=("$!")
done
log "$BURNERS CPU-bound processes running beside the suite (pids ${burners[*]})"

mkdir -p "$VAR_DIR/log"
summary=()
failed=0
for run in $(seq 1 "$RUNS"); do
    start=$SECONDS
    rc=0
    bash scripts/test.sh >"$VAR_DIR/log/test-under-load-$run.log" 2>&1 || rc=$?
    result="$(tail -n 1 "$VAR_DIR/log/test-under-load-$run.log")"
    summary+=("run $run: $((SECONDS - start)) s, exit $rc, $result")
    log "${summary[-1]} (log: var/log/test-under-load-$run.log)"
    [ "$rc" -eq 0 ] || failed=$((failed + 1))
done
printf '%s\n' "${summary[@]}"
echo "$((RUNS - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
