#!/usr/bin/env bash
# Local integration-test stack without Docker: Kafka (KRaft), Elasticsearch 8, MinIO, Ceph RGW.
#
#   bash scripts/stack.sh up     [kafka|es|minio|ceph ...]  provision what is missing, start what is not running, wait until ready
#   bash scripts/stack.sh down   [kafka|es|minio|ceph ...]  stop
#   bash scripts/stack.sh status [kafka|es|minio|ceph ...]  state, pid and ports
#   bash scripts/stack.sh env                               print the connection settings (also written to .stack/env)
#   bash scripts/stack.sh osd-stop N | osd-start N          crash (SIGKILL) / restart Ceph's OSD N, waiting until the
#                                                           mon sees it down and every PG is active again / all clean
# Without engines: Kafka, Elasticsearch and the stores STORE names (minio, ceph, or both, the default).
#
# Everything (jars, binaries, data, logs, pid files) lives in .stack/ at the repository root (STACK_DIR overrides it).
# Ports (all bound to 127.0.0.1 only):
#   KAFKA_PORT=19092  KAFKA_CONTROLLER_PORT=KAFKA_PORT+1
#   ES_PORT=19200     ES_TRANSPORT_PORT=ES_PORT+100
#   MINIO_PORT=19000  MINIO_CONSOLE_PORT=MINIO_PORT+1
#   RGW_PORT=19480    CEPH_MON_PORT=19470  CEPH_PORT_MIN..CEPH_PORT_MAX=19500..19599 (mgr and OSDs)
# MinIO credentials: MINIO_ROOT_USER / MINIO_ROOT_PASSWORD from the environment, otherwise generated once into
# .stack/minio/credentials, with MinIO's static KMS key (SSE) in .stack/minio/kms-key; the RGW user's keys and
# RGW's test KMS key in .stack/ceph/credentials (dev-only values, never committed).
# Ceph: one mon, one mgr, three BlueStore OSDs on sparse files, the RGW data pool erasure-coded k=2 m=1.
# Needs: JDK 17+ (java, javac), Maven (mvn), Go >= 1.24 (only to build MinIO once), curl,
# and for Ceph Debian's ceph-mon ceph-mgr ceph-osd radosgw ceph-common (installed with apt-get when missing).
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
RGW_PORT="${RGW_PORT:-19480}"
CEPH_MON_PORT="${CEPH_MON_PORT:-19470}"
CEPH_PORT_MIN="${CEPH_PORT_MIN:-19500}"
CEPH_PORT_MAX="${CEPH_PORT_MAX:-19599}"
CEPH_OSDS=3
CEPH_OSD_BYTES="${CEPH_OSD_BYTES:-$((8 * 1024 * 1024 * 1024))}"  # sparse: only written data takes disk space

KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}"
ES_HEAP_OPTS="${ES_HEAP_OPTS:--Xms512m -Xmx1g}"

KAFKA_READY_TIMEOUT="${KAFKA_READY_TIMEOUT:-120}"
ES_READY_TIMEOUT="${ES_READY_TIMEOUT:-180}"
MINIO_READY_TIMEOUT="${MINIO_READY_TIMEOUT:-90}"
CEPH_READY_TIMEOUT="${CEPH_READY_TIMEOUT:-180}"
STOP_TIMEOUT="${STOP_TIMEOUT:-45}"

HOST=127.0.0.1
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"
STACK="${STACK_DIR:-$ROOT/.stack}"
LOGS="$STACK/logs"
RUN="$STACK/run"
case "${STORE:-both}" in
  minio) ALL_ENGINES=(kafka es minio) ;;
  ceph) ALL_ENGINES=(kafka es ceph) ;;
  both) ALL_ENGINES=(kafka es minio ceph) ;;
  *) printf '[stack] ERROR: STORE=%s: expected minio, ceph or both\n' "$STORE" >&2; exit 2 ;;
esac

