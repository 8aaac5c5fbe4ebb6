#!/usr/bin/env bash
# bench/latency.sh: mailshot-cli blast vs Postfix smtp-source over a 25 ms round trip, 1 and 4 connections
# SPDX-License-Identifier: GPL-3.0-or-later
#
# usage: bench/latency.sh [BUILD_DIR] [-n N] [-r REPS] [--delay-ms D] [--server sink|harness] [--marginal] [-o FILE]
# One server on 127.0.0.1 behind ../shared/tools/latency-proxy.py (LATENCY_PROXY=...), which holds every
# byte D ms (default 12.5) in each direction: a 2 x D round trip, as to a mail server far away. In the same
# run, through that proxy:
#   smtp-source   smtp-source -d -s 1|4: one fixed ~2 KB message, no pipelining (4 round trips a message)
#   mailshot-cli  mailshot-cli blast send --connections 1|4: N merged ~2 KB messages from a CSV, the
#                 whole job as in throughput.sh (process start, import, merge, MIME, journal, SMTP)
# N messages per connection for both (default 150: 1 connection N, 4 connections 4 x N); each count
# checked against the server's. --server sink (default): Postfix's smtp-sink, which offers PIPELINING
# but not CHUNKING (Debian 12); --server harness: tests/smtp-server.py --pipelining --chunking, to
# measure BDAT (slower per message on the CPU, which does not matter at this latency).
# --marginal runs both again with 2 x N and prints what each further message costs (the 2N run's
# time less the N run's, over N): the rate a long blast tends to, without the session's set-up and the
# process start, which every run pays once.
# Prints msg/s and mailshot-cli's ratio to smtp-source; writes the output to FILE too (default
# bench/results/latency.txt; -o - for none). Takes about a minute on main's client (2 round trips a
# message), less once it needs fewer.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
build_arg=
[ $# -gt 0 ] && [ "${1#-}" = "$1" ] && { build_arg=$1; shift; }
BUILD=$(bench_find_build "$build_arg")
N=150 REPS=1 DELAY=12.5 SERVER=sink MARGINAL=0 OUT=$bench_top/bench/results/latency.txt
usage() { echo "usage: $0 [BUILD_DIR] [-n N] [-r REPS] [--delay-ms D] [--server sink|harness] [--marginal] [-o FILE|-]" >&2; exit 2; }
while [ $# -gt 0 ]; do
    case "$1" in
        -n) N=$2; shift 2 ;;
        -r) REPS=$2; shift 2 ;;
        --delay-ms) DELAY=$2; shift 2 ;;
        --server) SERVER=$2; shift 2 ;;
        --marginal) MARGINAL=1; shift ;;
        -o) OUT=$2; shift 2 ;;
        *) usage ;;
    esac
done
case "$N$REPS" in *[!0-9]*) usage ;; esac
case "$SERVER" in sink|harness) ;; *) usage ;; esac
PROXY=${LATENCY_PROXY:-$bench_top/../shared/tools/latency-proxy.py}
[ -f "$PROXY" ] || PROXY=/work/shared/tools/latency-proxy.py
[ -f "$PROXY" ] || { echo "bench: latency-proxy.py not found; set LATENCY_PROXY" >&2; exit 2; }
SOURCE=$(findtool smtp-source) || true
[ -n "$SOURCE" ] || { echo "bench: smtp-source missing (Debian package postfix)" >&2; exit 2; }

tmp=$(mktemp -d /tmp/mailshot-latency.XXXXXX)
SINK_PID= PROXY_PID= SERVER_PID=
cleanup() {
    for p in $PROXY_PID $SINK_PID $SERVER_PID; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
    rm -rf "$tmp"
}
trap cleanup EXIT
if [ "$OUT" != - ]; then
    mkdir -p "$(dirname "$OUT")"
    exec > >(tee "$OUT")
fi

# The server and its message counter.
if [ "$SERVER" = sink ]; then
    bench_start_sink "$tmp"
    PORT=$SINK_PORT
    server_count() { bench_sink_count; }
    server_desc="smtp-sink (PIPELINING, no CHUNKING)"
else
    mkdir "$tmp/srv"
    /usr/bin/python3 "$bench_top/tests/smtp-server.py" --state-dir="$tmp/srv" --no-bodies --pipelining --chunking \
        > "$tmp/srv.port" 2> "$tmp/srv.err" &
    SERVER_PID=$!
    for _ in $(seq 100); do grep -q READY "$tmp/srv.port" && break; sleep 0.05; done
    PORT=$(sed -n 's/^READY //p' "$tmp/srv.port")
    [ -n "$PORT" ] || { echo "bench: smtp-server.py did not start:" >&2; cat "$tmp/srv.err" >&2; exit 1; }
    server_count() { wc -l < "$tmp/srv/envelopes" 2>/dev/null || echo 0; }
    server_desc="tests/smtp-server.py --pipelining --chunking"
fi

/usr/bin/python3 "$PROXY" --listen 0 --to "127.0.0.1:$PORT" --delay-ms "$DELAY" --port-file "$tmp/proxy.port" \
    2> "$tmp/proxy.err" &
PROXY_PID=$!
for _ in $(seq 100); do [ -s "$tmp/proxy.port" ] && break; sleep 0.05; done
PPORT=$(cat "$tmp/proxy.port" 2>/dev/null) || true
[ -n "$PPORT" ] || { echo "bench: latency-proxy.py did not start:" >&2; cat "$tmp/proxy.err" >&2; exit 1; }

