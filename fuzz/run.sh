#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 60), one job, one worker,
# after seeding the corpora (seed.py), and prints each target's last
# libFuzzer status line (executions, cov, ft). Logs: fuzz/logs/<target>.log.
# A crash (panic, timeout, out of memory) is reported and the next target
# runs; the script then exits 1. The input is in fuzz/artifacts/<target>/. Usage: fuzz/run.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
seconds=${1:-60}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo +nightly fuzz list)
fi
python3 seed.py >/dev/null
mkdir -p logs
failed=0
for t in "${targets[@]}"; do
    status=0
    cargo +nightly fuzz run "$t" -- -max_total_time="$seconds" -jobs=1 -workers=1 \
        -timeout=10 -rss_limit_mb=2048 >"logs/$t.run" 2>&1 || status=$?
    # With -jobs, libFuzzer writes the job's own output to fuzz-0.log.
    cat "logs/$t.run" fuzz-0.log >"logs/$t.log" 2>/dev/null || true
    rm -f fuzz-0.log "logs/$t.run"
    last=$(grep -E '^#[0-9]+' "logs/$t.log" | tail -n 1 || true)
    echo "$t: ${last:-no status line}"
    if [ "$status" -ne 0 ] || grep -qE 'ERROR: libFuzzer|panicked at' "logs/$t.log"; then
        echo "$t: FAILED (exit $status), see fuzz/logs/$t.log and fuzz/artifacts/$t/" >&2
        failed=1
    fi
done
exit "$failed"
