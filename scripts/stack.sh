#!/usr/bin/env bash
# Local integration-test stack without Docker: Kafka (KRaft), Elasticsearch 8, MinIO.
#
#   bash scripts/stack.sh up     [kafka|es|minio ...]  provision what is missing, start what is not running, wait until ready
#   bash scripts/stack.sh down   [kafka|es|minio ...]  stop
#   bash scripts/stack.sh status [kafka|es|minio ...]  state, pid and ports
#   bash scripts/stack.sh env                          print the connection settings (also written to .stack/env)
#
# Everything (jars, binaries, data, logs, pid files) lives in .stack/ at the repository root (STACK_DIR overrides it).
# Ports (all bound to 127.0.0.1 only):
#   KAFKA_PORT=19092  KAFKA_CONTROLLER_PORT=KAFKA_PORT+1
#   ES_PORT=19200     ES_TRANSPORT_PORT=ES_PORT+100
#   MINIO_PORT=19000  MINIO_CONSOLE_PORT=MINIO_PORT+1
# MinIO credentials: MINIO_ROOT_USER / MINIO_ROOT_PASSWORD from the environment, otherwise generated once into
# .stack/minio/credentials (dev-only values, never committed).
# Needs: JDK 17+ (java, javac), Maven (mvn), Go >= 1.24 (only to build MinIO once), curl.
set -euo pipefail

# ---------------------------------------------------------------------------------------------------- settings
KAFKA_VERSION="${KAFKA_VERSION:-4.3.1}"
LOG4J2_VERSION="${LOG4J2_VERSION:-2.25.3}"      # slf4j 1.7 binding for Kafka (log4j-slf4j-impl) + log4j-core
ES_VERSION="${ES_VERSION:-8.19.21}"
# github.com/minio/minio has no semver tags; this pseudo-version is commit 7aac2a2c5b7c (2026-02-12), the head of the
# community repository: RELEASE.2025-10-15T17-29-55Z plus bug/security fixes and README changes.
MINIO_VERSION="${MINIO_VERSION:-v0.0.0-20260212201848-7aac2a2c5b7c}"

KAFKA_PORT="${KAFKA_PORT:-19092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-$((KAFKA_PORT + 1))}"
ES_PORT="${ES_PORT:-19200}"
ES_TRANSPORT_PORT="${ES_TRANSPORT_PORT:-$((ES_PORT + 100))}"
MINIO_PORT="${MINIO_PORT:-19000}"
MINIO_CONSOLE_PORT="${MINIO_CONSOLE_PORT:-$((MINIO_PORT + 1))}"

KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}"
ES_HEAP_OPTS="${ES_HEAP_OPTS:--Xms512m -Xmx1g}"

KAFKA_READY_TIMEOUT="${KAFKA_READY_TIMEOUT:-120}"
ES_READY_TIMEOUT="${ES_READY_TIMEOUT:-180}"
MINIO_READY_TIMEOUT="${MINIO_READY_TIMEOUT:-90}"
STOP_TIMEOUT="${STOP_TIMEOUT:-45}"

HOST=127.0.0.1
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"
STACK="${STACK_DIR:-$ROOT/.stack}"
LOGS="$STACK/logs"
RUN="$STACK/run"
ALL_ENGINES=(kafka es minio)

KAFKA_HOME="$STACK/kafka"
KAFKA_LIB="$KAFKA_HOME/lib-$KAFKA_VERSION-log4j-$LOG4J2_VERSION"
ES_HOME_DIR="$STACK/es"
ES_LIB="$ES_HOME_DIR/lib-$ES_VERSION"
ES_CLASSES="$ES_HOME_DIR/classes-$ES_VERSION"
MINIO_HOME="$STACK/minio"
MINIO_BIN="$MINIO_HOME/bin-$MINIO_VERSION/minio"

JAVA="${JAVA_HOME:+$JAVA_HOME/bin/}java"
JAVAC="${JAVA_HOME:+$JAVA_HOME/bin/}javac"

# ---------------------------------------------------------------------------------------------------- helpers
log() { printf '[stack] %s\n' "$*"; }
err() { printf '[stack] ERROR: %s\n' "$*" >&2; }
die() { err "$*"; exit 1; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

need() { command -v "$1" >/dev/null 2>&1 || die "'$1' not found on PATH: $2"; }

engine_name() {
  case "$1" in
    kafka) echo Kafka ;; es) echo Elasticsearch ;; minio) echo MinIO ;;
  esac
}

