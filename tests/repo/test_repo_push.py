#!/usr/bin/env python3
"""test_repo_push.py - the push client (`obsflow repo`, lib/repo repo_push over HTTP) against
the real obsflowd repository (/caom2) with a fresh database in the ctest PostgreSQL fixture:

 1. every shared case (tests/caom2data/cases, identities from the expected XML) pushed:
    "created", and the md5 the client computed equals the server's (list row and ETag);
 2. every case pushed again: "unchanged", nothing written (every row's maxLastModified kept);
    another plane of an observation pushed on its own is added beside the first (caom2pipe's
    cardinality: planes and artifacts accumulate), and pushing the first again is unchanged;
 3. one field changed: "updated", every UUID kept, only that entity's lastModified moved;
 4. SimpleObservation -> DerivedObservation and back: "replaced";
 5. get/put/post/delete/list of the CLI, torkeep's messages as one-line errors, exit codes;
    a push over a document someone else PUT keeps that document's UUIDs;
 6. list paging (ask N+1, restart at the last maxLastModified, drop rows seen there) across
    rows sharing a timestamp, both orders, and the error when they do not fit a page;
 7. bearer token: a push without it or with a wrong one is refused with a named error;
 8. through a fault-injecting HTTP proxy written here (503 + Retry-After: 1, 504 before and
    after the request reached obsflowd, a reset connection after it did, a slow body, an
    outage longer than the retries, a capabilities URL): every push ends right or fails with
    a named error, and the repository never holds a duplicate observation.

Every part runs even when an earlier one failed; each failure is printed as "FAIL: ...".

SPDX-License-Identifier: Apache-2.0
"""
import glob
import http.client
import os
import socket
import struct
import subprocess
import sys
import threading
import time
import traceback
import urllib.parse
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "api"))
sys.path.insert(0, os.path.join(HERE, "..", "caom2data"))
from apitest import BIN_DIR, SRC_DIR, TMP, Daemon, check, fail, main  # noqa: E402
from run_case import parse_case, storage_args  # noqa: E402

SHARED = os.environ.get("OBSFLOW_SHARED") or os.path.join(SRC_DIR, "..", "shared")
CAOM_DATA = os.path.join(SHARED, "testdata", "caom2")
CASES = os.path.join(HERE, "..", "caom2data", "cases")
OBSFLOW = os.path.join(BIN_DIR, "obsflow")
NS = "{http://www.opencadc.org/caom2/xml/v2.4}"
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
TOKEN = "push-token"
FAST = ["--retries", "3", "--retry-base-ms", "100", "--retry-after-cap", "2",
        "--timeout-ms", "1500"]

SUBFAIL = []


def part(label, fn, *args):
    """Run one part; a failure is recorded and the next part still runs."""
    try:
        fn(*args)
        print("ok: %s" % label, flush=True)
    except Exception as e:  # noqa: BLE001 - every failure is reported, none stops the run
        if not isinstance(e, AssertionError):
            traceback.print_exc()
        print("FAIL: %s: %s: %s" % (label, type(e).__name__, e), flush=True)
        SUBFAIL.append(label)


# ---- the shared cases as `obsflow repo push` arguments ----------------------------------------

def case_push(path, collection=None, storage=True):
    """(collection, observationID, push arguments) of a caom2data case, as run_case.py builds
    `obsflow caom`: identities from the expected document, one --artifact-uri per file, and
    the case's storage lines as --content-length/--content-checksum unless @storage is
    False (the header files measured as they are)."""
    case = parse_case(path)
    root = ET.parse(os.path.join(CAOM_DATA, case["expected"])).getroot()

    def text(el, p):
        x = el.find(p)
        return (x.text or "").strip() if x is not None else None

    coll = collection or text(root, "{*}collection")
    obs_id = text(root, "{*}observationID")
    plane = root.findall("{*}planes/{*}plane")[0]
    prod = text(plane, "{*}productID")
    uris = [(a.find("{*}uri").text or "").strip()
            for a in plane.findall("{*}artifacts/{*}artifact")]
    files = [os.path.join(CAOM_DATA, f) for f in case["file"]]
    args = ["--collection", coll, "--observation-id", obs_id, "--product-id", prod]
    file_uris = []
    for f in files:
        stem = os.path.basename(f).replace(".header", "").replace(".fits", "").replace(".gz", "")
        cand = [u for u in uris if u.rsplit("/", 1)[-1].replace(".fits", "").replace(".gz", "")
                == stem] or [u for u in uris if stem in u]
        check(cand, "no expected artifact for %s" % f)
        args += ["--artifact-uri", cand[0]]
        file_uris.append(cand[0])
    if storage:
        args += storage_args(case, file_uris)
    for b in case["blueprint"]:
        args += ["--blueprint", os.path.join(CAOM_DATA, b[7:]) if b.startswith("shared:") else b]
    if case["compute"]:
        args.append("--compute")
    return coll, obs_id, args + case["args"] + files


