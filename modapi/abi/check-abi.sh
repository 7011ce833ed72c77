#!/bin/sh
# check-abi.sh PROBE.so BASELINE.abi HEADERS_DIR [--update]
# Compare the ABI of the public headers (as seen through abi_probe) with the
# committed baseline; any difference fails. After an intentional change
# (a MINOR bump), run with --update and commit the new baseline together
# with the updated tests/abi assertions.
set -eu
probe=$1 baseline=$2 headers=$3
current=$(mktemp)
trap 'rm -f "$current"' EXIT
abidw --no-corpus-path --no-comp-dir-path --headers-dir "$headers" --out-file "$current" "$probe"
if [ "${4:-}" = "--update" ]; then
    cp "$current" "$baseline" && chmod 644 "$baseline"
    echo "baseline updated: $baseline"
    exit 0
fi
if abidiff --no-added-syms "$baseline" "$current"; then
    echo "modapi ABI matches the baseline"
else
    echo "modapi ABI differs from $baseline: bump MODPOP3D_ABI_MINOR (append) or MAJOR," >&2
    echo "update tests/abi/abi_layout.h and regenerate the baseline with --update" >&2
    exit 1
fi
