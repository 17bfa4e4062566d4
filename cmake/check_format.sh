#!/usr/bin/env bash
# Every C file as .clang-format says (make format fixes them).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null || { echo "FAIL: clang-format missing (scripts/deps.sh)" >&2; exit 1; }
files=$(git ls-files '*.c' '*.h' 2>/dev/null || find lib src plugin include tests bench tools -name '*.[ch]')
# shellcheck disable=SC2086
clang-format --dry-run --Werror $files
echo "format: $(echo "$files" | wc -l) C files as .clang-format says"
