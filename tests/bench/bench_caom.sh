#!/bin/bash
# bench_caom.sh - FITS headers -> CAOM-2.4 XML documents per second, single thread, over the
# shared cases (tests/caom2data/cases/S??_*.case, with their blueprints), and the bare cfitsio
# header-read rate on the same headers in the same run (ratio = ours / cfitsio).
# BENCH_BASELINE=<git revision>: also run the cases (blueprints) of that revision, with this
# build, in the same run, so the two sets of blueprints are compared on one machine state
# (e.g. BENCH_BASELINE=ea43038 for the blueprints before expressions).
# Figures, not a pass/fail test. Env: OBSFLOW_BIN_DIR, OBSFLOW_SOURCE_DIR, OBSFLOW_SHARED.
set -euo pipefail
B=$OBSFLOW_BIN_DIR/tests/bench_caom
[ -x "$B" ] || { echo "bench_caom: build the bench_caom target first"; exit 1; }
cases=("$OBSFLOW_SOURCE_DIR"/tests/caom2data/cases/S[0-9][0-9]_*.case)
if [ -n "${BENCH_BASELINE:-}" ]; then
  d=$(mktemp -d)
  trap 'rm -rf "$d"' EXIT
  git -C "$OBSFLOW_SOURCE_DIR" archive "$BENCH_BASELINE" tests/caom2data/cases | tar -x -C "$d"
  echo "== blueprints of $BENCH_BASELINE"
  "$B" "${BENCH_SECONDS:-3}" "$d"/tests/caom2data/cases/S[0-9][0-9]_*.case
  echo "== current blueprints"
fi
"$B" "${BENCH_SECONDS:-3}" "${cases[@]}"
if [ -n "${BENCH_BASELINE:-}" ]; then
  echo "== blueprints of $BENCH_BASELINE (again, to show the spread)"
  "$B" "${BENCH_SECONDS:-3}" "$d"/tests/caom2data/cases/S[0-9][0-9]_*.case
fi
