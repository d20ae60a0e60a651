#!/usr/bin/env bash
# A one-node "all in one" OpenStack Swift on 127.0.0.1 for the integration tests: tempauth and
# s3api in one proxy, so the same port serves the Swift v1 API and the S3 API.
#
#   scripts/swift-aio.sh start|stop [--purge]|status|env
#
# start   idempotent: returns at once when running with the same settings; a new token life
#         restarts memcached and the proxy; other changed settings restart everything.
# stop    stops what start started (by PID, checked against the process start time). Idempotent.
#         --purge also removes the state directory (objects, rings, logs).
# status  exit 0 when every process runs and the proxy is healthy, 1 otherwise.
# env     prints `export` lines for the tests and examples.
#
# Settings (environment): PFS_SWIFT_BASE (/tmp/pfs-swift), PFS_SWIFT_PORT (proxy, 18080),
# PFS_SWIFT_ACCOUNT_PORT (16012), PFS_SWIFT_CONTAINER_PORT (16011), PFS_SWIFT_OBJECT_PORT
# (16010), PFS_SWIFT_MEMCACHED_PORT (21211, a memcached of our own), PFS_SWIFT_TOKEN_LIFE
# (5 seconds: short on purpose, so the tests renew tokens all the time),
# PFS_SWIFT_START_TIMEOUT (60 seconds).
# Facts and gotchas behind the choices here: docs in shared/reference/openstack-swift-on-loopback.md
# (numbers in comments below refer to its gotcha list).
set -euo pipefail

BASE=${PFS_SWIFT_BASE:-/tmp/pfs-swift}
PROXY_PORT=${PFS_SWIFT_PORT:-18080}
ACCOUNT_PORT=${PFS_SWIFT_ACCOUNT_PORT:-16012}
CONTAINER_PORT=${PFS_SWIFT_CONTAINER_PORT:-16011}
OBJECT_PORT=${PFS_SWIFT_OBJECT_PORT:-16010}
MEMCACHED_PORT=${PFS_SWIFT_MEMCACHED_PORT:-21211}
TOKEN_LIFE=${PFS_SWIFT_TOKEN_LIFE:-5}
START_TIMEOUT=${PFS_SWIFT_START_TIMEOUT:-60}
USER_NAME=test:tester
USER_KEY=testing
ACCOUNT=AUTH_test
PY=/usr/bin/python3            # never the python3 on PATH: a pyenv shim without Debian's swift (1)
SERVERS=(account container object proxy)
PROCS=(memcached "${SERVERS[@]}")

# Debian's swift must not see another Python's settings (1).
for v in $(compgen -e); do
  case $v in PYTHON*|VIRTUAL_ENV|PYENV_VERSION|CONDA_PREFIX) unset "$v" ;; esac
done

ETC=$BASE/etc RUN=$BASE/run LOG=$BASE/log DEVICES=$BASE/srv/node
PROXY_URL=http://127.0.0.1:$PROXY_PORT
SETTINGS="ports=$PROXY_PORT,$ACCOUNT_PORT,$CONTAINER_PORT,$OBJECT_PORT,$MEMCACHED_PORT"

die() {
  echo "swift-aio: $*" >&2
  exit 1
}

port_of() {
  case $1 in
    memcached) echo "$MEMCACHED_PORT" ;; proxy) echo "$PROXY_PORT" ;; account) echo "$ACCOUNT_PORT" ;;
    container) echo "$CONTAINER_PORT" ;; object) echo "$OBJECT_PORT" ;;
  esac
}

# --- processes -------------------------------------------------------------------------------