KAFKA_HOME="$STACK/kafka"
KAFKA_LIB="$KAFKA_HOME/lib-$KAFKA_VERSION-log4j-$LOG4J2_VERSION"
ES_HOME_DIR="$STACK/es"
ES_LIB="$ES_HOME_DIR/lib-$ES_VERSION"
ES_CLASSES="$ES_HOME_DIR/classes-$ES_VERSION"
MINIO_HOME="$STACK/minio"
MINIO_BIN="$MINIO_HOME/bin-$MINIO_VERSION/minio"
CEPH_HOME="$STACK/ceph"
CEPH_CONF_FILE="$CEPH_HOME/ceph.conf"

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
    kafka) echo Kafka ;; es) echo Elasticsearch ;; minio) echo MinIO ;; ceph) echo "Ceph RGW" ;; *) echo "$1" ;;
  esac
}

engine_ports() {
  case "$1" in
    kafka) echo "$KAFKA_PORT (controller $KAFKA_CONTROLLER_PORT)" ;;
    es) echo "$ES_PORT (transport $ES_TRANSPORT_PORT)" ;;
    minio) echo "$MINIO_PORT (console $MINIO_CONSOLE_PORT)" ;;
    ceph) echo "$RGW_PORT (mon $CEPH_MON_PORT, daemons $CEPH_PORT_MIN-$CEPH_PORT_MAX)" ;;
  esac
}

port_list() {
  case "$1" in
    kafka) echo "$KAFKA_PORT $KAFKA_CONTROLLER_PORT" ;;
    es) echo "$ES_PORT $ES_TRANSPORT_PORT" ;;
    minio) echo "$MINIO_PORT $MINIO_CONSOLE_PORT" ;;
    ceph) echo "$RGW_PORT"; engine_pid ceph-mon >/dev/null || echo "$CEPH_MON_PORT" ;;
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

# Debian bookworm's Ceph 16.2 (pacific); root or sudo, like scripts/provision-test-tools.sh.
provision_ceph() {
  local tools=(ceph-mon ceph-mgr ceph-osd radosgw ceph) t missing=0
  for t in "${tools[@]}"; do command -v "$t" >/dev/null 2>&1 || missing=1; done
  (( missing )) || return 0
  need apt-get "install ceph-mon ceph-mgr ceph-osd radosgw ceph-common with the system's package manager"
  local sudo=()
  if [[ "$(id -u)" -ne 0 ]]; then
    need sudo "root or sudo is needed to install Ceph's packages"
    sudo=(sudo)
  fi
  log "installing Ceph from apt (ceph-mon ceph-mgr ceph-osd radosgw ceph-common; first time only)"
  local t0; t0="$(now)"
  { "${sudo[@]}" apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq ceph-mon ceph-mgr ceph-osd radosgw ceph-common; } \
    >"$LOGS/provision-ceph.log" 2>&1 || { tail -n 30 "$LOGS/provision-ceph.log" >&2; die "installing Ceph failed (full log: $LOGS/provision-ceph.log)"; }
  for t in "${tools[@]}"; do command -v "$t" >/dev/null 2>&1 || die "$t still missing after apt-get install"; done
  log "Ceph $(ceph --version | awk '{print $3}') installed in $(elapsed "$t0")s"
}

random_hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }

minio_credentials() {
  if [[ -n "${MINIO_ROOT_USER:-}" && -n "${MINIO_ROOT_PASSWORD:-}" ]]; then
    return 0
  fi
  local f="$MINIO_HOME/credentials"
  if [[ ! -f "$f" ]]; then
    mkdir -p "$MINIO_HOME"
    (umask 077; printf 'MINIO_ROOT_USER=stack-dev\nMINIO_ROOT_PASSWORD=dev-%s\n' "$(random_hex 12)" >"$f")
  fi
  # shellcheck disable=SC1090
  source "$f"
  export MINIO_ROOT_USER MINIO_ROOT_PASSWORD
}

# MinIO's static KMS key ("name:base64 of 32 bytes"): enough for SSE-S3 and SSE-KMS with that key name.
MINIO_KMS_KEY_NAME=stack-key
minio_kms_key() {
  local f="$MINIO_HOME/kms-key"
  if [[ ! -f "$f" ]]; then
    mkdir -p "$MINIO_HOME"
    (umask 077; echo "$MINIO_KMS_KEY_NAME:$(head -c 32 /dev/urandom | base64)" >"$f")
  fi
  cat "$f"
}

