#!/bin/bash
# bench_storage.sh - lib/storage figures beside their baselines, measured in the same run:
# file: atomic put (temp + fsync + rename) of 256 MiB vs cp + sync of the same file, and S3
# multipart put / get with the ETag check of 256 MiB against s3rver (a Node.js server: its
# own speed bounds these numbers). Env from tools/bench.sh: OBSFLOW_BIN_DIR, OBSFLOW_SOURCE_DIR.
set -euo pipefail
BIN=$OBSFLOW_BIN_DIR/tests/bench_storage
[ -x "$BIN" ] || { echo "bench_storage not built"; exit 1; }
W=$(mktemp -d "${TMPDIR:-/tmp}/obsflow-bench-storage.XXXXXX")
trap 'tools/s3_down.sh "$W/s3" >/dev/null 2>&1; rm -rf "$W"' EXIT
mkdir -p "$W/root"
head -c $((256 << 20)) /dev/urandom >"$W/src.bin"
sync
t0=$(date +%s.%N); cp "$W/src.bin" "$W/cp.bin"; sync "$W/cp.bin"; t1=$(date +%s.%N)
awk -v a="$t0" -v b="$t1" 'BEGIN { s = b - a; printf "%-28s %8.3f s %9.1f MB/s\n", "baseline cp + sync", s, 268.435456 / s }'
rm -f "$W/cp.bin"
"$BIN" file "$W/src.bin" "$W/root"
rm -f "$W/root/bench-copy.bin"
tools/s3_up.sh "$W/s3" >/dev/null
"$BIN" s3 "$W/src.bin" "$(cat "$W/s3/port")" "$W"
