#!/usr/bin/env bash
# make run: format (if needed) a local volume under $PFS_DATA and serve it in the foreground.
# Ctrl-C / SIGTERM stops everything cleanly.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
PFS_DATA=${PFS_DATA:-$top/.pfs-data}
PFS_MOUNT=${PFS_MOUNT:-$top/mnt}
PFS_PORT=${PFS_PORT:-32356}
mkdir -p "$PFS_DATA"
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

pids=()
stop() {
  trap - INT TERM
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  exit 0
}
trap stop INT TERM

"$top/bin/proxyfsd" "$conf" &
pids+=($!)
if [ -f "$top/dist/src/agent/main.js" ]; then
  mkdir -p "$PFS_MOUNT"
  "$top/bin/pfsagentd" "$top/conf/pfsagentd.conf" "Agent.FUSEMountPointPath=$PFS_MOUNT" "Agent.FUSEVolumeName=CommonVolume" "Agent.RetryRPCPort=$PFS_PORT" &
  pids+=($!)
  echo "pfs: volume CommonVolume mounted at $PFS_MOUNT (data in $PFS_DATA); Ctrl-C to stop"
else
  echo "pfs: pfsagentd is not built yet (the agent issue); serving volume CommonVolume on 127.0.0.1:$PFS_PORT without a mount; Ctrl-C to stop"
fi
wait -n "${pids[@]}" || true
stop
