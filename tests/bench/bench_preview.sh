#!/bin/bash
# bench_preview.sh - preview time of `obsflow preview` against Debian's fitscut 1.4.4 on the
# same files, same scaling (--all --jpg --autoscale=99.5 --asinh-scale), full-size JPEG. Debian's
# fitscut cannot read HST multi-extension files, so the ACS raw SCI,1 is also given to both as a
# single-HDU copy. Figures (median of hyperfine runs) and the ratio; not a pass/fail test.
# Env: OBSFLOW_BIN_DIR, OBSFLOW_SHARED (set by tools/bench.sh). Needs hyperfine and fitscut.
set -euo pipefail
OBS=$OBSFLOW_BIN_DIR/obsflow
D=$OBSFLOW_SHARED/testdata/fits
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
command -v fitscut >/dev/null && command -v hyperfine >/dev/null || {
  echo "bench_preview: needs fitscut and hyperfine (tools/deps.sh installs them)"; exit 1; }
/usr/bin/python3 - "$D" "$W" <<'PY'
import sys, numpy as np
from astropy.io import fits
d, w = sys.argv[1], sys.argv[2]
sci = fits.open(f"{d}/j8bt05njq_raw.fits")["SCI", 1]
fits.PrimaryHDU(sci.data, sci.header).writeto(f"{w}/acs_hrc_sci1.fits")
rng = np.random.default_rng(1)
img = rng.normal(100.0, 10.0, (4096, 4096)).astype(np.float32)
img[::97, ::89] += 5000.0  # "stars"
fits.PrimaryHDU(img).writeto(f"{w}/synthetic_4096.fits")
PY
files=("$D/m51.fits" "$D/saao_a8280271.fits" "$D/kastb_b27_science.fits"
       "$W/acs_hrc_sci1.fits" "$W/synthetic_4096.fits")
printf '%-20s %10s %10s %6s %9s %9s %6s %10s\n' file obs_wall fc_wall ratio obs_cpu fc_cpu ratio obs_thumb
for f in "${files[@]}"; do
  b=$(basename "$f" .fits)
  hyperfine -N --warmup 2 --min-runs 10 --export-json "$W/$b.json" \
    "$OBS preview -o $W/$b.obs.jpg $f" \
    "fitscut --all --jpg --autoscale=99.5 --asinh-scale -f $f $W/$b.fc.jpg" \
    "$OBS preview --size 128 -o $W/${b}_thumb.jpg $f" >/dev/null 2>&1
  python3 - "$W/$b.json" "$b" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
med = [x["median"] * 1000 for x in r]
cpu = [(x["user"] + x["system"]) * 1000 for x in r]
print(f"{sys.argv[2]:<20} {med[0]:10.1f} {med[1]:10.1f} {med[0] / med[1]:6.2f} "
      f"{cpu[0]:9.1f} {cpu[1]:9.1f} {cpu[0] / cpu[1]:6.2f} {med[2]:10.1f}")
PY
done
echo "(milliseconds; wall = median of >= 10 runs, cpu = mean user+system; ratio = obsflow /"
echo " fitscut, below 1 means obsflow is faster; obs_thumb = obsflow --size 128)"
