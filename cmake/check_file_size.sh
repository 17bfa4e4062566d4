#!/usr/bin/env bash
# No source file of lib/, src/ or plugin/ over 600 lines (STYLE.md: one
# concern per file; a file that grows past it gets split by concern).
set -euo pipefail
cd "$(dirname "$0")/.."
max=600
bad=0
while IFS= read -r f; do
  n=$(wc -l <"$f")
  if [ "$n" -gt "$max" ]; then
    echo "FAIL: $f has $n lines (at most $max)" >&2
    bad=1
  fi
done < <(find lib src plugin -name '*.[ch]' | sort)
[ $bad -eq 0 ] && echo "file size: every file of lib/ src/ plugin/ within $max lines"
exit $bad
