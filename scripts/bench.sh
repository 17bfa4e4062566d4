#!/usr/bin/env bash
# `make bench`: optimised build in build-bench/, then every bench/bench_*
# program (bench_tsx_simdjson only when libsimdjson-dev is installed).  Each
# prints "bench: NAME ratio=R goal=G  (...)" lines (design.md §12); how they are
# measured is in docs/benchmarks.md.
# Benchmarks that need Kafka get CHP_BENCH_BROKERS; the broker is started by
# scripts/kafka.sh if it is not running, and stopped again if we started it.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DCHP_BENCH=ON >/dev/null
cmake --build build-bench -j"$(nproc)" >/dev/null

started=0
if ! ./scripts/kafka.sh status >/dev/null 2>&1; then
  ./scripts/kafka.sh start >/dev/null
  started=1
fi
trap '[ $started -eq 1 ] && ./scripts/kafka.sh stop >/dev/null 2>&1 || true' EXIT
export CHP_BENCH_BROKERS=127.0.0.1:${KAFKA_PORT:-9092}
# The database benchmarks run against the real servers; started here (and
# stopped again) unless they already run.
svc_started=0
if ! ./scripts/services.sh status mariadb postgres >/dev/null 2>&1; then
  ./scripts/services.sh start mariadb postgres >/dev/null
  svc_started=1
fi
trap '[ $started -eq 1 ] && ./scripts/kafka.sh stop >/dev/null 2>&1; [ $svc_started -eq 1 ] && ./scripts/services.sh stop mariadb postgres >/dev/null 2>&1; true' EXIT
eval "$(./scripts/services.sh env)"
export CHP_BENCH_MYSQL_URL=${CHP_BENCH_MYSQL_URL:-$CHP_TEST_MYSQL_URL}
export CHP_BENCH_PG_URL=${CHP_BENCH_PG_URL:-$CHP_TEST_PG_URL}

# The machine's load says how far to trust a run (docs/benchmarks.md).
echo "bench.sh: $(date -u +%FT%TZ), load average $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) CPUs" >&2
for b in build-bench/bench_*; do
  [ -x "$b" ] || continue
  "$b"
done
echo "bench.sh: done $(date -u +%FT%TZ), load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
