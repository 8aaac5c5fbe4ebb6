#!/usr/bin/env bash
# bench/crash.sh: kill -9 at random points of e-blasts on 1-4 connections, resume, and count what the server got
# SPDX-License-Identifier: GPL-3.0-or-later
#
# usage: bench/crash.sh [BUILD_DIR] [-b BATCHES] [-k KILLS] [-n RECIPIENTS] [-s SEED] [--no-chunking] [-o FILE]
#   (default: 4 batches per connection count (1, 2, 3, 4), 4 kills each, 2,000 recipients: 64 kills;
#   --no-chunking: a server with PIPELINING only, where each body waits for its 354)
# Every batch goes to the Python harness (tests/smtp-server.py, PIPELINING, CHUNKING, no bodies kept) on
# 127.0.0.1. `blast send` is killed with SIGKILL at a random point (after a random number of
# further messages reached the server, or at once while it starts), then `blast resume` runs,
# is killed again, and so on; the last resume runs to the end. Then the journal (`blast report
# --csv`) is held against the server's envelopes, address by address:
#   lost        a row the journal calls sent that the server never accepted, or a row left
#               unfinished: must be 0
#   duplicates  copies beyond the first of an address the journal never called uncertain:
#               must be 0
# Uncertain rows are counted after each kill (`blast status` recovers them, folding the run's side
# log) and held against the bound: the window per connection (MS_BLAST_WINDOW, 4 here: the
# messages whose end went out and whose answer was not logged); the ones the server did accept are the messages a user would find
# delivered if unsure. Uncertain rows are not
# retried here (test-crash does that). Results go to stdout and bench/results/crash.txt; the exit
# status is 1 when anything was lost or duplicated, or a run failed. The whole run stops by itself
# (each run within 120 s, everything within 30 min).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
build_arg=
case "${1:-}" in -*|'') ;; *) build_arg=$1; shift ;; esac
BUILD=$(bench_find_build "$build_arg")
BATCHES=4 KILLS=4 N=2000 SEED=$$ CHUNKING=--chunking RESULTS=
# Messages in flight per connection: the bound on what one kill leaves uncertain.
WINDOW=4
export MS_BLAST_WINDOW=$WINDOW
while [ $# -gt 0 ]; do
    case "$1" in
        -b) BATCHES=$2; shift 2 ;;
        -k) KILLS=$2; shift 2 ;;
        -n) N=$2; shift 2 ;;
        -s) SEED=$2; shift 2 ;;
        --no-chunking) CHUNKING=; shift ;;
        -o) RESULTS=$2; shift 2 ;;
        *) sed -n '4,7p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
    esac
done
RANDOM=$SEED
CLI=$BUILD/src/cli/mailshot-cli
RESULTS=${RESULTS:-$bench_top/bench/results/crash.txt}
DEADLINE=$(( $(date +%s) + 30 * 60 ))

