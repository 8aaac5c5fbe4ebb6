#!/bin/sh
# ms-test-env.sh: runs one test in a throwaway home, with the services its suite needs
# SPDX-License-Identifier: GPL-3.0-or-later
#
# usage: ms-test-env.sh SUITE PROGRAM [ARG...]
#   core     no session bus at all (DBUS_SESSION_BUS_ADDRESS unset)
#   keyring  a private session bus and a real, unlocked gnome-keyring
#   smtp     as keyring (the CLI stores passwords), plus the python harness via the test itself
#   gui      as keyring, under Xvfb
set -eu
suite=$1; shift

T=$(mktemp -d "${TMPDIR:-/tmp}/mailshot-test.XXXXXX")
trap 'rm -rf "$T"' EXIT INT TERM
mkdir -p "$T/home" "$T/config" "$T/data" "$T/cache" "$T/run"
chmod 700 "$T/run"
export HOME="$T/home" XDG_CONFIG_HOME="$T/config" XDG_DATA_HOME="$T/data"
export XDG_CACHE_HOME="$T/cache" XDG_RUNTIME_DIR="$T/run" MS_TEST_TMPDIR="$T"
# A settings file we can read back: tests check it never holds the password.
export GSETTINGS_BACKEND=keyfile
export NO_AT_BRIDGE=1 GTK_A11Y=none
unset DBUS_SESSION_BUS_ADDRESS DISPLAY WAYLAND_DISPLAY

# Sanitizer builds (build-aux/dev test --sanitize): every report fails the test, and the
# defaults below apply when the caller set no options. Each instrumented process (the test,
# and every mailshot-cli it starts, even one whose exit status the test expects to be 1)
# writes its reports to a file of its own under $T/sanitizer, checked after the test.
# Nothing is written there by a build without sanitizers.
mkdir -p "$T/sanitizer"
here=$(cd "$(dirname "$0")" && pwd)
o=${ASAN_OPTIONS-halt_on_error=1:abort_on_error=1:print_stacktrace=1:detect_leaks=1}
export ASAN_OPTIONS="${o:+$o:}log_path=$T/sanitizer/asan"
o=${UBSAN_OPTIONS-halt_on_error=1:abort_on_error=1:print_stacktrace=1}
export UBSAN_OPTIONS="${o:+$o:}log_path=$T/sanitizer/ubsan"
# Leaks inside third-party libraries only (see the file); never project code.
o=${LSAN_OPTIONS-print_suppressions=0}
export LSAN_OPTIONS="${o:+$o:}suppressions=$here/lsan.supp"
if [ -n "${MS_TEST_SANITIZER-}" ]; then
    case "$suite" in
        keyring|gui)
            # The suppressions name frames deep inside libraries built without frame
            # pointers: only the slow unwinder reaches them (these suites are short).
            # With GL under Xvfb (llvmpipe threads) it hangs: GTK draws with cairo here.
            export ASAN_OPTIONS="fast_unwind_on_malloc=0:$ASAN_OPTIONS" GSK_RENDERER=cairo ;;
    esac
fi

# gnome-keyring-daemon --unlock returns before the daemon owns org.freedesktop.secrets;
# a test that calls at once races a second, D-Bus-activated daemon that exits without replying.
export MS_WAIT_KEYRING='i=0; until gdbus call --session --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus --method org.freedesktop.DBus.NameHasOwner org.freedesktop.secrets 2>/dev/null | grep -q true || [ $i -ge 100 ]; do sleep 0.1; i=$((i+1)); done'

with_keyring() {
    # The keyring is unlocked with a throwaway password (PLATFORM.md recipe).
    # The bus and the keyring run without the tests' G_DEBUG=fatal-warnings: gnome-keyring
    # warns on its own ("asked to register item … already registered") and would abort.
    # The bus and what it starts write to standard error: standard output is
    # the test's TAP stream alone (fd 3 carries it past them).
    exec env -u G_DEBUG MS_TEST_G_DEBUG="${G_DEBUG-}" dbus-run-session -- sh -c 'echo -n mailshot-test | gnome-keyring-daemon --unlock --components=secrets > /dev/null 2>&1; eval "$MS_WAIT_KEYRING"; G_DEBUG=$MS_TEST_G_DEBUG; export G_DEBUG; exec "$@" >&3 3>&-' sh "$@" 3>&1 >&2
}

status=0
case "$suite" in
    core) "$@" || status=$? ;;
    keyring|smtp) (with_keyring "$@") || status=$? ;;
    gui) (exec env -u G_DEBUG MS_TEST_G_DEBUG="${G_DEBUG-}" xvfb-run -a -s '-screen 0 1280x800x24' sh -c 'exec dbus-run-session -- sh -c "echo -n mailshot-test | gnome-keyring-daemon --unlock --components=secrets > /dev/null 2>&1; eval \"\$MS_WAIT_KEYRING\"; G_DEBUG=\$MS_TEST_G_DEBUG; export G_DEBUG; exec \"\$@\" >&3 3>&-" sh "$@" 3>&1 >&2' sh "$@") || status=$? ;;
    *) echo "ms-test-env.sh: unknown suite $suite" >&2; exit 2 ;;
esac

for report in "$T"/sanitizer/*; do
    [ -f "$report" ] || continue
    echo "ms-test-env.sh: sanitizer report ${report##*/} (the number is the process ID):" >&2
    cat "$report" >&2
    [ "$status" -ne 0 ] || status=1
done
exit "$status"
