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

with_keyring() {
    # The keyring is unlocked with a throwaway password (PLATFORM.md recipe).
    exec dbus-run-session -- sh -c 'echo -n mailshot-test | gnome-keyring-daemon --unlock --components=secrets > /dev/null 2>&1; exec "$@"' sh "$@"
}

case "$suite" in
    core) "$@" ;;
    keyring|smtp) (with_keyring "$@") ;;
    gui) (exec xvfb-run -a -s '-screen 0 1280x800x24' sh -c 'exec dbus-run-session -- sh -c "echo -n mailshot-test | gnome-keyring-daemon --unlock --components=secrets > /dev/null 2>&1; exec \"\$@\"" sh "$@"' sh "$@") ;;
    *) echo "ms-test-env.sh: unknown suite $suite" >&2; exit 2 ;;
esac
