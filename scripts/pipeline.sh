#!/usr/bin/env bash
# The multi-datacenter test topology (docs/pipeline.md): two regional Kafka
# clusters (dc1, dc2) and one aggregate cluster, each a one-node Kafka 3.9
# KRaft started by scripts/kafka.sh with its own ports and data directory,
# plus MirrorMaker 2 in dedicated mode replicating dc1 and dc2 into the
# aggregate with the default replication policy (orders of dc1 arrives as
# dc1.orders).  MirrorMaker's and kafka-tools' jars come from Maven Central
# through scripts/pipeline/pom.xml, cached in .cache/mirror-jars.
#
#   scripts/pipeline.sh start|stop|status|env       the whole topology
#   scripts/pipeline.sh mm2-start|mm2-stop|mm2-kill  MirrorMaker alone
#                                                    (mm2-kill: kill -9)
#   scripts/pipeline.sh delete-records CLUSTER TOPIC PARTITION OFFSET
#       kafka-delete-records: removes the records before OFFSET
#
# Environment (defaults clear of the main test broker's 9092/9093):
#   CHP_PIPE_DC1_PORT (9192), CHP_PIPE_DC2_PORT (9292),
#   CHP_PIPE_AGG_PORT (9392): each cluster's client port, its controller
#   port is the next one;
#   CHP_PIPE_RUN_DIR (${CHP_RUN_DIR:-.cache/run}/pipeline): data and logs;
#   CHP_PIPE_BROKER_HEAP (-Xms128m -Xmx384m), CHP_PIPE_MM2_HEAP (-Xmx256m);
#   CHP_PIPE_MM2_TOPICS (.*): the topics MirrorMaker replicates (regexes).
# `env` prints CHP_TEST_PIPE_DC1/DC2/AGG (brokers) for tests/e2e.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
dc1_port=${CHP_PIPE_DC1_PORT:-9192}
dc2_port=${CHP_PIPE_DC2_PORT:-9292}
agg_port=${CHP_PIPE_AGG_PORT:-9392}
run=${CHP_PIPE_RUN_DIR:-${CHP_RUN_DIR:-$top/.cache/run}/pipeline}
jars=$top/.cache/mirror-jars
mm2dir=$run/mm2
mm2pid=$mm2dir/mm2.pid

die() { echo "pipeline.sh: $*" >&2; exit 1; }

port_of() {
  case "$1" in
    dc1) echo "$dc1_port" ;; dc2) echo "$dc2_port" ;;
    aggregate) echo "$agg_port" ;;
    *) die "unknown cluster \"$1\" (expected dc1, dc2 or aggregate)" ;;
  esac
}

# scripts/kafka.sh for one cluster: its own ports and run directory.
kafka() {
  local cluster=$1 cmd=$2 port; port=$(port_of "$cluster")
  CHP_RUN_DIR=$run/$cluster KAFKA_PORT=$port \
    KAFKA_CONTROLLER_PORT=$((port + 1)) \
    KAFKA_HEAP_OPTS=${CHP_PIPE_BROKER_HEAP:--Xms128m -Xmx384m} \
    "$top/scripts/kafka.sh" "$cmd"
}

fetch_jars() {
  if [ ! -f "$jars/.complete" ]; then
    echo "pipeline.sh: fetching MirrorMaker 2 and kafka-tools jars with Maven (cached in $jars)" >&2
    rm -rf "$jars"
    mvn -q -B -f "$top/scripts/pipeline/pom.xml" dependency:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$jars" >&2 \
      || die "mvn could not fetch the MirrorMaker jars"
    touch "$jars/.complete"
  fi
}

mm2_running() {
  [ -f "$mm2pid" ] && kill -0 "$(cat "$mm2pid")" 2>/dev/null
}

