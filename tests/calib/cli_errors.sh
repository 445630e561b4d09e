#!/bin/sh
# Bad input to `obsflow calibrate` and `obsflow combine`: stable exit codes (2 usage, 23
# calibration failed), one "obsflow <cmd>: <code>: <reason>" line naming the file, and no output
# file (nor temporary) left behind.
set -u
BIN="$OBSFLOW_BIN_DIR/obsflow"
D="$OBSFLOW_SHARED/testdata/fits"
T="${OBSFLOW_TEST_TMP:-/tmp}/cli_errors"
rm -rf "$T" && mkdir -p "$T"
fails=0

# expect EXIT PATTERN -- command...
expect() {
    want=$1 pat=$2
    shift 2
    "$@" >"$T/out" 2>"$T/err"
    rc=$?
    if [ "$rc" -ne "$want" ] || ! grep -q -- "$pat" "$T/err"; then
        echo "FAIL: $* -> exit $rc (want $want), stderr: $(cat "$T/err")"
        fails=$((fails + 1))
    else
        echo "ok   exit $rc: $(head -1 "$T/err")"
    fi
    if [ "$want" -ne 0 ] && ls "$T" | grep -q -e 'tmp-' -e '^o.fits$'; then
        echo "FAIL: output or temporary left behind: $(ls "$T")"
        fails=$((fails + 1))
    fi
}

head -c 100000 "$D/kastb_b21_bias.fits" >"$T/trunc.fits"
printf 'SIMPLE  = this is not FITS' >"$T/corrupt.fits"
"$BIN" calibrate --overscan '[2050:2080,1:350]' --trim '[1:2048,1:350]' -o "$T/bias.fits" \
    "$D/kastb_b21_bias.fits" || { echo "FAIL: setup"; exit 1; }

expect 23 'truncated' "$BIN" calibrate -o "$T/o.fits" "$T/trunc.fits"
expect 23 'corrupt.fits' "$BIN" calibrate -o "$T/o.fits" "$T/corrupt.fits"
expect 23 'nosuch.fits' "$BIN" calibrate -o "$T/o.fits" "$T/nosuch.fits"
expect 23 'shape mismatch: bias ".*m13.fits" is 300x300' \
    "$BIN" calibrate --bias "$D/m13.fits" -o "$T/o.fits" "$D/kastb_b22_bias.fits"
expect 23 'shape mismatch: bias ".*bias.fits" is 2048x350 but the frame is 2112x350' \
    "$BIN" calibrate --bias "$T/bias.fits" -o "$T/o.fits" "$D/kastb_b22_bias.fits"
expect 23 'overscan: section "\[2050:2200,1:350\]" lies outside' \
    "$BIN" calibrate --overscan '[2050:2200,1:350]' -o "$T/o.fits" "$D/kastb_b22_bias.fits"
expect 23 'trim: section "\[5:1,1:2\]"' \
    "$BIN" calibrate --trim '[5:1,1:2]' -o "$T/o.fits" "$D/kastb_b22_bias.fits"
expect 23 'truncated' "$BIN" calibrate --flat "$T/trunc.fits" -o "$T/o.fits" "$D/kastb_b22_bias.fits"
expect 23 'no image' "$BIN" calibrate -o "$T/o.fits" "$D/s7g1700gl_dead.fits"
expect 23 'could not create' "$BIN" calibrate -o "$T/nodir/o.fits" "$D/kastb_b22_bias.fits"
expect 23 'shape mismatch' "$BIN" combine -o "$T/o.fits" "$D/kastb_b21_bias.fits" "$D/m13.fits"
expect 23 'truncated' "$BIN" combine -o "$T/o.fits" "$D/kastb_b21_bias.fits" "$T/trunc.fits"
expect 2 'usage' "$BIN" calibrate "$D/kastb_b22_bias.fits"
expect 2 'gain' "$BIN" calibrate --gain -1 -o "$T/o.fits" "$D/kastb_b22_bias.fits"
expect 2 'method' "$BIN" combine --method mode -o "$T/o.fits" "$D/kastb_b21_bias.fits"
expect 2 'sigma-clip' "$BIN" combine --sigma-clip 3 -o "$T/o.fits" "$D/kastb_b21_bias.fits"
expect 2 'one value per input' "$BIN" combine --weights 1,2,3 -o "$T/o.fits" \
    "$D/kastb_b21_bias.fits" "$D/kastb_b22_bias.fits"
# an existing product is never replaced by a failed run
cp "$T/bias.fits" "$T/keep.fits"
"$BIN" calibrate --bias "$D/m13.fits" -o "$T/keep.fits" "$D/kastb_b22_bias.fits" 2>/dev/null
if cmp -s "$T/bias.fits" "$T/keep.fits"; then echo "ok   failed run left the old product intact"
else echo "FAIL: failed run changed an existing product"; fails=$((fails + 1)); fi
# tile-compressed input is read (cfitsio decompresses it; it was once reported truncated): the
# median of the RICE copy of M13 and the plain one is the plain image, pixel for pixel
"$BIN" combine --method median -o "$T/m13c.fits" "$D/m13_rice.fits" "$D/m13.fits" 2>"$T/err"
if [ $? -eq 0 ] && /usr/bin/python3 - "$T/m13c.fits" "$D/m13.fits" <<'PYEOF'; then
import sys
import numpy as np
from astropy.io import fits
sys.exit(0 if np.array_equal(fits.getdata(sys.argv[1], "SCI"),
                             fits.getdata(sys.argv[2]).astype(np.float64)) else 1)
PYEOF
    echo "ok   compressed input combined equal to the plain image"
else echo "FAIL: compressed input: $(cat "$T/err")"; fails=$((fails + 1)); fi

[ "$fails" -eq 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "all ok"
