#!/usr/bin/env bash
# bench/run-all.sh: every benchmark, results to bench/results/*.txt (called by `build-aux/dev bench`)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# usage: bench/run-all.sh [BUILD_DIR] [-q]    (-q: quick, one repetition, smaller counts)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-${MS_BUILD_DIR:-$here/../_build}}
[ $# -gt 0 ] && shift
quick=0; [ "${1:-}" = -q ] && quick=1
mkdir -p "$here/results"
rc=0
if [ $quick = 1 ]; then
    "$here/throughput.sh" "$build" -r 1 -n 5000 | tee "$here/results/throughput.txt" || rc=1
    "$here/memory.sh" "$build" 2000 20000 | tee "$here/results/memory.txt" || rc=1
    "$here/import.sh" "$build" 100000 | tee "$here/results/import.txt" || rc=1
    "$here/latency.sh" "$build" -n 40 -o "$here/results/latency.txt" || rc=1
else
    "$here/throughput.sh" "$build" | tee "$here/results/throughput.txt" || rc=1
    "$here/memory.sh" "$build" | tee "$here/results/memory.txt" || rc=1
    "$here/import.sh" "$build" | tee "$here/results/import.txt" || rc=1
    "$here/latency.sh" "$build" -o "$here/results/latency.txt" || rc=1
fi
for b in bench-message bench-journal; do
    if [ -x "$build/bench/$b" ]; then
        "$build/bench/$b" | tee "$here/results/$b.txt" || rc=1
    fi
done
exit $rc
