#!/usr/bin/env bash
# The whole test run behind `make test` and .ci/run:
#   1. unit tests under ASan + UBSan   (build-asan/)
#   2. libFuzzer targets, bounded time (build-fuzz/, clang, ASan + UBSan)
#   3. start the real services: Kafka 3.9 (KRaft), MariaDB, PostgreSQL, Redis
#   4. every test (unit, integration, e2e) in the normal build (build/);
#      its CTest summary is the last thing printed.
# The services are stopped on exit, whatever happened.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
jobs=$(nproc)
export CHP_RUN_DIR=${CHP_RUN_DIR:-$top/.cache/run}
logs=$CHP_RUN_DIR/logs
mkdir -p "$logs"

step() { printf '\n=== %s\n' "$*"; }

stop_services() {
  # Absolute paths: the trap runs after the `cd build` below.
  "$top/scripts/services.sh" stop all >>"$logs/services.log" 2>&1 || true
  "$top/scripts/kafka.sh" stop >>"$logs/kafka.log" 2>&1 || true
}

step "build (RelWithDebInfo) in build/"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs" >"$logs/build.log" 2>&1 || { tail -50 "$logs/build.log"; exit 1; }

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
# One broker for the whole run, with the SASL_SSL and mTLS listeners
# (KAFKA_PORT+2, +3) beside the plaintext one for tests/e2e/test_secure_*.
KAFKA_SECURE=1 ./scripts/kafka.sh start
./scripts/services.sh start all
eval "$(./scripts/services.sh env)"
eval "$(KAFKA_SECURE=1 ./scripts/kafka.sh env)" # CHP_TEST_BROKERS, *_CONFIG
export CHP_TEST_BROKERS CHP_TEST_SASL_SSL_CONFIG CHP_TEST_MTLS_CONFIG CHP_TEST_TLS_DIR
export CHP_TEST_MYSQL_URL CHP_TEST_PG_URL CHP_TEST_REDIS_URL

step "all tests (unit, integration, e2e) in build/"
cd build
ctest --output-on-failure
