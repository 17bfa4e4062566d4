#!/bin/sh
# The shared library exports chp_* symbols only; the plugin only conf_init,
# and it has no link-time librdkafka (it binds to the one that loads it).
set -eu
lib=$1 plugin=$2
bad=$(nm -D --defined-only "$lib" | awk '{print $3}' | grep -v '^chp_' || true)
[ -z "$bad" ] || { echo "libchaperone exports non-chp_ symbols: $bad"; exit 1; }
n=$(nm -D --defined-only "$lib" | grep -c ' chp_')
[ "$n" -gt 20 ] || { echo "libchaperone exports only $n chp_ symbols"; exit 1; }
extra=$(nm -D --defined-only "$plugin" | awk '{print $3}' | grep -v '^conf_init$' || true)
[ -z "$extra" ] || { echo "the plugin exports more than conf_init: $extra"; exit 1; }
if readelf -d "$plugin" | grep NEEDED | grep -q rdkafka; then
  echo "the plugin links librdkafka: $(readelf -d "$plugin" | grep rdkafka)"
  exit 1
fi
undef=$(nm -D --undefined-only "$plugin" | awk '{print $2}' | grep '^rd_kafka' || true)
[ -z "$undef" ] || { echo "the plugin imports librdkafka symbols by name: $undef"; exit 1; }
echo "exports ok: $n chp_ symbols; plugin: conf_init, no link-time librdkafka"
