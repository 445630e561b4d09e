#!/usr/bin/env python3
# run_case.py - one data-driven CAOM case: build the observation from the shared header file(s)
# with `obsflow caom` (identities taken from the expected document), validate the document
# against the CAOM-2.4 XSD with xmllint, and compare it structurally with the expected XML the
# CADC pipeline produced (../shared/testdata/caom2/...).
#
# Comparison rules: caom2:id, lastModified, maxLastModified, metaChecksum and accMetaChecksum
# are ignored; numbers compare to 1e-9 relative (or the case's tolerance); dates to the
# millisecond; only the elements the expected document has are compared (extra elements in
# ours are allowed, but not extra parts: an artifact has exactly the expected parts); planes
# match by productID, artifacts by uri, parts by name, chunks by
# position; keyword/group/member/input lists compare as sets. A case file may list `skip`
# paths (with the reason) for elements made by collection code from data not in the test set.
#
# Storage metadata: the test data hold only the headers of most files, so what CADC's storage
# reported for a file (its size and MD5, from the HEAD a real ingest makes) is not in them and is
# no blueprint fact. A case gives it as `storage = <artifact URI> <length> [<checksum URI>]` (a
# length `-` when the source recorded none: none is written); the harness passes it as `obsflow caom --content-length/--content-checksum` (one per file, 0 and
# "-" for files without a storage line: measured from the header file), the input path ingest
# uses for a file read by ranged requests (lib/ingest: f2c_input.content_length/_checksum).
#
# usage: run_case.py CASEFILE   (env OBSFLOW_SHARED, OBSFLOW_BIN_DIR, OBSFLOW_TEST_TMP)
# SPDX-License-Identifier: Apache-2.0
import math
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from datetime import datetime

SKIP_ATTRS = {'id', 'lastModified', 'maxLastModified', 'metaChecksum', 'accMetaChecksum',
              'metaProducer'}
SET_LISTS = {'keywords', 'metaReadGroups', 'dataReadGroups', 'contentReadGroups', 'members',
             'inputs', 'states', 'energyBands'}
KEYED = {'plane': 'productID', 'artifact': 'uri', 'part': 'name'}
DATE_TAGS = {'metaRelease', 'dataRelease', 'lastExecuted', 'contentRelease'}


def local(tag):
    return tag.split('}', 1)[1] if '}' in tag else tag


def parse_case(path):
    case = {'file': [], 'blueprint': [], 'skip': [], 'args': [], 'tolerance': [],
            'compute': False, 'storage': {}}
    base = os.path.dirname(os.path.abspath(path))
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith('#'):
                continue
            if '=' not in line:
                sys.exit(f'{path}:{n}: expected "key = value"')
            k, v = (x.strip() for x in line.split('=', 1))
            if k == 'expected':
                case['expected'] = v
            elif k == 'file':
                case['file'].append(v)
            elif k == 'blueprint':
                case['blueprint'].append(v if v.startswith('shared:') else os.path.join(base, v))
            elif k == 'skip':
                p, _, reason = v.partition(' ')
                if not reason.strip():
                    sys.exit(f'{path}:{n}: a skip needs a reason')
                case['skip'].append(p)
            elif k == 'tolerance':
                p, _, tol = v.partition(' ')
                case['tolerance'].append((p, float(tol)))
            elif k == 'storage':
                f = v.split()
                if len(f) not in (2, 3) or not (f[1] == '-' or f[1].isdigit() and int(f[1]) > 0):
                    sys.exit(f'{path}:{n}: expected "storage = <URI> <length>|- [<checksum URI>]"')
                if f[0] in case['storage']:
                    sys.exit(f'{path}:{n}: a second storage line for {f[0]}')
                case['storage'][f[0]] = (f[1], f[2] if len(f) == 3 else '-')
            elif k == 'args':
                case['args'] += v.split()
            elif k == 'expect_differences':
                case['expect_differences'] = int(v)
            elif k == 'compute':
                case['compute'] = v.lower() in ('yes', 'true', '1')
            else:
                sys.exit(f'{path}:{n}: unknown key {k}')
    return case


