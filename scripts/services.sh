#!/usr/bin/env bash
# Starts, stops and reports throwaway MariaDB, PostgreSQL and Redis servers
# (from the Debian packages scripts/deps.sh installs) for the collector's
# integration and e2e tests. They run as plain processes started by this
# script -- never through systemd -- on 127.0.0.1 only, on non-default ports,
# with data, logs and unix sockets under $CHP_RUN_DIR/<service>.
#
#   scripts/services.sh start|stop|status [mariadb|postgres|redis|all]...
#   scripts/services.sh pause|resume [mariadb|postgres|redis|all]...
#   scripts/services.sh env     # export lines for the test URLs
#
# pause stops a server but keeps its data; resume starts it again on that
# data (outage tests: the collector must survive its database going away).
# Redis keeps nothing in memory across a pause.
#
# Environment: CHP_MARIADB_PORT (13306), CHP_PG_PORT (15432),
#              CHP_REDIS_PORT (16379), CHP_RUN_DIR (.cache/run).
# Every database is `chaperone`, user `chaperone`, password `chaperone`.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
run_root=${CHP_RUN_DIR:-$top/.cache/run}
mariadb_port=${CHP_MARIADB_PORT:-13306}
pg_port=${CHP_PG_PORT:-15432}
redis_port=${CHP_REDIS_PORT:-16379}
wait_seconds=60
all_services=(mariadb postgres redis)

die() { echo "services.sh: $*" >&2; exit 1; }

# The one place where each service's files live; $1 is the service.
dir_of() { echo "$run_root/$1"; }
log_of() { echo "$run_root/$1/$1.log"; }

url_of() {
  case $1 in
    mariadb) echo "mysql://chaperone:chaperone@127.0.0.1:$mariadb_port/chaperone" ;;
    postgres) echo "postgresql://chaperone:chaperone@127.0.0.1:$pg_port/chaperone" ;;
    redis) echo "redis://127.0.0.1:$redis_port" ;;
  esac
}

port_of() {
  case $1 in
    mariadb) echo "$mariadb_port" ;;
    postgres) echo "$pg_port" ;;
    redis) echo "$redis_port" ;;
  esac
}

# Each server writes its own pid file; the process name is checked too so a
# stale file whose pid was reused never makes us signal a stranger.
pidfile_of() {
  case $1 in
    mariadb) echo "$(dir_of mariadb)/mariadbd.pid" ;;
    postgres) echo "$(dir_of postgres)/data/postmaster.pid" ;;
    redis) echo "$(dir_of redis)/redis.pid" ;;
  esac
}

comm_of() {
  case $1 in
    mariadb) echo "mariadbd" ;;
    postgres) echo "postgres" ;;
    redis) echo "redis-server" ;;
  esac
}

pid_of() {
  local f pid
  f=$(pidfile_of "$1")
  [ -r "$f" ] || return 1
  pid=$(head -n1 "$f" 2>/dev/null | tr -dc 0-9)
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$(comm_of "$1")" ] || return 1
  echo "$pid"
}

running() { pid_of "$1" >/dev/null; }

answers() {
  local d; d=$(dir_of "$1")
  case $1 in
    mariadb)
      # Over the socket as root: the chaperone account may not exist yet.
      mariadb-admin --no-defaults -S "$d/mariadbd.sock" -u root \
        --connect-timeout=2 ping >/dev/null 2>&1 ;;
    postgres)
      pg_isready -q -h 127.0.0.1 -p "$pg_port" -t 2 ;;
    redis)
      [ "$(redis-cli -h 127.0.0.1 -p "$redis_port" ping 2>/dev/null)" = PONG ] ;;
  esac
}

port_taken() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

fail() {
  local svc=$1; shift
  local log; log=$(log_of "$svc")
  if [ -f "$log" ]; then
    echo "---- last lines of $log" >&2
    tail -n 20 "$log" >&2 || true
  fi
  die "$svc: $*; see $log"
}

