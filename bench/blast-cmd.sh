#!/usr/bin/env bash
# bench/blast-cmd.sh: the "cmd" row of smtp-baseline.sh: one `mailshot-cli blast send` of N merged messages
# SPDX-License-Identifier: GPL-3.0-or-later
#
# smtp-baseline.sh runs this with SMTP_HOST SMTP_PORT N; BENCH_BUILD, BENCH_CSV (N rows), BENCH_TEXT and
# BENCH_CONNECTIONS come from bench/throughput.sh. The timing includes the CSV import and the process start.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
[ "$SMTP_HOST" = 127.0.0.1 ] || { echo "loopback only" >&2; exit 2; }
home=$(mktemp -d /tmp/mailshot-bench.XXXXXX)
trap 'rm -rf "$home"' EXIT
bench_home "$home" "$SMTP_PORT"
env $(bench_env "$home" "$BENCH_BUILD") "$BENCH_BUILD/src/cli/mailshot-cli" blast send \
    --recipients "$BENCH_CSV" --subject 'News for {{name}}' --text "$BENCH_TEXT" \
    --connections "$BENCH_CONNECTIONS" > "$home/out" 2> "$home/err" || { cat "$home/err" >&2; exit 1; }
