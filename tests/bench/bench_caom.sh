#!/bin/bash
# bench_caom.sh - FITS headers -> CAOM-2.4 XML documents per second, single thread, over the 16
# shared cases (tests/caom2data/cases/S??_*.case, with their blueprints), and the bare cfitsio
# header-read rate on the same headers in the same run (ratio = ours / cfitsio).
# Figures, not a pass/fail test. Env: OBSFLOW_BIN_DIR, OBSFLOW_SOURCE_DIR, OBSFLOW_SHARED.
set -euo pipefail
B=$OBSFLOW_BIN_DIR/tests/bench_caom
[ -x "$B" ] || { echo "bench_caom: build the bench_caom target first"; exit 1; }
cases=("$OBSFLOW_SOURCE_DIR"/tests/caom2data/cases/S[0-9][0-9]_*.case)
"$B" "${BENCH_SECONDS:-3}" "${cases[@]}"