# Polls until the server answers; fails fast if its process died.
wait_up() {
  local svc=$1 i
  for ((i = 0; i < wait_seconds * 4; i++)); do
    answers "$svc" && return 0
    if [ "$i" -ge 8 ] && ! running "$svc"; then
      fail "$svc" "server exited during start"
    fi
    sleep 0.25
  done
  fail "$svc" "did not answer on 127.0.0.1:$(port_of "$svc") within ${wait_seconds} s"
}

# Unix socket paths are limited to 107 bytes; say so instead of failing
# obscurely deep inside a server.
check_socket_path() {
  local svc=$1 path=$2
  [ "${#path}" -lt 100 ] \
    || die "$svc: socket path $path is too long; set CHP_RUN_DIR to a shorter directory"
}

start_mariadb() {
  local d log
  d=$(dir_of mariadb); log=$(log_of mariadb)
  check_socket_path mariadb "$d/mariadbd.sock"
  mkdir -p "$d/data" "$d/tmp"
  # root may log in only through the unix socket in $d (socket auth).
  # Data kept by `pause` is reused as it is.
  [ -d "$d/data/mysql" ] || mariadb-install-db --no-defaults --datadir="$d/data" --user=root \
    --auth-root-authentication-method=socket --skip-test-db \
    --skip-name-resolve >>"$log" 2>&1 \
    || fail mariadb "mariadb-install-db failed"
  setsid nohup mariadbd --no-defaults --user=root --datadir="$d/data" \
    --tmpdir="$d/tmp" --socket="$d/mariadbd.sock" --pid-file="$d/mariadbd.pid" \
    --log-error="$log" --port="$mariadb_port" --bind-address=127.0.0.1 \
    --skip-name-resolve --skip-log-bin --character-set-server=utf8mb4 \
    --collation-server=utf8mb4_unicode_ci --innodb-buffer-pool-size=128M \
    --innodb-flush-log-at-trx-commit=2 </dev/null >>"$log" 2>&1 &
}

# The bootstrap server runs without grant tables, so the account is made
# once the real server is up, by root over the socket.
setup_mariadb() {
  local d log i
  d=$(dir_of mariadb); log=$(log_of mariadb)
  mariadb --no-defaults -S "$d/mariadbd.sock" -u root >>"$log" 2>&1 <<'SQL' \
    || fail mariadb "creating user and database failed"
DROP USER IF EXISTS ''@'localhost';
CREATE DATABASE IF NOT EXISTS chaperone;
CREATE USER IF NOT EXISTS 'chaperone'@'%' IDENTIFIED BY 'chaperone';
CREATE USER IF NOT EXISTS 'chaperone'@'localhost' IDENTIFIED BY 'chaperone';
GRANT ALL PRIVILEGES ON chaperone.* TO 'chaperone'@'%';
GRANT ALL PRIVILEGES ON chaperone.* TO 'chaperone'@'localhost';
SQL
  for ((i = 0; i < 20; i++)); do
    mariadb --no-defaults --protocol=tcp -h 127.0.0.1 -P "$mariadb_port" \
      -u chaperone -pchaperone chaperone -e 'SELECT 1' >/dev/null 2>>"$log" && return 0
    sleep 0.25
  done
  fail mariadb "user chaperone cannot log in over TCP"
}

pg_bindir() {
  local v
  v=$(ls /usr/lib/postgresql 2>/dev/null | sort -V | tail -n1)
  [ -n "$v" ] && [ -x "/usr/lib/postgresql/$v/bin/postgres" ] \
    || die "postgres: no server under /usr/lib/postgresql (run scripts/deps.sh)"
  echo "/usr/lib/postgresql/$v/bin"
}

# PostgreSQL refuses to run as root: the data dir belongs to the `postgres`
# user, and every server-side command runs as that user.
as_pg() { runuser -u postgres -- "$@"; }

