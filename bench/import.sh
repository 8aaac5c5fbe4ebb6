#!/usr/bin/env bash
# bench/import.sh: time to import a 1,000,000-row CSV into a new batch (target < 10 s)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# usage: bench/import.sh [BUILD_DIR] [ROWS]
# Times `mailshot-cli blast send` from start until it prints the batch ID: the whole file read once for
# its structure, the batch created and its first 1,000 rows committed; sending starts there, while the
# rest of the list goes in. Then SIGINT pauses it, which waits for the rest of the import (every address
# validated, duplicates checked, the rows in the journal): the second time is until the process ends.
# The account points at smtp-sink on 127.0.0.1, so some messages go out meanwhile. Peak RSS too.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
build_arg=
case "${1:-}" in -*|'') ;; *[!0-9]*) build_arg=$1; shift ;; esac   # a number is a size, not a build dir
BUILD=$(bench_find_build "$build_arg")
ROWS=${1:-1000000}

tmp=$(mktemp -d /tmp/mailshot-import.XXXXXX)
SINK_PID=
trap 'if [ -n "$SINK_PID" ]; then kill "$SINK_PID"; wait "$SINK_PID" || true; fi 2>/dev/null; rm -rf "$tmp"' EXIT
bench_start_sink "$tmp"
bench_text "$tmp/body.txt"
bench_csv "$tmp/r.csv" "$ROWS"
bench_home "$tmp/home" "$SINK_PORT"
mkfifo "$tmp/out"

bench_header
echo "# import of $ROWS rows ($(du -h "$tmp/r.csv" | cut -f1) CSV, 3 columns) by mailshot-cli blast send, until the batch ID is printed"
start=$(date +%s.%N)
env $(bench_env "$tmp/home" "$BUILD") "$BUILD/src/cli/mailshot-cli" blast send --recipients "$tmp/r.csv" \
    --subject 'News for {{name}}' --text "$tmp/body.txt" --connections 1 > "$tmp/out" 2> "$tmp/err" &
pid=$!
read -r id < "$tmp/out"
end=$(date +%s.%N)
hwm=$(sed -n 's/^VmHWM:[[:space:]]*//p' "/proc/$pid/status" 2>/dev/null || echo '?')
kill -INT "$pid" 2>/dev/null || true
# The pause waits for the rest of the list: the process ends once the whole import is in.
while kill -0 "$pid" 2>/dev/null && ! grep -q 'Imported' "$tmp/err"; do sleep 0.01; done
whole=$(date +%s.%N)
wait "$pid" 2>/dev/null || true
seconds=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }')
whole_s=$(awk -v a="$start" -v b="$whole" 'BEGIN { printf "%.2f", b - a }')
printf 'rows=%s batch=%s seconds_to_id=%s whole_import_s=%s rows_per_s=%s peak_rss_at_id=%s\n' "$ROWS" "$id" \
    "$seconds" "$whole_s" "$(awk -v n="$ROWS" -v s="$whole_s" 'BEGIN { printf "%.0f", n / s }')" "$hwm"
grep -m1 'Imported' "$tmp/err" || true
