#!/usr/bin/env bash
# bench/memory.sh: peak RSS of mailshot-cli blast send for 10,000, 100,000 and 1,000,000 recipients (target < 40 MB, flat)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# usage: bench/memory.sh [BUILD_DIR] [-c CONNECTIONS] [SIZES...]   (default: 4 connections; 10000 100000 1000000)
# Sends each batch to smtp-sink on 127.0.0.1 and reports /usr/bin/time's maximum resident set size,
# the wall time, and the CPU time. The whole run is measured: CSV import, sending, journal. A second table:
# the same lists through `blast send --dry-run` (the preview's duplicate check over the whole list).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
build_arg=
case "${1:-}" in -*|'') ;; *[!0-9]*) build_arg=$1; shift ;; esac   # a number is a size, not a build dir
BUILD=$(bench_find_build "$build_arg")
CONNS=4
if [ "${1:-}" = -c ]; then CONNS=$2; shift 2; fi
SIZES=("$@"); [ ${#SIZES[@]} -gt 0 ] || SIZES=(10000 100000 1000000)
[ -x /usr/bin/time ] || { echo "bench: /usr/bin/time missing (Debian package time)" >&2; exit 2; }

tmp=$(mktemp -d /tmp/mailshot-memory.XXXXXX)
SINK_PID=
trap 'if [ -n "$SINK_PID" ]; then kill "$SINK_PID"; wait "$SINK_PID" || true; fi 2>/dev/null; rm -rf "$tmp"' EXIT
bench_start_sink "$tmp"
bench_text "$tmp/body.txt"

bench_header
echo "# mailshot-cli blast send, $CONNS connections, to smtp-sink; peak RSS from /usr/bin/time -v"
printf '%-10s %10s %8s %8s %8s %s\n' recipients peak_rss_kB wall_s cpu_s msgs/s status
for n in "${SIZES[@]}"; do
    bench_csv "$tmp/r$n.csv" "$n"
    rm -rf "$tmp/home"; bench_home "$tmp/home" "$SINK_PORT"
    before=$(bench_sink_count)
    status=ok
    env $(bench_env "$tmp/home" "$BUILD") /usr/bin/time -f '%M %e %U %S' -o "$tmp/time" \
        "$BUILD/src/cli/mailshot-cli" blast send --recipients "$tmp/r$n.csv" --subject 'News for {{name}}' \
        --text "$tmp/body.txt" --connections "$CONNS" > "$tmp/out" 2> "$tmp/err" || status="ERR $(tail -n 1 "$tmp/err")"
    sleep 0.2
    got=$(( $(bench_sink_count) - before ))
    [ "$got" -eq "$n" ] || status="ERR sink got $got of $n"
    read -r rss wall user sys < <(tail -n 1 "$tmp/time")
    printf '%-10s %10s %8s %8s %8s %s\n' "$n" "$rss" "$wall" "$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')" \
        "$(awk -v n="$n" -v w="$wall" 'BEGIN { printf "%.0f", n / w }')" "$status"
done
echo "# mailshot-cli blast send --dry-run (reads and checks the whole list, sends nothing)"
printf '%-10s %10s %8s %8s %s\n' recipients peak_rss_kB wall_s cpu_s status
for n in "${SIZES[@]}"; do
    rm -rf "$tmp/home"; bench_home "$tmp/home" "$SINK_PORT"
    status=ok
    env $(bench_env "$tmp/home" "$BUILD") /usr/bin/time -f '%M %e %U %S' -o "$tmp/time" \
        "$BUILD/src/cli/mailshot-cli" blast send --recipients "$tmp/r$n.csv" --subject 'News for {{name}}' \
        --text "$tmp/body.txt" --dry-run > "$tmp/out" 2> "$tmp/err" || status="ERR $(tail -n 1 "$tmp/err")"
    grep -q "^Recipients: $n\$" "$tmp/out" || status="ERR $(head -n 3 "$tmp/out" | tr '\n' ' ')"
    read -r rss wall user sys < <(tail -n 1 "$tmp/time")
    printf '%-10s %10s %8s %8s %s\n' "$n" "$rss" "$wall" "$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')" \
        "$status"
done
