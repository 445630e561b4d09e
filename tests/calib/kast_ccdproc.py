#!/usr/bin/python3
"""Kast blue bias/flat/science chain: obsflow combine + calibrate --ccdproc against
python3-ccdproc 2.4 computed here (Debian's /usr/bin/python3). Agreement: 1e-10 relative.

Usage: kast_ccdproc.py   (env OBSFLOW_BIN_DIR, OBSFLOW_SHARED, OBSFLOW_TEST_TMP)
"""
import os
import subprocess
import sys
import warnings

try:
    import numpy as np
    from astropy import units as u
    from astropy.io import fits
    from astropy.nddata import CCDData
    import ccdproc
except ImportError as exc:  # the oracle is not installed: skip, do not pass
    print("skipped: python3-ccdproc not available:", exc)
    sys.exit(77)

RTOL = 1e-10
OSCAN = "[2050:2080,1:350]"
TRIM = "[1:2048,1:350]"
GAIN = 1.2      # e-/ADU (Kast blue, PypeIt)
RDNOISE = 3.7   # e-

BIN = os.path.join(os.environ["OBSFLOW_BIN_DIR"], "obsflow")
DATA = os.path.join(os.environ["OBSFLOW_SHARED"], "testdata", "fits")
TMP = os.environ.get("OBSFLOW_TEST_TMP", "/tmp")
warnings.simplefilter("ignore")
failures = []


def run(*args):
    p = subprocess.run([BIN, *args], capture_output=True, text=True)
    if p.returncode != 0:
        print("FAIL: obsflow", " ".join(args), "->", p.returncode, p.stderr.strip())
        sys.exit(1)


def raw(name):
    return CCDData.read(os.path.join(DATA, name), unit="adu")


def out(name):
    return os.path.join(TMP, name)


def compare(label, path, ccd, expect_err=True):
    """Compare SCI/ERR of our product with a CCDData; scale-aware relative tolerance."""
    with fits.open(path) as h:
        names = [x.name for x in h]
        if names[1:4] != ["SCI", "ERR", "DQ"]:
            failures.append(f"{label}: extensions {names}")
            return
        planes = [("SCI", h["SCI"].data, ccd.data)]
        if expect_err:
            planes.append(("ERR", h["ERR"].data, ccd.uncertainty.array))
        for plane, ours, ref in planes:
            ours = np.asarray(ours, dtype=np.float64)
            ref = np.asarray(ref, dtype=np.float64)
            if ours.shape != ref.shape:
                failures.append(f"{label} {plane}: shape {ours.shape} != {ref.shape}")
                continue
            nan_o, nan_r = np.isnan(ours), np.isnan(ref)
            if not np.array_equal(nan_o, nan_r):
                failures.append(f"{label} {plane}: NaN pattern differs "
                                f"({nan_o.sum()} vs {nan_r.sum()})")
                continue
            ok = ~nan_r
            scale = np.max(np.abs(ref[ok])) if ok.any() else 1.0
            diff = np.abs(ours[ok] - ref[ok])
            # relative to each value, with a floor of 1e-10 of the plane's scale for values
            # that cancel to ~0 (e.g. bias after overscan subtraction)
            tol = RTOL * np.maximum(np.abs(ref[ok]), 1e-3 * scale)
            worst = np.max(diff / np.maximum(np.abs(ref[ok]), 1e-3 * scale)) if ok.any() else 0
            bad = int(np.count_nonzero(diff > tol))
            print(f"{label} {plane}: {ref.shape} nan={int(nan_r.sum())} worst_rel={worst:.3e} "
                  f"bad={bad}")
            if bad:
                failures.append(f"{label} {plane}: {bad} pixels beyond {RTOL} (worst {worst:.3e})")


# --- ccdproc reference chain ---------------------------------------------------------------
def oscan_trim(ccd):
    c = ccdproc.subtract_overscan(ccd, fits_section=OSCAN, median=True)
    return ccdproc.trim_image(c, fits_section=TRIM)


biases = [oscan_trim(raw(n)) for n in ("kastb_b21_bias.fits", "kastb_b22_bias.fits")]
mbias = ccdproc.combine(biases, method="average", sigma_clip=True,
                        sigma_clip_low_thresh=3, sigma_clip_high_thresh=3)
