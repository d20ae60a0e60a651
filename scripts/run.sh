#!/usr/bin/env bash
# make run: format (if needed) a local volume under $PFS_DATA and serve it in the foreground,
# supervised (docs/ARCHITECTURE.md "Supervision"):
# - proxyfsd that exits for any reason is started again (1 s, doubling to 30 s; back to 1 s
#   after 60 s up). The agent is never stopped for it: it resends its calls to the new instance
#   and reclaims its leases, so applications see a pause, not an error.
# - an agent that dies (a signal, a non-zero exit) is started again the same way, after the
#   dead mount is detached (files open on it then fail: keeping them is the hand-off's work).
#   An agent that exits 0 was unmounted from outside (umount): everything stops.
# - Ctrl-C / SIGTERM stops the agent (it flushes within its ShutdownFlushTimeout, 60 s, then
#   unmounts), then proxyfsd; an agent still running STOP_GRACE_S (90 s) later is killed and its
#   mount detached, so stopping is bounded. A second Ctrl-C tells the agent to stop waiting for
#   its buffered writes.
set -euo pipefail
# The data directory holds every user's file data and the volume's metadata: private.
umask 077
top=$(cd "$(dirname "$0")/.." && pwd)
PFS_DATA=${PFS_DATA:-$top/.pfs-data}
PFS_MOUNT=${PFS_MOUNT:-$top/mnt}
PFS_PORT=${PFS_PORT:-32356}
STOP_GRACE_S=${STOP_GRACE_S:-90}
mkdir -p "$PFS_DATA"
chmod 700 "$PFS_DATA"
conf=$PFS_DATA/proxyfsd.conf
cat > "$conf" <<EOC
# Written by scripts/run.sh for make run.
[Volume:CommonVolume]
MetadataPath: $PFS_DATA/CommonVolume.db
ObjectStoreURL: file://$PFS_DATA/objects

[RPCServer]
IPAddr: 127.0.0.1
TCPPort: $PFS_PORT

[Logging]
LogFilePath: $PFS_DATA/proxyfsd.log
LogToConsole: false
EOC
"$top/bin/pfs" format "$conf" CommonVolume --if-needed

say() { echo "pfs: $*"; }

# The daemons run in their own sessions so a terminal's Ctrl-C reaches only this script, which
# stops them in order.
server_pid=
agent_pid=
server_delay=0
agent_delay=0
server_since=0
agent_since=0
stopping=

start_server() {
  setsid "$top/bin/proxyfsd" "$conf" &
  server_pid=$!
  server_since=$SECONDS
}

start_agent() {
  # The agent names the store itself: it does not write wherever the server says (docs/SECURITY.md §8).
  setsid "$top/bin/pfsagentd" "$top/conf/pfsagentd.conf" "Agent.FUSEMountPointPath=$PFS_MOUNT" \
    "Agent.FUSEVolumeName=CommonVolume" "Agent.RetryRPCPort=$PFS_PORT" "Agent.LogToConsole=false" \
    "Agent.LogFilePath=$PFS_DATA/pfsagentd.log" "Agent.ObjectStoreURL=file://$PFS_DATA/objects" &
  agent_pid=$!
  agent_since=$SECONDS
}

alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }

# Sleeps $1 seconds; a signal (the stop trap) cuts it short.
pause() { sleep "$1" & wait $! || true; }

# The delay before a restart of a daemon that ran $1 seconds, whose last delay was $2 (0: none
# yet): 1 s, doubling to 30 s, back to 1 s after a minute up.
next_delay() { if [ "$1" -ge 60 ] || [ "$2" -eq 0 ]; then echo 1; else echo $(( $2 * 2 > 30 ? 30 : $2 * 2 )); fi; }

detach_mount() { fusermount -u -z "$PFS_MOUNT" 2>/dev/null || umount -l "$PFS_MOUNT" 2>/dev/null || true; }

stop() {
  if [ -n "$stopping" ]; then
    # A second signal: the agent stops waiting for its buffered writes.
    alive "$agent_pid" && kill -TERM "$agent_pid" 2>/dev/null
    return
  fi
  stopping=1
  local status=0
  if alive "$agent_pid"; then
    kill -TERM "$agent_pid"
    local waited=0
    while alive "$agent_pid" && [ "$waited" -lt "$((STOP_GRACE_S * 10))" ]; do sleep 0.1; waited=$((waited + 1)); done
    if alive "$agent_pid"; then
      say "the agent did not stop within ${STOP_GRACE_S}s; killing it and detaching $PFS_MOUNT"
      kill -KILL "$agent_pid" 2>/dev/null || true
      detach_mount
      status=1
    fi
    wait "$agent_pid" 2>/dev/null || status=$?
  fi
  if alive "$server_pid"; then
    kill -TERM "$server_pid"; wait "$server_pid" 2>/dev/null || status=$?
  fi
  say "stopped (exit $status)"
  exit "$status"
}
trap stop INT TERM

start_server
mkdir -p "$PFS_MOUNT"
for _ in $(seq 1 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$PFS_PORT") 2>/dev/null && break
  alive "$server_pid" || { wait "$server_pid" || true; say "proxyfsd did not start; see $PFS_DATA/proxyfsd.log"; exit 1; }
  sleep 0.1
done
start_agent
say "logs in $PFS_DATA/*.log; Ctrl-C or SIGTERM to flush, unmount and stop"

while :; do
  exited=
  status=0
  wait -n -p exited "$server_pid" "$agent_pid" || status=$?
  [ -n "$stopping" ] && continue   # the trap is stopping everything
  if [ -z "$exited" ]; then continue; fi  # a signal interrupted the wait
  if [ "$exited" = "$server_pid" ]; then
    server_delay=$(next_delay $((SECONDS - server_since)) "$server_delay")
    say "proxyfsd exited (status $status); starting it again in ${server_delay}s (the agent keeps the mount)"
    pause "$server_delay"
    [ -z "$stopping" ] && start_server
  elif [ "$exited" = "$agent_pid" ]; then
    if [ "$status" -eq 0 ]; then
      say "pfsagentd exited after an unmount; stopping"
      agent_pid=
      stop
    fi
    agent_delay=$(next_delay $((SECONDS - agent_since)) "$agent_delay")
    say "pfsagentd died (status $status); detaching $PFS_MOUNT and starting it again in ${agent_delay}s"
    detach_mount
    pause "$agent_delay"
    [ -z "$stopping" ] && start_agent
  fi
done
