#!/usr/bin/env bash
# make run: format (if needed) a local volume under $PFS_DATA and serve it in the foreground.
# Ctrl-C / SIGTERM stops everything cleanly.
set -euo pipefail
# The data directory holds every user's file data and the volume's metadata: private.
umask 077
top=$(cd "$(dirname "$0")/.." && pwd)
PFS_DATA=${PFS_DATA:-$top/.pfs-data}
PFS_MOUNT=${PFS_MOUNT:-$top/mnt}
PFS_PORT=${PFS_PORT:-32356}
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

# The daemons run in their own sessions so a terminal's Ctrl-C reaches only this script, which
# stops them in order: the agent first (it flushes through proxyfsd), then proxyfsd.
server_pid=
agent_pid=
status=0
stop() {
  trap - INT TERM
  if [ -n "$agent_pid" ] && kill -0 "$agent_pid" 2>/dev/null; then
    kill -TERM "$agent_pid"; wait "$agent_pid" || status=$?
  fi
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid"; wait "$server_pid" || status=$?
  fi
  echo "pfs: stopped (exit $status)"
  exit "$status"
}
trap stop INT TERM

setsid "$top/bin/proxyfsd" "$conf" &
server_pid=$!
mkdir -p "$PFS_MOUNT"
for _ in $(seq 1 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$PFS_PORT") 2>/dev/null && break
  kill -0 "$server_pid" 2>/dev/null || { wait "$server_pid"; exit 1; }
  sleep 0.1
done
# The agent names the store itself: it does not write wherever the server says (docs/SECURITY.md §8).
setsid "$top/bin/pfsagentd" "$top/conf/pfsagentd.conf" "Agent.FUSEMountPointPath=$PFS_MOUNT" \
  "Agent.FUSEVolumeName=CommonVolume" "Agent.RetryRPCPort=$PFS_PORT" "Agent.LogToConsole=false" \
  "Agent.LogFilePath=$PFS_DATA/pfsagentd.log" "Agent.ObjectStoreURL=file://$PFS_DATA/objects" &
agent_pid=$!
echo "pfs: logs in $PFS_DATA/*.log; Ctrl-C or SIGTERM to flush, unmount and stop"
wait -n "$server_pid" "$agent_pid" || status=$?
echo "pfs: a daemon exited (status $status); stopping the other"
stop
