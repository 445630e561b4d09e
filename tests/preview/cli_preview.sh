#!/bin/bash
# cli_preview.sh - `obsflow preview` on real files, checked with an outside decoder (PIL in
# Debian's python3): JPEG, greyscale, sizes; bad input gives exit 28 and a message.
set -euo pipefail
OBS=$OBSFLOW_BIN_DIR/obsflow
D=$OBSFLOW_SHARED/testdata/fits
T=$OBSFLOW_TEST_TMP
rm -f "$T"/*.jpg
"$OBS" preview -o "$T/full.jpg" "$D/j8bt05njq_raw.fits"
"$OBS" preview --size 128 -o "$T/thumb.jpg" "$D/j8bt05njq_raw.fits"
"$OBS" preview --size 128 -o "$T/kast_thumb.jpg" "$D/kastb_b27_science.fits"
/usr/bin/python3 - "$T" <<'PY'
import sys
from PIL import Image
t = sys.argv[1]
def check(name, size):
    im = Image.open(f"{t}/{name}")
    assert im.format == "JPEG", im.format
    assert im.mode == "L", im.mode
    assert im.size == size, (name, im.size, size)
    lo, hi = im.getextrema()
    assert hi - lo > 100, (name, lo, hi)
check("full.jpg", (1062, 1044))
check("thumb.jpg", (128, 126))
check("kast_thumb.jpg", (128, 21))
print("ok")
PY
# outside oracle: Debian's fitscut (same autoscale and asinh options) agrees pixel for pixel in
# shape and orientation (correlation of the two JPEGs; upside down would correlate far less)
for f in m51 m13 saao_a8280271; do
  "$OBS" preview -o "$T/o_$f.jpg" "$D/$f.fits"
  fitscut --all --jpg --autoscale=99.5 --asinh-scale -f "$D/$f.fits" "$T/f_$f.jpg"
done
/usr/bin/python3 - "$T" <<'PY'
import sys
import numpy as np
from PIL import Image
t = sys.argv[1]
for f in ["m51", "m13", "saao_a8280271"]:
    a = np.asarray(Image.open(f"{t}/o_{f}.jpg"), float)
    b = np.asarray(Image.open(f"{t}/f_{f}.jpg"), float)
    assert a.shape == b.shape, (f, a.shape, b.shape)
    r = np.corrcoef(a.ravel(), b.ravel())[0, 1]
    rf = np.corrcoef(a.ravel(), b[::-1].ravel())[0, 1]
    assert r > 0.95 and r > rf + 0.2, (f, r, rf)
    print(f, "correlation with fitscut", round(r, 4))
PY
# usage errors
set +e
"$OBS" preview "$D/m51.fits" 2>/dev/null; [ $? -eq 2 ] || { echo "missing -o should exit 2"; exit 1; }
"$OBS" preview --size -3 -o "$T/x.jpg" "$D/m51.fits" 2>/dev/null; [ $? -eq 2 ] || { echo "bad size should exit 2"; exit 1; }
msg=$("$OBS" preview -o "$T/x.jpg" "$D/s7g1700gl_dead.fits" 2>&1); rc=$?
set -e
[ $rc -eq 28 ] || { echo "table-only file: exit $rc, want 28"; exit 1; }
echo "$msg" | grep -q "s7g1700gl_dead.fits" || { echo "message does not name the file: $msg"; exit 1; }
[ ! -e "$T/x.jpg" ] || { echo "output written on failure"; exit 1; }
echo "cli_preview ok"
