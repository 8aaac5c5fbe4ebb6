#!/usr/bin/env bash
# bench/powercut.sh: simulated power cuts (tests/test-powercut) by claim group size, and what a durable claim costs
# SPDX-License-Identifier: GPL-3.0-or-later
#
# usage: bench/powercut.sh [BUILD_DIR]
# Runs the power-cut unit (a VFS that drops or tears the journal's unsynced writes, and the side log's unsynced
# tail) and bench-journal's claim+record with groups of 16, 64 and 256 (each claim synced: one fdatasync a group).
# Writes bench/results/powercut.txt.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
BUILD=$(bench_find_build "${1:-}")
RESULTS=$bench_top/bench/results/powercut.txt
tmp=$(mktemp -d /tmp/mailshot-powercut.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
{
    bench_header
    echo "# tests/test-powercut: cuts at random steps of claim / end sent / server has it / answer / record;"
    echo "# after each, the first open recovers; a received row queued again would fail the unit"
    TMPDIR=$tmp G_DEBUG= "$BUILD/tests/test-powercut" 2>&1 | sed -n 's/^# group/group/p'
    echo "# bench-journal: claim (synced) + record, 100,000 rows; wall time includes the fdatasync of each claim"
    for g in 16 64 256; do
        BENCH_GROUP=$g TMPDIR=$tmp "$BUILD/bench/bench-journal" 200000 | grep '^claim+record.*two commits'
    done
} | tee "$tmp/out"
cp "$tmp/out" "$RESULTS"
