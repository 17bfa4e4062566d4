#!/usr/bin/env bash
# Starts, stops and reports a one-node Apache Kafka 3.9.x (KRaft: broker +
# controller in one process) on 127.0.0.1 for tests, benchmarks and the
# quick start. Jars come from Maven Central through scripts/kafka/pom.xml and
# are cached in .cache/kafka-jars; KAFKA_HOME (an unpacked Kafka distribution)
# is used instead when set.
#
#   scripts/kafka.sh start|stop|status|restart|bounce
#
# restart wipes the data (a fresh broker); bounce stops the broker and
# starts it again over the same data (what a rolling restart does).
#
# Environment: KAFKA_PORT (9092), KAFKA_CONTROLLER_PORT (9093),
#              CHP_RUN_DIR (.cache/run): throwaway data and logs live there.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
port=${KAFKA_PORT:-9092}
cport=${KAFKA_CONTROLLER_PORT:-9093}
run=${CHP_RUN_DIR:-$top/.cache/run}/kafka
jars=$top/.cache/kafka-jars
pidfile=$run/kafka.pid

die() { echo "kafka.sh: $*" >&2; exit 1; }

classpath() {
  if [ -n "${KAFKA_HOME:-}" ]; then
    [ -d "$KAFKA_HOME/libs" ] || die "KAFKA_HOME=$KAFKA_HOME has no libs/"
    echo "$KAFKA_HOME/libs/*"
    return
  fi
  if [ ! -f "$jars/.complete" ]; then
    echo "kafka.sh: fetching Kafka jars with Maven (cached in $jars)" >&2
    rm -rf "$jars"
    mvn -q -B -f "$top/scripts/kafka/pom.xml" dependency:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$jars" >&2 \
      || die "mvn could not fetch the Kafka jars"
    touch "$jars/.complete"
  fi
  echo "$jars/*"
}

running() {
  [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

answers() {
  # A metadata request that lists a broker means the node is serving clients.
  kcat -b "127.0.0.1:$port" -L -m 3 2>/dev/null | grep -q '1 brokers'
}

write_config() {
  cat >"$run/server.properties" <<CONF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$run/data
num.partitions=1
default.replication.factor=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
log.retention.hours=24
log.segment.bytes=67108864
CONF
  cat >"$run/log4j.properties" <<CONF
log4j.rootLogger=WARN, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=$run/server.log
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.server.KafkaServer=INFO
log4j.logger.kafka.server.BrokerServer=INFO
CONF
}

start() {
  if running; then
    answers && { echo "kafka.sh: already running on 127.0.0.1:$port"; return 0; }
  fi
  command -v java >/dev/null || die "java not found (run scripts/deps.sh)"
  command -v kcat >/dev/null || die "kcat not found (run scripts/deps.sh)"
  local cp; cp=$(classpath)
  rm -rf "$run"; mkdir -p "$run/data"
  write_config
  local jopts; jopts=$(java_opts)
  local id
  # shellcheck disable=SC2086
  id=$(java $jopts -cp "$cp" kafka.tools.StorageTool random-uuid 2>>"$run/format.log") \
    || die "StorageTool random-uuid failed; see $run/format.log"
  # shellcheck disable=SC2086
  java $jopts -cp "$cp" kafka.tools.StorageTool format -t "$id" \
    -c "$run/server.properties" >>"$run/format.log" 2>&1 \
    || die "formatting storage failed; see $run/format.log"
  launch "$cp"
}

java_opts() {
  echo "-Xms256m -Xmx768m -XX:+UseG1GC -Djava.awt.headless=true" \
       "-Dlog4j.configuration=file:$run/log4j.properties"
}

# Starts the broker over the existing data and waits until it answers.
launch() {
  local cp=$1
  # shellcheck disable=SC2086
  nohup java $(java_opts) -cp "$cp" kafka.Kafka "$run/server.properties" \
    >>"$run/stdout.log" 2>&1 </dev/null &
  echo $! >"$pidfile"
  local i
  for i in $(seq 1 120); do
    if answers; then
      echo "kafka.sh: Kafka 3.9 up on 127.0.0.1:$port (pid $(cat "$pidfile"), data $run)"
      return 0
    fi
    running || { tail -20 "$run/stdout.log" "$run/server.log" >&2 || true; die "broker exited during start"; }
    sleep 0.5
  done
  tail -20 "$run/server.log" >&2 || true
  die "broker did not answer on 127.0.0.1:$port within 60 s"
}

stop() {
  if running; then
    local pid; pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || true
    local i
    for i in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$pid" 2>/dev/null || true
    echo "kafka.sh: stopped"
  fi
  rm -rf "$run"
}

# Stops the broker (SIGCONT first, in case a test paused it) and starts it
# again over the same data: a broker restart, topics and offsets kept.
bounce() {
  [ -f "$run/server.properties" ] || die "not started (no $run)"
  local cp; cp=$(classpath)
  if [ -f "$pidfile" ]; then
    local pid; pid=$(cat "$pidfile")
    kill -CONT "$pid" 2>/dev/null || true
    kill "$pid" 2>/dev/null || true
    local i
    for i in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  launch "$cp"
}

status() {
  if running && answers; then
    echo "kafka.sh: running on 127.0.0.1:$port (pid $(cat "$pidfile"))"
  else
    echo "kafka.sh: not running"; return 1
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  restart) stop; start ;;
  bounce) bounce ;;
  fetch) classpath >/dev/null ;;
  *) echo "usage: $0 start|stop|status|restart|bounce|fetch" >&2; exit 2 ;;
esac
