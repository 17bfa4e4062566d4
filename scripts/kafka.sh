#!/usr/bin/env bash
# Starts, stops and reports a one-node Apache Kafka 3.9.x (KRaft: broker +
# controller in one process) on 127.0.0.1 for tests, benchmarks and the
# quick start. Jars come from Maven Central through scripts/kafka/pom.xml and
# are cached in .cache/kafka-jars; KAFKA_HOME (an unpacked Kafka distribution)
# is used instead when set.
#
#   scripts/kafka.sh start|stop|status|restart|bounce|env
#
# restart wipes the data (a fresh broker); bounce stops the broker and
# starts it again over the same data (what a rolling restart does).
#
# Environment: KAFKA_PORT (9092), KAFKA_CONTROLLER_PORT (9093),
#              KAFKA_SASL_PORT (unset: none; set: a SASL_PLAINTEXT listener
#              there, mechanism PLAIN, user "chaperone" password
#              "chaperone-secret", for tests of clients with credentials),
#              CHP_RUN_DIR (.cache/run): throwaway data and logs live there,
#              KAFKA_HEAP_OPTS (-Xms256m -Xmx768m).
#
# KAFKA_SECURE=1 adds two secured listeners beside the plaintext one (which
# stays as it is):
#   SASL_SSL on KAFKA_SASL_SSL_PORT (KAFKA_PORT+2): SCRAM-SHA-512 user
#            "chaperone", created at format time with a random password
#   MTLS     on KAFKA_MTLS_PORT (KAFKA_PORT+3): TLS with client certificates
#            required (ssl.client.auth=required)
# A throwaway CA, the broker's certificate (subjectAltName IP:127.0.0.1,
# DNS:localhost) and a client certificate are made with openssl at start in
# $CHP_RUN_DIR/kafka/tls, with a second, untrusted ("rogue") CA and client
# certificate for failure tests.  librdkafka settings for each listener are
# written to $CHP_RUN_DIR/kafka/client-sasl_ssl.properties and
# client-mtls.properties; `scripts/kafka.sh env` prints their paths (and
# the ports) as shell exports.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
port=${KAFKA_PORT:-9092}
cport=${KAFKA_CONTROLLER_PORT:-9093}
pport=${KAFKA_SASL_PORT:-}
run=${CHP_RUN_DIR:-$top/.cache/run}/kafka
jars=$top/.cache/kafka-jars
pidfile=$run/kafka.pid
secure=${KAFKA_SECURE:-0}
sport=${KAFKA_SASL_SSL_PORT:-$((port + 2))}
mport=${KAFKA_MTLS_PORT:-$((port + 3))}
tls=$run/tls

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

