#!/bin/bash
# s3_up.sh DIR - start a throwaway s3rver (S3 protocol server, npm, pinned by
# tools/s3rver/package-lock.json) on 127.0.0.1 port 0; writes the chosen port to DIR/port and
# the PID to DIR/s3rver.pid. Used by the CTest fixture S3 (tests/storage/CMakeLists.txt).
# S3RVER_HOME may point at the directory holding node_modules/s3rver (default tools/s3rver).
set -euo pipefail
DIR=$1
HOME_DIR=${S3RVER_HOME:-"$(cd "$(dirname "$0")" && pwd)/s3rver"}
JS="$HOME_DIR/node_modules/s3rver/bin/s3rver.js"
if [ ! -f "$JS" ]; then
  (cd "$HOME_DIR" && npm ci --no-audit --no-fund --silent) >&2
fi
# a server left running by an interrupted earlier run in DIR is stopped, not orphaned
"$(dirname "$0")/s3_down.sh" "$DIR"
mkdir -p "$DIR/data"
# stdout/stderr MUST go to a file: a background child that keeps ctest's pipe open hangs ctest.
# --openssl-legacy-provider: s3rver 3.7.1 builds ListObjectsV2 continuation tokens with DES,
# which Node's OpenSSL 3 refuses otherwise (every truncated list-type=2 page becomes a 500).
setsid node --openssl-legacy-provider "$JS" -d "$DIR/data" -a 127.0.0.1 -p 0 \
  --no-vhost-buckets --allow-mismatched-signatures --silent >"$DIR/s3rver.log" 2>&1 </dev/null &
echo $! >"$DIR/s3rver.pid"
for _ in $(seq 400); do
  port=$(sed -n 's/^S3rver listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$DIR/s3rver.log")
  if [ -n "$port" ] && (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "$port" >"$DIR/port.tmp" && mv "$DIR/port.tmp" "$DIR/port"
    exit 0
  fi
  sleep 0.05
done
echo "s3rver did not start" >&2; cat "$DIR/s3rver.log" >&2
kill "$(cat "$DIR/s3rver.pid")" 2>/dev/null || true
exit 1
