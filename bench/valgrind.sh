#!/usr/bin/env bash
# bench/valgrind.sh: mailshot-cli `test` and a 200-recipient blast under valgrind, against the local harness
# SPDX-License-Identifier: GPL-3.0-or-later
#
# usage: bench/valgrind.sh [BUILD_DIR]      (or: build-aux/dev valgrind)
#
# Both runs use a throwaway HOME with a private D-Bus session and an unlocked gnome-keyring
# (PLATFORM.md's headless recipe), the keyfile settings backend, and tests/smtp-server.py on
# 127.0.0.1 with STARTTLS (its certificate trusted by fingerprint) and AUTH PLAIN: the whole
# path of a real send. valgrind counts definite leaks and invalid reads or writes as errors;
# each run prints "N bytes definitely lost, N errors", and the script exits 1 on any finding.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

if [ "${1:-}" != --inner ]; then
    build=$(cd "${1:-${MS_BUILD_DIR:-$top/_build}}" 2>/dev/null && pwd) ||
        { echo "valgrind.sh: no build directory ${1:-}" >&2; exit 2; }
    [ -x "$build/src/cli/mailshot-cli" ] || { echo "valgrind.sh: build first: meson compile -C $build" >&2; exit 2; }
    command -v valgrind > /dev/null || { echo "valgrind.sh: install valgrind (apt-get install valgrind)" >&2; exit 2; }
    T=$(mktemp -d /tmp/mailshot-valgrind.XXXXXX)
    trap '[ -n "${MS_VG_KEEP-}" ] || rm -rf "$T"' EXIT INT TERM
    mkdir -p "$T/home" "$T/config" "$T/data" "$T/cache" "$T/run" "$T/server"
    chmod 700 "$T/run"
    status=0
    env -i PATH=/usr/bin:/bin LANG=C.UTF-8 HOME="$T/home" XDG_CONFIG_HOME="$T/config" \
        XDG_DATA_HOME="$T/data" XDG_CACHE_HOME="$T/cache" XDG_RUNTIME_DIR="$T/run" \
        GSETTINGS_BACKEND=keyfile GSETTINGS_SCHEMA_DIR="$build/data" MS_VG_T="$T" MS_VG_BUILD="$build" \
        dbus-run-session -- sh -c 'echo -n mailshot-valgrind | gnome-keyring-daemon --unlock --components=secrets > /dev/null 2>&1; exec "$0" --inner' "$0" ||
        status=$?
    exit "$status"
fi

# --inner: inside the private session.
T=$MS_VG_T
cli=$MS_VG_BUILD/src/cli/mailshot-cli
# gnome-keyring-daemon --unlock returns before it owns the name (tests/ms-test-env.sh).
for _ in $(seq 100); do
    gdbus call --session --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
        --method org.freedesktop.DBus.NameHasOwner org.freedesktop.secrets 2>/dev/null | grep -q true && break
    sleep 0.1
done

/usr/bin/python3 "$top/tests/smtp-server.py" --state-dir="$T/server" --tls=starttls --auth=PLAIN \
    --user=vg-user --password=vg-secret-pw > "$T/server.out" 2> "$T/server.err" &
server=$!
trap 'kill "$server" 2> /dev/null; wait "$server" 2> /dev/null || true' EXIT
for _ in $(seq 100); do
    grep -q '^READY ' "$T/server.out" 2> /dev/null && break
    sleep 0.1
done
port=$(sed -n 's/^READY \([0-9]*\)$/\1/p' "$T/server.out")
[ -n "$port" ] || { echo "valgrind.sh: the harness did not start:" >&2; cat "$T/server.err" >&2; exit 1; }

"$cli" config set smtp-server 127.0.0.1
"$cli" config set smtp-port "$port"
"$cli" config set email-address sender@example.org
"$cli" config set user-id vg-user
"$cli" config set needs-authentication true
"$cli" config set trusted-certificate "$(cat "$T/server/fingerprint")"
echo vg-secret-pw | "$cli" password set > /dev/null

{
    echo 'email,name'
    for i in $(seq 200); do echo "reader$i@example.net,Reader $i"; done
} > "$T/recipients.csv"
printf 'Hello {{name}},\n\nthe news of the month.\n' > "$T/letter.txt"

# G_SLICE=always-malloc: GLib 2.74's slice allocator would hide leaked blocks from valgrind.
vg() {   # NAME CLI-ARG...
    local name=$1 rc=0
    shift
    G_SLICE=always-malloc G_DEBUG=gc-friendly valgrind --leak-check=full --suppressions="$top/bench/valgrind.supp" \
        --show-leak-kinds=definite --errors-for-leak-kinds=definite --error-exitcode=99 \
        --num-callers=40 --log-file="$T/$name.vg" "$cli" "$@" > "$T/$name.out" 2> "$T/$name.err" || rc=$?
    # Without leaks there is no "definitely lost" line: "All heap blocks were freed".
    lost=$( (grep -o 'definitely lost: [0-9,]* bytes' "$T/$name.vg" || echo 0) | tr -dc '0-9\n' | tail -1)
    errors=$( (grep -o 'ERROR SUMMARY: [0-9,]* errors' "$T/$name.vg" || echo '?') | tr -dc '0-9?\n' | tail -1)
    suppressed=$( (grep -o 'suppressed: [0-9,]* bytes' "$T/$name.vg" || echo 0) | tr -dc '0-9\n' | tail -1)
    if [ "$rc" -eq 0 ]; then
        echo "$name: $lost bytes definitely lost, $errors errors (leaks suppressed by bench/valgrind.supp: $suppressed bytes)"
    else
        echo "$name: exit $rc; $lost bytes definitely lost, $errors errors (definite leaks count as errors); valgrind's findings:"
        sed -n '/^==[0-9]*== [A-Z]/,$p' "$T/$name.vg" | grep -v '^==[0-9]*== *$' | sed '/HEAP SUMMARY/,$d'
        # Each definite leak with its stack, then the totals.
        sed -n '/definitely lost in loss record/,/^==[0-9]*== *$/p' "$T/$name.vg"
        grep -A3 'LEAK SUMMARY' "$T/$name.vg" || true
        [ "$rc" -eq 99 ] || { echo "--- stderr:"; cat "$T/$name.err"; }
        status=1
    fi
}

status=0
vg test test --to reader@example.net
vg blast-200 blast send --recipients "$T/recipients.csv" --subject 'News for {{name}}' \
    --text "$T/letter.txt" --connections 2
sent=$(wc -l < "$T/server/envelopes")
echo "the harness accepted $sent messages (1 test + 200 blast expected)"
[ "$sent" -eq 201 ] || status=1
exit "$status"