start_postgres() {
  local d log bin
  d=$(dir_of postgres); log=$(log_of postgres); bin=$(pg_bindir)
  id postgres >/dev/null 2>&1 || die "postgres: no 'postgres' user (run scripts/deps.sh)"
  check_socket_path postgres "$d/.s.PGSQL.$pg_port"
  mkdir -p "$d"
  chown postgres: "$d"
  chmod 700 "$d"
  touch "$log"; chown postgres: "$log"
  as_pg test -w "$d" \
    || die "postgres: user 'postgres' cannot reach $d (a parent directory is not searchable); set CHP_RUN_DIR elsewhere"
  # Local socket: trust, so this script can create the role; TCP: password.
  # Data kept by `pause` is reused as it is.
  [ -f "$d/data/PG_VERSION" ] || as_pg "$bin/initdb" -D "$d/data" -U postgres --auth-local=trust \
    --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >>"$log" 2>&1 \
    || fail postgres "initdb failed"
  # pg_ctl puts the server in its own session, detached from this script.
  as_pg "$bin/pg_ctl" -D "$d/data" -l "$log" -W -s \
    -o "-c listen_addresses=127.0.0.1 -p $pg_port -c unix_socket_directories=$d -c fsync=off -c full_page_writes=off" \
    start >>"$log" 2>&1 || fail postgres "pg_ctl start failed"
}

# Creating the role and database needs the server up, so this follows wait_up.
setup_postgres() {
  local d log bin i
  d=$(dir_of postgres); log=$(log_of postgres); bin=$(pg_bindir)
  as_pg "$bin/psql" -h "$d" -p "$pg_port" -U postgres -d postgres -v ON_ERROR_STOP=1 -q >>"$log" 2>&1 <<'SQL' \
    || fail postgres "creating role and database failed"
SELECT 'CREATE ROLE chaperone LOGIN PASSWORD ''chaperone'''
  WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'chaperone')\gexec
SELECT 'CREATE DATABASE chaperone OWNER chaperone'
  WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'chaperone')\gexec
SQL
  for i in $(seq 1 20); do
    PGPASSWORD=chaperone "$bin/psql" -h 127.0.0.1 -p "$pg_port" -U chaperone -d chaperone \
      -tAc 'SELECT 1' >/dev/null 2>>"$log" && return 0
    sleep 0.25
  done
  fail postgres "user chaperone cannot log in over TCP"
}

start_redis() {
  local d log
  d=$(dir_of redis); log=$(log_of redis)
  check_socket_path redis "$d/redis.sock"
  mkdir -p "$d"
  redis-server --port "$redis_port" --bind 127.0.0.1 --save '' \
    --appendonly no --dir "$d" --unixsocket "$d/redis.sock" \
    --pidfile "$d/redis.pid" --logfile "$log" --daemonize yes \
    >>"$log" 2>&1 || fail redis "redis-server failed to start"
}

# A server left by an earlier start: true once it answers, false if it dies
# (a killed server can take a moment to go) or stays silent past the limit.
existing_answers() {
  local svc=$1 i
  for ((i = 0; i < wait_seconds * 4; i++)); do
    answers "$svc" && return 0
    running "$svc" || return 1
    sleep 0.25
  done
  return 1
}

start_one() {
  local svc=$1 d
  d=$(dir_of "$svc")
  if running "$svc"; then
    if existing_answers "$svc"; then
      echo "$svc: already running: $(url_of "$svc")"
      return 0
    fi
    running "$svc" \
      && fail "$svc" "pid $(pid_of "$svc") runs but does not answer on 127.0.0.1:$(port_of "$svc"); try '$0 stop $svc'"
  fi
  # Leftovers of a crashed or killed run: nothing is worth keeping.
  rm -rf "$d"
  if port_taken "$(port_of "$svc")"; then
    die "$svc: port 127.0.0.1:$(port_of "$svc") is taken by another process; stop it or set the port variable"
  fi
  mkdir -p "$d"
  "start_$svc"
  wait_up "$svc"
  case $svc in
    mariadb) setup_mariadb ;;
    postgres) setup_postgres ;;
  esac
  echo "$svc: up: $(url_of "$svc")"
}

