#!/bin/bash
# s3_down.sh DIR - stop the s3rver that s3_up.sh DIR started (by its PID) and remove DIR.
set -uo pipefail
DIR=$1
if [ -f "$DIR/s3rver.pid" ]; then
  pid=$(cat "$DIR/s3rver.pid")
  kill "$pid" 2>/dev/null
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  kill -9 "$pid" 2>/dev/null
fi
rm -rf "$DIR"
exit 0