# The RGW user's S3 keys and the key RGW's "testing" KMS backend encrypts with, generated once.
RGW_KMS_KEY_ID=stack-key
ceph_credentials() {
  local f="$CEPH_HOME/credentials"
  if [[ ! -f "$f" ]]; then
    mkdir -p "$CEPH_HOME"
    (umask 077; printf 'RGW_ACCESS_KEY_ID=STACK%s\nRGW_SECRET_ACCESS_KEY=%s\nRGW_KMS_KEY=%s\n' \
      "$(random_hex 8 | tr a-f A-F)" "$(random_hex 20)" "$(head -c 32 /dev/urandom | base64)" >"$f")
  fi
  # shellcheck disable=SC1090
  source "$f"
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
S3_KMS_KEY_ID=$MINIO_KMS_KEY_NAME
EOF
  if [[ -f "$CEPH_HOME/credentials" ]]; then
    ceph_credentials
    cat >>"$STACK/env" <<EOF
RGW_ENDPOINT=http://$HOST:$RGW_PORT
RGW_REGION=us-east-1
RGW_ACCESS_KEY_ID=$RGW_ACCESS_KEY_ID
RGW_SECRET_ACCESS_KEY=$RGW_SECRET_ACCESS_KEY
RGW_KMS_KEY_ID=$RGW_KMS_KEY_ID
CEPH_CONF=$CEPH_CONF_FILE
EOF
  fi
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
  MINIO_CI_CD=1 MINIO_UPDATE=off MINIO_BROWSER=on MINIO_KMS_SECRET_KEY="$(minio_kms_key)" \
    launch minio "$LOGS/minio.log" "$MINIO_BIN" server --anonymous \
    --address "$HOST:$MINIO_PORT" --console-address "$HOST:$MINIO_CONSOLE_PORT" \
    "$MINIO_HOME/data/d{1...4}"
}

# Ceph the way its src/vstart.sh runs it: daemons started directly in the foreground (-f), no systemd or Docker.
ceph_() { ceph -c "$CEPH_CONF_FILE" --connect-timeout 10 "$@"; }

ceph_daemons() { local i; echo ceph-mon ceph-mgr; for ((i = 0; i < CEPH_OSDS; i++)); do echo "ceph-osd.$i"; done; }

write_ceph_conf() {
  local fsid="$1"
  ceph_credentials
  cat >"$CEPH_CONF_FILE" <<EOF
# generated by scripts/stack.sh (one host, test settings)
[global]
fsid = $fsid
mon_host = v2:$HOST:$CEPH_MON_PORT
public_addr = $HOST
ms_bind_msgr1 = false
ms_bind_port_min = $CEPH_PORT_MIN
ms_bind_port_max = $CEPH_PORT_MAX
run_dir = $CEPH_HOME/run
admin_socket = $CEPH_HOME/run/\$name.asok
log_file = $LOGS/ceph/\$name.log
keyring = $CEPH_HOME/keyring
# One host: place replicas and EC shards on distinct OSDs, not hosts (read at the mon's mkfs), and count a
# peer OSD's report that another is down (the default wants reporters on two hosts, so it never would).
osd_crush_chooseleaf_type = 0
mon_osd_reporter_subtree_level = osd
mon_osd_min_down_reporters = 1
# a killed OSD is marked down within seconds (the default grace is 20 s), so a test's degraded phase starts soon
osd_heartbeat_interval = 2
osd_heartbeat_grace = 8
osd_pool_default_size = 3
osd_pool_default_min_size = 2
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
osd_pool_default_pg_autoscale_mode = off
mon_allow_pool_delete = true
mon_warn_on_insecure_global_id_reclaim_allowed = false
auth_allow_insecure_global_id_reclaim = false

[mon]
mon_data = $CEPH_HOME/mon.\$id
keyring = \$mon_data/keyring
# a shared disk: warn only below 10% free (the default 30% warns on any busy developer machine)
mon_data_avail_warn = 10

[mgr]
mgr_data = $CEPH_HOME/mgr.\$id
keyring = \$mgr_data/keyring

[osd]
osd_data = $CEPH_HOME/osd.\$id
keyring = \$osd_data/keyring
osd_objectstore = bluestore
# bluestore_block_path stays unset: its default (osd_data/block) is where these create the sparse file; naming
# that path explicitly makes the OSD link block to itself.
bluestore_block_create = true
bluestore_block_size = $CEPH_OSD_BYTES
bluestore_fsck_on_mount = false
# The floor: below 939524096 the option is refused and the 4 GiB default stays.
osd_memory_target = 939524096

[client.rgw.stack]
keyring = $CEPH_HOME/rgw.keyring
rgw_frontends = beast endpoint=$HOST:$RGW_PORT
# SSE-KMS against a key held in this file (RGW's "testing" backend), over plain HTTP on loopback; 16.2 has no SSE-S3.
rgw_crypt_s3_kms_backend = testing
rgw_crypt_s3_kms_encryption_keys = $RGW_KMS_KEY_ID=$RGW_KMS_KEY
rgw_crypt_require_ssl = false
EOF
}

