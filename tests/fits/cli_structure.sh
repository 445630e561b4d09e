#!/bin/bash
# cli_structure.sh - blueprint structure rules through obsflow caom (lib/blueprint/README.md
# "Structure rules") on a header with a primary image, an IMAGE extension, a BINTABLE and a
# tile-compressed image: which HDUs become parts (Part = all | image | false, an expression,
# per extension), members and provenance inputs from a keyword family (ID_nnnnn, one given twice,
# ID_PROG not part of it), a Header. rule that hides a family member, a DerivedObservation
# only when the members expression finds some, and planes from the naming rule (a
# Plane.productID rule evaluated per file: one plane per product, its values from its files).
set -u
BIN="$OBSFLOW_BIN_DIR/obsflow"
T="$OBSFLOW_TEST_TMP/cli_structure"
mkdir -p "$T"
fails=0
card() { printf '%-80s' "$1"; }
{
  card "SIMPLE  =                    T"; card "BITPIX  =                   16"
  card "NAXIS   =                    2"; card "NAXIS1  =                   10"
  card "NAXIS2  =                   10"; card "EXTEND  =                    T"
  card "OBJECT  = 'M31     '"
  card "ID_PROG = 'cpapir  '"
  card "ID_00001= 'S/data/cpapir/data/101116/101116_0041.fits.fits.gz'"
  card "ID_00002= 'S/data/cpapir/data/101116/101116_0042.fits.fits.gz'"
  card "ID_00003= 'S/data/cpapir/data/101116/101116_0041.fits.fits.gz'"
  card "ID_00004= 'S/data/cpapir/data/101116/101116_0043.fits.fits.gz'"
  card "END"
  card "XTENSION= 'IMAGE   '"; card "BITPIX  =                  -32"
  card "NAXIS   =                    2"; card "NAXIS1  =                   10"
  card "NAXIS2  =                   10"; card "EXTNAME = 'SCI     '"; card "END"
  card "XTENSION= 'BINTABLE'"; card "BITPIX  =                    8"
  card "NAXIS   =                    2"; card "NAXIS1  =                    8"
  card "NAXIS2  =                    3"; card "PCOUNT  =                    0"
  card "GCOUNT  =                    1"; card "TFIELDS =                    1"
  card "TFORM1  = 'D       '"; card "EXTNAME = 'FLAGS   '"; card "END"
  card "XTENSION= 'BINTABLE'"; card "BITPIX  =                    8"
  card "NAXIS   =                    2"; card "NAXIS1  =                    8"
  card "NAXIS2  =                   10"; card "PCOUNT  =                    0"
  card "GCOUNT  =                    1"; card "TFIELDS =                    1"
  card "TFORM1  = '1PB(100)'"; card "ZIMAGE  =                    T"
  card "EXTNAME = 'COMP    '"; card "END"
} | fold -w 80 > "$T/c101116_x_SCIRED.fits.header"
h="$T/c101116_x_SCIRED.fits.header"

