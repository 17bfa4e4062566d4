#!/usr/bin/env bash
# promtool check rules + promtool test rules on the shipped alerting rules.
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v promtool >/dev/null; then
  if [ "${CHP_TEST_REQUIRE_ALL:-0}" = 1 ]; then
    echo "FAIL: promtool missing (Debian package prometheus; scripts/deps.sh)" >&2
    exit 1
  fi
  echo "SKIP: promtool missing (Debian package prometheus)" >&2
  exit 77
fi
promtool check rules ../../contrib/prometheus/chaperone.rules.yml
promtool test rules rules_test.yml
