#!/bin/bash
# cli_bad_input.sh - obsflow caom on bad input: non-zero exit and exactly one message line
# naming the file, line or HDU (truncated header, card without "=", blueprint typo, unknown
# function, a file that is not FITS, a missing file), never a crash.
set -u
BIN="$OBSFLOW_BIN_DIR/obsflow"
T="$OBSFLOW_TEST_TMP"
S="$OBSFLOW_SHARED/testdata/caom2"
fail=0
check() { # check <name> <expected fragment> <args...>
  local name=$1 frag=$2
  shift 2
  "$BIN" caom --collection TEST "$@" >"$T/out" 2>"$T/err"
  local rc=$?
  local lines
  lines=$(wc -l <"$T/err")
  if [ $rc -ne 1 ] || [ "$lines" -ne 1 ] || ! grep -qF -- "$frag" "$T/err"; then
    echo "FAIL $name: rc=$rc lines=$lines stderr: $(cat "$T/err")"
    fail=1
  else
    echo "ok   $name: $(cat "$T/err")"
  fi
  if [ -s "$T/out" ]; then echo "FAIL $name: wrote a document"; fail=1; fi
}
pad() { printf '%-80s\n' "$@"; }
{ pad "SIMPLE  =                    T"; pad "NAXIS   =                    0"; printf 'OBJECT  = '"'"'trunc'; } >"$T/trunc.fits.header"
check truncated '"trunc.fits.header" line 3 (HDU 0): truncated header' "$T/trunc.fits.header"
{ pad "SIMPLE  =                    T"; pad "NAXIS        0"; pad "END"; } >"$T/noeq.fits.header"
check no-equals '"noeq.fits.header" line 2 (HDU 0): card without "="' "$T/noeq.fits.header"
printf 'Observation.type = OBJECT\nChunk.positon.resolution = 3\n' >"$T/typo.blueprint"
check blueprint-typo 'blueprint "typo.blueprint" line 2: unrecognized blueprint element' \
  --blueprint "$T/typo.blueprint" "$S/wallaby2caom2/dr2/SoFiA_J124915+043926_mom0.fits.header"
printf 'Observation.type = OBJECT\n\nObservation.target.name = lookup_target(header)\n' >"$T/fn.blueprint"
check unknown-function 'blueprint "fn.blueprint" line 3: unrecognized function "lookup_target"' \
  --blueprint "$T/fn.blueprint" "$S/wallaby2caom2/dr2/SoFiA_J124915+043926_mom0.fits.header"
printf 'Plane.calibrationLevel = ["OBJECT"]\n' >"$T/type.blueprint"
check wrong-type 'HDU 0: not a number for Plane.calibrationLevel' \
  --blueprint "$T/type.blueprint" "$S/wallaby2caom2/dr2/SoFiA_J124915+043926_mom0.fits.header"
head -c 2880 /dev/zero | tr '\0' 'x' >"$T/junk.fits"
printf 'SIMPLE  =                    T' | dd of="$T/junk.fits" conv=notrunc 2>/dev/null
check not-fits 'junk.fits' "$T/junk.fits"
head -c 100000 "$OBSFLOW_SHARED/testdata/fits/j8bt05njq_raw.fits" >"$T/cut_raw.fits"
check truncated-fits '"cut_raw.fits" HDU 1: truncated file' "$T/cut_raw.fits"
head -c 1000 "$OBSFLOW_SHARED/testdata/fits/m13.fits" >"$T/cut_head.fits"
check truncated-fits-header 'could not open FITS file "cut_head.fits"' "$T/cut_head.fits"
check missing-file 'could not open "/nonexistent/x.fits"' /nonexistent/x.fits
{ pad "SIMPLE  =                    T"; pad "NAXIS   =                    2"; pad "NAXIS1  =                   10"; pad "NAXIS2  =                   10"; pad "BITPIX  =                   16"; pad "CTYPE1  = 'RA---TAN'"; pad "CTYPE2  = 'PIXEL'"; pad "END"; } >"$T/halfpair.fits.header"
check broken-pair 'HDU 0: CTYPE1' "$T/halfpair.fits.header"
# usage errors exit 2
"$BIN" caom "$S/wallaby2caom2/dr2/SoFiA_J124915+043926_mom0.fits.header" >/dev/null 2>&1
[ $? -eq 2 ] || { echo "FAIL usage: missing --collection must exit 2"; fail=1; }
exit $fail
