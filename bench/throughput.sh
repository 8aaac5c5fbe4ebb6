#!/usr/bin/env bash
# bench/throughput.sh: mailshot-cli blast vs Postfix smtp-source, merged 2 KB messages to smtp-sink, 1, 4 and 16 connections
# SPDX-License-Identifier: GPL-3.0-or-later
#
# usage: bench/throughput.sh [BUILD_DIR] [-r REPS] [-n N] [--pin same|split]
# Runs shared/tools/smtp-baseline.sh (SMTP_BASELINE= to point elsewhere) once per connection count, so that
# smtp-source and mailshot-cli run against the same smtp-sink in the same run. Rows:
#   src_Nsess_reuse                     smtp-source -d -s 1|4|16 (one fixed message)
#   cmd                                 mailshot-cli blast send --connections 1|4|16: N rows imported from a CSV,
#                                       merged ({{name}}, {{city}}), rendered, sent, journalled
# cli% / sink% tell what limits each figure (sink% near 100: the sink's CPU; cli% near 100: ours).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
build_arg=
[ $# -gt 0 ] && [ "${1#-}" = "$1" ] && { build_arg=$1; shift; }
BUILD=$(bench_find_build "$build_arg")
REPS=3 N=20000 PIN=()
while [ $# -gt 0 ]; do
    case "$1" in
        -r) REPS=$2; shift 2 ;;
        -n) N=$2; shift 2 ;;
        --pin) PIN=(--pin "$2"); shift 2 ;;
        *) echo "usage: $0 [BUILD_DIR] [-r REPS] [-n N] [--pin same|split]" >&2; exit 2 ;;
    esac
done
BASELINE=${SMTP_BASELINE:-$bench_top/../shared/tools/smtp-baseline.sh}
[ -x "$BASELINE" ] || BASELINE=/work/shared/tools/smtp-baseline.sh
[ -x "$BASELINE" ] || { echo "bench: smtp-baseline.sh not found; set SMTP_BASELINE" >&2; exit 2; }

tmp=$(mktemp -d /tmp/mailshot-throughput.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
bench_csv "$tmp/r.csv" "$N"
bench_text "$tmp/body.txt"
export BENCH_BUILD=$BUILD BENCH_CSV=$tmp/r.csv BENCH_TEXT=$tmp/body.txt

bench_header
echo "# mailshot-cli blast send: $N recipients (CSV import + merge + MIME + journal + SMTP), messages ≈ 2 KB"
rc=0
for conns in ${BENCH_CONNS:-1 4 16}; do
    echo "## $conns connection(s)"
    BENCH_CONNECTIONS=$conns "$BASELINE" --no-tls -r "$REPS" -n "$N" "${PIN[@]}" \
        --only "^(src_${conns}sess_reuse|cmd)\$" -- env BENCH_CONNECTIONS=$conns "$bench_top/bench/blast-cmd.sh" || rc=1
done
exit $rc
