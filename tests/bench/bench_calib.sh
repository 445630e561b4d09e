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
# Like with like: both sides read the same files and write their product; ccdproc never fsyncs,
# so the headline ratios use `obsflow --no-fsync`; the product default (fsync before rename) is
# printed beside it. Every figure is the MEDIAN of RUNS runs (wall and CPU medians separately),
# ccdproc included (each run after the imports, in one python process). Two copy baselines:
# memory (numpy copy of the same number of bytes, the issue's "memory bandwidth") and files
# (read the same input files, write a file of the product's size, no fsync).
# Env: OBSFLOW_BIN_DIR (obsflow), BENCH_CALIB_N (frame side, default 4096), BENCH_CALIB_RUNS
# (runs of every command, median taken; default 3). Needs Debian's /usr/bin/python3 with ccdproc.
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

# median wall time and median CPU time (user+sys) of RUNS runs of a command: "WALL CPU" seconds.
# The product named first is removed before each run, as astropy's overwrite=True does (an
# atomic rename over an existing file makes ext4 start writing the new file back at once).
med() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
median_run() {
    local product=$1
    shift
    : >"$W/walls"; : >"$W/cpus"
    for _ in $(seq "$RUNS"); do
        rm -f "$product"
        /usr/bin/time -o "$W/time.txt" -f '%e %U %S' "$@" >/dev/null
        read -r w u s <"$W/time.txt"
        echo "$w" >>"$W/walls"; echo "$u $s" | awk '{print $1+$2}' >>"$W/cpus"
    done
    echo "$(med <"$W/walls") $(med <"$W/cpus")"
}

# ---- 1. chain ------------------------------------------------------------------------------
read -r t_chain c_chain < <(median_run chain.fits "$BIN" calibrate --ccdproc --overscan "$OSCAN" --trim "$TRIM" --bias bias.fits \
    --dark dark.fits --dark-scale --flat flat.fits -o chain.fits raw.fits)
read -r t_chain_ns c_chain_ns < <(median_run chain_ns.fits "$BIN" calibrate --ccdproc --no-fsync --overscan "$OSCAN" --trim "$TRIM" \
    --bias bias.fits --dark dark.fits --dark-scale --flat flat.fits -o chain_ns.fits raw.fits)
bytes_chain=$(( $(stat -c %s raw.fits bias.fits dark.fits flat.fits | paste -sd+ | bc) + $(stat -c %s chain.fits) ))

# ---- 2. combine ----------------------------------------------------------------------------
read -r t_comb_ns c_comb_ns < <(median_run comb_ns.fits "$BIN" combine --no-fsync --ccdproc --method median --sigma-clip 3,3 \
    -o comb_ns.fits c0.fits c1.fits c2.fits c3.fits c4.fits)
read -r t_comb c_comb < <(median_run comb.fits "$BIN" combine --ccdproc --method median --sigma-clip 3,3 -o comb.fits c0.fits \
    c1.fits c2.fits c3.fits c4.fits)
rss_comb=$(/usr/bin/time -f '%M' "$BIN" combine --ccdproc --method median --sigma-clip 3,3 \
    -o comb2.fits c0.fits c1.fits c2.fits c3.fits c4.fits 2>&1 >/dev/null | tail -1)
rss_tiny=$(/usr/bin/time -f '%M' "$BIN" combine --ccdproc --method median -o tiny.fits \
    "$OBSFLOW_SHARED/testdata/fits/m13.fits" 2>&1 >/dev/null | tail -1)
bytes_comb=$(( $(stat -c %s c0.fits c1.fits c2.fits c3.fits c4.fits | paste -sd+ | bc) + $(stat -c %s comb.fits) ))

# ---- ccdproc, the copy baseline and agreement (one python process) ---------------------------
$PY - "$OSCAN" "$TRIM" "$bytes_chain" "$bytes_comb" "$RUNS" "$(stat -c %s chain_ns.fits)" \
    "$(stat -c %s comb_ns.fits)" <<'PYEOF' >py.out
import resource, sys, time, warnings
import numpy as np
from astropy import units as u
from astropy.io import fits
from astropy.nddata import CCDData
import ccdproc
warnings.simplefilter("ignore")
import logging; logging.disable(logging.WARNING)
oscan, trim, bchain, bcomb = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
runs, pchain, pcomb = int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])

def median_of(fn):
    walls, cpus = [], []
    for _ in range(runs):
        t = time.perf_counter(); c = time.process_time()
        res = fn()
        walls.append(time.perf_counter() - t); cpus.append(time.process_time() - c)
    return float(np.median(walls)), float(np.median(cpus)), res

def file_copy_time(inputs, out_bytes):
    """read the same input files, write a file of the product's size (no fsync)"""
    blob = np.ones(out_bytes, dtype=np.uint8).tobytes()
    def run():
        for p in inputs:
            with open(p, "rb") as f:
                while f.read(1 << 24):
                    pass
        with open("copy.out", "wb") as f:
            f.write(blob)
    return median_of(run)[0]

