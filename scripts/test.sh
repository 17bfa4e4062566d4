#!/usr/bin/env bash
# The whole test run behind `make test` and .ci/run:
#   1. unit tests under ASan + UBSan   (build-asan/)
#   2. libFuzzer targets, bounded time (build-fuzz/, clang, ASan + UBSan)
#   3. start the real services: Kafka 3.9 (KRaft), MariaDB, PostgreSQL, Redis,
#      and the pipeline topology (scripts/pipeline.sh: three clusters and
#      MirrorMaker 2)
#   4. every test (unit, integration, e2e) in the normal build (build/);
#      its CTest summary is the last thing printed.
# The services are stopped on exit, whatever happened.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
jobs=$(nproc)
export CHP_RUN_DIR=${CHP_RUN_DIR:-$top/.cache/run}
# Every case is required here: a test that cannot reach its server fails
# instead of reporting SKIPPED (tests/support/tu_skip.h).  CHP_TEST_REQUIRE_ALL=0
# lets a developer without, say, PostgreSQL run the rest.
export CHP_TEST_REQUIRE_ALL=${CHP_TEST_REQUIRE_ALL:-1}
logs=$CHP_RUN_DIR/logs
mkdir -p "$logs"

step() { printf '\n=== %s\n' "$*"; }

stop_services() {
  # Absolute paths: the trap runs after the `cd build` below.
  "$top/scripts/services.sh" stop all >>"$logs/services.log" 2>&1 || true
  "$top/scripts/kafka.sh" stop >>"$logs/kafka.log" 2>&1 || true
  "$top/scripts/pipeline.sh" stop >>"$logs/pipeline.log" 2>&1 || true
}

step "build (RelWithDebInfo) in build/"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs" >"$logs/build.log" 2>&1 || { tail -50 "$logs/build.log"; exit 1; }

step "real Kafka clients for the plugin tests (.cache/venv, .cache/clients)"
./scripts/clients.sh all >"$logs/clients.log" 2>&1 || { tail -30 "$logs/clients.log"; exit 1; }

step "unit tests under ASan + UBSan in build-asan/"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DCHP_SANITIZE=ON -DCHP_BENCH=OFF >/dev/null
cmake --build build-asan -j"$jobs" >"$logs/build-asan.log" 2>&1 || { tail -50 "$logs/build-asan.log"; exit 1; }
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
   UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
   ctest -L unit --output-on-failure -j"$jobs")

step "fuzz targets (libFuzzer, ASan + UBSan, ${CHP_FUZZ_SECONDS:-20} s each) in build-fuzz/"
cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
  -DCHP_FUZZ=ON -DCHP_BENCH=OFF -DCHP_FUZZ_SECONDS="${CHP_FUZZ_SECONDS:-20}" >/dev/null
cmake --build build-fuzz -j"$jobs" >"$logs/build-fuzz.log" 2>&1 || { tail -50 "$logs/build-fuzz.log"; exit 1; }
(cd build-fuzz && ctest -L fuzz --output-on-failure -j"$jobs")

step "start the real services"
trap stop_services EXIT
# One broker for the whole run: plaintext, plus SASL_SSL and mTLS
# (KAFKA_PORT+2, +3) for tests/e2e/test_secure_*, plus a SASL_PLAINTEXT
# listener (KAFKA_PORT+10) for test_plugin_sasl.  KAFKA_SASL_PORT is not
# exported: the e2e tests that start Kafkas of their own must not take it.
sasl_port=${KAFKA_SASL_PORT:-$(( ${KAFKA_PORT:-9092} + 10 ))}
KAFKA_SECURE=1 KAFKA_SASL_PORT=$sasl_port ./scripts/kafka.sh start
./scripts/services.sh start all
eval "$(./scripts/services.sh env)"
eval "$(KAFKA_SECURE=1 ./scripts/kafka.sh env)" # CHP_TEST_BROKERS, *_CONFIG
export CHP_TEST_BROKERS CHP_TEST_SASL_SSL_CONFIG CHP_TEST_MTLS_CONFIG CHP_TEST_TLS_DIR
export CHP_TEST_SASL_BROKERS=127.0.0.1:$sasl_port
export CHP_TEST_MYSQL_URL CHP_TEST_PG_URL CHP_TEST_REDIS_URL
# The multi-datacenter topology (dc1, dc2, aggregate, MirrorMaker 2) for
# tests/e2e/test_pipeline.c; ports CHP_PIPE_{DC1,DC2,AGG}_PORT.
./scripts/pipeline.sh start
eval "$(./scripts/pipeline.sh env)"

step "all tests (unit, integration, e2e) in build/"
cd build
ctest --output-on-failure