write_mm2_config() {
  mkdir -p "$mm2dir"
  cat >"$mm2dir/mm2.properties" <<CONF
clusters = dc1, dc2, aggregate
dc1.bootstrap.servers = 127.0.0.1:$dc1_port
dc2.bootstrap.servers = 127.0.0.1:$dc2_port
aggregate.bootstrap.servers = 127.0.0.1:$agg_port
dc1->aggregate.enabled = true
dc2->aggregate.enabled = true
topics = ${CHP_PIPE_MM2_TOPICS:-.*}
# Chaperone's own topics stay in their cluster: each has its collector.
topics.exclude = .*[\-\.]internal, .*\.replica, __.*, chaperone.*, heartbeats
groups.exclude = .*
refresh.topics.interval.seconds = 5
sync.topic.acls.enabled = false
sync.topic.configs.enabled = false
sync.group.offsets.enabled = false
# One-broker clusters: every internal topic with one replica.
replication.factor = 1
offset-syncs.topic.replication.factor = 1
checkpoints.topic.replication.factor = 1
heartbeats.topic.replication.factor = 1
offset.storage.replication.factor = 1
config.storage.replication.factor = 1
status.storage.replication.factor = 1
# Worker-level settings only take effect prefixed with the target's alias.
aggregate.offset.flush.interval.ms = 1000
aggregate.plugin.discovery = only_scan
CONF
  cat >"$mm2dir/log4j.properties" <<CONF
log4j.rootLogger=WARN, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=$mm2dir/mm2.log
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.org.apache.kafka.connect.mirror.MirrorMaker=INFO
log4j.logger.org.apache.kafka.connect.mirror.MirrorSourceConnector=INFO
CONF
}

mm2_start() {
  if mm2_running; then
    echo "pipeline.sh: MirrorMaker 2 already running (pid $(cat "$mm2pid"))"
    return 0
  fi
  fetch_jars
  write_mm2_config
  local heap; read -r -a heap <<<"${CHP_PIPE_MM2_HEAP:--Xmx256m}"
  nohup java "${heap[@]}" -XX:+UseSerialGC -Djava.awt.headless=true \
    "-Dlog4j.configuration=file:$mm2dir/log4j.properties" \
    -cp "$jars/*" org.apache.kafka.connect.mirror.MirrorMaker \
    "$mm2dir/mm2.properties" --clusters aggregate \
    >>"$mm2dir/stdout.log" 2>&1 </dev/null &
  echo $! >"$mm2pid"
  sleep 1
  mm2_running || { tail -20 "$mm2dir/stdout.log" >&2; die "MirrorMaker 2 exited during start"; }
  echo "pipeline.sh: MirrorMaker 2 up (pid $(cat "$mm2pid"), dc1 + dc2 -> aggregate, log $mm2dir/mm2.log)"
}

mm2_stop() {
  local sig=${1:-TERM}
  if mm2_running; then
    local pid; pid=$(cat "$mm2pid")
    kill -"$sig" "$pid" 2>/dev/null || true
    local i
    for i in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$pid" 2>/dev/null || true
    echo "pipeline.sh: MirrorMaker 2 stopped ($sig)"
  fi
  rm -f "$mm2pid"
}

start() {
  command -v java >/dev/null || die "java not found (run scripts/deps.sh)"
  fetch_jars
  mkdir -p "$run"
  kafka dc1 start
  kafka dc2 start
  kafka aggregate start
  mm2_start
}

stop() {
  mm2_stop TERM
  local c
  for c in dc1 dc2 aggregate; do kafka "$c" stop || true; done
  rm -rf "$run"
}

status() {
  local rc=0 c
  for c in dc1 dc2 aggregate; do
    printf '%s: ' "$c"; kafka "$c" status || rc=1
  done
  if mm2_running; then
    echo "MirrorMaker 2: running (pid $(cat "$mm2pid"))"
  else
    echo "MirrorMaker 2: not running"; rc=1
  fi
  return $rc
}

env_lines() {
  echo "export CHP_TEST_PIPE_DC1=127.0.0.1:$dc1_port"
  echo "export CHP_TEST_PIPE_DC2=127.0.0.1:$dc2_port"
  echo "export CHP_TEST_PIPE_AGG=127.0.0.1:$agg_port"
}

delete_records() {
  [ $# -eq 4 ] || die "usage: $0 delete-records CLUSTER TOPIC PARTITION OFFSET"
  local port; port=$(port_of "$1")
  fetch_jars
  mkdir -p "$run"
  local json=$run/delete-records-$$.json
  printf '{"version":1,"partitions":[{"topic":"%s","partition":%d,"offset":%d}]}\n' \
    "$2" "$3" "$4" >"$json"
  java -Xmx128m -XX:+UseSerialGC -cp "$jars/*" \
    org.apache.kafka.tools.DeleteRecordsCommand \
    --bootstrap-server "127.0.0.1:$port" --offset-json-file "$json"
  rm -f "$json"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  restart) stop; start ;;
  env) env_lines ;;
  mm2-start) mm2_start ;;
  mm2-stop) mm2_stop TERM ;;
  mm2-kill) mm2_stop KILL ;;
  delete-records) shift; delete_records "$@" ;;
  fetch) fetch_jars ;;
  *) echo "usage: $0 start|stop|status|restart|env|mm2-start|mm2-stop|mm2-kill|delete-records|fetch" >&2
     exit 2 ;;
esac
