#!/bin/sh
# check-help.sh: validates the Mallard help, in C and in every translation (suite data)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# usage: check-help.sh HELP-SOURCE-DIR
# Every page must be valid Mallard, its id must match its file name, every xref must
# lead to a page that exists and every page must be reachable from the index.
# Each translation is merged with itstool, as the build does, and validated too.
set -eu
src=$1
T=$(mktemp -d "${TMPDIR:-/tmp}/mailshot-help.XXXXXX")
trap 'rm -rf "$T"' EXIT INT TERM
status=0

check() {
    dir=$1
    (
        cd "$dir"
        yelp-check validate ./*.page || exit 1
        for cmd in ids links orphans; do
            out=$(yelp-check "$cmd" ./*.page 2>&1) || { echo "$dir: yelp-check $cmd failed"; echo "$out"; exit 1; }
            [ -z "$out" ] || { echo "$dir: yelp-check $cmd:"; echo "$out"; exit 1; }
        done
    ) && echo "ok $2" || { echo "not ok $2"; status=1; }
}

check "$src/C" "C: $(ls "$src"/C/*.page | wc -l) pages"

for lang in $(cat "$src/LINGUAS"); do
    mkdir -p "$T/$lang"
    msgfmt --check -o "$T/$lang.mo" "$src/$lang/$lang.po"
    itstool -m "$T/$lang.mo" --lang "$lang" -o "$T/$lang/" "$src"/C/*.page "$src/C/legal.xml"
    check "$T/$lang" "$lang"
done
exit $status
