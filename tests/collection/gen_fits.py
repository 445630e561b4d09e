#!/usr/bin/env python3
"""gen_fits.py - small FITS files for the collection tests and benchmark, written by hand
(python3 stdlib only): 2880-byte blocks of 80-character cards and a tiny 8x8 float32 image.

With real=True four real FITS files of ../shared/testdata/fits join them (REAL). The headers
of the generated ones are the shared OMM CPAPIR headers (../shared/testdata/caom2/omm2caom2: a raw
science frame and a reduced image) with the identity values varied per file (OBJECT, night,
file name, pointing, date, airmass), so the files are real-looking CPAPIR frames under names
the collections' rule groups into observations:

    C{yymmdd}_{target}_SCI.fits        the raw plane (product_id SCI)
    C{yymmdd}_{target}_SCI_{n}.fits    more files of the same plane
    C{yymmdd}_{target}_SCIRED.fits     a second plane of the same observation

RULE gives obs_id C{yymmdd}_{target} and product_id SCI or SCIRED; a few names per hundred
(BAD_NAMES) match no rule, and are the entries a run must reject.

Usable as a module (generate(), expected(), rewrite_card()) or from the command line:
    gen_fits.py DIR COUNT [--empty] [--per-obs N]

SPDX-License-Identifier: Apache-2.0
"""
import os
import re
import shutil
import stat
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.normpath(os.path.join(HERE, "..", ".."))
SHARED = os.environ.get("OBSFLOW_SHARED", os.path.join(SRC, "..", "shared"))
OMM = os.path.join(SHARED, "testdata", "caom2", "omm2caom2")
TEMPLATES = {"SCI": "C170318_0121_SCI.fits.header",
             "SCIRED": "C101116_QSO2251+158_I_SCIRED.fits.header"}

# real FITS files of ../shared/testdata/fits copied in under names the rule takes (an
# observation of one file, and one of two planes from two different files)
FITS_DIR = os.path.join(SHARED, "testdata", "fits")
REAL = [("m13.fits", "C170501_M13_SCI.fits"), ("saao_a8280271.fits", "C170502_SAAO_SCI.fits"),
        ("apogee_sip-wcs.fits", "C170503_APOGEE_SCI.fits"),
        ("ngc1316_comp.fits", "C170503_APOGEE_SCIRED.fits")]

# the collections' rule (PCRE2 syntax); WIDE_RULE also takes the ".fit" extension
RULE = r"^(?<obs_id>C\d{6}_[^_]+)_(?<product_id>SCIRED|SCI)(_\d+)?\.fits$"
WIDE_RULE = r"^(?<obs_id>C\d{6}_[^_]+)_(?<product_id>SCIRED|SCI)(_\d+)?\.fits?$"
INCLUDE = ["*.fits", "*.fit"]
# names no rule matches (each formatted with a counter)
BAD_NAMES = ["C17_X%04d_SCI.fits", "C170318_X%04d_RAW.fits", "D170318_X%04d_SCI.fits"]
BLOCK = 2880
NX = NY = 8


def py_rule(rule):
    """The rule for python's re (named groups spelled (?P<name>...))."""
    return re.compile(rule.replace("(?<", "(?P<"))


def card(key, value, comment=""):
    """One 80-character card; value a python str (quoted), bool, int or float."""
    if isinstance(value, bool):
        v = "%20s" % ("T" if value else "F")
    elif isinstance(value, int):
        v = "%20d" % value
    elif isinstance(value, float):
        v = "%20s" % repr(value)
    else:
        s = "'%-8s'" % value.replace("'", "''")
        v = "%-20s" % s
    c = "%-8s= %s" % (key, v)
    if comment:
        c += " / " + comment
    return c[:80].ljust(80)


def read_template(path):
    """The cards of a shared header (one card per line, END and what follows dropped)."""
    cards = []
    with open(path, "rb") as f:
        for line in f.read().decode("ascii", "replace").splitlines():
            line = line.rstrip("\r\n")
            if line[:8].rstrip() == "END":
                break
            if not line.strip():
                continue
            cards.append(line[:80].ljust(80))
    return cards


class Templates:
    """The shared headers, cut down to an 8x8 float32 image, as lists of cards."""

    def __init__(self, omm=OMM):
        self.cards = {}
        for prod, name in TEMPLATES.items():
            path = os.path.join(omm, name)
            if not os.path.exists(path):
                raise FileNotFoundError("shared OMM header missing: %s" % path)
            out = []
            for c in read_template(path):
                k = c[:8].rstrip()
                if k == "BITPIX":
                    c = card("BITPIX", -32, "Bits per pixel")
                elif k == "NAXIS1":
                    c = card("NAXIS1", NX, "Dimension for the X axis")
                elif k == "NAXIS2":
                    c = card("NAXIS2", NY, "Dimension for the Y axis")
                elif k in ("BZERO", "BSCALE", "BLANK", "CHECKSUM", "DATASUM"):
                    continue
                out.append(c)
            self.cards[prod] = out

    def header(self, prod, values):
        """Header bytes (whole blocks) of product @p prod with @p values {KEY: value}:
        existing cards replaced in place, the others appended before END."""
        left = dict(values)
        out = []
        for c in self.cards[prod]:
            k = c[:8].rstrip()
            if k in left:
                out.append(card(k, left.pop(k)))
            else:
                out.append(c)
        for k, v in left.items():
            out.append(card(k, v))
        out.append("END".ljust(80))
        text = "".join(out)
        text += " " * (-len(text) % BLOCK)
        return text.encode("ascii")


def data_block(seed):
    """An 8x8 big-endian float32 image, padded to a block."""
    px = struct.pack(">%df" % (NX * NY), *[float((seed * 31 + i) % 997) for i in range(NX * NY)])
    return px + b"\0" * (-len(px) % BLOCK)