# $2 = keep: leave the data directory (pause).
stop_one() {
  local svc=$1 pid i sig=TERM
  # SIGTERM is postgres' "smart" shutdown, which waits for clients to leave.
  [ "$svc" = postgres ] && sig=INT
  if pid=$(pid_of "$svc"); then
    kill -"$sig" "$pid" 2>/dev/null || true
    for ((i = 0; i < 120; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.25
    done
    if kill -0 "$pid" 2>/dev/null; then
      kill -KILL "$pid" 2>/dev/null || true
      for ((i = 0; i < 20; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    fi
    echo "$svc: stopped"
  else
    echo "$svc: not running"
  fi
  [ "${2:-}" = keep ] || rm -rf "$(dir_of "$svc")"
}

# Starts a paused server again on the data it kept.
resume_one() {
  local svc=$1
  if running "$svc" && existing_answers "$svc"; then
    echo "$svc: already running: $(url_of "$svc")"
    return 0
  fi
  [ -d "$(dir_of "$svc")" ] || die "$svc: nothing paused in $(dir_of "$svc"); use start"
  port_taken "$(port_of "$svc")" \
    && die "$svc: port 127.0.0.1:$(port_of "$svc") is taken by another process"
  "start_$svc"
  wait_up "$svc"
  echo "$svc: resumed: $(url_of "$svc")"
}

# What a client sees: the chaperone account over TCP where there is one.
serves() {
  case $1 in
    mariadb)
      mariadb --no-defaults --protocol=tcp -h 127.0.0.1 -P "$mariadb_port" \
        -u chaperone -pchaperone --connect-timeout=2 chaperone -e 'SELECT 1' >/dev/null 2>&1 ;;
    postgres)
      PGPASSWORD=chaperone PGCONNECT_TIMEOUT=2 "$(pg_bindir)/psql" -h 127.0.0.1 \
        -p "$pg_port" -U chaperone -d chaperone -tAc 'SELECT 1' >/dev/null 2>&1 ;;
    redis) answers redis ;;
  esac
}

status_one() {
  local svc=$1
  if running "$svc" && serves "$svc"; then
    echo "$svc: running (pid $(pid_of "$svc")): $(url_of "$svc")"
  else
    echo "$svc: not running"
    return 1
  fi
}

env_lines() {
  echo "export CHP_TEST_MYSQL_URL=$(url_of mariadb)"
  echo "export CHP_TEST_PG_URL=$(url_of postgres)"
  echo "export CHP_TEST_REDIS_URL=$(url_of redis)"
}

# Expands the service arguments (default: all) and rejects unknown names.
services_from() {
  local s
  [ $# -gt 0 ] || set -- all
  for s in "$@"; do
    case $s in
      all) printf '%s\n' "${all_services[@]}" ;;
      mariadb | postgres | redis) echo "$s" ;;
      mysql) echo mariadb ;;
      postgresql | pg) echo postgres ;;
      *) die "unknown service '$s' (mariadb|postgres|redis|all)" ;;
    esac
  done | awk '!seen[$0]++'
}

usage() {
  echo "usage: $0 start|stop|status|pause|resume [mariadb|postgres|redis|all]... | env" >&2
  exit 2
}

main() {
  local cmd=${1:-} svc rc=0
  [ $# -gt 0 ] && shift
  local svcs
  case $cmd in
    start | stop | status | pause | resume) svcs=$(services_from "$@") || exit 1 ;;
    env) env_lines; return 0 ;;
    *) usage ;;
  esac
  [ "$(id -u)" -eq 0 ] || [ "$cmd" = status ] \
    || die "must run as root (it starts postgres as the 'postgres' user)"
  for svc in $svcs; do
    case $cmd in
      start) start_one "$svc" ;;
      stop) stop_one "$svc" ;;
      pause) stop_one "$svc" keep ;;
      resume) resume_one "$svc" ;;
      status) status_one "$svc" || rc=1 ;;
    esac
  done
  return "$rc"
}

main "$@"
