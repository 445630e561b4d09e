#!/bin/bash
# cli_identities.sh - obsflow caom without identity options uses caom2pipe's StorageName rule
# (docs/caom.md "CAOM metadata"), -o writes a document that validates against CAOM-2.4.xsd, --json
# renders the same observation, --compute adds plane metadata, and a real FITS file (cfitsio
# path, multi-extension) maps to one part per HDU.
set -u
BIN="$OBSFLOW_BIN_DIR/obsflow"
T="$OBSFLOW_TEST_TMP"
S="$OBSFLOW_SHARED"
XSD="$S/reference/caom2/CAOM-2.4.xsd"
fail=0
h="$S/testdata/caom2/wallaby2caom2/dr2/SoFiA_J124915+043926_cube.fits.header"
"$BIN" caom --collection WALLABY -o "$T/a.xml" "$h" || { echo "FAIL: exit $?"; exit 1; }
xmllint --noout --schema "$XSD" "$T/a.xml" 2>"$T/xl" || { echo "FAIL: invalid"; cat "$T/xl"; fail=1; }
/usr/bin/python3 - "$T/a.xml" <<'PY' || fail=1
import sys, xml.etree.ElementTree as ET
r = ET.parse(sys.argv[1]).getroot()
t = lambda p: r.find(p).text
ok = (t('{*}observationID') == 'SoFiA_J124915+043926_cube'
      and t('{*}planes/{*}plane/{*}productID') == 'SoFiA_J124915+043926_cube'
      and t('{*}planes/{*}plane/{*}artifacts/{*}artifact/{*}uri') == 'cadc:WALLABY/SoFiA_J124915+043926_cube.fits'
      and t('{*}planes/{*}plane/{*}artifacts/{*}artifact/{*}contentLength') == '11383')
print('ok   storage-name identities' if ok else 'FAIL storage-name identities')
sys.exit(0 if ok else 1)
PY
"$BIN" caom --collection WALLABY --json --compute -o "$T/a.json" "$h" || { echo "FAIL json: exit $?"; fail=1; }
/usr/bin/python3 - "$T/a.json" <<'PY' || fail=1
import json, sys
o = json.load(open(sys.argv[1]))
s = json.dumps(o)
ok = 'WALLABY' in s and 'SoFiA_J124915+043926_cube' in s and 'energy' in s
print('ok   json with computed planes' if ok else 'FAIL json: ' + s[:300])
sys.exit(0 if ok else 1)
PY
f="$S/testdata/fits/j8bt05njq_raw.fits"
"$BIN" caom --collection HST --scheme mast -o "$T/b.xml" "$f" || { echo "FAIL fits: exit $?"; fail=1; }
xmllint --noout --schema "$XSD" "$T/b.xml" 2>"$T/xl" || { echo "FAIL: fits document invalid"; cat "$T/xl"; fail=1; }
n=$(grep -c '<caom2:part ' "$T/b.xml")
grep -q '<caom2:uri>mast:HST/j8bt05njq_raw.fits</caom2:uri>' "$T/b.xml" && [ "$n" -eq 4 ] \
  && echo "ok   multi-extension FITS: 4 parts, mast: URI" || { echo "FAIL fits parts=$n"; fail=1; }
exit $fail
