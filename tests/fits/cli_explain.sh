#!/bin/bash
# cli_explain.sh - obsflow caom with blueprint expressions end to end: a rule whose input is
# missing writes no element (add(WLEN, scale(BANDPASS, -0.5)) used to write 0.0) and --explain
# lists it with its file and line; a computed Header keyword (:= or an old-form function, which
# used to be dropped silently) feeds the other rules; an error
# in a Header expression names the blueprint file, line and rule.
set -u
BIN="$OBSFLOW_BIN_DIR/obsflow"
T="$OBSFLOW_TEST_TMP"
S="$OBSFLOW_SHARED"
h="$S/testdata/caom2/dao2caom2/dao_c182_2017_009814.fits.header"
fail=0
cat > "$T/x.bp" <<'BP'
# WLEN is not in this header, WAVELENG is
Observation.environment.ambientTemp = add(WLEN, scale(BANDPASS, -0.5))
Observation.environment.seeing := (WAVELENG - BANDPASS / 2) * 1e-3
Header.OBJECT := upper(OBJECT)
Header.OBSERVER = concat(PINAME, ' (PI)')
Observation.telescope.keywords = ['OBSERVER']
let missing = NOPE * 2
Observation.environment.tau := missing
BP
"$BIN" caom --collection DAO --explain --blueprint "$T/x.bp" -o "$T/x.xml" "$h" 2>"$T/err" ||
  { echo "FAIL: exit $?"; cat "$T/err"; exit 1; }
/usr/bin/python3 - "$T/x.xml" <<'PY' || fail=1
import sys, xml.etree.ElementTree as ET
r = ET.parse(sys.argv[1]).getroot()
env = r.find('{*}environment')
ok = (env is not None and env.find('{*}ambientTemp') is None and env.find('{*}tau') is None
      and float(env.find('{*}seeing').text) == 3.95
      and r.find('{*}target/{*}name').text == 'DARK'
      and sorted(k.text for k in r.findall('{*}telescope/{*}keywords/{*}keyword'))
          == ['(PI)', 'Balam'])
print('ok   no value is no element, Header expressions' if ok else 'FAIL document')
sys.exit(0 if ok else 1)
PY
for want in \
  'HDU 0: Observation.environment.ambientTemp: no value   [blueprint "x.bp" line 2: := add(WLEN, scale(BANDPASS, -0.5))]' \
  'HDU 0: Observation.environment.seeing = 3.9500000000000002   [blueprint "x.bp" line 3: := (WAVELENG - BANDPASS / 2) * 1e-3]' \
  'HDU 0: let missing: no value   [blueprint "x.bp" line 7: = NOPE * 2]' \
  'HDU 0: Observation.environment.tau: no value   [blueprint "x.bp" line 8: := missing]' \
  'HDU 0: Header.OBJECT = DARK   [blueprint "x.bp" line 4: := upper(OBJECT)]'; do
  if grep -qF -- "$want" "$T/err"; then echo "ok   explain: $want"; else echo "FAIL explain: $want"; fail=1; fi
done
# without --explain nothing is printed
"$BIN" caom --collection DAO --blueprint "$T/x.bp" -o "$T/y.xml" "$h" 2>"$T/err2" || fail=1
[ ! -s "$T/err2" ] || { echo "FAIL: output without --explain"; cat "$T/err2"; fail=1; }
# an error inside a Header expression names the file, line and rule
printf 'Observation.type = object\nHeader.OBJECT := num(TELESCOP)\n' > "$T/bad.bp"
"$BIN" caom --collection DAO --blueprint "$T/bad.bp" -o "$T/z.xml" "$h" 2>"$T/err3"
rc=$?
want='blueprint "bad.bp" line 2: Header.OBJECT: num(): not a number: "1.8-m"'
if [ $rc -eq 1 ] && grep -qF -- "$want" "$T/err3"; then echo "ok   Header expression error"; else
  echo "FAIL Header expression error (exit $rc)"; cat "$T/err3"; fail=1; fi
"$BIN" caom --help | grep -q 'lib/blueprint/README.md' || { echo "FAIL: --help"; fail=1; }
exit $fail