def storage_args(case, uris):
    """--content-length/--content-checksum for the files whose artifact URIs are @uris (in
    order), from the case's storage lines; [] when it has none."""
    if not case['storage']:
        return []
    unused = set(case['storage']) - set(uris)
    if unused:
        sys.exit(f'storage lines for artifacts no file makes: {sorted(unused)}')
    args = []
    for u in uris:
        length, checksum = case['storage'].get(u, ('0', '-'))
        args += ['--content-length', length, '--content-checksum', checksum]
    return args


def parse_date(s):
    s = s.strip()
    m = re.match(r'^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?$', s)
    if not m:
        return None
    frac = (m.group(2) or '0')
    ms = int((frac + '000')[:3])
    return datetime.strptime(m.group(1), '%Y-%m-%dT%H:%M:%S').timestamp() * 1000 + ms


class Cmp:
    def __init__(self, skip, tolerance):
        self.skip = skip
        self.tolerance = tolerance
        self.errors = []
        self.compared = 0

    def skipped(self, path):
        return any(path == s or path.startswith(s + '/') for s in self.skip)

    def tol(self, path):
        t = 1e-9
        for p, v in self.tolerance:
            if path == p or path.startswith(p + '/'):
                t = v
        return t

    def leaf(self, path, exp, act):
        self.compared += 1
        e = (exp.text or '').strip()
        a = (act.text or '').strip()
        tag = local(exp.tag)
        if tag in DATE_TAGS:
            de, da = parse_date(e), parse_date(a)
            if de is not None and da is not None:
                if abs(de - da) > 1.0:  # milliseconds (python writers truncate)
                    self.errors.append(f'{path}: expected {e}, got {a}')
                return
        try:
            fe, fa = float(e), float(a)
            if not (math.isfinite(fe) and math.isfinite(fa)):
                raise ValueError
        except ValueError:
            if e != a:
                self.errors.append(f'{path}: expected "{e}", got "{a}"')
            return
        tol = self.tol(path)
        if abs(fe - fa) > tol * max(abs(fe), abs(fa)) and abs(fe - fa) > 1e-300:
            if tol >= 1e-7 and abs(fe - fa) <= tol:  # absolute tolerance for degrees
                return
            self.errors.append(f'{path}: expected {e}, got {a}')

    def node(self, path, exp, act):
        if self.skipped(path):
            return
        et = exp.get('{http://www.w3.org/2001/XMLSchema-instance}type')
        at = act.get('{http://www.w3.org/2001/XMLSchema-instance}type')
        if et is not None:
            norm = lambda t: (t or '').split(':')[-1].replace('CompositeObservation',
                                                                'DerivedObservation')
            if norm(et) != norm(at):
                self.errors.append(f'{path}: expected xsi:type {et}, got {at}')
        kids = list(exp)
        if not kids and not (exp.text or '').strip() and len(list(act)) > 0:
            return  # an empty element (e.g. <time/>: nothing computed) matches any content
        if not kids:
            self.leaf(path, exp, act)
            return
        tag = local(exp.tag)
        if tag in SET_LISTS:
            es = sorted((k.text or '').strip() for k in kids)
            as_ = sorted((k.text or '').strip() for k in act)
            self.compared += 1
            if es != as_:
                self.errors.append(f'{path}: expected {es}, got {as_}')
            return
        if tag == 'parts' and not self.skipped(path):
            # which HDUs become parts is a structure rule: no part more, none less
            names = lambda el: sorted((p.findtext('{*}name') or '').strip() for p in el)
            self.compared += 1
            if names(exp) != names(act):
                self.errors.append(f'{path}: expected parts {names(exp)}, got {names(act)}')
        used = set()
        for i, k in enumerate(kids):
            kt = local(k.tag)
            cands = [c for c in act if local(c.tag) == kt]
            match = None
            label = kt
            if kt in KEYED:
                key = KEYED[kt]
                kv = (k.find(f'{{*}}{key}').text or '').strip()
                label = f'{kt}[{kv}]'
                for c in cands:
                    cv = c.find(f'{{*}}{key}')
                    if cv is not None and (cv.text or '').strip() == kv:
                        match = c
            else:
                same = [c for c in kids if local(c.tag) == kt]
                idx = same.index(k)
                if len(same) > 1:
                    label = f'{kt}[{idx}]'
                if idx < len(cands):
                    match = cands[idx]
            sub = f'{path}/{label}'
            if self.skipped(sub):
                continue
            if match is None and not list(k) and not (k.text or '').strip():
                continue  # an empty expected element matches its absence
            if match is None:
                self.errors.append(f'{sub}: missing')
                continue
            used.add(id(match))
            self.node(sub, k, match)