engine_ports() {
  case "$1" in
    kafka) echo "$KAFKA_PORT (controller $KAFKA_CONTROLLER_PORT)" ;;
    es) echo "$ES_PORT (transport $ES_TRANSPORT_PORT)" ;;
    minio) echo "$MINIO_PORT (console $MINIO_CONSOLE_PORT)" ;;
  esac
}

port_list() {
  case "$1" in
    kafka) echo "$KAFKA_PORT $KAFKA_CONTROLLER_PORT" ;;
    es) echo "$ES_PORT $ES_TRANSPORT_PORT" ;;
    minio) echo "$MINIO_PORT $MINIO_CONSOLE_PORT" ;;
  esac
}

port_in_use() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

pid_file() { echo "$RUN/$1.pid"; }

# prints the pid if the engine's process is alive (and really is ours: its command line mentions the stack dir)
engine_pid() {
  local f pid
  f="$(pid_file "$1")"
  [[ -f "$f" ]] || return 1
  pid="$(cat "$f" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$STACK" || return 1
  echo "$pid"
}

# mvn dependency:copy-dependencies into a versioned directory, atomically (a half-done copy is never used)
mvn_copy() { # pom outdir label extra-args...
  local pom="$1" out="$2" label="$3"; shift 3
  [[ -f "$out/.complete" ]] && return 0
  need mvn "install Maven (apt-get install maven)"
  log "provisioning $label jars from Maven Central -> ${out#"$ROOT"/}"
  local t0 tmp; t0="$(now)"; tmp="$out.tmp.$$"
  rm -rf "$tmp"; mkdir -p "$tmp"
  if ! mvn -q -B -f "$pom" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp" "$@" \
        >"$LOGS/provision-$label.log" 2>&1; then
    tail -n 30 "$LOGS/provision-$label.log" >&2
    rm -rf "$tmp"
    die "could not resolve the $label jars with Maven (full log: $LOGS/provision-$label.log)"
  fi
  rm -rf "$out"; mv "$tmp" "$out"; touch "$out/.complete"
  log "$label jars ready ($(ls "$out" | grep -c '\.jar$') jars) in $(elapsed "$t0")s"
}