# run NAME EXPECTED-PARTS BLUEPRINT-TEXT: the parts of the one artifact, by name
run() {
  local name="$1" want="$2"
  printf '%s\n' "$3" > "$T/$name.bp"
  if ! "$BIN" caom --collection OMM --blueprint "$T/$name.bp" -o "$T/$name.xml" "$h" \
      2>"$T/$name.err"; then
    echo "FAIL $name: obsflow caom failed: $(cat "$T/$name.err")"; fails=$((fails + 1)); return
  fi
  local got
  got=$(/usr/bin/python3 -c 'import sys, xml.etree.ElementTree as ET
r = ET.parse(sys.argv[1]).getroot()
print(" ".join(p.findtext("{*}name") for p in r.iter("{http://www.opencadc.org/caom2/xml/v2.4}part")))' "$T/$name.xml")
  if [ "$got" = "$want" ]; then echo "ok   $name: parts $got"; else
    echo "FAIL $name: parts \"$got\", expected \"$want\""; fails=$((fails + 1)); fi
}
run default "0 1 2 3" ""
run all "0 1 2 3" "Part = all"
run image "0 1 3" "Part = image"
run expression "0 1" "Part := not has(XTENSION) or EXTNAME == 'SCI'"
run none_keeps "0 1 2 3" "Part := if(false, 'image')"
run per_extension "0 2 3" "extension 1:
Part = false"
run ignore "0 3" "Part = image
extension 1:
Part = {ignore}"
run later_wins "0 1 2 3" "Part = image
Part = all"

# a value that is not a part rule is an error naming the rule and the value
printf 'Part := OBJECT\n' > "$T/bad.bp"
if "$BIN" caom --collection OMM --blueprint "$T/bad.bp" -o "$T/bad.xml" "$h" 2>"$T/bad.err"; then
  echo "FAIL bad: accepted Part = M31"; fails=$((fails + 1))
elif grep -q 'blueprint ".*bad.bp" line 1: Part: "M31" is not a part rule' "$T/bad.err"; then
  echo "ok   bad: $(head -c 200 "$T/bad.err")"
else
  echo "FAIL bad: $(cat "$T/bad.err")"; fails=$((fails + 1))
fi

# members and inputs from the ID_ family; a Header. rule hides ID_00004
cat > "$T/fam.bp" <<'BP'
let reduced = matches(file_name(), '_SCIRED[.]')
DerivedObservation.members := if(reduced, family('ID_[0-9]*', resub(basename(value), '^S?([^.]+).*$', 'caom:OMM/C\1')))
Plane.provenance.name = CPAPIR
Plane.provenance.inputs := if(reduced, family('ID_[0-9]*', resub(basename(value), '^S?([^.]+).*$', 'caom:OMM/C\1/C\1_SCI')))
Header.ID_00004 = None
BP
cp "$h" "$T/c101116_x_SCI.fits.header"
for f in c101116_x_SCIRED c101116_x_SCI; do
  "$BIN" caom --collection OMM --blueprint "$T/fam.bp" -o "$T/$f.xml" "$T/$f.fits.header" \
    2>"$T/$f.err" || { echo "FAIL $f: $(cat "$T/$f.err")"; fails=$((fails + 1)); }
done
/usr/bin/python3 - "$T/c101116_x_SCIRED.xml" "$T/c101116_x_SCI.xml" <<'PY' || fails=$((fails + 1))
import sys, xml.etree.ElementTree as ET
X = '{http://www.w3.org/2001/XMLSchema-instance}type'
red, sci = (ET.parse(p).getroot() for p in sys.argv[1:3])
mem = [e.text for e in red.findall('{*}members/{*}observationURI')]
inp = [e.text for e in red.findall('.//{*}provenance/{*}inputs/{*}planeURI')]
bad = 0
def check(what, got, want):
    global bad
    ok = got == want
    bad += not ok
    print(('ok   ' if ok else 'FAIL ') + what + ': ' + repr(got) + ('' if ok else ' != ' + repr(want)))
check('derived', red.get(X).split(':')[-1], 'DerivedObservation')
check('members', mem, ['caom:OMM/C101116_0041', 'caom:OMM/C101116_0042'])
check('inputs', inp, ['caom:OMM/C101116_0041/C101116_0041_SCI',
                      'caom:OMM/C101116_0042/C101116_0042_SCI'])
check('simple when no members', sci.get(X).split(':')[-1], 'SimpleObservation')
check('no inputs', sci.findall('.//{*}provenance/{*}inputs/{*}planeURI'), [])
sys.exit(1 if bad else 0)
PY
# planes from the naming rule: Plane.productID evaluated per file makes one plane per product
for x in raw flt; do cp "$h" "$T/j8bt05njq_$x.fits.header"; done
cat > "$T/planes.bp" <<'BP'
Part = image
Observation.observationID := resub(file_id(), '_(raw|flt)$', '')
Plane.productID := file_id()
Plane.calibrationLevel := if(endswith(product_id(), '_flt'), 2, 1)
Plane.provenance.name := concat('calacs-', product_id())
BP
cat > "$T/oneplane.bp" <<'BP'
Observation.observationID := resub(file_id(), '_(raw|flt)$', '')
Plane.productID := resub(file_id(), '_(raw|flt)$', '_all')
BP
for b in planes oneplane; do
  "$BIN" caom --collection HST --blueprint "$T/$b.bp" -o "$T/$b.xml" "$T/j8bt05njq_raw.fits.header"     "$T/j8bt05njq_flt.fits.header" 2>"$T/$b.err" || { echo "FAIL $b: $(cat "$T/$b.err")"; fails=$((fails + 1)); }
done
"$BIN" caom --collection HST -o "$T/norule.xml" "$T/j8bt05njq_raw.fits.header"   "$T/j8bt05njq_flt.fits.header" 2>"$T/norule.err" || { echo "FAIL norule: $(cat "$T/norule.err")"; fails=$((fails + 1)); }
/usr/bin/python3 - "$T/planes.xml" "$T/oneplane.xml" "$T/norule.xml" <<'PY' || fails=$((fails + 1))
import sys, xml.etree.ElementTree as ET
def planes(p):
    r = ET.parse(p).getroot()
    return r.findtext('{*}observationID'), sorted([
        (pl.findtext('{*}productID'), pl.findtext('{*}calibrationLevel'),
         pl.findtext('{*}provenance/{*}name'),
         sorted(a.findtext('{*}uri').rsplit('/', 1)[-1]
                for a in pl.findall('{*}artifacts/{*}artifact')),
         [pt.findtext('{*}name') for pt in pl.iter('{http://www.opencadc.org/caom2/xml/v2.4}part')])
        for pl in r.findall('{*}planes/{*}plane')])
bad = 0
def check(what, got, want):
    global bad
    ok = got == want
    bad += not ok
    print(('ok   ' if ok else 'FAIL ') + what + ': ' + repr(got) + ('' if ok else ' != ' + repr(want)))
check('one plane per product', planes(sys.argv[1]), ('j8bt05njq', [
    ('j8bt05njq_flt', '2', 'calacs-j8bt05njq_flt', ['j8bt05njq_flt.fits'], ['0', '1', '3']),
    ('j8bt05njq_raw', '1', 'calacs-j8bt05njq_raw', ['j8bt05njq_raw.fits'], ['0', '1', '3'])]))
check('one product, one plane', [(x[0], x[3]) for x in planes(sys.argv[2])[1]],
      [('j8bt05njq_all', ['j8bt05njq_flt.fits', 'j8bt05njq_raw.fits'])])
check('no rule: the first file names the plane', [(x[0], x[3]) for x in planes(sys.argv[3])[1]],
      [('j8bt05njq_raw', ['j8bt05njq_flt.fits', 'j8bt05njq_raw.fits'])])
sys.exit(1 if bad else 0)
PY
[ "$fails" -eq 0 ] || { echo "$fails failure(s)"; exit 1; }