tmp=$(mktemp -d /tmp/mailshot-crash.XXXXXX)
SRV_PID= RUN_PID=
cleanup() {
    [ -n "$RUN_PID" ] && kill -9 "$RUN_PID" 2>/dev/null
    if [ -n "$SRV_PID" ]; then kill "$SRV_PID" 2>/dev/null; wait "$SRV_PID" 2>/dev/null || true; fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The harness announces its port on stdout, and exits when its stdin closes (or on kill).
mkdir -p "$tmp/srv"
mkfifo "$tmp/srv-in"
/usr/bin/python3 "$bench_top/tests/smtp-server.py" --state-dir="$tmp/srv" --no-bodies --pipelining $CHUNKING \
    --exit-on-stdin-eof < "$tmp/srv-in" > "$tmp/srv-out" 2> "$tmp/srv/stderr.log" &
SRV_PID=$!
exec {srv_in}> "$tmp/srv-in"
port=
for _ in $(seq 300); do
    port=$(sed -n 's/^READY \([0-9][0-9]*\)$/\1/p' "$tmp/srv-out")
    [ -z "$port" ] || break
    kill -0 "$SRV_PID" 2>/dev/null || break
    sleep 0.1
done
[ -n "$port" ] || { echo "crash: the harness did not start" >&2; cat "$tmp/srv/stderr.log" >&2; exit 1; }
ENVELOPES=$tmp/srv/envelopes
touch "$ENVELOPES"

bench_home "$tmp/home" "$port"
echo 'Hello {{name}}' > "$tmp/body.txt"
cli() { env $(bench_env "$tmp/home" "$BUILD") "$CLI" "$@"; }
received() { wc -l < "$ENVELOPES"; }
uncertain_now() {   # BATCH: rows uncertain now (blast status recovers the rows a killed run left sending)
    cli blast status "$1" 2> /dev/null | sed -n 's/^Recipients: .*[(, ]\([0-9][0-9]*\) uncertain.*/\1/p' | grep . || echo 0
}

# One run of blast send/resume: killed (SIGKILL) at a random point, or to the end when KILL is 0.
# Sets RUN_STATUS: killed, done, or failed.
run_once() {   # CONNS KILL ARGS...
    local conns=$1 kill=$2 target now t0
    shift 2
    # Not through cli(): a function would run in a subshell, and SIGKILL would
    # reach the subshell, not mailshot-cli. env execs it under the same PID.
    env $(bench_env "$tmp/home" "$BUILD") "$CLI" "$@" --connections "$conns" > "$tmp/out" 2> "$tmp/err" &
    RUN_PID=$!
    t0=$(date +%s)
    if [ "$kill" = 1 ]; then
        if [ $(( RANDOM % 5 )) = 0 ]; then
            # While it starts: import, claim, connect.
            sleep "0.0$(( RANDOM % 10 ))"
        else
            target=$(( $(received) + 20 + RANDOM % (N / KILLS / 2 + 1) ))
            while kill -0 "$RUN_PID" 2>/dev/null && [ "$(received)" -lt "$target" ]; do
                now=$(date +%s)
                [ $(( now - t0 )) -lt 120 ] || break
                sleep 0.003
            done
        fi
        if kill -9 "$RUN_PID" 2>/dev/null; then
            wait "$RUN_PID" 2>/dev/null || true
            RUN_PID=
            RUN_STATUS=killed
            return
        fi
    fi
    # To the end (or it ended before the kill came).
    while kill -0 "$RUN_PID" 2>/dev/null; do
        now=$(date +%s)
        if [ $(( now - t0 )) -ge 120 ] || [ "$now" -ge "$DEADLINE" ]; then
            kill -9 "$RUN_PID" 2>/dev/null || true
            echo "crash: a run took more than 120 s; stopped" >&2
            break
        fi
        sleep 0.05
    done
    if wait "$RUN_PID"; then RUN_STATUS=done; else RUN_STATUS=failed; cat "$tmp/err" >&2; fi
    RUN_PID=
}

declare -A k_runs k_kills k_unc k_unc_max k_unc_got k_dup k_lost k_fail k_batches k_over
summary=()
for conns in 1 2 3 4; do
    k_runs[$conns]=0 k_kills[$conns]=0 k_unc[$conns]=0 k_unc_max[$conns]=0 k_unc_got[$conns]=0
    k_dup[$conns]=0 k_lost[$conns]=0 k_fail[$conns]=0 k_batches[$conns]=0 k_over[$conns]=0
    for b in $(seq "$BATCHES"); do
        [ "$(date +%s)" -lt "$DEADLINE" ] || { echo "crash: 30 minutes are up; stopping" >&2; break 2; }
        tag="c${conns}b${b}"
        awk -v n="$N" -v t="$tag" 'BEGIN { print "name,email"; for (i = 1; i <= n; i++) printf "P%d,%s-r%d@example.net\n", i, t, i }' > "$tmp/$tag.csv"
        kills=0 unc_before=0 id=
        while :; do
            k_runs[$conns]=$(( k_runs[$conns] + 1 ))
            kill=0; [ "$kills" -lt "$KILLS" ] && kill=1
            if [ -z "$id" ]; then
                run_once "$conns" "$kill" blast send --recipients "$tmp/$tag.csv" --subject "Crash {{name}}" --text "$tmp/body.txt"
                id=$(head -n 1 "$tmp/out" | grep -E '^[0-9]+$' || true)
                if [ -z "$id" ]; then
                    # Killed before it printed the batch ID: the newest batch is ours, if it was created.
                    id=$(cli blast list 2> /dev/null | awk -F '\t' -v s="Crash {{name}}" '$6 == s { print $1; exit }')
                    if [ -n "$id" ] && cli blast report "$id" --csv 2> /dev/null | grep -q "^$tag-"; then :; else id=; fi
                fi
            else
                run_once "$conns" "$kill" blast resume "$id"
            fi
            case "$RUN_STATUS" in
                killed)
                    kills=$(( kills + 1 ))
                    k_kills[$conns]=$(( k_kills[$conns] + 1 ))
                    if [ -n "$id" ]; then
                        u=$(uncertain_now "$id")
                        d=$(( u - unc_before )); unc_before=$u
                        [ "$d" -le "${k_unc_max[$conns]}" ] || k_unc_max[$conns]=$d
                        [ "$d" -le $(( conns * WINDOW )) ] || k_over[$conns]=$(( k_over[$conns] + 1 ))
                    fi
                    ;;
                done) break ;;
                failed) k_fail[$conns]=$(( k_fail[$conns] + 1 )); break ;;
            esac
        done
        [ -n "$id" ] || { k_fail[$conns]=$(( k_fail[$conns] + 1 )); continue; }
        k_batches[$conns]=$(( k_batches[$conns] + 1 ))
        cli blast report "$id" --csv > "$tmp/$tag.report" 2> /dev/null
        # address state -> lost, duplicates, uncertain rows, uncertain rows the server got
        read -r lost dup unc unc_got < <(/usr/bin/python3 - "$tmp/$tag.report" "$ENVELOPES" "$tag-" <<'EOF'
import csv, sys
report, envelopes, prefix = sys.argv[1:]
got = {}
for line in open(envelopes, encoding="utf-8"):
    parts = line.rstrip("\n").split(" ", 2)
    for rcpt in parts[2].split(","):
        rcpt = rcpt.strip().lower()
        if rcpt.startswith(prefix):
            got[rcpt] = got.get(rcpt, 0) + 1
lost = dup = unc = unc_got = 0
seen = set()
for row in csv.DictReader(open(report, encoding="utf-8")):
    a = row["address"].lower()
    seen.add(a)
    n = got.get(a, 0)
    if row["state"] == "uncertain":
        unc += 1
        unc_got += 1 if n > 0 else 0
        continue
    if row["state"] != "sent" or n == 0:
        lost += 1          # unfinished, or called sent without reaching the server
    dup += max(0, n - 1)
dup += sum(n for a, n in got.items() if a not in seen)   # delivered, yet not in the journal
print(lost, dup, unc, unc_got)
EOF
)
        k_lost[$conns]=$(( k_lost[$conns] + lost ))
        k_dup[$conns]=$(( k_dup[$conns] + dup ))
        k_unc[$conns]=$(( k_unc[$conns] + unc ))
        k_unc_got[$conns]=$(( k_unc_got[$conns] + unc_got ))
        echo "crash: $conns connection(s), batch $b: $kills kills, $unc uncertain ($unc_got of them delivered), $dup duplicates, $lost lost" >&2
    done