def main():
    if len(sys.argv) != 2:
        sys.exit('usage: run_case.py CASEFILE')
    case = parse_case(sys.argv[1])
    shared = os.environ['OBSFLOW_SHARED']
    data = os.path.join(shared, 'testdata', 'caom2')
    obsflow = os.path.join(os.environ['OBSFLOW_BIN_DIR'], 'obsflow')
    tmp = os.environ.get('OBSFLOW_TEST_TMP', '/tmp')
    xsd = os.path.join(shared, 'reference', 'caom2', 'CAOM-2.4.xsd')
    exp_root = ET.parse(os.path.join(data, case['expected'])).getroot()

    def text(el, p):
        x = el.find(p)
        return (x.text or '').strip() if x is not None else None

    coll = text(exp_root, '{*}collection')
    obs_id = text(exp_root, '{*}observationID')
    planes = exp_root.findall('{*}planes/{*}plane')
    if len(planes) != 1:
        sys.exit('expected documents with exactly one plane are supported')
    prod = text(planes[0], '{*}productID')
    uris = [(a.find('{*}uri').text or '').strip()
            for a in planes[0].findall('{*}artifacts/{*}artifact')]
    files = [os.path.join(data, f) for f in case['file']]
    # one --artifact-uri per file: the expected artifact whose file name matches
    art_args = []
    file_uris = []
    for f in files:
        base = os.path.basename(f).replace('.header', '')
        stem = base.replace('.fits', '').replace('.gz', '')
        cand = [u for u in uris if u.rsplit('/', 1)[-1].replace('.fits', '').replace('.gz', '')
                == stem] or [u for u in uris if stem in u]
        if not cand:
            sys.exit(f'no expected artifact for {f}')
        art_args += ['--artifact-uri', cand[0]]
        file_uris.append(cand[0])
    art_args += storage_args(case, file_uris)
    cmd = [obsflow, 'caom', '--collection', coll, '--observation-id', obs_id,
           '--product-id', prod] + art_args
    for b in case['blueprint']:
        cmd += ['--blueprint', os.path.join(data, b[7:]) if b.startswith('shared:') else b]
    if case['compute']:
        cmd.append('--compute')
    cmd += case['args']
    out = os.path.join(tmp, os.path.basename(sys.argv[1]) + '.xml')
    cmd += ['-o', out] + files
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        if case['compute'] and 'not available' in r.stderr:
            print('SKIP: --compute is not available in this build:', r.stderr.strip())
            sys.exit(77)
        print(' '.join(cmd))
        print(r.stderr)
        sys.exit(f'obsflow caom failed with exit {r.returncode}')
    v = subprocess.run(['xmllint', '--noout', '--schema', xsd, out], capture_output=True,
                       text=True)
    if v.returncode != 0:
        print(v.stderr)
        sys.exit('document does not validate against CAOM-2.4.xsd')
    act_root = ET.parse(out).getroot()
    cmp = Cmp(case['skip'], case['tolerance'])
    cmp.node('', exp_root, act_root)
    for e in cmp.errors:
        print('DIFF', e)
    print(f'{os.path.basename(sys.argv[1])}: {cmp.compared} values compared, '
          f'{len(cmp.errors)} differences, {len(case["skip"])} skipped paths')
    if 'expect_differences' in case:  # a negative case: the comparison must find exactly these
        sys.exit(0 if len(cmp.errors) == case['expect_differences'] else 1)
    sys.exit(1 if cmp.errors else 0)


if __name__ == '__main__':
    main()