flats = [ccdproc.ccd_process(raw(n), oscan=OSCAN, trim=TRIM, master_bias=mbias)
         for n in ("kastb_b11_domeflat.fits", "kastb_b12_domeflat.fits")]
mflat = ccdproc.combine(flats, method="median")
sci = ccdproc.ccd_process(raw("kastb_b27_science.fits"), oscan=OSCAN, trim=TRIM, error=True,
                          gain=GAIN * u.electron / u.adu, readnoise=RDNOISE * u.electron,
                          master_bias=mbias, master_flat=mflat, gain_corrected=False)

# --- obsflow ------------------------------------------------------------------------------
for n in ("b21_bias", "b22_bias", "b11_domeflat", "b12_domeflat"):
    args = ["calibrate", "--ccdproc", "--overscan", OSCAN, "--trim", TRIM]
    if "flat" in n:
        args += ["--bias", out("mbias.fits")]
    if n == "b11_domeflat":  # the master bias is needed from here on
        run("combine", "--ccdproc", "--method", "average", "--sigma-clip", "3,3",
            "-o", out("mbias.fits"), out("b21_bias.fits"), out("b22_bias.fits"))
    run(*args, "-o", out(n + ".fits"), os.path.join(DATA, "kastb_" + n + ".fits"))
run("combine", "--ccdproc", "--method", "median", "-o", out("mflat.fits"),
    out("b11_domeflat.fits"), out("b12_domeflat.fits"))
run("calibrate", "--ccdproc", "--overscan", OSCAN, "--trim", TRIM, "--gain", str(GAIN),
    "--readnoise", str(RDNOISE), "--bias", out("mbias.fits"), "--flat", out("mflat.fits"),
    "-o", out("sci.fits"), os.path.join(DATA, "kastb_b27_science.fits"))

# the in-memory chain and small bands give the same bits as the default streamed run
for extra, name in ((["--in-memory"], "sci_mem.fits"), (["--band-mb", "1"], "sci_band.fits")):
    run("calibrate", "--ccdproc", *extra, "--overscan", OSCAN, "--trim", TRIM, "--gain", str(GAIN),
        "--readnoise", str(RDNOISE), "--bias", out("mbias.fits"), "--flat", out("mflat.fits"),
        "-o", out(name), os.path.join(DATA, "kastb_b27_science.fits"))
    with fits.open(out(name)) as a, fits.open(out("sci.fits")) as b:
        for x in ("SCI", "ERR"):
            if not np.array_equal(a[x].data, b[x].data, equal_nan=True):
                failures.append(f"science {x}: {name} differs from the streamed run")
        print(f"science {name}: bit-identical to the streamed run")

compare("bias b21", out("b21_bias.fits"), biases[0], expect_err=False)
compare("master bias", out("mbias.fits"), mbias)
compare("flat b11", out("b11_domeflat.fits"), flats[0])
compare("master flat", out("mflat.fits"), mflat)
compare("science", out("sci.fits"), sci)

with fits.open(out("sci.fits")) as h:
    p = h[0].header
    for key, want in (("CALMODE", "ccdproc-2.4"), ("BIASFILE", "mbias.fits"),
                      ("FLATFILE", "mflat.fits"), ("TRIMSEC", TRIM), ("BIASSECA", OSCAN)):
        if p.get(key) != want:
            failures.append(f"science header {key}={p.get(key)!r}, want {want!r}")
    if p.get("GAINUSED") != GAIN or h["SCI"].header.get("BUNIT") != "ELECTRONS":
        failures.append("science gain/BUNIT not recorded")
    if p.get("OBJECT", "").strip() != "J1217p3905":
        failures.append(f"science primary header not carried over (OBJECT={p.get('OBJECT')!r})")
with fits.open(out("mbias.fits")) as h:
    if h[0].header.get("NCOMBINE") != 2 or h[0].header.get("COMBMETH") != "average":
        failures.append("master bias NCOMBINE/COMBMETH missing")

if failures:
    print("FAILED:\n  " + "\n  ".join(failures))
    sys.exit(1)
print("ok: obsflow matches ccdproc", ccdproc.__version__)
