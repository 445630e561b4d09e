#!/bin/bash
# bench_calib.sh - calibration figures (not a pass/fail test), each against baselines measured
# in the same run:
#   1. chain (overscan, trim, bias, dark, flat) on a 4096x4096 frame: `obsflow calibrate
#      --ccdproc` vs python3-ccdproc 2.4 ccd_process() (read + process + write in both), and vs
#      a memory-bandwidth baseline: copying the same bytes (inputs read + products written);
#   2. median + sigma-clip combine of five 4096x4096 float32 frames: `obsflow combine --ccdproc`
#      vs ccdproc.combine(), the same copy baseline, and the peak RSS of both against the bound
#      "2 output frames + the band buffer";
#   agreement with ccdproc (max relative difference) for both.
# Env: OBSFLOW_BIN_DIR (obsflow), BENCH_CALIB_N (frame side, default 4096), BENCH_CALIB_RUNS
# (runs of obsflow, best taken; default 3). Needs Debian's /usr/bin/python3 with ccdproc.
set -euo pipefail
BIN="${OBSFLOW_BIN_DIR:?}/obsflow"
N="${BENCH_CALIB_N:-4096}"
RUNS="${BENCH_CALIB_RUNS:-3}"
PY=/usr/bin/python3
if ! $PY -c 'import ccdproc' 2>/dev/null; then
    echo "bench_calib: skipped (python3-ccdproc not installed)"
    exit 0
fi
W=$(mktemp -d "${TMPDIR:-/tmp}/bench_calib.XXXXXX")
trap 'rm -rf "$W"' EXIT
cd "$W"

# ---- synthetic data (numpy, fixed seed) ----------------------------------------------------
$PY - "$N" <<'PYEOF'
import sys
import numpy as np
from astropy.io import fits
n = int(sys.argv[1]); rng = np.random.default_rng(42); os_ = 64
raw = rng.normal(1500, 8, size=(n, n + os_))
raw[:, :n] += rng.normal(3000, 60, size=(n, n))
hdr = fits.Header(); hdr["EXPTIME"] = 300.0; hdr["BUNIT"] = "adu"
fits.PrimaryHDU(np.clip(raw, 0, 65535).astype(np.uint16), header=hdr).writeto("raw.fits")
def img(name, a, dtype, exptime=None):
    h = fits.Header(); h["BUNIT"] = "adu"
    if exptime is not None: h["EXPTIME"] = exptime
    fits.PrimaryHDU(a.astype(dtype), header=h).writeto(name)
# masters in float64: ccdproc computes in the dtype of its inputs, the comparison is in double
img("bias.fits", rng.normal(2.0, 1.0, size=(n, n)), np.float64)
img("dark.fits", rng.normal(5.0, 1.0, size=(n, n)), np.float64, exptime=600.0)
img("flat.fits", rng.normal(1.0, 0.02, size=(n, n)) * 20000, np.float64)
for i in range(5):
    a = rng.normal(1000, 10, size=(n, n)); a[rng.integers(0, n, 2000), rng.integers(0, n, 2000)] += 8000
    img(f"c{i}.fits", a, np.float32)
PYEOF
OSCAN="[$((N + 1)):$((N + 64)),1:$N]"
TRIM="[1:$N,1:$N]"

# best wall time of RUNS runs of a command and the CPU time (user+sys) of the cheapest run,
# printed as "WALL CPU" in seconds
best() {
    local bw="" bc=""
    for _ in $(seq "$RUNS"); do
        /usr/bin/time -o "$W/time.txt" -f '%e %U %S' "$@" >/dev/null
        read -r w u s <"$W/time.txt"
        bw=$(echo "$w ${bw:-1e9}" | awk '{print ($1<$2)?$1:$2}')
        bc=$(echo "$u $s ${bc:-1e9}" | awk '{c=$1+$2; print (c<$3)?c:$3}')
    done
    echo "$bw $bc"
}

