#!/bin/sh
# screenshots.sh: write data/screenshots/*.png from the real app under Xvfb
# SPDX-License-Identifier: GPL-3.0-or-later
#
# usage: build-aux/screenshots.sh BUILD-DIR   (build-aux/dev screenshots calls it)
# The GUI tests' screenshots cases drive the real windows (a throwaway home and
# keyring, the harness SMTP server on 127.0.0.1) and grab each window with
# ImageMagick's `import`: /mailshot/gui/screenshots the E-blast page, the account
# settings and the test dialog; test-gui-pages (its batches and pending cases make
# the journal its screenshots case shows) the Batches and Pending pages.
# The published set is exactly what they write: the PNGs there before go.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:?usage: screenshots.sh BUILD-DIR}" && pwd)
out="$top/data/screenshots"

for tool in xvfb-run import dbus-run-session gnome-keyring-daemon; do
    command -v "$tool" > /dev/null || { echo "screenshots.sh: $tool is missing (build-aux/dev deps)" >&2; exit 1; }
done
for t in test-gui test-gui-pages; do
    [ -x "$build/tests/$t" ] || { echo "screenshots.sh: build $build first" >&2; exit 1; }
done

mkdir -p "$out"
rm -f "$out"/*.png
export GSETTINGS_SCHEMA_DIR="$build/data"
export MS_TEST_SERVER="$top/tests/smtp-server.py"
export MS_TEST_SRCDIR="$top/tests" MS_TEST_BUILDDIR="$build/tests"
export MS_CLI="$build/src/cli/mailshot-cli"
export MS_SCREENSHOT_DIR="$out"
# English screenshots, whatever the desktop's language; no review-only shots.
export LC_ALL=C.UTF-8 LANGUAGE=
unset MS_SCREENSHOT_REVIEW

"$top/tests/ms-test-env.sh" gui "$build/tests/test-gui" -p /mailshot/gui/screenshots
"$top/tests/ms-test-env.sh" gui "$build/tests/test-gui-pages"
ls -l "$out"/*.png
