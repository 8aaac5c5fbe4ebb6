#!/usr/bin/env bash
# bench/gui-stall.sh: responsiveness of the desktop app during a 20,000-message blast (reported, not asserted)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# usage: bench/gui-stall.sh [BUILD_DIR] [MESSAGES]
# Runs the probe in the GUI test binary (/mailshot/gui/bench/stall, enabled by MS_BENCH_GUI_STALL=N)
# under Xvfb with a throwaway session bus and keyring (tests/ms-test-env.sh gui): the real window
# composes an N-recipient list, confirms Send, and the blast goes to Postfix's smtp-sink on
# 127.0.0.1. A 10 ms timer on the GTK main loop records how late it fires (the longest stall), and
# every change of the progress text is counted (target: at most 10 a second). Each setting runs
# with GTK's default renderer (GL, which is Mesa's llvmpipe on Xvfb: it compiles shaders the first
# time a widget kind is drawn) and with GSK_RENDERER=cairo, on 4 and on 1 connection.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
build_arg=
case "${1:-}" in -*|'') ;; *[!0-9]*) build_arg=$1; shift ;; esac
BUILD=$(bench_find_build "$build_arg")
N=${1:-20000}
[ -x "$BUILD/tests/test-gui" ] || { echo "bench: no $BUILD/tests/test-gui (needs GTK 4 and libadwaita)" >&2; exit 2; }

run() {   # RENDERER CONNECTIONS
    local renderer=$1 connections=$2
    (cd "$BUILD" && env GSETTINGS_SCHEMA_DIR="$BUILD/data" MS_TEST_SRCDIR="$bench_top/tests" \
        MS_TEST_BUILDDIR="$BUILD/tests" MS_TEST_SERVER="$bench_top/tests/smtp-server.py" \
        MS_CLI="$BUILD/src/cli/mailshot-cli" LC_ALL=C.UTF-8 MS_BENCH_GUI_STALL="$N" \
        MS_BENCH_CONNECTIONS="$connections" ${renderer:+GSK_RENDERER=$renderer} \
        sh "$bench_top/tests/ms-test-env.sh" gui ./tests/test-gui --tap -p /mailshot/gui/bench/stall 2>/dev/null) |
        sed -n 's/^# stall: //p' | tr '\n' ' ' | sed "s/^/renderer=${renderer:-default} /; s/ $/\n/"
}

bench_header
echo "# $N-message blast to smtp-sink from the window under Xvfb; a 10 ms GTK main-loop timer; progress text changes"
for renderer in '' cairo; do
    for connections in 4 1; do
        for i in 1 2 3; do
            run "$renderer" "$connections"
        done
    done
done
