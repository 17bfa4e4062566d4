#!/usr/bin/env bash
# Installs every Debian package the build, the tests and the services need.
# Idempotent and quiet when everything is present.
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config git curl ca-certificates
  librdkafka-dev libjansson-dev libmicrohttpd-dev libcmocka-dev
  libsqlite3-dev sqlite3 libmariadb-dev libpq-dev libhiredis-dev
  clang libclang-rt-14-dev libfuzzer-14-dev
  default-jre-headless maven
  mariadb-server mariadb-client postgresql redis-server
  kcat uuid-runtime procps iproute2 chromium locales
  clang-format gdb libsimdjson-dev
  dpkg-dev groff-base systemd prometheus
  python3-venv python3-confluent-kafka golang-go
)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
    missing+=("$p")
  fi
done

# Java and Maven may come from elsewhere (e.g. a JDK in PATH); accept that.
if command -v java >/dev/null 2>&1; then
  missing=("${missing[@]/default-jre-headless}")
fi
if command -v mvn >/dev/null 2>&1; then
  missing=("${missing[@]/maven}")
fi
# A Go toolchain in PATH (or /usr/local/go) serves as well as Debian's.
if command -v go >/dev/null 2>&1 || [ -x /usr/local/go/bin/go ]; then
  missing=("${missing[@]/golang-go}")
fi
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"

# A locale whose decimal separator is a comma: test_conf proves that
# configuration numbers parse the same whatever LC_NUMERIC says.
ensure_locale() {
  locale -a 2>/dev/null | grep -qi '^de_DE\.utf-\?8$' && return 0
  $SUDO localedef -i de_DE -c -f UTF-8 de_DE.UTF-8 >/dev/null 2>&1 \
    || echo "deps: could not generate the de_DE.UTF-8 locale" >&2
}
trap ensure_locale EXIT

want=()
for p in "${missing[@]}"; do [ -n "$p" ] && want+=("$p"); done
[ ${#want[@]} -eq 0 ] && exit 0

echo "deps: installing ${want[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# Do not let package post-install scripts start services: the project starts
# its own on loopback with throwaway data directories.
policy=/usr/sbin/policy-rc.d
made_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
  $SUDO chmod +x "$policy"
  made_policy=1
fi
trap '[ $made_policy -eq 1 ] && $SUDO rm -f "$policy"; ensure_locale' EXIT
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null