done

{
    bench_header
    echo "# bench/crash.sh -b $BATCHES -k $KILLS -n $N -s $SEED: kill -9 of blast send/resume at random points,"
    echo "# Python harness (PIPELINING${CHUNKING:+, CHUNKING}, window $WINDOW) on 127.0.0.1; journal (blast report --csv) against the server's envelopes"
    printf '%-5s %7s %5s %5s %9s %13s %12s %6s %10s %10s %10s %5s %6s\n' conns batches runs kills uncertain unc/kill_avg unc/kill_max bound over_bound unc_deliv duplicates lost failed
    t_runs=0 t_kills=0 t_unc=0 t_dup=0 t_lost=0 t_fail=0 t_b=0 t_got=0 t_over=0
    for conns in 1 2 3 4; do
        [ -n "${k_runs[$conns]:-}" ] || continue
        avg=$(awk -v u="${k_unc[$conns]}" -v k="${k_kills[$conns]}" 'BEGIN { printf "%.1f", k ? u / k : 0 }')
        printf '%-5s %7s %5s %5s %9s %13s %12s %6s %10s %10s %10s %5s %6s\n' "$conns" "${k_batches[$conns]}" "${k_runs[$conns]}" \
            "${k_kills[$conns]}" "${k_unc[$conns]}" "$avg" "${k_unc_max[$conns]}" "$(( conns * WINDOW ))" "${k_over[$conns]}" "${k_unc_got[$conns]}" \
            "${k_dup[$conns]}" "${k_lost[$conns]}" "${k_fail[$conns]}"
        t_over=$(( t_over + k_over[$conns] ))
        t_runs=$(( t_runs + k_runs[$conns] )) t_kills=$(( t_kills + k_kills[$conns] )) t_unc=$(( t_unc + k_unc[$conns] ))
        t_dup=$(( t_dup + k_dup[$conns] )) t_lost=$(( t_lost + k_lost[$conns] )) t_fail=$(( t_fail + k_fail[$conns] ))
        t_b=$(( t_b + k_batches[$conns] )) t_got=$(( t_got + k_unc_got[$conns] ))
    done
    avg=$(awk -v u="$t_unc" -v k="$t_kills" 'BEGIN { printf "%.1f", k ? u / k : 0 }')
    printf '%-5s %7s %5s %5s %9s %13s %12s %6s %10s %10s %10s %5s %6s\n' all "$t_b" "$t_runs" "$t_kills" "$t_unc" "$avg" - - "$t_over" "$t_got" "$t_dup" "$t_lost" "$t_fail"
    echo "# messages the server accepted: $(received); recipients: $(( t_b * N ))"
    if [ "$t_lost" = 0 ] && [ "$t_dup" = 0 ] && [ "$t_fail" = 0 ] && [ "$t_over" = 0 ]; then
        echo "# verdict: 0 lost silently, 0 duplicates beyond the rows reported uncertain, uncertain <= the window ($WINDOW) per connection after every kill"
    else
        echo "# verdict: FAILED ($t_lost lost, $t_dup duplicates, $t_fail failed runs, $t_over kills over the bound)"
    fi
} | tee "$tmp/results"
mkdir -p "$(dirname "$RESULTS")"
cp "$tmp/results" "$RESULTS"
exec {srv_in}>&-
grep -q '^# verdict: 0 lost' "$tmp/results"
