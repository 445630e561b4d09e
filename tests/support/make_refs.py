#!/usr/bin/env python3
"""make_refs.py - a small reference store in the CRDS layout (ROOT/references/hst/<name>) for
the shared HST ACS/HRC raw files j8bt05njq and j8bt09jcq: every file config/references/acs.yaml
selects for HRC and every file their headers name, made small instead of the real ones (tens
of MB each): bias, dark and flat are HST constant arrays (NAXIS = 0 with NPIX1/NPIX2/PIXVALUE)
of the trimmed HRC shape 1024x1024, bias and dark in electrons; bad-pixel tables are copies of
the shared table j4d1435jj_bpx.fits (amplifier D rows). Plain Python, no astropy, so both the
Debian and the pyenv interpreters run it.

usage: make_refs.py ROOT [--bias E] [--omit NAME]...   (bias level in electrons, default 5)

SPDX-License-Identifier: Apache-2.0
"""
import os
import shutil
import sys

BIAS = ["m4r1753oj_bia.fits", "m4r1753rj_bia.fits", "n5a1425aj_bia.fits", "m4r1754ej_bia.fits",
        "m4m0925ij_bia.fits"]
DARK = ["n3o1059hj_drk.fits", "n3o1059ij_drk.fits", "n3o1059gj_drk.fits"]
FLAT = ["n3o1633mj_pfl.fits", "n3o1633nj_pfl.fits", "o3u1448rj_pfl.fits", "n4t1530bj_pfl.fits"]
BPIX = ["m8r09169j_bpx.fits", "j4d1435jj_bpx.fits"]
SIZE = 1024  # the HRC image after trimming the overscan


def _card(key, value=None, comment=""):
    if value is None:
        text = key
    elif isinstance(value, bool):
        text = "%-8s= %20s" % (key, "T" if value else "F")
    elif isinstance(value, (int, float)):
        text = "%-8s= %20s" % (key, repr(value))
    else:
        text = "%-8s= %-20s" % (key, "'%-8s'" % value.replace("'", "''"))
    if comment:
        text += " / " + comment
    return text[:80].ljust(80)


def _header(cards):
    b = "".join(cards + [_card("END")]).encode("ascii")
    return b + b" " * (-len(b) % 2880)


def constant_ref(path, filetype, value, bunit):
    """A reference image as an HST constant array: a primary header and one SCI extension."""
    name = os.path.basename(path)
    primary = _header([_card("SIMPLE", True), _card("BITPIX", 16), _card("NAXIS", 0),
                       _card("EXTEND", True), _card("FILENAME", name), _card("FILETYPE", filetype),
                       _card("TELESCOP", "HST"), _card("INSTRUME", "ACS"),
                       _card("DETECTOR", "HRC"), _card("CCDAMP", "ANY"),
                       _card("CCDGAIN", 2.0), _card("USEAFTER", "Mar 01 2002 00:00:00")])
    sci = _header([_card("XTENSION", "IMAGE"), _card("BITPIX", -32), _card("NAXIS", 0),
                   _card("PCOUNT", 0), _card("GCOUNT", 1), _card("EXTNAME", "SCI"),
                   _card("EXTVER", 1), _card("NPIX1", SIZE, "length of constant array axis 1"),
                   _card("NPIX2", SIZE, "length of constant array axis 2"),
                   _card("PIXVALUE", float(value), "values of pixels in constant array"),
                   _card("BUNIT", bunit)])
    with open(path + ".tmp", "wb") as f:
        f.write(primary + sci)
    os.replace(path + ".tmp", path)


def make(root, bias=5.0, omit=()):
    """Write the store under @root; returns the names written."""
    shared = os.environ.get("OBSFLOW_SHARED") or os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared")
    d = os.path.join(root, "references", "hst")
    os.makedirs(d, exist_ok=True)
    done = []
    for n in BIAS + DARK + FLAT + BPIX:
        if n in omit:
            continue
        p = os.path.join(d, n)
        if n in BIAS:
            constant_ref(p, "BIAS", bias, "ELECTRONS")
        elif n in DARK:
            constant_ref(p, "DARK", 0.0, "ELECTRONS")
        elif n in FLAT:
            constant_ref(p, "PIXEL-TO-PIXEL FLAT", 1.0, "")
        else:
            shutil.copyfile(os.path.join(shared, "testdata", "fits", "j4d1435jj_bpx.fits"), p)
        done.append(n)
    return done


if __name__ == "__main__":
    args = sys.argv[1:]
    if not args:
        sys.exit(__doc__)
    root, bias, omit = args[0], 5.0, []
    i = 1
    while i < len(args):
        if args[i] == "--bias":
            bias = float(args[i + 1])
        elif args[i] == "--omit":
            omit.append(args[i + 1])
        else:
            sys.exit("unknown argument %s" % args[i])
        i += 2
    make(root, bias, omit)
