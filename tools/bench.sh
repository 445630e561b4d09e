#!/bin/bash
# bench.sh BUILD - run every tests/bench/bench_*.sh in order; each prints its own figures
# with the baseline it measured in the same run. Not a pass/fail test.
set -uo pipefail
BUILD=$(cd "$1" && pwd)
cd "$(dirname "$0")/.."
export OBSFLOW_BIN_DIR=$BUILD OBSFLOW_SOURCE_DIR=$PWD OBSFLOW_SHARED=$(cd ../shared && pwd)
status=0
for b in tests/bench/bench_*.sh; do
  [ -e "$b" ] || continue
  echo "== $b"
  bash "$b" || { echo "!! $b failed"; status=1; }
done
exit $status
