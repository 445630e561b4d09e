#!/usr/bin/python3
"""`obsflow combine` reads band by band: 20 frames of 1024x512 combined (median + sigma clip)
with a 4 MiB band budget; the result equals numpy on the whole stack, and the peak RSS grows by
less than two output frames plus the band budget over a 2-frame run (holding the inputs would
need 20 frames)."""
import json
import os
import subprocess
import sys

try:
    import numpy as np
    from astropy.io import fits
except ImportError as exc:
    print("skipped: numpy/astropy not available:", exc)
    sys.exit(77)

BIN = os.path.join(os.environ["OBSFLOW_BIN_DIR"], "obsflow")
if not os.access("/usr/bin/time", os.X_OK):
    print("skipped: GNU time (Debian package time) is not installed")
    sys.exit(77)
TMP = os.path.join(os.environ.get("OBSFLOW_TEST_TMP", "/tmp"), "combine_memory")
os.makedirs(TMP, exist_ok=True)
NX, NY, N, BAND_MB = 1024, 512, 20, 4
rng = np.random.default_rng(20261121)
paths = []
stack = np.empty((N, NY, NX), dtype=np.float64)
for i in range(N):
    a = rng.normal(1000.0, 10.0, size=(NY, NX)).astype(np.float32)
    a[rng.integers(0, NY, 50), rng.integers(0, NX, 50)] += 5000.0  # cosmic rays
    stack[i] = a
    p = os.path.join(TMP, f"f{i:02d}.fits")
    fits.PrimaryHDU(a).writeto(p, overwrite=True)
    paths.append(p)


def run(inputs, out):
    """Run one combine under GNU time (the parent's own RSS must not count, as it would with
    getrusage of forked children); returns its --stats and peak RSS in bytes."""
    cmd = ["/usr/bin/time", "-f", "maxrss_kb=%M", BIN, "combine", "--ccdproc", "--method",
           "median", "--sigma-clip", "3,3", "--band-mb", str(BAND_MB), "--stats", "-o", out,
           *inputs]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode:
        print("FAIL:", p.returncode, p.stderr)
        sys.exit(1)
    rss = [int(l.split("=")[1]) for l in p.stderr.splitlines() if l.startswith("maxrss_kb=")][0]
    return json.loads(p.stdout), rss * 1024


small, rss_small = run(paths[:2], os.path.join(TMP, "small.fits"))
big, rss_big = run(paths, os.path.join(TMP, "big.fits"))
frame = NX * NY * 8
growth = rss_big - rss_small
print(f"band rows {big['band_rows']} ({big['band_bytes']} bytes); peak RSS 2 frames "
      f"{rss_small / 2**20:.1f} MiB, {N} frames {rss_big / 2**20:.1f} MiB, growth "
      f"{growth / 2**20:.1f} MiB; output frame {frame / 2**20:.1f} MiB; stack {N * frame / 2**20:.0f} MiB")
failures = []
if big["band_rows"] >= NY or big["band_bytes"] > BAND_MB << 20:
    failures.append("not read in bands within the budget")
if growth > 2 * frame + (BAND_MB << 20):
    failures.append(f"peak memory grew by {growth} bytes > 2 frames + band")

# numpy on the whole stack: astropy sigma_clip(maxiters=1, mean/std) then nanmedian
mean = stack.mean(axis=0)
std = stack.std(axis=0)
clipped = np.where((stack < mean - 3 * std) | (stack > mean + 3 * std), np.nan, stack)
want = np.nanmedian(clipped, axis=0)
with fits.open(os.path.join(TMP, "big.fits")) as h:
    got = h["SCI"].data
    bad = np.count_nonzero(np.abs(got - want) > 1e-10 * np.abs(want))
    print(f"median+clip vs numpy: {bad} pixels differ; NCOMBINE={h[0].header.get('NCOMBINE')}")
    if bad or h[0].header.get("NCOMBINE") != N:
        failures.append("combined values differ from numpy")
if failures:
    print("FAILED:", failures)
    sys.exit(1)
print("ok")
