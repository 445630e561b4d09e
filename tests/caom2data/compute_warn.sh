#!/bin/bash
# compute_warn.sh - obsflow caom --compute leaves out a plane quantity it cannot compute, with
# one warning, instead of failing the document: the CGPS case's VELO-LSR axis as wcslib reads
# it (VOPT) without a rest frequency has no wavelength, so the plane gets position but no
# energy; exit 0.
set -euo pipefail
BIN=${OBSFLOW_BIN_DIR:?}
S=${OBSFLOW_SHARED:?}/testdata/caom2/cgps2caom2/MC2_FCRAO
SRC=${OBSFLOW_SOURCE_DIR:?}
T=${OBSFLOW_TEST_TMP:?}
fail() { echo "FAIL: $*"; exit 1; }
# over the case's rules: the header's VELO-LSR as wcslib translates it (VOPT), without the rest
# frequency the collection takes from OBSFREQ
cat >"$T/vopt.bp" <<'BP'
Chunk.energy.axis.axis.ctype := if(matches(file_name(), '_image[.]'), 'VOPT')
Chunk.energy.restfrq = None
BP
rc=0
"$BIN/obsflow" caom --collection CGPS --blueprint "$SRC/tests/caom2data/cases/S11_cgps_co.blueprint" \
  --blueprint "$T/vopt.bp" --compute "$S/CGPS_MC2_CO_line_image.fits.header" "$S/CGPS_MC2_CO_line_flags.fits.header" \
  >"$T/cgps.xml" 2>"$T/err" || rc=$?
[ "$rc" = 0 ] || fail "exit $rc: $(cat "$T/err")"
[ "$(wc -l <"$T/err")" = 1 ] || fail "expected one warning line, got: $(cat "$T/err")"
grep -q '^obsflow caom: warning: plane CGPS_MC2_CO_line_image: energy not computed: ' "$T/err" ||
  fail "warning: $(cat "$T/err")"
python3 - "$T/cgps.xml" <<'PY' || fail "document"
import sys, xml.etree.ElementTree as ET
ns = "{http://www.opencadc.org/caom2/xml/v2.4}"
plane = ET.parse(sys.argv[1]).getroot().find(ns + "planes").find(ns + "plane")
assert plane.find(ns + "position") is not None, "no plane position"
assert plane.find(ns + "position/" + ns + "bounds") is not None, "no position bounds"
assert plane.find(ns + "energy") is None, "a plane energy was written"
PY
# without --compute nothing is computed and nothing is said
"$BIN/obsflow" caom --collection CGPS --blueprint "$SRC/tests/caom2data/cases/S11_cgps_co.blueprint" \
  --blueprint "$T/vopt.bp" "$S/CGPS_MC2_CO_line_image.fits.header" >/dev/null 2>"$T/err2" || fail "exit without --compute"
[ ! -s "$T/err2" ] || fail "unexpected output: $(cat "$T/err2")"
echo "PASS"