classpath_of() { local IFS=:; local jars=("$1"/*.jar); echo "${jars[*]}"; }

# ---------------------------------------------------------------------------------------------------- provisioning
check_java() {
  need "$JAVA" "install a JDK 17+ (apt-get install openjdk-17-jdk-headless) or set JAVA_HOME"
  local v
  v="$("$JAVA" -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/ {print $2}')"
  [[ "${v%%.*}" -ge 17 ]] 2>/dev/null || die "Java 17+ is required, found specification version '$v' ($JAVA)"
}

provision_kafka() {
  check_java
  mvn_copy "$SCRIPT_DIR/stack/kafka-pom.xml" "$KAFKA_LIB" kafka \
    -Dkafka.version="$KAFKA_VERSION" -Dlog4j2.version="$LOG4J2_VERSION"
}

provision_es() {
  check_java
  need "$JAVAC" "a JDK (not only a JRE) is needed to compile scripts/stack/EsLauncher.java"
  mvn_copy "$SCRIPT_DIR/stack/es-pom.xml" "$ES_LIB" elasticsearch -Des.version="$ES_VERSION"
  local src="$SCRIPT_DIR/stack/EsLauncher.java" stamp="$ES_CLASSES/.source.sha256" sum
  sum="$(sha256sum "$src" | cut -d' ' -f1)"
  if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$sum" ]]; then
    log "compiling scripts/stack/EsLauncher.java"
    rm -rf "$ES_CLASSES"; mkdir -p "$ES_CLASSES"
    "$JAVAC" -nowarn -encoding UTF-8 -d "$ES_CLASSES" -cp "$(classpath_of "$ES_LIB")" "$src" \
      >"$LOGS/provision-es-javac.log" 2>&1 || { cat "$LOGS/provision-es-javac.log" >&2; die "javac failed for EsLauncher.java"; }
    echo "$sum" >"$stamp"
  fi
}

provision_minio() {
  [[ -x "$MINIO_BIN" ]] && return 0
  need go "install Go >= 1.24 to build MinIO from source (it is built once and cached in .stack/)"
  log "building MinIO $MINIO_VERSION from source with 'go install' (first time only; several minutes on 2 cores)"
  local t0 out tmp; t0="$(now)"; out="$(dirname "$MINIO_BIN")"; tmp="$out.tmp.$$"
  rm -rf "$tmp"; mkdir -p "$tmp"
  if ! (cd "$STACK" && GOBIN="$tmp" CGO_ENABLED=0 GOFLAGS="${GOFLAGS:-} -trimpath" \
        go install "github.com/minio/minio@$MINIO_VERSION") >"$LOGS/provision-minio.log" 2>&1; then
    tail -n 30 "$LOGS/provision-minio.log" >&2
    rm -rf "$tmp"
    die "building MinIO failed (full log: $LOGS/provision-minio.log)"
  fi
  rm -rf "$out"; mv "$tmp" "$out"
  log "MinIO built in $(elapsed "$t0")s"
}

minio_credentials() {
  if [[ -n "${MINIO_ROOT_USER:-}" && -n "${MINIO_ROOT_PASSWORD:-}" ]]; then
    return 0
  fi
  local f="$MINIO_HOME/credentials"
  if [[ ! -f "$f" ]]; then
    mkdir -p "$MINIO_HOME"
    (umask 077; printf 'MINIO_ROOT_USER=stack-dev\nMINIO_ROOT_PASSWORD=dev-%s\n' \
      "$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')" >"$f")
  fi
  # shellcheck disable=SC1090
  source "$f"
  export MINIO_ROOT_USER MINIO_ROOT_PASSWORD
}

write_env() {
  minio_credentials
  cat >"$STACK/env" <<EOF
# written by scripts/stack.sh; source it: set -a; . .stack/env; set +a
KAFKA_BROKERS=$HOST:$KAFKA_PORT
ELASTICSEARCH_URL=http://$HOST:$ES_PORT
S3_ENDPOINT=http://$HOST:$MINIO_PORT
S3_REGION=us-east-1
S3_FORCE_PATH_STYLE=true
S3_ACCESS_KEY_ID=$MINIO_ROOT_USER
S3_SECRET_ACCESS_KEY=$MINIO_ROOT_PASSWORD
MINIO_CONSOLE_URL=http://$HOST:$MINIO_CONSOLE_PORT
EOF
}

# ---------------------------------------------------------------------------------------------------- start
rotate_log() { [[ -f "$1" ]] && mv -f "$1" "$1.1"; true; }

launch() { # engine logfile cmd...
  local engine="$1" logfile="$2"; shift 2
  rotate_log "$logfile"
  # setsid: own session, so the engine survives this shell and a Ctrl-C in the terminal
  # 9>&-: the engine must not inherit (and so keep holding) the lock of this script
  setsid nohup "$@" </dev/null >"$logfile" 2>&1 9>&- &
  echo $! >"$(pid_file "$engine")"
}

start_kafka() {
  local conf="$KAFKA_HOME/config" data="$KAFKA_HOME/data"
  mkdir -p "$conf" "$data"
  cat >"$conf/server.properties" <<EOF
# generated by scripts/stack.sh (single combined broker+controller in KRaft mode, test settings)
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$HOST:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://$HOST:$KAFKA_PORT,CONTROLLER://$HOST:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$HOST:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$data
auto.create.topics.enable=true
delete.topic.enable=true
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=2
num.recovery.threads.per.data.dir=1
log.retention.hours=24
EOF
  cat >"$conf/log4j2.properties" <<'EOF'
status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRefs = stdout
rootLogger.appenderRef.stdout.ref = STDOUT
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.statechange.name = state.change.logger
logger.statechange.level = WARN
logger.clients.name = org.apache.kafka.clients
logger.clients.level = WARN
EOF
  local cp; cp="$(classpath_of "$KAFKA_LIB")"
  local jvm=(-Dstack.engine=kafka $KAFKA_HEAP_OPTS -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true
    -Dlog4j2.configurationFile="$conf/log4j2.properties" -Dkafka.logs.dir="$LOGS" -Dlog4j2.shutdownHookEnabled=false)
  if [[ ! -f "$data/meta.properties" ]]; then
    local id_file="$KAFKA_HOME/cluster-id"
    [[ -s "$id_file" ]] || "$JAVA" -cp "$cp" kafka.tools.StorageTool random-uuid 2>/dev/null \
      | grep -E '^[A-Za-z0-9_-]{22}$' | tail -n1 >"$id_file" || true
    [[ -s "$id_file" ]] || die "kafka: could not generate a cluster id (kafka.tools.StorageTool random-uuid)"
    log "kafka: formatting KRaft storage (cluster id $(cat "$id_file"))"
    "$JAVA" -cp "$cp" "${jvm[@]}" kafka.tools.StorageTool format -t "$(cat "$id_file")" -c "$conf/server.properties" \
      >"$LOGS/kafka-format.log" 2>&1 || { cat "$LOGS/kafka-format.log" >&2; die "kafka: storage format failed"; }
  fi
  launch kafka "$LOGS/kafka.log" "$JAVA" "${jvm[@]}" -cp "$cp" kafka.Kafka "$conf/server.properties"
}

start_es() {
  mkdir -p "$ES_HOME_DIR/home" "$ES_HOME_DIR/data" "$ES_HOME_DIR/tmp" "$LOGS/es"
  launch es "$LOGS/elasticsearch.log" "$JAVA" -Dstack.engine=es $ES_HEAP_OPTS -XX:+UseG1GC \
    -XX:-OmitStackTraceInFastThrow -Djava.awt.headless=true -Dfile.encoding=UTF-8 \
    -Djava.locale.providers=SPI,CLDR -Djava.io.tmpdir="$ES_HOME_DIR/tmp" \
    -Dlog4j2.disable.jmx=true -Dlog4j2.formatMsgNoLookups=true -Dlog4j2.shutdownHookEnabled=false -Des.networkaddress.cache.ttl=60 \
    -Des.home="$ES_HOME_DIR/home" -Des.data="$ES_HOME_DIR/data" -Des.logs="$LOGS/es" -Des.host="$HOST" \
    -Des.http.port="$ES_PORT" -Des.transport.port="$ES_TRANSPORT_PORT" \
    -cp "$ES_CLASSES:$(classpath_of "$ES_LIB")" org.elasticsearch.node.EsLauncher
}

start_minio() {
  minio_credentials
  mkdir -p "$MINIO_HOME"/data/d{1,2,3,4}
  # "{1...4}" is MinIO's own expansion syntax (not bash's): four drives -> one erasure set (EC:2)
  MINIO_CI_CD=1 MINIO_UPDATE=off MINIO_BROWSER=on \
    launch minio "$LOGS/minio.log" "$MINIO_BIN" server --anonymous \
    --address "$HOST:$MINIO_PORT" --console-address "$HOST:$MINIO_CONSOLE_PORT" \
    "$MINIO_HOME/data/d{1...4}"
}

# ---------------------------------------------------------------------------------------------------- readiness
is_ready() {
  case "$1" in
    kafka)
      port_in_use "$KAFKA_PORT" && grep -q 'Kafka Server started' "$LOGS/kafka.log" 2>/dev/null ;;
    es)
      curl -fsS --max-time 3 "http://$HOST:$ES_PORT/_cluster/health" 2>/dev/null | grep -q '"status":"\(green\|yellow\)"' ;;
    minio)
      curl -fsS --max-time 3 -o /dev/null "http://$HOST:$MINIO_PORT/minio/health/ready" 2>/dev/null ;;
  esac
}

ready_timeout() {
  case "$1" in kafka) echo "$KAFKA_READY_TIMEOUT" ;; es) echo "$ES_READY_TIMEOUT" ;; minio) echo "$MINIO_READY_TIMEOUT" ;; esac
}

engine_log() {
  case "$1" in kafka) echo "$LOGS/kafka.log" ;; es) echo "$LOGS/elasticsearch.log" ;; minio) echo "$LOGS/minio.log" ;; esac
}

# ---------------------------------------------------------------------------------------------------- commands
cmd_up() {
  local engines=("$@") e
  need curl "apt-get install curl"
  mkdir -p "$STACK" "$LOGS" "$RUN"
  [[ -f "$STACK/.gitignore" ]] || echo '*' >"$STACK/.gitignore"
  exec 9>"$RUN/lock"
  flock -w 600 9 || die "another 'stack.sh up/down' is running (lock $RUN/lock)"

  # provision (MinIO's Go build runs in the background while Maven resolves the jars)
  local t0 minio_bg=""
  t0="$(now)"
  for e in "${engines[@]}"; do
    if [[ "$e" == minio && ! -x "$MINIO_BIN" ]]; then provision_minio & minio_bg=$!; fi
  done
  for e in "${engines[@]}"; do
    case "$e" in kafka) provision_kafka ;; es) provision_es ;; esac
  done
  if [[ -n "$minio_bg" ]]; then wait "$minio_bg" || die "MinIO provisioning failed"; fi
  write_env

  # start
  declare -A started=() start_at=()
  for e in "${engines[@]}"; do
    local pid
    if pid="$(engine_pid "$e")"; then
      log "$(engine_name "$e") already running (pid $pid, port $(engine_ports "$e"))"
      continue
    fi
    local p
    for p in $(port_list "$e"); do
      port_in_use "$p" && die "$(engine_name "$e"): port $p on $HOST is already in use by another process (set other ports via env, see header of scripts/stack.sh)"
    done
    start_at[$e]="$(now)"
    "start_$e"
    started[$e]=1
    log "$(engine_name "$e") starting (pid $(cat "$(pid_file "$e")"), log ${LOGS#"$ROOT"/}/$(basename "$(engine_log "$e")"))"
  done

  # wait for all started engines at once
  local failed=0
  declare -A done_=()
  while :; do
    local pending=0
    for e in "${!started[@]}"; do
      [[ -n "${done_[$e]:-}" ]] && continue
      if is_ready "$e"; then
        done_[$e]=1
        log "$(engine_name "$e") ready on $(engine_ports "$e") — startup took $(elapsed "${start_at[$e]}")s"
        continue
      fi
      if ! engine_pid "$e" >/dev/null; then
        done_[$e]=1; failed=1
        err "$(engine_name "$e") exited during startup; last lines of $(engine_log "$e"):"
        tail -n 25 "$(engine_log "$e")" >&2 || true
        continue
      fi
      local waited
      waited="$(elapsed "${start_at[$e]}")"
      if (( ${waited%.*} >= $(ready_timeout "$e") )); then
        done_[$e]=1; failed=1
        err "$(engine_name "$e") not ready after ${waited}s (timeout $(ready_timeout "$e")s); it is left running — see $(engine_log "$e"):"
        tail -n 25 "$(engine_log "$e")" >&2 || true
        continue
      fi
      pending=1
    done
    (( pending )) || break
    sleep 0.5
  done
  (( failed )) && die "stack is not fully up (run 'bash scripts/stack.sh status'; logs in $LOGS)"
  log "all up in $(elapsed "$t0")s; connection settings in ${STACK#"$ROOT"/}/env:"
  sed -n 's/^\([A-Z0-9_]*\)=/  \1=/p' "$STACK/env" | grep -v SECRET || true
}

stop_engine() {
  local e="$1" pid i
  if ! pid="$(engine_pid "$e")"; then
    rm -f "$(pid_file "$e")"
    log "$(engine_name "$e") not running"
    return 0
  fi
  log "stopping $(engine_name "$e") (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < STOP_TIMEOUT * 2; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  if kill -0 "$pid" 2>/dev/null; then
    err "$(engine_name "$e") did not stop within ${STOP_TIMEOUT}s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 1
  fi
  rm -f "$(pid_file "$e")"
}

cmd_down() {
  mkdir -p "$RUN"
  exec 9>"$RUN/lock"
  flock -w 120 9 || die "another 'stack.sh up/down' is running (lock $RUN/lock)"
  local e pids=()
  # stop in parallel: a JVM takes a few seconds to shut down
  for e in "$@"; do stop_engine "$e" & pids+=($!); done
  for e in "${pids[@]}"; do wait "$e"; done
}

cmd_status() {
  local e pid state rc=0
  for e in "$@"; do
    if pid="$(engine_pid "$e")"; then
      if is_ready "$e"; then state="running (ready)"; else state="running (NOT ready)"; rc=1; fi
      printf '%-14s %-20s pid %-8s port %s\n' "$(engine_name "$e")" "$state" "$pid" "$(engine_ports "$e")"
    else
      printf '%-14s %-20s %-12s port %s\n' "$(engine_name "$e")" "stopped" "" "$(engine_ports "$e")"
      rc=1
    fi
  done
  return $rc
}

usage() { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; }

main() {
  local cmd="${1:-}"; shift || true
  local engines=() a
  for a in "$@"; do
    case "$a" in
      kafka|es|minio) engines+=("$a") ;;
      elasticsearch) engines+=(es) ;;
      *) usage >&2; die "unknown engine '$a' (kafka, es, minio)" ;;
    esac
  done
  ((${#engines[@]})) || engines=("${ALL_ENGINES[@]}")
  case "$cmd" in
    up) cmd_up "${engines[@]}" ;;
    down) cmd_down "${engines[@]}" ;;
    status) cmd_status "${engines[@]}" ;;
    env) mkdir -p "$STACK"; write_env; cat "$STACK/env" ;;
    -h|--help|help) usage ;;
    *) usage >&2; exit 2 ;;
  esac
}

main "$@"