# ---- 1. chain ------------------------------------------------------------------------------
read -r t_chain c_chain < <(best "$BIN" calibrate --ccdproc --overscan "$OSCAN" --trim "$TRIM" --bias bias.fits \
    --dark dark.fits --dark-scale --flat flat.fits -o chain.fits raw.fits)
read -r t_chain_ns c_chain_ns < <(best "$BIN" calibrate --ccdproc --no-fsync --overscan "$OSCAN" --trim "$TRIM" \
    --bias bias.fits --dark dark.fits --dark-scale --flat flat.fits -o chain_ns.fits raw.fits)
bytes_chain=$(( $(stat -c %s raw.fits bias.fits dark.fits flat.fits | paste -sd+ | bc) + $(stat -c %s chain.fits) ))

# ---- 2. combine ----------------------------------------------------------------------------
read -r t_comb_ns c_comb_ns < <(best "$BIN" combine --no-fsync --ccdproc --method median --sigma-clip 3,3 \
    -o comb_ns.fits c0.fits c1.fits c2.fits c3.fits c4.fits)
read -r t_comb c_comb < <(best "$BIN" combine --ccdproc --method median --sigma-clip 3,3 -o comb.fits c0.fits \
    c1.fits c2.fits c3.fits c4.fits)
rss_comb=$(/usr/bin/time -f '%M' "$BIN" combine --ccdproc --method median --sigma-clip 3,3 \
    -o comb2.fits c0.fits c1.fits c2.fits c3.fits c4.fits 2>&1 >/dev/null | tail -1)
rss_tiny=$(/usr/bin/time -f '%M' "$BIN" combine --ccdproc --method median -o tiny.fits \
    "$OBSFLOW_SHARED/testdata/fits/m13.fits" 2>&1 >/dev/null | tail -1)
bytes_comb=$(( $(stat -c %s c0.fits c1.fits c2.fits c3.fits c4.fits | paste -sd+ | bc) + $(stat -c %s comb.fits) ))

# ---- ccdproc, the copy baseline and agreement (one python process) ---------------------------
$PY - "$OSCAN" "$TRIM" "$bytes_chain" "$bytes_comb" <<'PYEOF' >py.out
import resource, sys, time, warnings
import numpy as np
from astropy import units as u
from astropy.io import fits
from astropy.nddata import CCDData
import ccdproc
warnings.simplefilter("ignore")
import logging; logging.disable(logging.WARNING)
oscan, trim, bchain, bcomb = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])

