#!/usr/bin/env bash
# `make demo`: runs `chaperone demo` (SPEC §9) from the given build directory.
set -euo pipefail
build=${1:-build}
bin=$build/chaperone
if [ -x "$bin" ] && "$bin" demo --help >/dev/null 2>&1; then
  exec "$bin" demo
fi
cat >&2 <<'MSG'
make demo: `chaperone demo` is not built yet.
When it exists it will run, in one process and with nothing else installed:
librdkafka's mock Kafka cluster, a producer audited by libchaperone (tier
"producer"), the worker, and the collector on SQLite in a temporary directory,
with a known loss injected between the tiers, and print the report showing it.
MSG
exit 1
