#!/usr/bin/python3
"""HST ACS/HRC raw exposures (j8bt05njq, j8bt09jcq) through DQ initialisation (bad-pixel table,
A-to-D saturation), overscan, trim and ERR with `obsflow calibrate` (default, calacs-order
arithmetic); values checked against numpy computed here from the raw pixels.
"""
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
DATA = os.path.join(os.environ["OBSFLOW_SHARED"], "testdata", "fits")
TMP = os.environ.get("OBSFLOW_TEST_TMP", "/tmp")
OSCAN = "[2:19,1:1044]"      # the 19 leading serial overscan columns (LTV1 = 19), first skipped
TRIM = "[20:1043,1:1024]"    # the 1024x1024 HRC image area
GAIN, RN, ATOD = 2.0, 4.7, 65535
failures = []


def plane(h, name):
    """Image data of an extension, expanding HST constant arrays (NAXIS=0, NPIX1/NPIX2)."""
    if h[name].data is not None:
        return h[name].data
    hd = h[name].header
    value = hd.get("PIXVALUE", 0)
    dtype = np.int32 if name == "DQ" else np.float64
    return np.full((hd["NPIX2"], hd["NPIX1"]), value, dtype=dtype)


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


for root in ("j8bt05njq", "j8bt09jcq"):
    raw_path = os.path.join(DATA, root + "_raw.fits")
    out = os.path.join(TMP, root + "_flt.fits")
    p = subprocess.run([BIN, "calibrate", "--overscan", OSCAN, "--trim", TRIM, "--gain", str(GAIN),
                        "--readnoise", str(RN), "--atodsat", str(ATOD),
                        "--bpixtab", os.path.join(DATA, "j4d1435jj_bpx.fits"), "-o", out, raw_path],
                       capture_output=True, text=True)
    check(p.returncode == 0, f"{root}: calibrate exit {p.returncode} {p.stderr.strip()}")
    if p.returncode:
        continue
    raw = fits.open(raw_path)
    r = raw["SCI"].data.astype(np.float64)
    # independent oracle: per-row median of the overscan columns (no DQ set there in raw)
    level = np.median(r[:, 1:19], axis=1)
    sci = ((r - level[:, None]) * GAIN)[0:1024, 19:1043]
    err = np.sqrt(np.maximum(sci, 0) + RN ** 2)
    sat = r[0:1024, 19:1043] >= ATOD
    with fits.open(out) as h:
        check([x.name for x in h][1:4] == ["SCI", "ERR", "DQ"], f"{root}: SCI, ERR, DQ at 1-3")
        s, e, d = plane(h, "SCI"), plane(h, "ERR"), plane(h, "DQ")
        check(s.shape == (1024, 1024), f"{root}: trimmed to 1024x1024 ({s.shape})")
        check(np.allclose(s, sci, rtol=1e-12, atol=1e-9), f"{root}: SCI = (raw - row median) * gain")
        check(np.allclose(e, err, rtol=1e-12, atol=1e-9), f"{root}: ERR = sqrt(max(S,0) + RN^2)")
        check(np.array_equal((d & 2048) != 0, sat),
              f"{root}: DQ 2048 exactly where raw >= {ATOD} ({int(sat.sum())} pixels)")
        # CCDAMP is C: the HRC table's rows are all amplifier D, so no table bit may be set
        check(int(np.count_nonzero(d & ~2048)) == 0, f"{root}: no bad-pixel rows for amp C")
        ph = h[0].header
        check(ph.get("ROOTNAME", "").strip() == root, f"{root}: primary header carried over")
        check(ph.get("BLEVCORR") == "COMPLETE" and ph.get("DQICORR") == "COMPLETE",
              f"{root}: BLEVCORR/DQICORR recorded")
        check(ph.get("TRIMSEC") == TRIM and ph.get("BIASSECA") == OSCAN, f"{root}: sections recorded")
        check(abs(ph.get("BLEVMEAN") - level.mean()) < 1e-9,
              f"{root}: BLEVMEAN {ph.get('BLEVMEAN'):.4f} = mean overscan level")
        check(h["SCI"].header.get("BUNIT") == "ELECTRONS", f"{root}: BUNIT ELECTRONS")
        check(h["SCI"].header.get("CD1_1") == raw["SCI"].header["CD1_1"],
              f"{root}: SCI WCS carried over")
    # the in-memory chain gives the same bits as the streamed one (bands of 1 MiB here)
    out_m = os.path.join(TMP, root + "_flt_mem.fits")
    out_b = os.path.join(TMP, root + "_flt_band.fits")
    common = ["--overscan", OSCAN, "--trim", TRIM, "--gain", str(GAIN), "--readnoise", str(RN),
              "--atodsat", str(ATOD)]
    pm = subprocess.run([BIN, "calibrate", *common, "--in-memory", "-o", out_m, raw_path])
    pb = subprocess.run([BIN, "calibrate", *common, "--band-mb", "1", "-o", out_b, raw_path])
    check(pm.returncode == 0 and pb.returncode == 0, f"{root}: in-memory and 1 MiB-band runs")
    with fits.open(out_m) as hm, fits.open(out_b) as hb, fits.open(out) as h:
        same = all(np.array_equal(plane(hm, x), plane(h, x), equal_nan=True) and
                   np.array_equal(plane(hb, x), plane(h, x), equal_nan=True)
                   for x in ("SCI", "ERR", "DQ"))
        check(same, f"{root}: streamed (default and 1 MiB bands) and in-memory products are equal")
        if not sat.any():
            check(hm["DQ"].data is None and hm["DQ"].header.get("NPIX1") == 1024,
                  f"{root}: in memory, an all-zero DQ is written as a constant array")
    if root == "j8bt05njq":
        # the known overscan level of this exposure, and the saturated core of the bright star
        check(abs(level.mean() - 1135.1231) < 1e-4 and level[0] == 1135.5,
              f"{root}: overscan level 1135.12 DN (row 1: 1135.5 DN)")
        check(int(sat.sum()) == 380, f"{root}: 380 A-to-D saturated pixels")

# the same table for amplifier D does flag pixels: run without trimming on a copy whose CCDAMP
# says D, and check the first table row (PIX1=26, PIX2=1, LENGTH=2, AXIS=2, VALUE=8 -> x=26+19)
src = os.path.join(DATA, "j8bt05njq_raw.fits")
ampd = os.path.join(TMP, "ampd_raw.fits")
with fits.open(src) as h:
    h[0].header["CCDAMP"] = "D"
    h.writeto(ampd, overwrite=True)
out = os.path.join(TMP, "ampd_flt.fits")
p = subprocess.run([BIN, "calibrate", "--bpixtab", os.path.join(DATA, "j4d1435jj_bpx.fits"),
                    "-o", out, ampd], capture_output=True, text=True)
check(p.returncode == 0, f"amp D: calibrate exit {p.returncode} {p.stderr.strip()}")
if p.returncode == 0:
    with fits.open(out) as h:
        d = plane(h, "DQ")
        check(d[0, 44] & 8 and d[1, 44] & 8 and not d[2, 44] & 8,
              "amp D: table row 1 flags (45,1)-(45,2) with 8")
        tab = fits.open(os.path.join(DATA, "j4d1435jj_bpx.fits"))[1].data
        rows = tab[(tab["CCDGAIN"] == 2)]
        check(int(np.count_nonzero(d)) > 100 and len(rows) > 0,
              f"amp D: {int(np.count_nonzero(d))} pixels flagged from {len(rows)} gain-2 rows")

if failures:
    print("FAILED:", len(failures))
    sys.exit(1)
print("all ok")
