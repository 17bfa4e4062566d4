#!/usr/bin/env bash
# Sets up the real Kafka clients the plugin is proved with
# (tests/integration/test_plugin_clients.c), cached under .cache/ and
# idempotent (quiet and fast when everything is there):
#   .cache/venv       a virtualenv of Debian's python3 with the current
#                     confluent-kafka wheel from PyPI (bundles its own
#                     librdkafka)
#   .cache/go         Go module and build caches; .cache/clients/goclient,
#                     built from tests/clients/go with confluent-kafka-go
#                     v2.0.2, -tags dynamic (Debian's librdkafka 2.0.2), and
#                     goclient-static, the default build with the module's
#                     bundled static librdkafka (which the plugin must
#                     refuse, see docs/client.md)
# Debian's python3-confluent-kafka (system librdkafka) and golang come from
# scripts/deps.sh.  Usage: scripts/clients.sh [python|go|all]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cache=$top/.cache
what=${1:-all}
mkdir -p "$cache/clients"

python_venv() {
  local venv=$cache/venv
  if [ -x "$venv/bin/python" ] &&
     "$venv/bin/python" -c 'import confluent_kafka' 2>/dev/null; then
    return 0
  fi
  echo "clients: virtualenv with confluent-kafka in $venv" >&2
  rm -rf "$venv"
  /usr/bin/python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check confluent-kafka
}

go_client() {
  local src=$top/tests/clients/go out=$cache/clients/goclient go
  go=$(command -v go || true)
  [ -z "$go" ] && [ -x /usr/lib/go/bin/go ] && go=/usr/lib/go/bin/go
  [ -z "$go" ] && [ -x /usr/local/go/bin/go ] && go=/usr/local/go/bin/go
  if [ -z "$go" ]; then
    echo "clients: no go toolchain (scripts/deps.sh installs golang)" >&2
    return 1
  fi
  if [ -x "$out" ] && [ -x "$out-static" ] &&
     [ -z "$(find "$src" -newer "$out" -type f)" ]; then
    return 0
  fi
  echo "clients: building the Go client (confluent-kafka-go)" >&2
  export GOPATH=$cache/go GOMODCACHE=$cache/go/mod GOCACHE=$cache/go/build
  export GOFLAGS=-mod=mod CGO_ENABLED=1
  (cd "$src" && "$go" build -o "$out-static" . &&
   "$go" build -tags dynamic -o "$out" .)
}

case $what in
  python) python_venv ;;
  go) go_client ;;
  all) python_venv; go_client ;;
  *) echo "usage: $0 [python|go|all]" >&2; exit 2 ;;
esac
