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

# gnome-keyring-daemon --unlock returns before the daemon owns org.freedesktop.secrets;
# a test that calls at once races a second, D-Bus-activated daemon that exits without replying.
export MS_WAIT_KEYRING='i=0; until gdbus call --session --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus --method org.freedesktop.DBus.NameHasOwner org.freedesktop.secrets 2>/dev/null | grep -q true || [ $i -ge 100 ]; do sleep 0.1; i=$((i+1)); done'

with_keyring() {
    # The keyring is unlocked with a throwaway password (PLATFORM.md recipe).
    # The bus and the keyring run without the tests' G_DEBUG=fatal-warnings: gnome-keyring
    # warns on its own ("asked to register item … already registered") and would abort.
    exec env -u G_DEBUG MS_TEST_G_DEBUG="${G_DEBUG-}" dbus-run-session -- sh -c 'echo -n mailshot-test | gnome-keyring-daemon --unlock --components=secrets > /dev/null 2>&1; eval "$MS_WAIT_KEYRING"; G_DEBUG=$MS_TEST_G_DEBUG; export G_DEBUG; exec "$@"' sh "$@"
}

case "$suite" in
    core) "$@" ;;
    keyring|smtp) (with_keyring "$@") ;;
    gui) (exec env -u G_DEBUG MS_TEST_G_DEBUG="${G_DEBUG-}" xvfb-run -a -s '-screen 0 1280x800x24' sh -c 'exec dbus-run-session -- sh -c "echo -n mailshot-test | gnome-keyring-daemon --unlock --components=secrets > /dev/null 2>&1; eval \"\$MS_WAIT_KEYRING\"; G_DEBUG=\$MS_TEST_G_DEBUG; export G_DEBUG; exec \"\$@\"" sh "$@"' sh "$@") ;;
    *) echo "ms-test-env.sh: unknown suite $suite" >&2; exit 2 ;;
esac
