#!/usr/bin/env python3
# check_astropy.py - outside oracle for lib/fits: every HDU and every valued keyword that
# fits_dump prints for the real FITS files in ../shared/testdata/fits must equal what
# astropy.io.fits reads (HDU count, keyword values as numbers, strings or booleans).
# Compressed image HDUs are compared with astropy's decompressed image header.
# usage: check_astropy.py FITS_DUMP   (env OBSFLOW_SHARED)
# SPDX-License-Identifier: Apache-2.0
import glob
import os
import subprocess
import sys
import warnings

warnings.simplefilter('ignore')
from astropy.io import fits  # noqa: E402

dump = sys.argv[1]
files = sorted(glob.glob(os.path.join(os.environ['OBSFLOW_SHARED'], 'testdata', 'fits', '*.fits')))
out = subprocess.run([dump] + files, capture_output=True, text=True, check=True).stdout
ours = {}
cur = None
for line in out.splitlines():
    p = line.split('\t')
    if p[0] == 'FILE':
        cur = p[1]
        ours[cur] = {'n': int(p[2]), 'cards': {}}
        continue
    ours[cur]['cards'].setdefault((int(p[0]), p[1]), []).append((int(p[2]), p[3]))

bad = 0
checked = 0
for f in files:
    with fits.open(f) as hl:
        if len(hl) != ours[f]['n']:
            print(f'{f}: astropy {len(hl)} HDUs, ours {ours[f]["n"]}')
            bad += 1
            continue
        for i, hdu in enumerate(hl):
            hdr = hdu.header
            seen = {}
            for card in hdr.cards:
                k = card.keyword
                if k in ('', 'COMMENT', 'HISTORY', 'CONTINUE') or card.is_blank:
                    continue
                if (i, k) not in ours[f]['cards']:
                    if k.startswith('HIERARCH') or len(k) > 8:
                        continue
                    if k in ('XTENSION', 'SIMPLE', 'BITPIX', 'NAXIS', 'PCOUNT', 'GCOUNT', 'EXTEND'):
                        continue  # structural cards astropy synthesises for compressed HDUs
                    print(f'{f} HDU {i}: {k} missing')
                    bad += 1
                    continue
                occ = seen.get(k, 0)  # the n-th card of a repeated keyword
                seen[k] = occ + 1
                if occ >= len(ours[f]['cards'][(i, k)]):
                    print(f'{f} HDU {i}: {k} occurrence {occ + 1} missing')
                    bad += 1
                    continue
                t, v = ours[f]['cards'][(i, k)][occ]
                val = card.value
                checked += 1
                if isinstance(val, bool):
                    ok = (v == 'T') == val
                elif isinstance(val, (int, float)):
                    try:
                        ok = abs(float(v) - float(val)) <= 1e-12 * max(1.0, abs(float(val)))
                    except ValueError:
                        ok = False
                elif isinstance(val, str):
                    ok = v == val.rstrip()
                else:
                    ok = True  # undefined values
                if not ok:
                    print(f'{f} HDU {i}: {k} astropy {val!r}, ours {v!r}')
                    bad += 1
print(f'{len(files)} files, {checked} keyword values compared, {bad} differences')
sys.exit(1 if bad or checked < 1000 else 0)
