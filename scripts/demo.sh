#!/usr/bin/env bash
# `make demo`: runs `chaperone demo` (design.md §9) from the given build directory.
set -euo pipefail
build=${1:-build}
bin=$build/chaperone
[ -x "$bin" ] || { echo "make demo: $bin was not built" >&2; exit 1; }
exec "$bin" demo "${@:2}"
