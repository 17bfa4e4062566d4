#!/usr/bin/env bash
# Renames the log macros chp_err/chp_warn/chp_info/chp_debug(...) to
# chp_log_error/chp_log_warn/chp_log_info/chp_log_debug(...) in every
# tracked C file, so the log macro no longer sits beside the error type
# chp_err_t.  Idempotent: re-run it after merging a branch that still uses
# the old names.  Touched files are re-formatted with clang-format.
#
#   scripts/dev/rename-log-macros.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

{ git ls-files -z '*.c' '*.h' |
  xargs -0 grep -lZE '\bchp_(err|warn|info|debug)\(' || true; } |
  while IFS= read -r -d '' f; do
    sed -i -E -e 's/\bchp_err\(/chp_log_error(/g' \
      -e 's/\bchp_(warn|info|debug)\(/chp_log_\1(/g' "$f"
    clang-format -i "$f"
    echo "rewrote $f"
  done