def write_blueprint(name, text):
    p = os.path.join(TMP, "%s.%d.blueprint" % (name, os.getpid()))
    with open(p, "w") as f:
        f.write(text)
    return p


# ---- a fault-injecting HTTP proxy in front of obsflowd ----------------------------------------

class FaultProxy:
    """Forwards each request to obsflowd unless the next scheduled fault says otherwise:
    None (forward), "503" (answer 503 + Retry-After: 1 without forwarding), "504-before"
    (answer 504 without forwarding), "504-after" (forward, then answer 504), "reset"
    (forward, then reset the client connection), "slow" (forward, then send the head and the
    body one byte every 0.5 s), "slow-head" (forward, then answer only after 3 s)."""

    def __init__(self, upstream_port):
        self.up = upstream_port
        self.faults = []
        self.log = []  # (method, path, fault, upstream status or None)
        self.lock = threading.Lock()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.addr = "127.0.0.1:%d" % self.port
        threading.Thread(target=self.serve, daemon=True).start()

    def schedule(self, *faults):
        with self.lock:
            self.faults = list(faults)
            self.log = []

    def close(self):
        self.sock.close()

    def serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.handle, args=(c,), daemon=True).start()

    @staticmethod
    def read_request(c):
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = c.recv(65536)
            if not chunk:
                return None
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        headers = []
        for ln in lines[1:]:
            k, _, v = ln.partition(":")
            headers.append((k.strip(), v.strip()))
        hmap = {k.lower(): v for k, v in headers}
        if hmap.get("expect", "").lower() == "100-continue":
            c.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        n = int(hmap.get("content-length", "0"))
        body = rest
        while len(body) < n:
            chunk = c.recv(65536)
            if not chunk:
                return None
            body += chunk
        return method, path, headers, body[:n]

    def forward(self, method, path, headers, body):
        conn = http.client.HTTPConnection("127.0.0.1", self.up, timeout=30)
        try:
            conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            for k, v in headers:
                if k.lower() not in ("connection", "keep-alive", "expect", "transfer-encoding"):
                    conn.putheader(k, v)
            conn.endheaders(body if body else None)
            r = conn.getresponse()
            return r.status, r.reason, r.getheaders(), r.read()
        finally:
            conn.close()

    @staticmethod
    def head(status, reason, headers, length):
        out = "HTTP/1.1 %d %s\r\n" % (status, reason)
        for k, v in headers:
            if k.lower() not in ("connection", "transfer-encoding", "content-length",
                                 "keep-alive"):
                out += "%s: %s\r\n" % (k, v)
        out += "Content-Length: %d\r\nConnection: close\r\n\r\n" % length
        return out.encode("latin-1")

    def answer(self, c, status, reason, headers, body):
        c.sendall(self.head(status, reason, headers, len(body)) + body)

    def handle(self, c):
        try:
            req = self.read_request(c)
            if req is None:
                return
            method, path, headers, body = req
            with self.lock:
                fault = self.faults.pop(0) if self.faults else None
            text = [("Content-Type", "text/plain")]
            if fault == "503":
                self.record(method, path, fault, None)
                self.answer(c, 503, "Service Unavailable", text + [("Retry-After", "1")],
                            b"injected outage\n")
                return
            if fault == "504-before":
                self.record(method, path, fault, None)
                self.answer(c, 504, "Gateway Timeout", text, b"injected gateway timeout\n")
                return
            st, reason, rh, rb = self.forward(method, path, headers, body)
            self.record(method, path, fault, st)
            if fault == "504-after":
                self.answer(c, 504, "Gateway Timeout", text, b"injected gateway timeout\n")
            elif fault == "reset":
                c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            elif fault == "slow":
                c.sendall(self.head(st, reason, rh, len(rb)))
                for i in range(len(rb)):
                    c.sendall(rb[i:i + 1])
                    time.sleep(0.5)
            elif fault == "slow-head":
                time.sleep(3)
                self.answer(c, st, reason, rh, rb)
            else:
                self.answer(c, st, reason, rh, rb)
        except OSError:
            pass  # the client gave up (timeout): expected for the slow faults
        finally:
            c.close()

    def record(self, method, path, fault, status):
        with self.lock:
            self.log.append((method, path, fault, status))


