# bench/lib.sh: shared set-up for the benchmark scripts (sourced, not run)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Every benchmark runs mailshot-cli in a throwaway HOME with the keyfile
# settings backend, against 127.0.0.1 only.

bench_top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

bench_find_build() {   # [BUILD_DIR]
    local b=${1:-${MS_BUILD_DIR:-$bench_top/_build}}
    b=$(cd "$b" 2>/dev/null && pwd) || { echo "bench: no build directory $1" >&2; exit 2; }
    [ -x "$b/src/cli/mailshot-cli" ] || { echo "bench: build first: meson compile -C $b" >&2; exit 2; }
    echo "$b"
}

findtool() { command -v "$1" 2>/dev/null || { [ -x "/usr/sbin/$1" ] && echo "/usr/sbin/$1"; }; }

# bench_home DIR PORT: a fresh home whose default account points at 127.0.0.1:PORT, no AUTH.
bench_home() {
    local d=$1 port=$2
    mkdir -p "$d/config/glib-2.0/settings" "$d/data" "$d/cache" "$d/run"
    chmod 700 "$d/run"
    # Written directly (as `config set` would) so that process start-up stays out of the timings.
    cat > "$d/config/glib-2.0/settings/keyfile" <<EOK
[io/github/mailshot/Mailshot/accounts/default]
smtp-server='127.0.0.1'
smtp-port=$port
email-address='sender@example.org'
needs-authentication=false
EOK
}

# bench_env DIR BUILD: the environment for running mailshot-cli in that home.
bench_env() {
    echo HOME="$1" XDG_CONFIG_HOME="$1/config" XDG_DATA_HOME="$1/data" XDG_CACHE_HOME="$1/cache" \
         XDG_RUNTIME_DIR="$1/run" GSETTINGS_BACKEND=keyfile GSETTINGS_SCHEMA_DIR="$2/data" \
         DBUS_SESSION_BUS_ADDRESS=disabled:
}

# bench_csv FILE N: N recipients with two merge fields.
bench_csv() {
    awk -v n="$2" 'BEGIN { print "name,email,city"; for (i = 1; i <= n; i++) printf "Person %d,rcpt%d@example.net,City %d\n", i, i, i % 97 }' > "$1"
}

# bench_text FILE: a plain-text template that makes a ~2,048-byte message on the wire.
bench_text() {
    {
        echo "Hello {{name}},"
        echo
        echo "News from {{city}}: this message is the size of a typical newsletter in plain text."
        echo
        local line; line=$(printf '%074d' 0 | tr 0 x)
        for _ in $(seq 21); do echo "$line"; done
        echo
        echo "Regards,"
        echo "The Mailshot benchmark"
    } > "$1"
}

# smtp-sink on a free port of 127.0.0.1; sets SINK_PID SINK_PORT SINK_OUT.
bench_start_sink() {   # TMPDIR
    local sink; sink=$(findtool smtp-sink) || true
    [ -n "$sink" ] || { echo "bench: smtp-sink missing (Debian package postfix)" >&2; exit 2; }
    local user=(); [ "$(id -u)" = 0 ] && user=(-u nobody)
    local i
    for i in 1 2 3 4 5; do
        SINK_PORT=$(( 20000 + RANDOM % 12000 ))
        SINK_OUT=$1/sink.out
        "$sink" "${user[@]}" -c "127.0.0.1:$SINK_PORT" 1024 > "$SINK_OUT" 2> "$1/sink.err" &
        SINK_PID=$!
        sleep 0.3
        if kill -0 "$SINK_PID" 2>/dev/null && grep -q ":$(printf '%04X' "$SINK_PORT") .* 0A " /proc/net/tcp; then return 0; fi
        kill "$SINK_PID" 2>/dev/null; wait "$SINK_PID" 2>/dev/null
    done
    echo "bench: could not start smtp-sink" >&2; exit 1
}

bench_sink_count() {
    tail -c 200 "$SINK_OUT" | tr '\r' '\n' | sed -n 's/.*mesg=\([0-9]*\).*/\1/p' | tail -n 1 | grep . || echo 0
}

bench_header() {
    printf '# %s  %s  %s cores (%s)  load %s  commit %s\n' "$(date -u +%FT%TZ)" "$(uname -sr)" "$(nproc)" \
        "$(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1)" "$(cut -d' ' -f1-3 /proc/loadavg)" \
        "$(git -C "$bench_top" rev-parse --short HEAD 2>/dev/null || echo '?')"
}