# The CA, the broker's and the clients' keys and certificates (PEM), a
# rogue CA and client for failure tests, the SCRAM password, and the
# librdkafka settings of each secured listener.
make_tls() {
  command -v openssl >/dev/null || die "openssl not found (run scripts/deps.sh)"
  mkdir -p "$tls"; chmod 700 "$tls"
  local ca
  for ca in ca rogue-ca; do
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=chaperone test $ca" \
      -keyout "$tls/$ca.key" -out "$tls/$ca.pem" >/dev/null 2>&1 || die "openssl: $ca"
  done
  # name, signing CA, subject, extensions
  sign() {
    openssl req -newkey rsa:2048 -nodes -subj "/CN=$3" -keyout "$tls/$1.key" \
      -out "$tls/$1.csr" >/dev/null 2>&1 || die "openssl: $1 request"
    printf '%s\n' "$4" >"$tls/$1.ext"
    openssl x509 -req -in "$tls/$1.csr" -CA "$tls/$2.pem" -CAkey "$tls/$2.key" \
      -CAcreateserial -days 2 -extfile "$tls/$1.ext" -out "$tls/$1.pem" \
      >/dev/null 2>&1 || die "openssl: $1 certificate"
    rm -f "$tls/$1.csr" "$tls/$1.ext"
  }
  sign broker ca localhost "subjectAltName=IP:127.0.0.1,DNS:localhost
extendedKeyUsage=serverAuth,clientAuth"
  sign client ca chaperone-client "extendedKeyUsage=clientAuth"
  sign rogue-client rogue-ca rogue-client "extendedKeyUsage=clientAuth"
  # Kafka's PEM keystore: the PKCS#8 key, then the certificate chain.
  cat "$tls/broker.key" "$tls/broker.pem" "$tls/ca.pem" >"$tls/broker.keystore.pem"
  openssl rand -hex 16 >"$tls/sasl.password"
  chmod 600 "$tls"/*.key "$tls/sasl.password" "$tls/broker.keystore.pem"
  cat >"$run/client-sasl_ssl.properties" <<CONF
bootstrap.servers=127.0.0.1:$sport
security.protocol=SASL_SSL
sasl.mechanisms=SCRAM-SHA-512
sasl.username=chaperone
sasl.password=$(cat "$tls/sasl.password")
ssl.ca.location=$tls/ca.pem
CONF
  cat >"$run/client-mtls.properties" <<CONF
bootstrap.servers=127.0.0.1:$mport
security.protocol=SSL
ssl.ca.location=$tls/ca.pem
ssl.certificate.location=$tls/client.pem
ssl.key.location=$tls/client.key
CONF
  chmod 600 "$run"/client-*.properties
}

# Both secured listeners serve metadata to their clients (or none is on).
secure_answers() {
  [ "$secure" = 1 ] || return 0
  kcat -F "$run/client-sasl_ssl.properties" -L -m 3 2>/dev/null | grep -q '1 brokers' &&
    kcat -F "$run/client-mtls.properties" -L -m 3 2>/dev/null | grep -q '1 brokers'
}

env_exports() {
  running || die "not running"
  echo "export CHP_TEST_BROKERS=127.0.0.1:$port"
  if [ -f "$run/client-sasl_ssl.properties" ]; then
    echo "export CHP_TEST_SASL_SSL_CONFIG=$run/client-sasl_ssl.properties"
    echo "export CHP_TEST_MTLS_CONFIG=$run/client-mtls.properties"
    echo "export CHP_TEST_TLS_DIR=$tls"
  fi
}

write_config() {
  local listeners="PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport"
  local advertised="PLAINTEXT://127.0.0.1:$port"
  local protomap="CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
  if [ -n "$pport" ]; then
    listeners+=",SASL_PLAINTEXT://127.0.0.1:$pport"
    advertised+=",SASL_PLAINTEXT://127.0.0.1:$pport"
    protomap+=",SASL_PLAINTEXT:SASL_PLAINTEXT"
  fi
  if [ "$secure" = 1 ]; then
    listeners+=",SASL_SSL://127.0.0.1:$sport,MTLS://127.0.0.1:$mport"
    advertised+=",SASL_SSL://127.0.0.1:$sport,MTLS://127.0.0.1:$mport"
    protomap+=",SASL_SSL:SASL_SSL,MTLS:SSL"
  fi
  cat >"$run/server.properties" <<CONF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=$listeners
advertised.listeners=$advertised
controller.listener.names=CONTROLLER
listener.security.protocol.map=$protomap
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
  # Mechanisms per listener: a listener needs a JAAS entry for every
  # mechanism enabled on it.
  if [ -n "$pport" ]; then
    cat >>"$run/server.properties" <<CONF
listener.name.sasl_plaintext.sasl.enabled.mechanisms=PLAIN
listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_chaperone="chaperone-secret";
CONF
  fi
  if [ "$secure" = 1 ]; then
    cat >>"$run/server.properties" <<CONF
listener.name.sasl_ssl.sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
ssl.keystore.type=PEM
ssl.keystore.location=$tls/broker.keystore.pem
ssl.truststore.type=PEM
ssl.truststore.location=$tls/ca.pem
listener.name.mtls.ssl.client.auth=required
CONF
  fi
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
  [ "$secure" = 1 ] && make_tls
  write_config
  local jopts; jopts=$(java_opts)
  local id
  # shellcheck disable=SC2086
  id=$(java $jopts -cp "$cp" kafka.tools.StorageTool random-uuid 2>>"$run/format.log") \
    || die "StorageTool random-uuid failed; see $run/format.log"
  local scram=()
  [ "$secure" = 1 ] && scram=(--add-scram
    "SCRAM-SHA-512=[name=chaperone,password=$(cat "$tls/sasl.password")]")
  # shellcheck disable=SC2086
  java $jopts -cp "$cp" kafka.tools.StorageTool format -t "$id" \
    -c "$run/server.properties" "${scram[@]}" >>"$run/format.log" 2>&1 \
    || die "formatting storage failed; see $run/format.log"
  launch "$cp"
}

java_opts() {
  echo "${KAFKA_HEAP_OPTS:--Xms256m -Xmx768m} -XX:+UseG1GC -Djava.awt.headless=true" \
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
    if answers && secure_answers; then
      echo "kafka.sh: Kafka 3.9 up on 127.0.0.1:$port (pid $(cat "$pidfile"), data $run)"
      [ "$secure" = 1 ] && echo "kafka.sh: SASL_SSL on 127.0.0.1:$sport" \
        "($run/client-sasl_ssl.properties), mTLS on 127.0.0.1:$mport" \
        "($run/client-mtls.properties)"
      return 0
    fi
    running || { tail -n 20 "$run/stdout.log" "$run/server.log" >&2 || true; die "broker exited during start"; }
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
  env) env_exports ;;
  *) echo "usage: $0 start|stop|status|restart|bounce|env|fetch" >&2; exit 2 ;;
esac
