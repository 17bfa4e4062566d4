#!/usr/bin/env bash
# `make install` as a user runs it: install into a temporary PREFIX (and
# once more under DESTDIR), compile a program against the result with
# pkg-config, run it, check the man pages render cleanly, the units pass
# systemd-analyze verify, and the example configurations load.
#
#   tests/install/check-install.sh BUILD_DIR
set -euo pipefail

build=$(cd "$1" && pwd)
src=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

prefix=$tmp/prefix
cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" 2>&1 \
  || { cat "$tmp/install.log"; fail "cmake --install"; }

for f in bin/chaperone include/chaperone.h lib/libchaperone.so lib/libchaperone.so.0 \
         lib/libchaperone_interceptor.so lib/pkgconfig/chaperone.pc \
         share/man/man1/chaperone.1 share/man/man1/chaperone-worker.1 \
         lib/systemd/system/chaperone-worker@.service \
         share/chaperone/examples/worker.properties; do
  [ -e "$prefix/$f" ] || fail "not installed: $f"
done
soname=$(readelf -d "$prefix/lib/libchaperone.so" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
[ "$soname" = libchaperone.so.0 ] || fail "SONAME is '$soname'"

# DESTDIR: the same tree, staged.
DESTDIR=$tmp/stage cmake --install "$build" --prefix /opt/chaperone >/dev/null
[ -x "$tmp/stage/opt/chaperone/bin/chaperone" ] || fail "DESTDIR not honoured"
grep -q '^prefix=/opt/chaperone$' "$tmp/stage/opt/chaperone/lib/pkgconfig/chaperone.pc" \
  || fail "chaperone.pc under DESTDIR does not name the real prefix"

# A C program against the installed library, through pkg-config.
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
flags=$(pkg-config --cflags --libs chaperone) || fail "pkg-config chaperone"
cc -Wall -Werror -o "$tmp/hello" "$src/tests/install/hello.c" $flags
out=$(LD_LIBRARY_PATH=$prefix/lib "$tmp/hello") || fail "hello: $out"
echo "$out"
[ "$out" = "chaperone $(pkg-config --modversion chaperone): round trip ok" ] \
  || fail "unexpected output: $out"

# The installed binary runs and knows its version.
"$prefix/bin/chaperone" --version | grep -q '^chaperone ' || fail "chaperone --version"
"$prefix/bin/chaperone" --version | grep -q '^librdkafka ' || fail "librdkafka version missing"

# Man pages: one per command, rendered by groff without a warning.
for cmd in $("$prefix/bin/chaperone" --help | awk '/^commands:/{on=1;next} on&&/^  [a-z]/{print $1} on&&/^$/{on=0}'); do
  [ -f "$prefix/share/man/man1/chaperone-$cmd.1" ] || fail "no man page for $cmd"
done
warn=$(groff -man -Tutf8 -ww -z "$prefix"/share/man/man1/*.1 2>&1)
[ -z "$warn" ] || fail "groff: $warn"

# Units: systemd-analyze verify on an instance of each template, silent.
if command -v systemd-analyze >/dev/null; then
  for u in worker collector controller; do
    mkdir -p "$tmp/units"
    cp "$prefix/lib/systemd/system/chaperone-$u@.service" "$tmp/units/chaperone-$u@ci.service"
    grep -q "^ExecStart=$prefix/bin/chaperone $u " "$tmp/units/chaperone-$u@ci.service" \
      || fail "unit $u does not start the installed binary"
    msg=$(systemd-analyze verify --man=no "$tmp/units/chaperone-$u@ci.service" 2>&1) \
      || fail "systemd-analyze verify $u: $msg"
    [ -z "$msg" ] || fail "systemd-analyze verify $u: $msg"
  done
else
  [ "${CHP_TEST_REQUIRE_ALL:-0}" = 1 ] && fail "systemd-analyze missing"
  echo "SKIP: no systemd-analyze" >&2; exit 77
fi

# The example configurations are valid for their daemons.
for c in worker collector controller; do
  "$prefix/bin/chaperone" config -c "$prefix/share/chaperone/examples/$c.properties" >/dev/null \
    || fail "example $c.properties does not load"
done
echo "install: ok"