def plan(count, per_obs=None, bad_every=97):
    """File names (in order) for about @p count files: observations of 1..3 files (SCI,
    sometimes a second SCI file, sometimes SCIRED), or exactly @p per_obs SCI files each;
    one name in @p bad_every matches no rule. Returns [(name, product or None, index)]."""
    out = []
    obs = 0
    while len(out) < count:
        night = "%02d%02d%02d" % (17 + obs // 20000 % 8, 1 + obs // 1000 % 12,
                                  1 + obs // 32 % 28)
        oid = "C%s_T%05d" % (night, obs)
        if per_obs:
            names = [(oid + "_SCI.fits" if k == 0 else "%s_SCI_%d.fits" % (oid, k), "SCI")
                     for k in range(per_obs)]
        else:
            names = [(oid + "_SCI.fits", "SCI")]
            if obs % 4 == 1:
                names.append((oid + "_SCI_2.fits", "SCI"))
            if obs % 3 == 2:
                names.append((oid + "_SCIRED.fits", "SCIRED"))
        for n, p in names:
            if len(out) < count:
                out.append((n, p, obs))
        if bad_every and obs % bad_every == bad_every - 1 and len(out) < count:
            out.append((BAD_NAMES[obs // bad_every % len(BAD_NAMES)] % obs, None, obs))
        obs += 1
    return out


def values_for(name, prod, idx, version=0):
    """The header values that vary per file."""
    m = re.match(r"C(\d{6})_([^_]+)_", name)
    night = m.group(1) if m else "170318"
    target = m.group(2) if m else "X%05d" % idx
    day = int(night[4:6])
    return {
        "OBJECT": "%s%s" % (target, "" if not version else "-v%d" % version),
        "NIGHTID": night,
        "FILE_INI": "%s_%04d" % (night, idx % 10000),
        "DATE-OBS": "20%s-%s-%sT%02d:%02d:%02d" % (night[0:2], night[2:4], "%02d" % day,
                                                  idx % 24, idx * 7 % 60, idx * 13 % 60),
        "RA": 10.0 + (idx * 7.31) % 340.0,
        "DEC": -30.0 + (idx * 3.17) % 90.0,
        "CRVAL1": 10.0 + (idx * 7.31) % 340.0,
        "CRVAL2": -30.0 + (idx * 3.17) % 90.0,
        "AIRMASS": 1.0 + (idx % 50) / 50.0,
    } if prod else {"OBJECT": target}


def write_file(tpl, path, name, prod, idx, version=0):
    with open(path, "wb") as f:
        f.write(tpl.header(prod or "SCI", values_for(name, prod, idx, version)))
        f.write(data_block(idx))


def generate(directory, count, empty=False, per_obs=None, bad_every=97, subdirs=0, tpl=None,
             real=False):
    """Write about @p count files into @p directory (created); 0-byte files with @p empty
    (listing benchmarks), spread over @p subdirs subdirectories when non-zero; with @p real
    also the REAL files (at the top). Returns the plan (see plan()) with relative paths."""
    os.makedirs(directory, exist_ok=True)
    if not empty and tpl is None:
        tpl = Templates()
    files = plan(count, per_obs, bad_every)
    made = set()
    out = []
    for name, prod, idx in files:
        rel = name
        if subdirs:
            sub = "d%03d" % (idx % subdirs)
            rel = os.path.join(sub, name)
            if sub not in made:
                os.makedirs(os.path.join(directory, sub), exist_ok=True)
                made.add(sub)
        path = os.path.join(directory, rel)
        if empty:
            os.mknod(path, 0o644 | stat.S_IFREG)
        else:
            write_file(tpl, path, name, prod, idx)
        out.append((rel, prod, idx))
    if real:
        for src, name in REAL:
            shutil.copyfile(os.path.join(FITS_DIR, src), os.path.join(directory, name))
            out.append((name, name.rsplit("_", 1)[1][:-5], -1))
    return out


def expected(names, rule=RULE):
    """{obs_id: {product_id: [base names]}} of the names @p rule matches, and the list of the
    names it does not: the grouping a run must find (python's re as the oracle)."""
    rx = py_rule(rule)
    groups, bad = {}, []
    for n in names:
        m = rx.match(os.path.basename(n))
        if not m:
            bad.append(n)
            continue
        groups.setdefault(m.group("obs_id"), {}).setdefault(m.group("product_id"), []).append(
            os.path.basename(n))
    return groups, bad


def rewrite_card(path, key, value):
    """Change one header value of a generated file in place (same size: the header keeps its
    blocks). Returns the old card."""
    with open(path, "r+b") as f:
        head = f.read(BLOCK * 16)
        for off in range(0, len(head), 80):
            c = head[off:off + 80].decode("ascii")
            if c[:8].rstrip() == key:
                f.seek(off)
                f.write(card(key, value).encode("ascii"))
                return c
            if c[:8].rstrip() == "END":
                break
    raise KeyError("%s has no %s card" % (path, key))


def main(argv):
    if len(argv) < 3:
        sys.exit("usage: gen_fits.py DIR COUNT [--empty] [--per-obs N]")
    per = None
    if "--per-obs" in argv:
        per = int(argv[argv.index("--per-obs") + 1])
    files = generate(argv[1], int(argv[2]), empty="--empty" in argv, per_obs=per)
    groups, bad = expected([f[0] for f in files])
    print("%d files, %d observations, %d planes, %d unmatched names" % (
        len(files), len(groups), sum(len(g) for g in groups.values()), len(bad)))


if __name__ == "__main__":
    main(sys.argv)