# True when every PG is active (and, with "clean", clean) and none is stale (its primary gone, not yet re-peered).
ceph_pgs_are() { # active|clean
  local stat
  stat="$(ceph_ pg stat -f json 2>/dev/null)" || return 1
  python3 - "$1" "$stat" <<'EOF'
import json, sys
want, stat = sys.argv[1], json.loads(sys.argv[2])
summary = stat.get("pg_summary", stat)
states = summary.get("num_pg_by_state", [])
total = summary.get("num_pgs", 0)
def good(parts):
    return "active" in parts and "stale" not in parts and (want != "clean" or "clean" in parts)
ok = sum(s["num"] for s in states if good(s["name"].split("+")))
sys.exit(0 if total > 0 and ok == total else 1)
EOF
}

ceph_pgs_not_clean() { ! ceph_pgs_are clean; }

# Polls a condition every half second until it holds; fails naming what it waited for.
wait_for() { # timeout description command...
  local timeout="$1" what="$2" t0; shift 2; t0="$(now)"
  until "$@"; do
    local waited; waited="$(elapsed "$t0")"
    (( ${waited%.*} < timeout )) || die "ceph: $what not reached after ${waited}s (logs in $LOGS/ceph)"
    sleep 0.5
  done
}

osd_is() { # id up|down
  local want=$([[ "$2" == up ]] && echo 1 || echo 0)
  ceph_ osd dump -f json 2>/dev/null | python3 -c "import json,sys; d=json.load(sys.stdin); sys.exit(0 if any(o['osd']==$1 and o['up']==$want for o in d['osds']) else 1)"
}

launch_osd() { launch "ceph-osd.$1" "$LOGS/ceph/osd.$1.out" ceph-osd -i "$1" -c "$CEPH_CONF_FILE" -f; }

