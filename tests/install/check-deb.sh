#!/usr/bin/env bash
# `make deb` as CI ships it: build the Debian packages from BUILD_DIR,
# install them with apt-get, run `chaperone version` and `chaperone demo`
# from /usr/bin, compile against the -dev package, then remove them again.
# Needs root (apt-get); skipped (77) otherwise, failed when every case is
# required (CHP_TEST_REQUIRE_ALL=1).
#
#   tests/install/check-deb.sh BUILD_DIR
set -euo pipefail

build=$(cd "$1" && pwd)
src=$(cd "$(dirname "$0")/../.." && pwd)
fail() { echo "FAIL: $*" >&2; exit 1; }
if [ "$(id -u)" -ne 0 ]; then
  [ "${CHP_TEST_REQUIRE_ALL:-0}" = 1 ] && fail "installing .deb packages needs root"
  echo "SKIP: installing .deb packages needs root" >&2
  exit 77
fi
if dpkg-query -W -f='${Status}' chaperone 2>/dev/null | grep -q 'ok installed'; then
  fail "a chaperone package is already installed; this test would replace it"
fi

tmp=$(mktemp -d)
pkgs=(chaperone libchaperone-dev libchaperone0)
cleanup() {
  DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq "${pkgs[@]}" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT

(cd "$build" && cpack -G DEB -B "$tmp/deb" >"$tmp/cpack.log" 2>&1) \
  || { cat "$tmp/cpack.log"; fail "cpack"; }
debs=("$tmp"/deb/*.deb)
[ ${#debs[@]} -eq 3 ] || fail "expected 3 packages, got ${#debs[@]}: ${debs[*]}"
for d in "${debs[@]}"; do dpkg-deb -f "$d" Package Version Depends; echo; done

DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  "${debs[@]}" >"$tmp/apt.log" 2>&1 || { cat "$tmp/apt.log"; fail "apt-get install"; }

[ "$(command -v chaperone)" = /usr/bin/chaperone ] || fail "chaperone not on PATH from /usr/bin"
/usr/bin/chaperone version
[ -f /usr/share/man/man1/chaperone-worker.1.gz ] || [ -f /usr/share/man/man1/chaperone-worker.1 ] \
  || fail "man page not installed"
pkg-config --exists chaperone || fail "pkg-config does not find chaperone"

cc -Wall -Werror -o "$tmp/hello" "$src/tests/install/hello.c" $(pkg-config --cflags --libs chaperone)
"$tmp/hello" | grep -q 'round trip ok' || fail "program against the -dev package"

# The demo from the installed binary (librdkafka's mock cluster, a known
# loss injected): it must find the loss it injected.
(cd "$tmp" && /usr/bin/chaperone demo) >"$tmp/demo.log" 2>&1 || { cat "$tmp/demo.log"; fail "chaperone demo"; }
tail -20 "$tmp/demo.log"
echo "deb: ok"
