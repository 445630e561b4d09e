#!/bin/bash
# cli_header_wcs.sh - a celestial WCS built by blueprint expressions as FITS keywords
# (Header.CTYPEn/CRVALn/CRPIXn/CDi_j := ...) for a header that has none (NEOSSat: pointing in
# sexagesimal OBJCTRA/OBJCTDEC, roll OBJCTROL, 3"/pixel): lib/wcs (wcslib) derives the chunk
# from them and --compute projects the footprint with wcslib; the chunk equals the one CADC
# stored (neossat2caom2 expected XML) and the footprint's centre is the pointing.
set -u
BIN="$OBSFLOW_BIN_DIR/obsflow"
T="$OBSFLOW_TEST_TMP"
S="$OBSFLOW_SHARED"
h="$S/testdata/caom2/neossat2caom2/NEOS_SCI_2015347015200_clean.fits.header"
exp="$S/testdata/caom2/neossat2caom2/2015347015200.expected.xml"
cat > "$T/wcs.bp" <<'BP'
let pixscale = 3.0 / 3600
let rot = OBJCTROL + 90
extension 0:
Header.CTYPE1 := 'RA---TAN'
Header.CTYPE2 := 'DEC--TAN'
Header.CUNIT1 := 'deg'
Header.CUNIT2 := 'deg'
Header.CRVAL1 := hms(OBJCTRA)
Header.CRVAL2 := dms(OBJCTDEC)
Header.CRPIX1 := NAXIS1 / 2
Header.CRPIX2 := NAXIS2 / 2
Header.CD1_1 := cd('11', -pixscale * XBINNING, -pixscale * YBINNING, rot)
Header.CD1_2 := cd('12', -pixscale * XBINNING, -pixscale * YBINNING, rot)
Header.CD2_1 := cd('21', -pixscale * XBINNING, -pixscale * YBINNING, rot)
Header.CD2_2 := cd('22', -pixscale * XBINNING, -pixscale * YBINNING, rot)
Header.RADESYS := 'FK5'
BP
"$BIN" caom --collection NEOSSAT --compute --blueprint "$T/wcs.bp" -o "$T/w.xml" "$h" 2>"$T/err" ||
  { echo "FAIL: exit $?"; cat "$T/err"; exit 1; }
/usr/bin/python3 - "$T/w.xml" "$exp" <<'PY'
import sys, xml.etree.ElementTree as ET
act, exp = (ET.parse(p).getroot() for p in sys.argv[1:3])
def pos(r):
    p = r.find('.//{*}chunk/{*}position/{*}axis/{*}function')
    return {k: float(p.find('.//{*}' + k).text) for k in ('cd11', 'cd12', 'cd21', 'cd22')} | {
        'crpix1': float(p.find('{*}refCoord/{*}coord1/{*}pix').text),
        'crval1': float(p.find('{*}refCoord/{*}coord1/{*}val').text),
        'crpix2': float(p.find('{*}refCoord/{*}coord2/{*}pix').text),
        'crval2': float(p.find('{*}refCoord/{*}coord2/{*}val').text)}
a, e = pos(act), pos(exp)
bad = [k for k in e if abs(a[k] - e[k]) > 1e-9 * max(abs(e[k]), 1e-300)]
pts = [(float(x.find('{*}cval1').text), float(x.find('{*}cval2').text))
       for x in act.findall('.//{*}plane/{*}position/{*}bounds/{*}points/{*}point')]
# 1088 x 1030 pixels of 3": a 0.9 x 0.86 degree square around the pointing
ok_fp = (len(pts) == 4 and abs(sum(p[1] for p in pts) / 4 - e['crval2']) < 0.05
         and abs(sum(p[0] for p in pts) / 4 - e['crval1']) < 0.05)
for k in bad:
    print('FAIL %s: %r, CADC %r' % (k, a[k], e[k]))
print('ok   footprint around the pointing' if ok_fp else 'FAIL footprint: %r' % pts[:4])
sys.exit(1 if bad or not ok_fp else 0)
PY