start_ceph() {
  mkdir -p "$CEPH_HOME/run" "$LOGS/ceph"
  local fresh=0 i
  [[ -f "$CEPH_HOME/mon.a/store.db/CURRENT" ]] || fresh=1
  if (( fresh )); then
    log "ceph: creating the cluster (mon, mgr, $CEPH_OSDS OSDs) in ${CEPH_HOME#"$ROOT"/}"
    rm -rf "$CEPH_HOME"/mon.* "$CEPH_HOME"/mgr.* "$CEPH_HOME"/osd.* "$CEPH_HOME"/*keyring* "$CEPH_HOME/monmap"
    write_ceph_conf "$(cat /proc/sys/kernel/random/uuid)"
    ceph-authtool --create-keyring "$CEPH_HOME/keyring" --gen-key -n client.admin \
      --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' --cap mds 'allow *' >/dev/null
    ceph-authtool --create-keyring "$CEPH_HOME/mon.keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
    ceph-authtool "$CEPH_HOME/mon.keyring" --import-keyring "$CEPH_HOME/keyring" >/dev/null
    monmaptool --create --fsid "$(awk '/^fsid/ {print $3}' "$CEPH_CONF_FILE")" \
      --addv a "[v2:$HOST:$CEPH_MON_PORT]" "$CEPH_HOME/monmap" >/dev/null
    ceph-mon -c "$CEPH_CONF_FILE" -i a --mkfs --monmap "$CEPH_HOME/monmap" --keyring "$CEPH_HOME/mon.keyring" \
      >"$LOGS/ceph/mkfs.log" 2>&1 || { cat "$LOGS/ceph/mkfs.log" >&2; die "ceph: mon mkfs failed"; }
  else
    write_ceph_conf "$(awk '/^fsid/ {print $3}' "$CEPH_CONF_FILE")"
  fi

  engine_pid ceph-mon >/dev/null || launch ceph-mon "$LOGS/ceph/mon.out" ceph-mon -i a -c "$CEPH_CONF_FILE" -f
  wait_for 30 "the mon answering" ceph_ mon stat >/dev/null
  if [[ ! -f "$CEPH_HOME/mgr.x/keyring" ]]; then
    mkdir -p "$CEPH_HOME/mgr.x"
    ceph_ auth get-or-create mgr.x mon 'allow profile mgr' osd 'allow *' mds 'allow *' -o "$CEPH_HOME/mgr.x/keyring"
  fi
  engine_pid ceph-mgr >/dev/null || launch ceph-mgr "$LOGS/ceph/mgr.out" ceph-mgr -i x -c "$CEPH_CONF_FILE" -f

  for ((i = 0; i < CEPH_OSDS; i++)); do
    if [[ ! -f "$CEPH_HOME/osd.$i/keyring" ]]; then
      local uuid key; uuid="$(cat /proc/sys/kernel/random/uuid)"; key="$(ceph-authtool --gen-print-key)"
      mkdir -p "$CEPH_HOME/osd.$i"
      [[ "$(echo "{\"cephx_secret\": \"$key\"}" | ceph_ osd new "$uuid" "$i" -i -)" == "$i" ]] || die "ceph: osd new did not give id $i"
      ceph-osd -c "$CEPH_CONF_FILE" -i "$i" --mkfs --key "$key" --osd-uuid "$uuid" >"$LOGS/ceph/mkfs-osd.$i.log" 2>&1 \
        || { tail -n 20 "$LOGS/ceph/mkfs-osd.$i.log" >&2; die "ceph: mkfs of osd.$i failed"; }
      printf '[osd.%s]\nkey = %s\n' "$i" "$key" >"$CEPH_HOME/osd.$i/keyring"
    fi
    engine_pid "ceph-osd.$i" >/dev/null || launch_osd "$i"
  done
  for ((i = 0; i < CEPH_OSDS; i++)); do wait_for 60 "osd.$i up" osd_is "$i" up; done

  if ! ceph_ osd pool ls | grep -qx default.rgw.buckets.data; then
    # The bucket data pool must exist as the EC pool before RGW's first start, which would create it replicated.
    { ceph_ osd erasure-code-profile set ec-2-1 k=2 m=1 crush-failure-domain=osd &&
      ceph_ osd pool create default.rgw.buckets.data 8 8 erasure ec-2-1 &&
      ceph_ osd pool application enable default.rgw.buckets.data rgw; } >"$LOGS/ceph/pools.log" 2>&1 \
      || { cat "$LOGS/ceph/pools.log" >&2; die "ceph: could not create the EC data pool"; }
  fi
  [[ -f "$CEPH_HOME/rgw.keyring" ]] ||
    ceph_ auth get-or-create client.rgw.stack mon 'allow rw' osd 'allow rwx' mgr 'allow rw' -o "$CEPH_HOME/rgw.keyring"
  # RGW started before every PG is clean stalls its first requests on stale OSD addresses.
  wait_for 120 "every PG active+clean" ceph_pgs_are clean
  if ! radosgw-admin -c "$CEPH_CONF_FILE" -n client.rgw.stack user info --uid=stack >/dev/null 2>&1; then
    radosgw-admin -c "$CEPH_CONF_FILE" -n client.rgw.stack user create --uid=stack --display-name="stack.sh" \
      --access-key="$RGW_ACCESS_KEY_ID" --secret-key="$RGW_SECRET_ACCESS_KEY" >/dev/null
    wait_for 60 "every PG active+clean (after RGW's pools)" ceph_pgs_are clean
  fi
  launch ceph "$LOGS/ceph/rgw.out" radosgw -n client.rgw.stack -c "$CEPH_CONF_FILE" -f
}

ceph_all_running() { local d; for d in $(ceph_daemons); do engine_pid "$d" >/dev/null || return 1; done; }

stop_ceph() {
  local d pids=()
  stop_engine ceph
  for d in $(ceph_daemons | grep osd); do stop_engine "$d" & pids+=($!); done
  for d in "${pids[@]}"; do wait "$d"; done
  stop_engine ceph-mgr
  stop_engine ceph-mon
}

cmd_osd() { # stop|start id
  local action="$1" id="$2"
  [[ "$id" =~ ^[0-9]+$ ]] && (( id < CEPH_OSDS )) || die "no such OSD '$id' (0..$((CEPH_OSDS - 1)))"
  engine_pid ceph-mon >/dev/null || die "Ceph is not running (bash scripts/stack.sh up ceph)"
  local t0; t0="$(now)"
  if [[ "$action" == stop ]]; then
    local pid
    pid="$(engine_pid "ceph-osd.$id")" || die "osd.$id is not running"
    # A crash, not a shutdown: the peers' heartbeats have to notice it.
    kill -KILL "$pid"
    rm -f "$(pid_file "ceph-osd.$id")"
    wait_for 60 "osd.$id marked down" osd_is "$id" down
    # PG states come from the mgr's periodic stats: first their report of the loss (every PG has a copy or
    # shard on each of the three OSDs), then every PG active on the other two.
    wait_for 60 "PG states showing osd.$id lost" ceph_pgs_not_clean
    wait_for 60 "every PG active (degraded)" ceph_pgs_are active
    log "osd.$id killed; marked down and every PG active again in $(elapsed "$t0")s"
  else
    engine_pid "ceph-osd.$id" >/dev/null || launch_osd "$id"
    wait_for 60 "osd.$id up" osd_is "$id" up
    wait_for 120 "every PG active+clean" ceph_pgs_are clean
    log "osd.$id up and every PG active+clean in $(elapsed "$t0")s"
  fi
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
    ceph)
      # anonymous ListBuckets: RGW answers it (200, an empty list) once it serves S3
      curl -fsS --max-time 3 -o /dev/null "http://$HOST:$RGW_PORT/" 2>/dev/null ;;
  esac
}

ready_timeout() {
  case "$1" in
    kafka) echo "$KAFKA_READY_TIMEOUT" ;; es) echo "$ES_READY_TIMEOUT" ;; minio) echo "$MINIO_READY_TIMEOUT" ;; ceph) echo "$CEPH_READY_TIMEOUT" ;;
  esac
}

engine_log() {
  case "$1" in
    kafka) echo "$LOGS/kafka.log" ;; es) echo "$LOGS/elasticsearch.log" ;; minio) echo "$LOGS/minio.log" ;; ceph) echo "$LOGS/ceph/client.rgw.stack.log" ;;
  esac
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
    case "$e" in kafka) provision_kafka ;; es) provision_es ;; ceph) provision_ceph; ceph_credentials ;; esac
  done
  if [[ -n "$minio_bg" ]]; then wait "$minio_bg" || die "MinIO provisioning failed"; fi
  write_env

  # start
  declare -A started=() start_at=()
  for e in "${engines[@]}"; do
    local pid
    if pid="$(engine_pid "$e")" && { [[ "$e" != ceph ]] || ceph_all_running; }; then
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
    log "$(engine_name "$e") starting (pid $(cat "$(pid_file "$e")"), log $(engine_log "$e" | sed "s#^$ROOT/##"))"
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
  for e in "$@"; do
    if [[ "$e" == ceph ]]; then stop_ceph & else stop_engine "$e" & fi
    pids+=($!)
  done
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
    if [[ "$e" == ceph ]]; then
      local d
      for d in $(ceph_daemons); do
        if pid="$(engine_pid "$d")"; then printf '  %-12s %-20s pid %s\n' "$d" running "$pid"; else printf '  %-12s stopped\n' "$d"; rc=1; fi
      done
    fi
  done
  return $rc
}

usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; }

main() {
  local cmd="${1:-}"; shift || true
  case "$cmd" in
    osd-stop|osd-start)
      mkdir -p "$RUN"; exec 9>"$RUN/lock"
      flock -w 600 9 || die "another 'stack.sh' command holds the lock $RUN/lock"
      cmd_osd "${cmd#osd-}" "${1:-}"; return ;;
  esac
  local engines=() a
  for a in "$@"; do
    case "$a" in
      kafka|es|minio|ceph) engines+=("$a") ;;
      elasticsearch) engines+=(es) ;;
      *) usage >&2; die "unknown engine '$a' (kafka, es, minio, ceph)" ;;
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
