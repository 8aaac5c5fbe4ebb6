#!/bin/sh
# goa-netns.sh: runs a test in a network namespace of its own, with only the loopback interface up
# SPDX-License-Identifier: GPL-3.0-or-later
#
# usage: goa-netns.sh PROGRAM [ARG...]
# goa-daemon checks every account with its provider (Google) when it starts; in here that check
# fails at once ("Network is unreachable"), and no test can reach any address but 127.0.0.1.
# Needs root (or unprivileged user namespaces) for unshare; skipped, in TAP, where it cannot.
set -eu
if ! unshare --net true 2>/dev/null; then
    echo "1..0 # SKIP needs a private network namespace (unshare --net: root) to run goa-daemon offline"
    exit 0
fi
exec unshare --net sh -c 'ip link set lo up 2>/dev/null || ifconfig lo up; exec "$@"' sh "$@"