# smtp-source's message: ~2 KB on the wire, as smtp-baseline.sh makes it (LF here, CRLF on the wire).
{
    printf 'Date: Thu, 01 Jan 2026 00:00:00 +0000\nFrom: <a@example.com>\nTo: <b@example.com>\n'
    printf 'Subject: latency bench\nMessage-ID: <latency.bench@example.com>\n'
    printf 'MIME-Version: 1.0\nContent-Type: text/plain; charset=us-ascii\n\n'
    for _ in $(seq 23); do printf '%076d\n' 0 | tr 0 X; done
} > "$tmp/msg"
bench_text "$tmp/body.txt"

# run_case NAME CONNS MSGS CMD...: REPS runs; prints the median msg/s, checked against the server's count.
FMT='%-14s %5s %6s %8s %10s %8s  %s\n'
declare -A RATE WALL
run_case() {
    local name=$1 conns=$2 n=$3; shift 3
    local walls='' status=ok c0 c1 t0 t1 i
    for _ in $(seq "$REPS"); do
        c0=$(server_count)
        t0=$(date +%s.%N)
        if ! timeout -k 2 600 "$@" > "$tmp/out" 2>&1 < /dev/null; then
            status="ERR exit: $(tail -n 1 "$tmp/out" | cut -c1-60)"; break
        fi
        t1=$(date +%s.%N)
        for i in $(seq 100); do c1=$(server_count); [ $(( c1 - c0 )) -ge "$n" ] && break; sleep 0.05; done
        if [ $(( c1 - c0 )) -ne "$n" ]; then status="ERR server got $(( c1 - c0 )) of $n"; break; fi
        walls="$walls $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')"
    done
    if [ "$status" != ok ]; then
        printf "$FMT" "$name" "$conns" "$n" - - - "$status"; return 1
    fi
    local med
    med=$(printf '%s\n' $walls | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }')
    RATE[$name$conns]=$(awk -v n="$n" -v w="$med" 'BEGIN { printf "%.1f", n / w }')
    WALL[$name$conns:$n]=$med
    local ratio=-
    [ "$name" = mailshot-cli ] && [ -n "${RATE[smtp-source$conns]:-}" ] &&
        ratio=$(awk -v a="${RATE[$name$conns]}" -v b="${RATE[smtp-source$conns]}" 'BEGIN { printf "%.2fx", a / b }')
    printf "$FMT" "$name" "$conns" "$n" "$med" "${RATE[$name$conns]}" "$ratio" ok
}

bench_header
echo "# round trip $(awk -v d="$DELAY" 'BEGIN { print 2 * d }') ms: $(basename "$PROXY") --delay-ms $DELAY in front of $server_desc"
echo "# $N messages per connection, ~2 KB; seconds: median of $REPS run(s), process start included"
printf "$FMT" case conns msgs seconds msgs_per_s ratio status
rc=0
home=$tmp/home
bench_home "$home" "$PPORT"
both() {   # CONNS N: smtp-source, then mailshot-cli, N messages in all
    local conns=$1 n=$2
    bench_csv "$tmp/r$conns.csv" "$n"
    run_case smtp-source "$conns" "$n" "$SOURCE" -d -s "$conns" -m "$n" -M localhost \
        -f a@example.com -t b@example.com -F "$tmp/msg" "127.0.0.1:$PPORT" || rc=1
    # A fresh journal each run, so every run sends all n.
    run_case mailshot-cli "$conns" "$n" sh -c 'rm -rf "$1/data"; mkdir -p "$1/data"; shift; exec env "$@"' _ "$home" \
        $(bench_env "$home" "$BUILD") "$BUILD/src/cli/mailshot-cli" blast send \
        --recipients "$tmp/r$conns.csv" --subject 'News for {{name}}' --text "$tmp/body.txt" \
        --connections "$conns" || rc=1
}
marginal=()
for conns in ${BENCH_CONNS:-1 4}; do
    n=$(( N * conns ))
    both "$conns" "$n"
    if [ "$MARGINAL" = 1 ]; then
        both "$conns" $(( 2 * n ))
        m_src=$(awk -v a="${WALL[smtp-source$conns:$n]:-0}" -v b="${WALL[smtp-source$conns:$(( 2 * n ))]:-0}" -v n="$n" \
            'BEGIN { printf "%.1f", (b - a) * 1000 / n * '"$conns"' }')
        m_cli=$(awk -v a="${WALL[mailshot-cli$conns:$n]:-0}" -v b="${WALL[mailshot-cli$conns:$(( 2 * n ))]:-0}" -v n="$n" \
            'BEGIN { printf "%.1f", (b - a) * 1000 / n * '"$conns"' }')
        marginal+=("$(printf '# each further message, %s connection(s): smtp-source %s ms, mailshot-cli %s ms a connection: %s' \
            "$conns" "$m_src" "$m_cli" "$(awk -v a="$m_src" -v b="$m_cli" 'BEGIN { printf (b > 0 ? "%.2fx" : "-"), a / b }')")")
    fi
done
for line in "${marginal[@]}"; do echo "$line"; done
echo "# smtp-source: $SOURCE -d -s CONNS -m MSGS (MAIL, RCPT, DATA, body each waiting for its reply: 4 round trips a message)"
echo "# mailshot-cli: $BUILD/src/cli/mailshot-cli blast send --connections CONNS"
exit $rc