# Field 22 of /proc/PID/stat: the start time, which tells our process from a reused PID.
start_time_of() {
  local line rest
  read -r line 2>/dev/null <"/proc/$1/stat" || return 1
  rest=${line##*) }
  # shellcheck disable=SC2086
  set -- $rest
  echo "${20}"
}

# Running means some thread is in a state other than zombie/dead. PID 1 reaps late here, and a
# multi-threaded leader shows Z while its other threads still exit, so kill -0 is no test (12).
running() {
  local f line s
  for f in /proc/"$1"/task/*/stat; do
    read -r line 2>/dev/null <"$f" || continue
    s=${line##*) }
    s=${s%% *}
    case $s in Z | X | x) ;; *) return 0 ;; esac
  done
  return 1
}

# The PID of our running process `name`, or nothing. Only PIDs whose start time matches the one
# recorded at launch count: nothing the script did not start is ever signalled.
pid_of() {
  local pid st now
  read -r pid st 2>/dev/null <"$RUN/$1.pid" || return 0
  [ -n "${pid:-}" ] && [ -n "${st:-}" ] || return 0
  now=$(start_time_of "$pid") || return 0
  [ "$now" = "$st" ] && running "$pid" && echo "$pid"
  return 0
}

launch() {
  local name=$1 pid
  shift
  [ -f "$LOG/$name.log" ] && mv -f "$LOG/$name.log" "$LOG/$name.log.1"
  # setsid: a Swift parent answers SIGTERM with killpg(0), which must never reach our caller (3).
  setsid "$@" </dev/null >"$LOG/$name.log" 2>&1 9>&- &  # 9: the lock, not for them
  pid=$!
  echo "$pid $(start_time_of "$pid")" >"$RUN/$name.pid"
}

# SIGTERM to each named process (and its process group, where Swift's workers live), then
# SIGKILL to what is left after a few seconds.
stop_procs() {
  local name pid pids=() deadline
  for name in "$@"; do
    pid=$(pid_of "$name")
    if [ -n "$pid" ]; then
      pids+=("$pid")
      kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    fi
    rm -f "$RUN/$name.pid"
  done
  [ ${#pids[@]} -eq 0 ] && return 0
  deadline=$((SECONDS + 4))
  while :; do
    local left=()
    for pid in "${pids[@]}"; do running "$pid" && left+=("$pid"); done
    [ ${#left[@]} -eq 0 ] && return 0
    if [ $SECONDS -ge $deadline ]; then
      for pid in "${left[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true; done
      deadline=$((SECONDS + 1000))
    fi
    pids=("${left[@]}")
    sleep 0.05
  done
}

check_ports_free() {
  local name port busy
  for name in "$@"; do
    port=$(port_of "$name")
    # A taken port makes a Swift server retry for 30 s and then die, so find out first (11).
    busy=$(ss -Htln "sport = :$port" 2>/dev/null | head -1)
    [ -z "$busy" ] || die "port $port already in use (wanted for $name; see ss -ltnp)"
  done
}

# --- configuration ---------------------------------------------------------------------------

write_server_conf() {
  local name=$1 port=$2 egg=$3 extra=${4:-}
  cat >"$ETC/$name-server.conf" <<EOF
# Written by scripts/swift-aio.sh; rewritten on every start.
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = $port
workers = 0
user = $(id -un)
swift_dir = $ETC
devices = $DEVICES
mount_check = false
disable_fallocate = true
recon_cache_path = $BASE/cache
log_name = $name-server

[pipeline:main]
pipeline = healthcheck $name-server

[filter:healthcheck]
use = egg:swift#healthcheck

[app:$name-server]
use = egg:swift#$egg
$extra
EOF
}

write_proxy_conf() {
  cat >"$ETC/proxy-server.conf" <<EOF
# Written by scripts/swift-aio.sh; rewritten on every start.
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = $PROXY_PORT
workers = 0
user = $(id -un)
swift_dir = $ETC
log_name = proxy-server

[pipeline:main]
# s3api before tempauth: tempauth checks the S3 signature itself. slo: S3 multipart uploads.
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats bulk tempurl s3api tempauth copy container-quotas account-quotas slo dlo versioned_writes symlink proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true
# One 507 would otherwise take the only device out for 60 s (9).
error_suppression_interval = 1
error_suppression_limit = 100
object_chunk_size = 1048576
client_chunk_size = 1048576

[filter:tempauth]
use = egg:swift#tempauth
token_life = $TOKEN_LIFE
user_test_tester = $USER_KEY .admin

[filter:s3api]
use = egg:swift#s3api
location = us-east-1

[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:$MEMCACHED_PORT

[filter:catch_errors]
use = egg:swift#catch_errors
[filter:gatekeeper]
use = egg:swift#gatekeeper
[filter:healthcheck]
use = egg:swift#healthcheck
[filter:proxy-logging]
use = egg:swift#proxy_logging
[filter:listing_formats]
use = egg:swift#listing_formats
[filter:bulk]
use = egg:swift#bulk
[filter:tempurl]
use = egg:swift#tempurl
[filter:copy]
use = egg:swift#copy
[filter:container-quotas]
use = egg:swift#container_quotas
[filter:account-quotas]
use = egg:swift#account_quotas
[filter:slo]
use = egg:swift#slo
[filter:dlo]
use = egg:swift#dlo
[filter:versioned_writes]
use = egg:swift#versioned_writes
[filter:symlink]
use = egg:swift#symlink
EOF
}

write_confs() {
  mkdir -p "$ETC" "$RUN" "$LOG" "$DEVICES/d1" "$BASE/cache"
  # swift.conf is read from this hard-coded path whatever swift_dir says (4).
  if [ ! -e /etc/swift/swift.conf ]; then
    mkdir -p /etc/swift
    printf '[swift-hash]\nswift_hash_path_suffix = pfs-aio\nswift_hash_path_prefix = pfs-aio\n\n[storage-policy:0]\nname = Policy-0\ndefault = yes\n' >/etc/swift/swift.conf
  fi
  local chunks=$'network_chunk_size = 1048576\ndisk_chunk_size = 1048576'
  write_server_conf account "$ACCOUNT_PORT" account
  write_server_conf container "$CONTAINER_PORT" container
  write_server_conf object "$OBJECT_PORT" object "$chunks"
  write_proxy_conf
  # Rings: one python process for all three (nine swift-ring-builder calls take ten times longer).
  if [ "$(cat "$ETC/rings.settings" 2>/dev/null)" != "$SETTINGS" ] || [ ! -f "$ETC/object.ring.gz" ]; then
    rm -f "$ETC"/*.ring.gz "$ETC"/*.builder
    "$PY" - "$ETC" "$ACCOUNT_PORT" "$CONTAINER_PORT" "$OBJECT_PORT" <<'EOF'
import sys
from swift.common.ring import RingBuilder
etc = sys.argv[1]
for name, port in zip(('account', 'container', 'object'), sys.argv[2:5]):
    b = RingBuilder(10, 1, 1)
    b.add_dev({'id': 0, 'region': 1, 'zone': 1, 'ip': '127.0.0.1', 'port': int(port),
               'device': 'd1', 'weight': 100, 'meta': ''})
    b.rebalance()
    b.get_ring().save(f'{etc}/{name}.ring.gz')
    b.save(f'{etc}/{name}.builder')
EOF
    echo "$SETTINGS" >"$ETC/rings.settings"
  fi
}

# --- start-up --------------------------------------------------------------------------------

launch_one() {
  case $1 in
    memcached)
      local as_root=()
      [ "$(id -u)" = 0 ] && as_root=(-u root)
      launch memcached /usr/bin/memcached -l 127.0.0.1 -p "$MEMCACHED_PORT" -U 0 -m 64 -c 1024 "${as_root[@]}"
      ;;
    *) launch "$1" "/usr/bin/swift-$1-server" "$ETC/$1-server.conf" -v ;; # -v: log to stderr (2)
  esac
}

fail_start() {
  local name
  {
    echo "swift-aio: $*"
    for name in "${PROCS[@]}"; do
      [ -s "$LOG/$name.log" ] || continue
      echo "--- tail of $LOG/$name.log"
      tail -n 15 "$LOG/$name.log"
    done
  } >&2
  stop_procs proxy object container account memcached
  exit 1
}

tcp_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Waits until every named process answers; a process that exits fails the start at once.
wait_ready() {
  local deadline=$((SECONDS + START_TIMEOUT)) name pending
  while :; do
    pending=()
    for name in "$@"; do
      [ -n "$(pid_of "$name")" ] || fail_start "$name exited during start-up"
      if [ "$name" = memcached ]; then
        tcp_open "$MEMCACHED_PORT" || pending+=("$name")
      else
        [ "$(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$(port_of "$name")/healthcheck")" = 200 ] || pending+=("$name")
      fi
    done
    [ ${#pending[@]} -eq 0 ] && return 0
    [ $SECONDS -lt $deadline ] || fail_start "timed out after ${START_TIMEOUT}s waiting for ${pending[*]}"
    sleep 0.1
  done
}

# Auth, then PUT and GET a small object. After a memcached restart the first token may not be
# stored (6), so the whole round is retried.
smoke_test() {
  local deadline=$((SECONDS + START_TIMEOUT)) headers token url body want problem
  want="pfs-smoke-$$-$RANDOM"
  while :; do
    problem=
    headers=$(curl -s -m 5 -D - -o /dev/null -H "X-Auth-User: $USER_NAME" -H "X-Auth-Key: $USER_KEY" "$PROXY_URL/auth/v1.0" | tr -d '\r') || true
    token=$(sed -n 's/^[Xx]-[Aa]uth-[Tt]oken: //p' <<<"$headers")
    url=$(sed -n 's/^[Xx]-[Ss]torage-[Uu]rl: //p' <<<"$headers")
    if [ -z "$token" ] || [ -z "$url" ]; then
      problem="auth failed: $(head -1 <<<"$headers")"
    elif ! curl -sf -m 10 -o /dev/null -X PUT -H "X-Auth-Token: $token" "$url/pfs-smoke"; then
      problem='container PUT failed'
    elif ! curl -sf -m 10 -o /dev/null -X PUT -H "X-Auth-Token: $token" --data-binary "$want" "$url/pfs-smoke/obj"; then
      problem='object PUT failed'
    else
      body=$(curl -sf -m 10 -H "X-Auth-Token: $token" "$url/pfs-smoke/obj") || true
      [ "$body" = "$want" ] && return 0
      problem="object GET returned '${body:0:40}'"
    fi
    [ $SECONDS -lt $deadline ] || fail_start "smoke test failed: $problem"
    sleep 0.25
  done
}

start() {
  local name missing=() all=1 old_token_life
  for name in "${PROCS[@]}"; do
    [ -n "$(pid_of "$name")" ] || { all=0; missing+=("$name"); }
  done
  old_token_life=$(sed -n 's/^token_life=//p' "$RUN/settings" 2>/dev/null || true)
  if [ $all = 1 ] && grep -qxF "$SETTINGS" "$RUN/settings" 2>/dev/null; then
    if [ "$old_token_life" = "$TOKEN_LIFE" ]; then
      [ "$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$PROXY_URL/healthcheck")" = 200 ] && return 0
      echo "swift-aio: running but the proxy is not healthy; restarting" >&2
    else
      # Tokens issued under the old token_life live on in memcached, so flush them (7); the
      # proxy must follow a memcached restart (6).
      stop_procs proxy memcached
      write_proxy_conf
      echo "$SETTINGS" >"$RUN/settings"
      echo "token_life=$TOKEN_LIFE" >>"$RUN/settings"
      check_ports_free memcached proxy
      launch_one memcached
      wait_ready memcached
      launch_one proxy
      wait_ready proxy
      smoke_test
      return 0
    fi
  fi
  stop_procs proxy object container account memcached
  check_ports_free "${PROCS[@]}"
  write_confs
  rm -f "$RUN/settings"
  launch_one memcached
  for name in "${SERVERS[@]}"; do launch_one "$name"; done
  wait_ready "${PROCS[@]}"
  smoke_test
  printf '%s\ntoken_life=%s\n' "$SETTINGS" "$TOKEN_LIFE" >"$RUN/settings"
}

status() {
  local name
  for name in "${PROCS[@]}"; do
    [ -n "$(pid_of "$name")" ] || { echo "swift-aio: $name is not running" >&2; return 1; }
  done
  [ "$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$PROXY_URL/healthcheck")" = 200 ] || { echo "swift-aio: the proxy is not healthy" >&2; return 1; }
  echo "swift-aio: running at $PROXY_URL (base $BASE, token_life $(sed -n 's/^token_life=//p' "$RUN/settings" 2>/dev/null)s)"
}

print_env() {
  cat <<EOF
export PFS_SWIFT_AUTH_URL=$PROXY_URL/auth/v1.0
export PFS_SWIFT_USER=$USER_NAME
export PFS_SWIFT_KEY=$USER_KEY
export PFS_SWIFT_ACCOUNT=$ACCOUNT
export PFS_SWIFT_STORAGE_URL=$PROXY_URL/v1/$ACCOUNT
export PFS_SWIFT_TOKEN_LIFE=$TOKEN_LIFE
export PFS_S3_ENDPOINT=$PROXY_URL
export PFS_S3_ACCESS_KEY=$USER_NAME
export PFS_S3_SECRET_KEY=$USER_KEY
export PFS_S3_REGION=us-east-1
EOF
}

with_lock() {
  mkdir -p "$BASE" "$RUN"
  exec 9>"$BASE/lock"
  flock -w $((START_TIMEOUT * 2)) 9 || die "another swift-aio.sh holds $BASE/lock"
  "$@"
}

case ${1:-} in
  start) with_lock start ;;
  stop)
    with_lock stop_procs proxy object container account memcached
    if [ "${2:-}" = "--purge" ]; then rm -rf "$BASE"; fi
    ;;
  status) status ;;
  env) print_env ;;
  *) echo "usage: $0 start|stop [--purge]|status|env" >&2; exit 2 ;;
esac