def copy_time(nbytes):
    src = np.ones(nbytes // 8, dtype=np.float64); dst = np.empty_like(src)
    return median_of(lambda: np.copyto(dst, src))[0]

def rel(ours, ref):
    ok = np.isfinite(ref)
    return float(np.max(np.abs(ours[ok] - ref[ok]) / np.maximum(np.abs(ref[ok]), 1e-300)))

def chain():
    raw = CCDData.read("raw.fits", unit="adu")
    bias = CCDData.read("bias.fits", unit="adu"); dark = CCDData.read("dark.fits", unit="adu")
    flat = CCDData.read("flat.fits", unit="adu")
    out = ccdproc.ccd_process(raw, oscan=oscan, trim=trim, master_bias=bias, dark_frame=dark,
                              master_flat=flat, exposure_key="EXPTIME", exposure_unit=u.s,
                              dark_scale=True)
    out.write("chain_ccdproc.fits", overwrite=True)
    return out.data

t_chain, cpu_chain, ref = median_of(chain)
print("py_chain", t_chain); print("py_chain_cpu", cpu_chain)
print("chain_rel", rel(fits.getdata("chain.fits", "SCI"), ref))
print("chain_rel_ns", rel(fits.getdata("chain_ns.fits", "SCI"), ref))
del ref
print("copy_chain", copy_time(bchain)); print("copy_comb", copy_time(bcomb))
print("fcopy_chain", file_copy_time(["raw.fits", "bias.fits", "dark.fits", "flat.fits"], pchain))
print("fcopy_comb", file_copy_time([f"c{i}.fits" for i in range(5)], pcomb))

def comb():
    c = ccdproc.combine([f"c{i}.fits" for i in range(5)], method="median", sigma_clip=True,
                        sigma_clip_low_thresh=3, sigma_clip_high_thresh=3, unit="adu")
    c.write("comb_ccdproc.fits", overwrite=True)
    return c.data

t_comb, cpu_comb, ref = median_of(comb)
print("py_comb", t_comb); print("py_comb_cpu", cpu_comb)
print("comb_rel", rel(fits.getdata("comb.fits", "SCI"), ref))
print("py_rss_kb", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
PYEOF
get() { awk -v k="$1" '$1==k {print $2}' py.out; }

frame_kb=$(( N * N * 8 / 1024 ))
band_kb=$(( 32 * 1024 ))
echo "$("$BIN" version 2>/dev/null || true) | $(nproc) cores | load $(cut -d' ' -f1-3 /proc/loadavg) | median of $RUNS runs each"

awk -v n="$N" -v tc="$t_chain" -v tcn="$t_chain_ns" -v tmn="$t_comb_ns" -v cc1="$c_chain" -v ccn="$c_chain_ns" -v cm1="$c_comb" -v cmn="$c_comb_ns" -v pcc="$(get py_chain_cpu)" -v pmc="$(get py_comb_cpu)" -v pc="$(get py_chain)" -v cc="$(get copy_chain)" \
    -v fc="$(get fcopy_chain)" -v fm="$(get fcopy_comb)" -v crn="$(get chain_rel_ns)" \
    -v bc="$bytes_chain" -v cr="$(get chain_rel)" -v tm="$t_comb" -v pm="$(get py_comb)" \
    -v cm="$(get copy_comb)" -v bm="$bytes_comb" -v mr="$(get comb_rel)" -v rss="$rss_comb" \
    -v rss0="$rss_tiny" -v prss="$(get py_rss_kb)" -v fkb="$frame_kb" -v bkb="$band_kb" 'BEGIN {
  printf "calib chain %dx%d (overscan, trim, bias, dark, flat; float64 product; both write it):\n", n, n
  printf "  wall: obsflow %.3f s without fsync | ccdproc %.3f s (no fsync) -> %.1fx faster (target >= 10x)\n", tcn, pc, pc/tcn
  printf "        obsflow with fsync (product default) %.3f s -> %.1fx\n", tc, pc/tc
  printf "  CPU (user+sys): obsflow %.3f s (%.3f s with fsync) | ccdproc %.3f s -> %.1fx less CPU\n", ccn, cc1, pcc, pcc/ccn
  printf "  copy of the same %.0f MB in memory: %.3f s -> chain = %.1fx memory-bandwidth time (target <= 3x; CPU %.1fx)\n", bc/1e6, cc, tcn/cc, ccn/cc
  printf "  file baseline (read the inputs, write the product size, no fsync): %.3f s -> chain = %.1fx\n", fc, tcn/fc
  printf "  agreement with ccdproc: max relative difference %.2e (%.2e without fsync; target 1e-10)\n", cr, crn
  printf "combine median + sigma clip of 5 x %dx%d float32 (both write the product):\n", n, n
  printf "  wall: obsflow %.3f s without fsync | ccdproc %.3f s (no fsync) -> %.1fx faster (target >= 30x)\n", tmn, pm, pm/tmn
  printf "        obsflow with fsync (product default) %.3f s -> %.1fx\n", tm, pm/tm
  printf "  CPU (user+sys): obsflow %.3f s (%.3f s with fsync) | ccdproc %.3f s -> %.1fx less CPU\n", cmn, cm1, pmc, pmc/cmn
  printf "  copy of the same %.0f MB in memory: %.3f s -> combine = %.1fx; file baseline %.3f s -> %.1fx\n", bm/1e6, cm, tmn/cm, fm, tmn/fm
  printf "  agreement with ccdproc: max relative difference %.2e\n", mr
  printf "  peak RSS obsflow %.0f MiB (process baseline %.0f MiB); bound 2 output frames + band = %.0f MiB; ccdproc process %.0f MiB\n", rss/1024, rss0/1024, (2*fkb+bkb)/1024, prss/1024
  printf "  RSS above baseline %.0f MiB -> %s\n", (rss-rss0)/1024, ((rss-rss0) <= 2*fkb+bkb) ? "within the bound" : "ABOVE the bound"
}'
