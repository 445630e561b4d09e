#!/bin/bash
# s3_down.sh DIR - stop the s3rver that s3_up.sh DIR started (by its PID) and remove DIR.
# s3_up.sh also runs it first, so a server left by an interrupted run is not orphaned.
set -uo pipefail
DIR=$1
# only a process whose command line names this DIR is ours (a stale PID file may name a PID
# that now belongs to someone else)
if [ -f "$DIR/s3rver.pid" ] && pid=$(cat "$DIR/s3rver.pid") &&
   ps -o args= -p "$pid" 2>/dev/null | grep -qF -- "$DIR/data"; then
  kill "$pid" 2>/dev/null
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  kill -9 "$pid" 2>/dev/null
fi
rm -rf "$DIR"
exit 0
