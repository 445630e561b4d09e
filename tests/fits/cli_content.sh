#!/bin/bash
# cli_content.sh - obsflow caom --content-length/--content-checksum: the size and MD5 the storage
# reports for each file (a real ingest has them from the storage HEAD; the file read may hold only
# its headers) become the artifacts' contentLength and contentChecksum and nothing is measured
# from those files; 0 measures the file; "-" is no length / no checksum; --no-content drops them; wrong
# counts and malformed values are usage errors (exit 2).
set -u
BIN="$OBSFLOW_BIN_DIR/obsflow"
T="$OBSFLOW_TEST_TMP"
S="$OBSFLOW_SHARED"
fail=0
d="$S/testdata/caom2/wallaby2caom2/dr2"
a="$d/SoFiA_J124915+043926_cube.fits.header"
b="$d/SoFiA_J124915+043926_mom0.fits.header"
sum=md5:0123456789abcdef0123456789abcdef
"$BIN" caom --collection WALLABY --content-length 570435840 --content-checksum $sum \
  --content-length 0 --content-checksum - -o "$T/c.xml" "$a" "$b" \
  || { echo "FAIL: exit $?"; exit 1; }
/usr/bin/python3 - "$T/c.xml" "$b" <<'PY' || fail=1
import hashlib, os, sys, xml.etree.ElementTree as ET
r = ET.parse(sys.argv[1]).getroot()
arts = {a.find('{*}uri').text: a for a in r.iter('{http://www.opencadc.org/caom2/xml/v2.4}artifact')}
def get(uri, tag):
    x = arts[uri].find('{*}' + tag)
    return x.text if x is not None else None
cube = 'cadc:WALLABY/SoFiA_J124915+043926_cube.fits'
mom0 = 'cadc:WALLABY/SoFiA_J124915+043926_mom0.fits'
want_md5 = 'md5:' + hashlib.md5(open(sys.argv[2], 'rb').read()).hexdigest()
checks = [
    ('storage length', get(cube, 'contentLength'), '570435840'),
    ('storage checksum', get(cube, 'contentChecksum'), 'md5:0123456789abcdef0123456789abcdef'),
    ('0: measured length', get(mom0, 'contentLength'), str(os.path.getsize(sys.argv[2]))),
    ('0: measured checksum', get(mom0, 'contentChecksum'), want_md5),
]
bad = 0
for name, got, want in checks:
    ok = got == want
    bad += not ok
    print(('ok   ' if ok else 'FAIL ') + '%s: %s%s' % (name, got, '' if ok else ' (want %s)' % want))
sys.exit(1 if bad else 0)
PY
# a length without a checksum: the length, no checksum, nothing measured
"$BIN" caom --collection WALLABY --content-length 42 -o "$T/d.xml" "$a" || { echo "FAIL: exit $?"; fail=1; }
grep -q '<caom2:contentLength>42</caom2:contentLength>' "$T/d.xml" \
  && ! grep -q contentChecksum "$T/d.xml" && echo "ok   length only" || { echo "FAIL length only"; fail=1; }
# a checksum without a length ("-": the storage reported none): the checksum, no length
"$BIN" caom --collection WALLABY --content-length - --content-checksum $sum -o "$T/f.xml" "$a" \
  || { echo "FAIL: exit $?"; fail=1; }
grep -q "<caom2:contentChecksum>$sum</caom2:contentChecksum>" "$T/f.xml" \
  && ! grep -q contentLength "$T/f.xml" && echo "ok   checksum only" || { echo "FAIL checksum only"; fail=1; }
"$BIN" caom --collection WALLABY --no-content --content-length 42 -o "$T/e.xml" "$a" \
  || { echo "FAIL: exit $?"; fail=1; }
! grep -q 'contentLength\|contentChecksum' "$T/e.xml" && echo "ok   --no-content" \
  || { echo "FAIL --no-content"; fail=1; }
usage() {  # expected exit 2 and a message naming the option
  local want="$1"; shift
  "$BIN" caom --collection WALLABY -o "$T/u.xml" "$@" 2>"$T/u.err"
  local rc=$?
  if [ $rc -eq 2 ] && grep -q -- "$want" "$T/u.err"; then
    echo "ok   usage: $want"
  else
    echo "FAIL usage ($*): exit $rc: $(cat "$T/u.err")"; fail=1
  fi
}
usage "one per file" --content-length 1 "$a" "$b"
usage "one per file" --content-length 1 --content-length 2 --content-checksum $sum "$a" "$b"
usage "goes with --content-length" --content-checksum $sum "$a"
usage "goes with a byte count" --content-length 0 --content-checksum $sum "$a"
usage "not a byte count" --content-length -5 "$a"
usage "not a byte count" --content-length 12x "$a"
usage "expected a checksum URI" --content-length 1 --content-checksum md5:XYZ "$a"
usage "expected a checksum URI" --content-length 1 --content-checksum md5: "$a"
usage "expected a checksum URI" --content-length 1 --content-checksum 0123456789abcdef "$a"
exit $fail