def copy_time(nbytes):
    src = np.ones(nbytes // 8, dtype=np.float64); dst = np.empty_like(src)
    best = 1e9
    for _ in range(3):
        t = time.perf_counter(); np.copyto(dst, src); best = min(best, time.perf_counter() - t)
    return best

def rel(ours, ref):
    ok = np.isfinite(ref)
    return float(np.max(np.abs(ours[ok] - ref[ok]) / np.maximum(np.abs(ref[ok]), 1e-300)))

t = time.perf_counter(); c = time.process_time()
raw = CCDData.read("raw.fits", unit="adu")
bias = CCDData.read("bias.fits", unit="adu"); dark = CCDData.read("dark.fits", unit="adu")
flat = CCDData.read("flat.fits", unit="adu")
out = ccdproc.ccd_process(raw, oscan=oscan, trim=trim, master_bias=bias, dark_frame=dark,
                          master_flat=flat, exposure_key="EXPTIME", exposure_unit=u.s,
                          dark_scale=True)
out.write("chain_ccdproc.fits", overwrite=True)
t_chain = time.perf_counter() - t; cpu_chain = time.process_time() - c
chain_rel = rel(fits.getdata("chain.fits", "SCI"), out.data)
del raw, bias, dark, flat, out
print("py_chain", t_chain); print("py_chain_cpu", cpu_chain); print("chain_rel", chain_rel)
print("copy_chain", copy_time(bchain)); print("copy_comb", copy_time(bcomb))

t = time.perf_counter(); c = time.process_time()
comb = ccdproc.combine([f"c{i}.fits" for i in range(5)], method="median", sigma_clip=True,
                       sigma_clip_low_thresh=3, sigma_clip_high_thresh=3, unit="adu")
comb.write("comb_ccdproc.fits", overwrite=True)
t_comb = time.perf_counter() - t; cpu_comb = time.process_time() - c
print("py_comb", t_comb); print("py_comb_cpu", cpu_comb)
print("comb_rel", rel(fits.getdata("comb.fits", "SCI"), comb.data))
print("py_rss_kb", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
PYEOF
get() { awk -v k="$1" '$1==k {print $2}' py.out; }

frame_kb=$(( N * N * 8 / 1024 ))
band_kb=$(( 32 * 1024 ))
awk -v n="$N" -v tc="$t_chain" -v tcn="$t_chain_ns" -v tmn="$t_comb_ns" -v cc1="$c_chain" -v ccn="$c_chain_ns" -v cm1="$c_comb" -v cmn="$c_comb_ns" -v pcc="$(get py_chain_cpu)" -v pmc="$(get py_comb_cpu)" -v pc="$(get py_chain)" -v cc="$(get copy_chain)" \
    -v bc="$bytes_chain" -v cr="$(get chain_rel)" -v tm="$t_comb" -v pm="$(get py_comb)" \
    -v cm="$(get copy_comb)" -v bm="$bytes_comb" -v mr="$(get comb_rel)" -v rss="$rss_comb" \
    -v rss0="$rss_tiny" -v prss="$(get py_rss_kb)" -v fkb="$frame_kb" -v bkb="$band_kb" 'BEGIN {
  printf "calib chain %dx%d (overscan, trim, bias, dark, flat; float64 product):\n", n, n
  printf "  obsflow %.3f s (without fsync %.3f s) | ccdproc %.3f s -> %.1fx faster (%.1fx without fsync; target >= 10x)\n", tc, tcn, pc, pc/tc, pc/tcn
  printf "  CPU (user+sys): obsflow %.3f s (%.3f s without fsync) | ccdproc %.3f s -> %.1fx less CPU\n", cc1, ccn, pcc, pcc/ccn
  printf "  copy of the same %.0f MB: %.3f s -> chain = %.1fx memory-bandwidth time (%.1fx without fsync; CPU %.1fx; target <= 3x)\n", bc/1e6, cc, tc/cc, tcn/cc, ccn/cc
  printf "  agreement with ccdproc: max relative difference %.2e (target 1e-10)\n", cr
  printf "combine median + sigma clip of 5 x %dx%d float32:\n", n, n
  printf "  obsflow %.3f s (without fsync %.3f s) | ccdproc %.3f s -> %.1fx faster (%.1fx without fsync; target >= 30x)\n", tm, tmn, pm, pm/tm, pm/tmn
  printf "  CPU (user+sys): obsflow %.3f s (%.3f s without fsync) | ccdproc %.3f s -> %.1fx less CPU\n", cm1, cmn, pmc, pmc/cmn
  printf "  copy of the same %.0f MB: %.3f s -> combine = %.1fx memory-bandwidth time\n", bm/1e6, cm, tm/cm
  printf "  agreement with ccdproc: max relative difference %.2e\n", mr
  printf "  peak RSS obsflow %.0f MiB (process baseline %.0f MiB); bound 2 output frames + band = %.0f MiB; ccdproc process %.0f MiB\n", rss/1024, rss0/1024, (2*fkb+bkb)/1024, prss/1024
  printf "  RSS above baseline %.0f MiB -> %s\n", (rss-rss0)/1024, ((rss-rss0) <= 2*fkb+bkb) ? "within the bound" : "ABOVE the bound"
}'