# ---- the test ---------------------------------------------------------------------------------

def run(db):
    conf = os.path.join(TMP, "push.%d.conf" % os.getpid())
    os.makedirs(conf, exist_ok=True)
    d = Daemon(db.url, name="push", workers=1, token=TOKEN,
               env={"OBSFLOW_CAOM_COLLECTIONS": "*", "OBSFLOW_CONFIG_DIR": conf})
    base = "http://%s/caom2" % d.addr
    env = dict(os.environ, OBSFLOW_CAOM_REPO_URL=base, OBSFLOW_CAOM_REPO_TOKEN=TOKEN)
    env.pop("OBSFLOW_CAOM_REPO_CERT", None)

    def repo(*args, rc=0, e=None, timeout=120):
        t0 = time.time()
        p = subprocess.run([OBSFLOW, "repo"] + list(args), capture_output=True, text=True,
                           env=e or env, timeout=timeout)
        took = time.time() - t0
        if p.returncode != rc:
            fail("obsflow repo %s: exit %d, expected %d\nstdout: %s\nstderr: %s" %
                 (" ".join(args)[:600], p.returncode, rc, p.stdout[:2000], p.stderr[:2000]))
        if rc != 0:
            lines = [ln for ln in p.stderr.splitlines() if ln]
            check(len(lines) >= 1 and lines[0].startswith("obsflow repo: "),
                  "named error expected: %r" % p.stderr)
            if rc == 1:
                check(len(lines) == 1, "one-line error expected: %r" % p.stderr)
        return p.stdout, p.stderr, took

    def push(args, expect, e=None, extra=()):
        out, err, took = repo(*(list(extra) + ["push"] + args), e=e)
        words = out.split()
        check(len(words) == 3 and words[0] == expect and words[2].startswith("md5:"),
              "push printed %r, expected %s (stderr %r)" % (out, expect, err))
        return words[1], words[2], took

    def path(coll, oid=None):
        p = "/caom2/observations/" + urllib.parse.quote(coll, safe="")
        return p + "/" + urllib.parse.quote(oid, safe="") if oid is not None else p

    def rows(coll):
        st, _, body = d.request("GET", path(coll), raw=True)
        check(st == 200, "list %s answered %d: %r" % (coll, st, body[:200]))
        out = []
        for ln in body.decode().splitlines():
            if ln:
                c, o, t, a = ln.split("\t")
                out.append((o, t, a))
        return out

    def get(coll, oid):
        st, h, body = d.request("GET", path(coll, oid), raw=True)
        check(st == 200, "GET %s/%s answered %d: %r" % (coll, oid, st, body[:200]))
        return h.get("etag"), ET.fromstring(body), body

    def entities(root):
        out = {}
        for el in root.iter():
            i = el.get(NS + "id")
            if i:
                tag = el.tag.split("}", 1)[1]
                out[i] = (tag, el.get(NS + "lastModified"), el.get(NS + "maxLastModified"))
        return out

    def once_each(coll):
        ids = [r[0] for r in rows(coll)]
        check(len(ids) == len(set(ids)), "duplicate observations in %s: %s" % (coll, ids))
        return ids

    cases = sorted(glob.glob(os.path.join(CASES, "*.case")))
    pushed = []  # (collection, observationID, args, md5)
    S12 = os.path.join(CASES, "S12_dao_imager.case")

    # 1. every shared case: created, with the server's checksum
    def p_created():
        used = set()
        for cpath in cases:
            name = os.path.basename(cpath)[:-5]
            coll, oid, args = case_push(cpath)
            if (coll, oid) in used:
                # another plane of an observation already pushed (S02 is a plane of S01's
                # observation) or the same one with --compute: a collection of its own
                coll = "%s_%s" % (coll, name.split("_")[0])
                args[1] = coll
            used.add((coll, oid))
            uri, md5, _ = push(args, "created")
            check(uri == "caom:%s/%s" % (coll, oid), "%s: pushed %s" % (name, uri))
            row = [r for r in rows(coll) if r[0] == oid]
            check(len(row) == 1 and row[0][2] == md5,
                  "%s: the client's %s is not the stored accMetaChecksum %s" % (name, md5, row))
            etag, root, _ = get(coll, oid)
            check(etag == md5, "%s: ETag %s, push said %s" % (name, etag, md5))
            check(root.get(NS + "accMetaChecksum") == md5, "%s: document checksum" % name)
            pushed.append((coll, oid, args, md5))
        check(len(pushed) == len(cases), "every case pushed")

    # 2. pushed again: unchanged, nothing written
    def p_unchanged():
        check(pushed, "part 1 pushed nothing")
        colls = sorted({p[0] for p in pushed})
        before = {c: rows(c) for c in colls}
        for coll, oid, args, md5 in pushed:
            _, again, _ = push(args, "unchanged")
            check(again == md5, "%s/%s: unchanged with %s, stored %s" % (coll, oid, again, md5))
        after = {c: rows(c) for c in colls}
        check(before == after, "a row changed although every push was unchanged:\n%s\n%s" %
              (before, after))

    # 2b. another plane of the same observation pushed on its own: added beside the first
    # (the merge keeps planes the fresh build lacks), the first plane's UUIDs untouched
    def p_other_plane():
        s01 = os.path.join(CASES, "S01_wallaby_cube.case")
        s02 = os.path.join(CASES, "S02_wallaby_mom0.case")
        c1, o1, a1 = case_push(s01, "PLANES")
        c2, o2, a2 = case_push(s02, "PLANES")
        check((c1, o1) == (c2, o2), "S01 and S02 are planes of one observation")
        push(a1, "created")
        prods = [p.text for p in get(c1, o1)[1].iter(NS + "productID")]
        e1 = entities(get(c1, o1)[1])
        push(a2, "updated")
        _, root2, _ = get(c1, o1)
        prods2 = sorted(p.text for p in root2.iter(NS + "productID"))
        check(len(prods) == 1 and len(prods2) == 2 and prods[0] in prods2,
              "planes %s then %s" % (prods, prods2))
        e2 = entities(root2)
        check(all(i in e2 for i in e1), "the first plane's entities lost their UUIDs")
        push(a1, "unchanged")
        push(a2, "unchanged")
        check(once_each(c1) == [o1], "one observation")

    # 3. one field changed: updated, only that entity's lastModified moves
    def p_updated():
        coll, oid, args = case_push(S12, "UPD")
        push(args, "created")
        _, root0, _ = get(coll, oid)
        e0 = entities(root0)
        time.sleep(0.05)  # timestamps are milliseconds: make a move visible
        bp = write_blueprint("upd", "Plane.provenance.project = changed by test_repo_push\n")
        k = args.index(files_start(args))
        _, md5, _ = push(args[:k] + ["--blueprint", bp] + args[k:], "updated")
        etag, root1, _ = get(coll, oid)
        check(etag == md5, "ETag %s after the update, push said %s" % (etag, md5))
        e1 = entities(root1)
        check(set(e0) == set(e1), "UUIDs changed: %s -> %s" % (sorted(e0), sorted(e1)))
        moved = sorted(e0[i][0] for i in e0 if e0[i][1] != e1[i][1])
        check(moved == ["plane"], "lastModified moved on %s, expected only the plane" % moved)
        obs = [i for i in e0 if e0[i][0] == "Observation"][0]
        check(e0[obs][2] != e1[obs][2], "the observation's maxLastModified did not move")
        prov = root1.find("{*}planes/{*}plane/{*}provenance/{*}project")
        check(prov is not None and prov.text == "changed by test_repo_push", "new value stored")
        push(args[:k] + ["--blueprint", bp] + args[k:], "unchanged")

    # 4. Simple <-> Derived: replaced
    def p_replaced():
        coll, oid, args = case_push(S12, "KIND")
        push(args, "created")
        _, root0, _ = get(coll, oid)
        check(root0.get(XSI_TYPE).endswith("SimpleObservation"), "created simple")
        bp = write_blueprint("derived", "DerivedObservation.members = caom:KIND/member1\n")
        k = args.index(files_start(args))
        dargs = args[:k] + ["--blueprint", bp] + args[k:]
        _, md5, _ = push(dargs, "replaced")
        etag, root1, _ = get(coll, oid)
        check(root1.get(XSI_TYPE).endswith("DerivedObservation"), "replaced by a derived one")
        check(etag == md5, "ETag %s, push said %s" % (etag, md5))
        push(dargs, "unchanged")
        push(args, "replaced")
        check(once_each(coll) == [oid], "one observation in KIND")

    # 5. the single operations
    def p_single():
        s01 = os.path.join(CASES, "S01_wallaby_cube.case")
        exp = os.path.join(CAOM_DATA, parse_case(s01)["expected"])
        root = ET.parse(exp).getroot()
        coll = root.find("{*}collection").text.strip()
        oid = root.find("{*}observationID").text.strip()
        uri = "caom:%s/%s" % (coll, oid)
        # the case was pushed in part 1 (its own UUIDs): a PUT of the expected document is a
        # duplicate URI
        _, err, _ = repo("put", exp, rc=1)
        check(err.strip() == "obsflow repo: already exists: %s" % uri, "409 named: %r" % err)
        out, _, _ = repo("delete", coll, oid)
        check(out.strip() == "deleted " + uri, "delete printed %r" % out)
        _, err, _ = repo("get", coll, oid, rc=1)
        check(err.strip() == "obsflow repo: not found: " + uri, "404 named: %r" % err)
        _, err, _ = repo("delete", coll, oid, rc=1)
        check("not found: " + uri in err, "delete twice: %r" % err)
        out, _, _ = repo("put", exp)
        check(out.strip() == "created " + uri, "put printed %r" % out)
        etag, _, body = get(coll, oid)
        out, _, _ = repo("get", coll, oid)
        check(out.encode() == body, "get prints the stored document")
        _, err, _ = repo("post", "--if-match", "md5:00000000000000000000000000000000", exp,
                         rc=1)
        check(err.startswith("obsflow repo: update blocked: current entity is"), "412: %r" % err)
        out, _, _ = repo("post", "--if-match", etag, exp)
        check(out.strip() == "updated " + uri, "post printed %r" % out)
        # a push over a document someone else PUT keeps that document's UUIDs
        ids0 = set(entities(get(coll, oid)[1]))
        c2, o2, args = case_push(s01)
        check((c2, o2) == (coll, oid), "the S01 case pushes %s/%s" % (c2, o2))
        out, _, _ = repo("push", *args)
        check(out.split()[0] in ("updated", "unchanged"), "push over a PUT: %r" % out)
        root1 = get(coll, oid)[1]
        check(root1.get(NS + "id") == root.get(NS + "id"), "the observation UUID was kept")
        kept = ids0 & set(entities(root1))
        check(len(kept) >= 2, "stored UUIDs kept by the merge: %d of %d" % (len(kept), len(ids0)))
        # usage errors
        repo("get", coll, rc=2)
        repo("list", rc=2)
        repo("post", "--maxrec", "3", exp, rc=2)
        repo("frobnicate", rc=2)
        repo("put", os.path.join(TMP, "does-not-exist.xml"), rc=2)
        repo("get", "C", "X", rc=2, e=dict(env, OBSFLOW_CAOM_REPO_URL=""))
        repo("--url", "ftp://nowhere", "get", "C", "X", rc=2)
        _, err, _ = repo("--url", "http://127.0.0.1:1/caom2", "--retries", "1",
                         "--retry-base-ms", "10", "get", "C", "X", rc=1)
        check("could not connect" in err and "after 2 attempts" in err, "unreachable: %r" % err)

    # 6. list paging
    def p_list():
        coll, _, args = case_push(S12, "PAGE")
        k = args.index("--observation-id")
        ids = ["p%d" % i for i in range(7)]
        for i in ids:
            a = list(args)
            a[k + 1] = i
            push(a, "created")
        asc = [r[0] for r in rows(coll)]
        check(sorted(asc) == ids and len(asc) == 7, "7 rows: %s" % asc)
        out, _, _ = repo("list", coll, "--maxrec", "2")
        got = [ln.split("\t")[1] for ln in out.splitlines()]
        check(got == asc, "list --maxrec 2: %s, expected %s" % (got, asc))
        check(out.splitlines()[0].count("\t") == 3, "TSV rows of 4 columns")
        out, _, _ = repo("list", coll, "--maxrec", "3", "--order", "desc")
        got = [ln.split("\t")[1] for ln in out.splitlines()]
        check(got == list(reversed(asc)), "desc: %s" % got)
        # four rows sharing one maxLastModified
        t = rows(coll)[3][1]
        db.sql("UPDATE caom_observations SET max_last_modified = '%sZ' WHERE collection = '%s' "
               "AND observation_id IN ('p1','p2','p3','p4')" % (t, coll))
        expect = [r[0] for r in rows(coll)]
        for m in ("4", "5", "1000"):
            out, _, _ = repo("list", coll, "--maxrec", m)
            got = [ln.split("\t")[1] for ln in out.splitlines()]
            check(got == expect, "--maxrec %s over equal timestamps: %s, expected %s" %
                  (m, got, expect))
        out, _, _ = repo("list", coll, "--maxrec", "4", "--order", "desc")
        got = [ln.split("\t")[1] for ln in out.splitlines()]
        check(sorted(got) == sorted(expect) and len(got) == 7, "desc over equal: %s" % got)
        _, err, _ = repo("list", coll, "--maxrec", "2", rc=1)
        check("share maxLastModified" in err, "rows that cannot be paged: %r" % err)
        out, _, _ = repo("list", coll, "--start", t, "--end", t)
        got = sorted(ln.split("\t")[1] for ln in out.splitlines())
        check(got == ["p1", "p2", "p3", "p4"], "start/end inclusive: %s" % got)
        out, _, _ = repo("list", "NOSUCHCOLLECTION")
        check(out == "", "an empty collection lists nothing: %r" % out)

    # 7. the bearer token
    def p_auth():
        coll, _, args = case_push(S12, "AUTH")
        noauth = dict(env)
        noauth.pop("OBSFLOW_CAOM_REPO_TOKEN")
        _, err, _ = repo("push", *args, rc=1, e=noauth)
        check(len(err.strip()) > len("obsflow repo: "), "refusal named: %r" % err)
        _, err, _ = repo("--token", "wrong", "push", *args, rc=1)
        check(len(err.strip()) > len("obsflow repo: "), "wrong token named: %r" % err)
        check(rows(coll) == [], "nothing stored without the token")
        push(args, "created")

    # 8. faults between the client and obsflowd
    def p_faults():
        proxy = FaultProxy(d.port)
        pbase = "http://%s/caom2" % proxy.addr
        pe = dict(env, OBSFLOW_CAOM_REPO_URL=pbase)
        coll, _, args = case_push(S12, "FAULT")
        k = args.index("--observation-id")

        def fargs(oid, extra=None):
            a = list(args)
            a[k + 1] = oid
            if extra:
                j = a.index(files_start(a))
                a = a[:j] + extra + a[j:]
            return a

        def methods():
            return [(m, f, s) for m, _, f, s in proxy.log]

        expected = []
        try:
            # a 503 with Retry-After: 1 on the first GET: honoured, then created
            proxy.schedule("503")
            _, _, took = push(fargs("f1"), "created", e=pe, extra=FAST)
            expected.append("f1")
            check(took >= 1.0, "Retry-After: 1 honoured (took %.2f s)" % took)
            check([m for m, _, _ in methods()] == ["GET", "GET", "PUT"], "log %s" % proxy.log)
            # 504 before the request reached obsflowd
            proxy.schedule(None, "504-before")
            push(fargs("f2"), "created", e=pe, extra=FAST)
            expected.append("f2")
            # 504 after the PUT was stored: the retry answers 409, the next GET shows our own
            # document, which is reported as created
            proxy.schedule(None, "504-after")
            push(fargs("f3"), "created", e=pe, extra=FAST)
            expected.append("f3")
            check([(m, s) for m, _, s in methods()] ==
                  [("GET", 404), ("PUT", 200), ("PUT", 409), ("GET", 200)], "log %s" % proxy.log)
            # a reset connection after the PUT was stored
            proxy.schedule(None, "reset")
            push(fargs("f4"), "created", e=pe, extra=FAST)
            expected.append("f4")
            # a reset after a POST was stored: the retry answers 412, reported as updated
            bp = write_blueprint("fault", "Plane.provenance.project = faulty network\n")
            proxy.schedule(None, "reset")
            _, md5, _ = push(fargs("f4", ["--blueprint", bp]), "updated", e=pe, extra=FAST)
            check([(m, s) for m, _, s in methods()] ==
                  [("GET", 200), ("POST", 200), ("POST", 412), ("GET", 200)], "log %s" % proxy.log)
            check(get(coll, "f4")[0] == md5, "the update is stored")
            # a slow body on GET: the client times out and asks again
            proxy.schedule("slow")
            push(fargs("f4", ["--blueprint", bp]), "unchanged", e=pe, extra=FAST)
            check(len(proxy.log) == 2, "the slow GET was retried: %s" % proxy.log)
            # a slow answer to a stored PUT: timeout, 409, our document: created
            proxy.schedule(None, "slow-head")
            push(fargs("f5"), "created", e=pe, extra=FAST)
            expected.append("f5")
            # an outage longer than the retries: a named error and nothing stored
            proxy.schedule(*(["503"] * 3))
            _, err, _ = repo("--retries", "2", "--retry-after-cap", "1", "push", *fargs("f6"),
                             rc=1, e=pe)
            check("injected outage (HTTP 503 from http://%s/caom2/observations/FAULT/f6 after "
                  "3 attempts)" % proxy.addr in err, "outage named: %r" % err)
            # 504 on every attempt of a PUT that never reached obsflowd: named, nothing stored
            proxy.schedule(None, "504-before", "504-before")
            _, err, _ = repo("--retries", "1", "--retry-base-ms", "50", "push", *fargs("f7"),
                             rc=1, e=pe)
            check("injected gateway timeout (HTTP 504" in err, "504 named: %r" % err)
            # the capabilities document through the proxy (URLs built from its Host)
            proxy.schedule()
            push(fargs("f8"), "created", extra=FAST + ["--url", pbase + "/capabilities"], e=pe)
            expected.append("f8")
            paths = [p for _, p, _, _ in proxy.log]
            check(paths[0] == "/caom2/capabilities" and
                  paths[1] == "/caom2/observations/FAULT/f8", "capabilities used: %s" % paths)
        finally:
            proxy.close()
        ids = once_each(coll)
        check(sorted(ids) == sorted(expected), "stored %s, expected %s" % (ids, expected))

    part("1 every case created", p_created)
    part("2 every case unchanged", p_unchanged)
    part("2b another plane of the observation", p_other_plane)
    part("3 one field updated", p_updated)
    part("4 kind change replaced", p_replaced)
    part("5 get put post delete", p_single)
    part("6 list paging", p_list)
    part("7 bearer token", p_auth)
    part("8 faults", p_faults)
    if SUBFAIL:
        d.dump_log(40)
        fail("%d part(s) failed: %s" % (len(SUBFAIL), ", ".join(SUBFAIL)))
    d.stop()


def files_start(args):
    """The first input file of a push argument list (options come first)."""
    i = 0
    while i < len(args):
        if args[i] in ("--no-content", "--compute"):
            i += 1
        elif args[i].startswith("--"):
            i += 2
        else:
            return args[i]
    fail("no input file in %s" % args)


if __name__ == "__main__":
    main(run, "repo_push")
