#!/usr/bin/env python3
"""test_repo_remote.py - remote mode end to end: one obsflowd ("B") is the CAOM repository and
`obsflow repo` pushes to it as a pipeline in another obsflowd would, through B's VOSI
capabilities URL, first over plain HTTP with a bearer token, then over TLS with a client
certificate through a TLS-terminating reverse proxy written here (as CADC's front end maps a
certificate to an identity).

B: OBSFLOW_API_TOKEN=secret, OBSFLOW_CAOM_COLLECTIONS=WALLABY,POSSUM:compute (POSSUM's plane
metadata is recomputed by the server on every write).

 1. http + token, through http://127.0.0.1:PORT/caom2/capabilities:
    a. the capabilities name B's own http base; reads are anonymous;
    b. shared expected documents (`obsflow repo put`): created; again: "already exists";
       a collection B does not serve: not found; stored documents checked with plain GETs;
    c. shared header cases (`obsflow repo push`, S01-S03 and VLASS S10 into WALLABY, S04/S05
       into POSSUM:compute): created (or updated for a second plane of an observation); the
       printed md5 equals B's ETag, list row and document attribute (in POSSUM too, where B
       recomputes: its PUT/POST answer carries the stored checksum as ETag); POSSUM gets
       computed plane metadata it was not sent;
    d. pushed again: unchanged, no row touched, printing B's ETag (also in POSSUM);
    e. no token: exit 1, one line naming B's 403 "permission denied"; wrong token: exit 1,
       one line with B's 401 message; nothing stored; then the token from the environment;
    f. the client-side --compute variants (S04c/S05c) over what B computed: unchanged.
 2. TLS with client certificates (openssl: a CA, a server certificate for IP 127.0.0.1, a
    client certificate + key in one PEM; a CADC-style RFC 3820 proxy certificate chain):
    a. the proxy forwards the Host and sets X-Forwarded-Proto: https, so the capabilities
       read through it name https://<proxy>/caom2/observations;
    b. `--url https://.../caom2/capabilities --cert client.pem --ca-file ca.pem`: created,
       again unchanged (also through a TLS 1.2-only listener), delete/put/get/list of a
       document; the proxy certificate (given by OBSFLOW_CAOM_REPO_URL/_CERT) likewise;
    c. TLS 1.3 and 1.2: without --cert, with a certificate of another CA, with a PEM holding
       no key, without --ca-file: exit 1, one line naming the TLS failure, within a few
       seconds with the default retry settings (a refusal that stays so is not retried).
 3. the time of each part and of the whole test.

Every part runs even when an earlier one failed; each failure is printed as "FAIL: ...".

SPDX-License-Identifier: Apache-2.0
"""
import glob
import http.client
import os
import re
import socket
import ssl
import subprocess
import sys
import threading
import time
import traceback
import urllib.parse
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "api"))
sys.path.insert(0, HERE)
from apitest import BIN_DIR, TMP, Daemon, check, fail, main  # noqa: E402
from test_repo_push import CAOM_DATA, CASES, case_push  # noqa: E402

OBSFLOW = os.path.join(BIN_DIR, "obsflow")
TOKEN = "secret"
COLLECTIONS = "WALLABY,POSSUM:compute"
CT_CAOM = "text/x-caom+xml"
# bounded retries for the positive paths; the TLS refusals run with the defaults on purpose
FAST = ["--retries", "2", "--retry-base-ms", "100", "--retry-after-cap", "1",
        "--timeout-ms", "20000"]

PROMPT_S = 6  # a TLS refusal fails in well under a second; more is retrying (or a hang)

SUBFAIL = []
TIMES = []


class Hang(AssertionError):
    """The CLI gave no answer within its time limit (killed)."""


def part(label, fn, *args):
    """Run one part; a failure is recorded and the next part still runs."""
    t0 = time.time()
    try:
        fn(*args)
        print("ok: %s (%.2f s)" % (label, time.time() - t0), flush=True)
    except Exception as e:  # noqa: BLE001 - every failure is reported, none stops the run
        if not isinstance(e, AssertionError):
            traceback.print_exc()
        print("FAIL: %s: %s: %s (%.2f s)" % (label, type(e).__name__, e, time.time() - t0),
              flush=True)
        SUBFAIL.append(label)
    TIMES.append((label, time.time() - t0))


def text_of(el, p):
    x = el.find(p)
    return (x.text or "").strip() if x is not None else None


def caom_attr(el, name):
    for k, v in el.attrib.items():
        if k == name or k.endswith("}" + name):
            return v
    return None


# ---- certificates ------------------------------------------------------------------------------

def openssl(*args):
    p = subprocess.run(["openssl"] + list(args), capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        fail("openssl %s: exit %d: %s" % (" ".join(args), p.returncode, p.stderr.strip()))


class PKI:
    """A CA, a server certificate for 127.0.0.1, a client certificate + key in one PEM, the
    same from another CA, and a CADC-style proxy certificate (RFC 3820: proxy certificate,
    its key, then the user certificate that signed it, in one PEM)."""

    def __init__(self, d):
        os.makedirs(d, exist_ok=True)
        self.d = d
        self.serial = 1000
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        self.ca = self.p("ca.pem")
        openssl("req", "-x509", *ec, "-keyout", self.p("ca.key"), "-out", self.ca, "-days", "2",
                "-subj", "/O=obsflow test/CN=obsflow test CA")
        openssl("req", "-x509", *ec, "-keyout", self.p("other-ca.key"), "-out",
                self.p("other-ca.pem"), "-days", "2", "-subj", "/O=elsewhere/CN=another CA")
        self.server_cert, self.server_key = self.leaf(
            "server", "/CN=127.0.0.1", "ca",
            "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"
            "basicConstraints=critical,CA:FALSE\n")
        user_ext = ("extendedKeyUsage=clientAuth\nbasicConstraints=critical,CA:FALSE\n"
                    "keyUsage=critical,digitalSignature,keyEncipherment\n")
        crt, key = self.leaf("client", "/O=obsflow test/OU=users/CN=testuser", "ca", user_ext)
        self.client = self.concat("client.pem", crt, key)
        crt, key = self.leaf("stranger", "/O=elsewhere/CN=testuser", "other-ca", user_ext)
        self.stranger = self.concat("stranger.pem", crt, key)
        # the proxy certificate: issued by the user certificate, subject = the user's + one CN
        openssl("req", "-new", *ec, "-keyout", self.p("proxy.key"), "-out", self.p("proxy.csr"),
                "-subj", "/O=obsflow test/OU=users/CN=testuser/CN=424242")
        self.write("proxy.ext", "proxyCertInfo=critical,language:id-ppl-inheritAll\n"
                   "keyUsage=critical,digitalSignature,keyEncipherment\n")
        openssl("x509", "-req", "-in", self.p("proxy.csr"), "-CA", self.p("client.crt"),
                "-CAkey", self.p("client.key"), "-set_serial", "424242", "-days", "1",
                "-extfile", self.p("proxy.ext"), "-out", self.p("proxy.crt"))
        self.proxy_pem = self.concat("cadcproxy.pem", self.p("proxy.crt"), self.p("proxy.key"),
                                     self.p("client.crt"))

    def p(self, name):
        return os.path.join(self.d, name)

    def write(self, name, text):
        with open(self.p(name), "w") as f:
            f.write(text)
        return self.p(name)

    def concat(self, name, *parts):
        out = ""
        for x in parts:
            with open(x) as f:
                out += f.read()
        path = self.write(name, out)
        os.chmod(path, 0o600)
        return path

    def leaf(self, name, subj, ca, ext):
        self.serial += 1
        openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                "-nodes", "-keyout", self.p(name + ".key"), "-out", self.p(name + ".csr"),
                "-subj", subj)
        self.write(name + ".ext", ext)
        openssl("x509", "-req", "-in", self.p(name + ".csr"), "-CA", self.p(ca + ".pem"),
                "-CAkey", self.p(ca + ".key"), "-set_serial", str(self.serial), "-days", "2",
                "-extfile", self.p(name + ".ext"), "-out", self.p(name + ".crt"))
        return self.p(name + ".crt"), self.p(name + ".key")


# ---- a TLS-terminating reverse proxy in front of B ----------------------------------------------

class TLSProxy:
    """https on 127.0.0.1:0 with client certificates required (verified against the test CA,
    RFC 3820 proxy certificates allowed), forwarding each request to B over plain HTTP with the
    client's Host kept, X-Forwarded-Proto: https set and, when the client sent no
    Authorization, `Authorization: Bearer <token>` for the verified certificate (as CADC maps
    a certificate to an identity). One request per connection (Connection: close)."""

    def __init__(self, pki, upstream_port, token, max_version=None):
        self.up = upstream_port
        self.token = token
        self.log = []      # (method, path, subject CN, forwarded Host, upstream status)
        self.refused = []  # TLS handshake failures seen by the proxy
        self.lock = threading.Lock()
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(pki.server_cert, pki.server_key)
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(pki.ca)
        ctx.verify_flags |= ssl.VERIFY_ALLOW_PROXY_CERTS
        if max_version is not None:
            ctx.maximum_version = max_version
        self.ctx = ctx
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.addr = "127.0.0.1:%d" % self.port
        self.stopping = False
        threading.Thread(target=self.serve, daemon=True).start()

    def close(self):
        self.stopping = True
        self.sock.close()

    def serve(self):
        while not self.stopping:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.handle, args=(c,), daemon=True).start()

    @staticmethod
    def subject_cn(cert):
        cns = [v for rdn in cert.get("subject", ()) for k, v in rdn if k == "commonName"]
        return "/".join(cns)

    def handle(self, raw):
        raw.settimeout(15)
        # the handshake apart from the wrap: a failed wrap closes the socket at once
        c = self.ctx.wrap_socket(raw, server_side=True, do_handshake_on_connect=False)
        try:
            c.do_handshake()
        except (ssl.SSLError, OSError) as e:
            with self.lock:
                self.refused.append(str(e))
            self.linger(c)
            return
        try:
            req = self.read_request(c)
            if req is None:
                return
            method, path, headers, body = req
            cn = self.subject_cn(c.getpeercert() or {})
            st, reason, rh, rb, host = self.forward(method, path, headers, body, bool(cn))
            with self.lock:
                self.log.append((method, path, cn, host, st))
            out = "HTTP/1.1 %d %s\r\n" % (st, reason)
            for k, v in rh:
                if k.lower() not in ("connection", "transfer-encoding", "content-length",
                                     "keep-alive"):
                    out += "%s: %s\r\n" % (k, v)
            out += "Content-Length: %d\r\nConnection: close\r\n\r\n" % len(rb)
            c.sendall(out.encode("latin-1") + rb)
        except (ssl.SSLError, OSError) as e:
            with self.lock:
                self.refused.append("after the handshake: %s" % e)
        finally:
            try:
                c.close()
            except OSError:
                pass

    @staticmethod
    def linger(raw):
        """Close after a refused handshake as web servers do (lingering close): the alert is
        sent, our side is shut, what the client still sends is read and dropped for up to
        2 s. A bare close() with the client's request unread resets the connection, and the
        client may then see only "getpeername() failed ... not connected" instead of the
        alert (a race; the client's handling of it is not what this test is about)."""
        try:
            raw.shutdown(socket.SHUT_WR)
            raw.settimeout(0.5)
            deadline = time.time() + 2
            while time.time() < deadline and raw.recv(65536):
                pass
        except OSError:
            pass
        finally:
            raw.close()

    @staticmethod
    def read_request(c):
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = c.recv(65536)
            if not chunk:
                return None
            data += chunk
            if len(data) > 1 << 20:
                return None
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
        check("chunked" not in hmap.get("transfer-encoding", ""), "chunked upload")
        n = int(hmap.get("content-length", "0"))
        body = rest
        while len(body) < n:
            chunk = c.recv(65536)
            if not chunk:
                return None
            body += chunk
        return method, path, headers, body[:n]

    def forward(self, method, path, headers, body, verified):
        conn = http.client.HTTPConnection("127.0.0.1", self.up, timeout=30)
        host = None
        try:
            conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            has_auth = False
            for k, v in headers:
                kl = k.lower()
                if kl in ("connection", "keep-alive", "expect", "transfer-encoding",
                          "x-forwarded-proto", "x-forwarded-for"):
                    continue
                if kl == "host":
                    host = v
                if kl == "authorization":
                    has_auth = True
                conn.putheader(k, v)
            conn.putheader("X-Forwarded-Proto", "https")
            conn.putheader("X-Forwarded-For", "127.0.0.1")
            if verified and not has_auth:
                conn.putheader("Authorization", "Bearer " + self.token)
            conn.endheaders(body if body else None)
            r = conn.getresponse()
            return r.status, r.reason, r.getheaders(), r.read(), host
        finally:
            conn.close()


# ---- the test -------------------------------------------------------------------------------------

def run(db):
    t_start = time.time()
    conf = os.path.join(TMP, "remote.%d.conf" % os.getpid())
    os.makedirs(conf, exist_ok=True)
    b = Daemon(db.url, name="remote_b", workers=2, token=TOKEN,
               env={"OBSFLOW_CAOM_COLLECTIONS": COLLECTIONS, "OBSFLOW_CONFIG_DIR": conf})
    caps_http = "http://127.0.0.1:%d/caom2/capabilities" % b.port
    # the CLI gets every target option on its command line: none from the environment
    env = dict(os.environ)
    for k in ("OBSFLOW_CAOM_REPO_URL", "OBSFLOW_CAOM_REPO_TOKEN", "OBSFLOW_CAOM_REPO_CERT"):
        env.pop(k, None)
    HTTP = ["--url", caps_http, "--token", TOKEN] + FAST

    def repo(target, *args, rc=0, timeout=60, extra_env=None):
        cmd = [OBSFLOW, "repo"] + list(target) + list(args)
        t0 = time.time()
        try:
            p = subprocess.run(cmd, capture_output=True, text=True,
                               env=dict(env, **(extra_env or {})), timeout=timeout)
        except subprocess.TimeoutExpired:
            raise Hang("obsflow repo %s: no answer within %d s (killed)" %
                       (" ".join(args)[:300], timeout)) from None
        took = time.time() - t0
        if p.returncode != rc:
            fail("obsflow repo %s: exit %d, expected %d\nstdout: %s\nstderr: %s" %
                 (" ".join(cmd[2:])[:700], p.returncode, rc, p.stdout[:2000], p.stderr[:2000]))
        if rc != 0:
            lines = [ln for ln in p.stderr.splitlines() if ln]
            check(len(lines) == 1 and lines[0].startswith("obsflow repo: "),
                  "one named error line expected, got %r" % p.stderr)
        return p.stdout, p.stderr.strip(), took

    def push(target, args, expect, extra_env=None):
        out, err, _ = repo(target, "push", *args, extra_env=extra_env)
        words = out.split()
        check(len(words) == 3 and words[0] in expect and words[2].startswith("md5:"),
              "push %s printed %r, expected %s (stderr %r)" % (args[3], out, expect, err))
        return words[0], words[1], words[2]

    def opath(coll, oid=None):
        p = "/caom2/observations/" + urllib.parse.quote(coll, safe="")
        return p + "/" + urllib.parse.quote(oid, safe="") if oid is not None else p

    def get(coll, oid):
        """A plain anonymous GET of B: (ETag, root element, body)."""
        st, h, body = b.request("GET", opath(coll, oid), raw=True, auth=False)
        check(st == 200, "GET %s/%s answered %d: %r" % (coll, oid, st, body[:200]))
        check(h.get("content-type", "").startswith(CT_CAOM),
              "GET %s/%s content-type %r" % (coll, oid, h.get("content-type")))
        root = ET.fromstring(body)
        check(text_of(root, "{*}collection") == coll and
              text_of(root, "{*}observationID") == oid,
              "GET %s/%s served %s/%s" % (coll, oid, text_of(root, "{*}collection"),
                                          text_of(root, "{*}observationID")))
        etag = h.get("etag")
        check(etag and etag.strip('"') == caom_attr(root, "accMetaChecksum"),
              "%s/%s: ETag %s, document accMetaChecksum %s" %
              (coll, oid, etag, caom_attr(root, "accMetaChecksum")))
        return etag.strip('"'), root, body

    def rows(coll):
        st, _, body = b.request("GET", opath(coll), raw=True, auth=False)
        check(st == 200, "list %s answered %d: %r" % (coll, st, body[:200]))
        out = {}
        for ln in body.decode().splitlines():
            if ln:
                c, o, t, a = ln.split("\t")
                check(c == coll, "list row of %s names %s" % (coll, c))
                check(o not in out, "%s listed twice in %s" % (o, coll))
                out[o] = (t, a)
        return out

    def computed(root):
        """productID -> (has position, has energy) of the planes: a non-empty element (an
        expected document may carry an empty <energy/>)."""
        def full(p, tag):
            x = p.find(tag)
            return x is not None and len(x) > 0
        return {text_of(p, "{*}productID"): (full(p, "{*}position"), full(p, "{*}energy"))
                for p in root.iter() if p.tag.endswith("}plane")}

    # the shared material: expected documents and header cases
    def expected_doc(rel):
        path = os.path.join(CAOM_DATA, rel)
        root = ET.parse(path).getroot()
        return path, text_of(root, "{*}collection"), text_of(root, "{*}observationID")

    pushed = []  # (label, collection, observationID, push args, md5) (part 1c)

    def case(name, coll=None, oid_suffix=None):
        path = glob.glob(os.path.join(CASES, name + "_*.case"))
        check(len(path) == 1, "case %s: %s" % (name, path))
        c, o, args = case_push(path[0], coll)
        if oid_suffix:
            k = args.index("--observation-id")
            o = o + oid_suffix
            args[k + 1] = o
        return c, o, args

    # ---- 1a. the capabilities and anonymous reads ----
    def p_caps():
        st, h, body = b.request("GET", "/caom2/capabilities", raw=True, auth=False)
        check(st == 200, "capabilities answered %d" % st)
        urls = re.findall(r"<accessURL[^>]*>([^<]*)</accessURL>", body.decode())
        want = "http://127.0.0.1:%d/caom2/observations" % b.port
        check(want in urls, "capabilities name %s, expected %s" % (urls, want))
        out, _, _ = repo(["--url", caps_http] + FAST, "list", "WALLABY")
        check(out == "", "an empty WALLABY lists nothing without a token: %r" % out)

    # ---- 1b. documents: put ----
    DOCS = ["wallaby2caom2/dr1/WALLABY_J103250-301601_Hydra_TR1_spec.expected.xml",
            "wallaby2caom2/dr2/SoFiA_J124915+043926_cube.expected.xml",
            "possum2caom2/casda/PSM_pilot1_1368MHz_18asec_2031-5249_11073_i_v1.expected.xml",
            "possum2caom2/possum/PSM_pilot1_944MHz_18asec_2226-5552_11268_p3d_v1_coeff0"
            ".expected.xml"]

    def p_put():
        for rel in DOCS:
            path, coll, oid = expected_doc(rel)
            uri = "caom:%s/%s" % (coll, oid)
            sent = computed(ET.parse(path).getroot())
            out, _, _ = repo(HTTP, "put", path)
            check(out.strip() == "created " + uri, "put %s printed %r" % (rel, out))
            etag, root, _ = get(coll, oid)
            check(rows(coll).get(oid, (None, None))[1] == etag,
                  "%s: list row %s, ETag %s" % (uri, rows(coll).get(oid), etag))
            got = computed(root)
            check(set(got) == set(sent), "%s: planes %s stored, %s sent" % (uri, got, sent))
            # WALLABY keeps what was sent; POSSUM recomputes it from the chunks: the same
            # axes come out (the p3d document's <energy/> is empty: no spectral chunk axis)
            check(got == sent, "%s: plane position/energy %s stored, %s sent" %
                  (uri, got, sent))
            _, err, _ = repo(HTTP, "put", path, rc=1)
            check(err == "obsflow repo: already exists: " + uri, "second put: %r" % err)
        # a collection B does not serve
        vlass, coll, oid = expected_doc("vlass2caom2/VLASS1.1.T01t01.J000228-363000.expected.xml")
        _, err, _ = repo(HTTP, "put", vlass, rc=1)
        check(err == "obsflow repo: not found: caom:%s/%s" % (coll, oid),
              "put into an unserved collection: %r" % err)

    # ---- 1c. header cases: push ----
    PUSHES = [("S01", None), ("S02", None), ("S03", None), ("S10", "WALLABY"),
              ("S04", None), ("S05", None)]

    def p_push_created():
        seen = set()
        for name, coll_override in PUSHES:
            # the observations of the documents put in 1b are left to them: "-hdr" IDs
            coll, oid, args = case(name, coll_override, "-hdr")
            k = args.index("--collection")
            check(args[k + 1] in ("WALLABY", "POSSUM"), "%s pushes to %s" % (name, args[k + 1]))
            # S02 is a second plane of S01's observation: added beside it
            expect = ("updated",) if (coll, oid) in seen else ("created",)
            seen.add((coll, oid))
            before = computed(get(coll, oid)[1]) if expect == ("updated",) else {}
            outcome, uri, md5 = push(HTTP, args, expect)
            check(uri == "caom:%s/%s" % (coll, oid), "%s pushed %s" % (name, uri))
            etag, root, _ = get(coll, oid)
            check(rows(coll)[oid][1] == etag, "%s: list row %s, ETag %s" %
                  (name, rows(coll)[oid], etag))
            # B's PUT/POST answer carries the stored accMetaChecksum as ETag, so the CLI prints
            # B's checksum even where B recomputed the plane metadata (POSSUM)
            check(etag == md5, "%s: B's ETag %s, the CLI printed %s" % (name, etag, md5))
            got = computed(root)
            check(set(before) < set(got), "%s: planes %s after %s" % (name, got, before))
            if coll == "POSSUM":
                check(all(p for p, _ in got.values()),
                      "%s into POSSUM:compute: the server computed no position: %s" %
                      (name, got))
            pushed.append((name, coll, oid, args, md5))
        check(len(pushed) == len(PUSHES), "every case pushed")

    # ---- 1d. pushed again: unchanged, nothing written ----
    def p_push_unchanged():
        check(pushed, "part 1c pushed nothing")
        before = {c: rows(c) for c in ("WALLABY", "POSSUM")}
        last = {}
        for name, coll, oid, _, md5 in pushed:
            last[(coll, oid)] = md5
        bad = []
        for name, coll, oid, args, _ in pushed:
            stored = get(coll, oid)[0]
            outcome, _, md5 = push(HTTP, args, ("unchanged", "updated"))
            if outcome != "unchanged":
                bad.append("%s (%s) %s: %s md5 %s -> %s" % (name, coll, oid, outcome,
                                                            last[(coll, oid)], md5))
            else:
                check(md5 == stored, "%s: unchanged printed %s, B stores %s" %
                      (name, md5, stored))
        after = {c: rows(c) for c in ("WALLABY", "POSSUM")}
        check(not bad, "pushed again but not unchanged: %s" % "; ".join(bad))
        check(before == after, "a row changed although every push was unchanged:\n%s\n%s" %
              (before, after))

    def first_difference(a, b_, path=""):
        """The first differing element or text of two XML trees, as a short string."""
        tag = a.tag.split("}")[-1]
        here = "%s/%s" % (path, tag)
        if (a.text or "").strip() != (b_.text or "").strip():
            return "%s: %s vs %s" % (here, (a.text or "").strip(), (b_.text or "").strip())
        ka, kb = list(a), list(b_)
        if [x.tag for x in ka] != [x.tag for x in kb]:
            return "%s: children %s vs %s" % (here, [x.tag.split("}")[-1] for x in ka],
                                               [x.tag.split("}")[-1] for x in kb])
        for x, y in zip(ka, kb):
            d = first_difference(x, y, here)
            if d:
                return d
        return None

    def plane_diff(stored, built):
        """Where the plane metadata of B's document and the client's build differ."""
        out = []
        sp = {text_of(p, "{*}productID"): p for p in stored.iter() if p.tag.endswith("}plane")}
        for p in built.iter():
            if not p.tag.endswith("}plane"):
                continue
            q = sp.get(text_of(p, "{*}productID"))
            for tag in ("position", "energy", "time", "polarization"):
                x = p.find("{*}" + tag)
                y = q.find("{*}" + tag) if q is not None else None
                if (x is None) != (y is None):
                    out.append("%s only in %s" % (tag, "the client" if y is None else "B"))
                elif x is not None:
                    d = first_difference(y, x)
                    if d:
                        out.append("B vs client " + d)
        return out

    def p_push_compute_client():
        # the same POSSUM cases built with --compute by the client (wcslib projections in
        # lib/fits2caom) over the observations B computed (lib/caom's built-in projections):
        # a pipeline that computes client-side must find them unchanged
        bad = []
        for name in ("S04c", "S05c"):
            coll, oid, args = case(name, None, "-hdr")
            check("--compute" in args, "%s builds with --compute" % name)
            stored = get(coll, oid)[0]
            t0 = rows(coll)[oid][0]
            outcomes = []
            for _ in range(2):
                outcome, _, md5 = push(HTTP, args, ("unchanged", "updated"))
                outcomes.append("%s %s" % (outcome, md5))
            after, root, _ = get(coll, oid)
            if outcomes[-1].split()[0] != "unchanged":
                p = subprocess.run([OBSFLOW, "caom"] + args, capture_output=True, text=True,
                                   env=env, timeout=60)
                diff = plane_diff(root, ET.fromstring(p.stdout)) if p.returncode == 0 else \
                    ["obsflow caom failed: %s" % p.stderr.strip()]
                bad.append("%s: pushed twice: %s; B stores %s before and %s after, "
                           "maxLastModified %s -> %s; plane metadata: %s" %
                           (name, ", ".join(outcomes), stored, after, t0, rows(coll)[oid][0],
                            "; ".join(diff[:3]) or "no difference"))
        check(not bad, "client-side --compute disagrees with B's computation: %s" %
              " | ".join(bad))

    # ---- 1e. the bearer token ----
    def p_auth():
        coll, oid, args = case("S12", "WALLABY", "-auth")
        nobody = ["--url", caps_http] + FAST
        # what B answers, read with plain HTTP
        with open(os.path.join(CAOM_DATA, DOCS[0]), "rb") as f:
            body = f.read()
        st, _, msg403 = b.request("PUT", opath("WALLABY", "auth-probe"), body=body, raw=True,
                                  auth=False, headers={"Content-Type": CT_CAOM})
        check(st == 403, "PUT without a token answered %d: %r" % (st, msg403[:200]))
        msg403 = msg403.decode().strip().splitlines()[0]
        check("permission denied" in msg403, "403 message %r" % msg403)
        st, _, msg401 = b.request("PUT", opath("WALLABY", "auth-probe"), body=body, raw=True,
                                  headers={"Content-Type": CT_CAOM,
                                           "Authorization": "Bearer wrong"})
        check(st == 401, "PUT with a wrong token answered %d: %r" % (st, msg401[:200]))
        msg401 = msg401.decode().strip().splitlines()[0]
        _, err, _ = repo(nobody, "push", *args, rc=1)
        check(err == "obsflow repo: " + msg403 and "permission denied" in err,
              "push without a token: %r (B says %r)" % (err, msg403))
        _, err, _ = repo(nobody + ["--token", "wrong"], "push", *args, rc=1)
        check(err == "obsflow repo: " + msg401, "push with a wrong token: %r (B says %r)" %
              (err, msg401))
        _, err, _ = repo(nobody, "put", os.path.join(CAOM_DATA, DOCS[0]), rc=1)
        check("permission denied" in err, "put without a token: %r" % err)
        _, err, _ = repo(nobody + ["--token", "wrong"], "delete", "WALLABY", "x", rc=1)
        check(err == "obsflow repo: " + msg401, "delete with a wrong token: %r" % err)
        check(oid not in rows("WALLABY"), "stored without a valid token")
        push(FAST, args, ("created",), extra_env={"OBSFLOW_CAOM_REPO_URL": caps_http,
                                                   "OBSFLOW_CAOM_REPO_TOKEN": TOKEN})

    # ---- 2. TLS with client certificates through the proxy ----
    state = {}

    def p_tls_setup():
        pki = PKI(os.path.join(TMP, "pki.%d" % os.getpid()))
        proxy = TLSProxy(pki, b.port, TOKEN)
        proxy12 = TLSProxy(pki, b.port, TOKEN, ssl.TLSVersion.TLSv1_2)
        state.update(pki=pki, proxy=proxy, proxy12=proxy12,
                     caps="https://%s/caom2/capabilities" % proxy.addr)
        # what the proxy serves, read with python's TLS client and the certificate
        ctx = ssl.create_default_context(cafile=pki.ca)
        ctx.load_cert_chain(pki.client)
        c = http.client.HTTPSConnection("127.0.0.1", proxy.port, context=ctx, timeout=15)
        try:
            c.request("GET", "/caom2/capabilities")
            r = c.getresponse()
            body = r.read().decode()
        finally:
            c.close()
        check(r.status == 200, "capabilities through the proxy answered %d" % r.status)
        urls = re.findall(r"<accessURL[^>]*>([^<]*)</accessURL>", body)
        want = "https://%s/caom2/observations" % proxy.addr
        check(want in urls, "capabilities through the proxy name %s, expected %s (Host and "
              "X-Forwarded-Proto forwarded)" % (urls, want))
        check(proxy.log and proxy.log[-1][3] == proxy.addr, "Host forwarded: %s" % proxy.log)

    def tls_target(cert):
        return ["--url", state["caps"], "--cert", cert, "--ca-file", state["pki"].ca] + FAST

    def p_tls_push():
        check(state, "no TLS setup")
        proxy, pki = state["proxy"], state["pki"]
        runs = [("S01", None, proxy), ("S10", "WALLABY", proxy), ("S04", None, proxy),
                ("S05", None, state["proxy12"])]
        for name, coll_override, px in runs:
            coll, oid, args = case(name, coll_override, "-tls")
            tgt = ["--url", "https://%s/caom2/capabilities" % px.addr, "--cert", pki.client,
                   "--ca-file", pki.ca] + FAST
            del px.log[:]
            _, uri, md5 = push(tgt, args, ("created",))
            check(uri == "caom:%s/%s" % (coll, oid), "%s pushed %s" % (name, uri))
            etag = get(coll, oid)[0]
            check(etag == md5, "%s over TLS: ETag %s, printed %s" % (name, etag, md5))
            paths = [x[1] for x in px.log]
            check(paths and paths[0] == "/caom2/capabilities" and
                  all(x[2] == "testuser" for x in px.log) and
                  all(x[3] == px.addr for x in px.log) and
                  any(x[0] == "PUT" and x[4] == 200 for x in px.log),
                  "%s: the push went through the proxy as testuser: %s" % (name, px.log))
            _, _, md5b = push(tgt, args, ("unchanged",))
            check(md5b == etag, "%s over TLS: unchanged with %s, stored %s" % (name, md5b, etag))
        tgt = tls_target(pki.client)
        # the single operations: the cube document of 1b deleted, the mom0 plane's document
        # of the same observation put in its place, read back and listed
        rel = "wallaby2caom2/dr2/SoFiA_J124915+043926_mom0.expected.xml"
        path, coll, oid = expected_doc(rel)
        _, err, _ = repo(tgt, "put", path, rc=1)
        check(err == "obsflow repo: already exists: caom:%s/%s" % (coll, oid),
              "put over TLS onto 1b's document: %r" % err)
        out, _, _ = repo(tgt, "delete", coll, oid)
        check(out.strip() == "deleted caom:%s/%s" % (coll, oid), "delete over TLS: %r" % out)
        out, _, _ = repo(tgt, "put", path)
        check(out.strip() == "created caom:%s/%s" % (coll, oid), "put over TLS: %r" % out)
        out, _, _ = repo(tgt, "get", coll, oid)
        check(out.encode() == get(coll, oid)[2], "get over TLS prints B's document")
        out, _, _ = repo(tgt, "list", coll)
        check(oid in [ln.split("\t")[1] for ln in out.splitlines()], "list over TLS")

    def p_tls_proxy_cert():
        check(state, "no TLS setup")
        pki, proxy = state["pki"], state["proxy"]
        coll, oid, args = case("S03", None, "-proxycert")
        del proxy.log[:]
        # the target from the environment, as a pipeline's configuration gives it
        penv = {"OBSFLOW_CAOM_REPO_URL": state["caps"], "OBSFLOW_CAOM_REPO_CERT": pki.proxy_pem}
        tgt = ["--ca-file", pki.ca] + FAST
        _, _, md5 = push(tgt, args, ("created",), extra_env=penv)
        check(get(coll, oid)[0] == md5, "proxy certificate push stored")
        check(proxy.log and all(x[2] == "testuser/424242" for x in proxy.log),
              "the proxy saw the RFC 3820 proxy certificate: %s" % proxy.log)
        push(tgt, args, ("unchanged",), extra_env=penv)

    def p_tls_refused():
        check(state, "no TLS setup")
        pki, proxy, proxy12 = state["pki"], state["proxy"], state["proxy12"]
        coll, oid, args = case("S12", "WALLABY", "-refused")
        caps13, caps12 = state["caps"], "https://%s/caom2/capabilities" % proxy12.addr
        cases = [
            ("TLS 1.3, no client certificate", proxy, ["--url", caps13, "--ca-file", pki.ca]),
            ("TLS 1.3, a certificate of another CA", proxy,
             ["--url", caps13, "--ca-file", pki.ca, "--cert", pki.stranger]),
            ("TLS 1.3, a certificate PEM without its key", proxy,
             ["--url", caps13, "--ca-file", pki.ca, "--cert", pki.p("client.crt")]),
            ("TLS 1.3, no --ca-file (server not trusted)", proxy,
             ["--url", caps13, "--cert", pki.client]),
            ("TLS 1.2, no client certificate", proxy12, ["--url", caps12, "--ca-file", pki.ca]),
            ("TLS 1.2, a certificate of another CA", proxy12,
             ["--url", caps12, "--ca-file", pki.ca, "--cert", pki.stranger]),
        ]
        bad = []
        for label, px, tgt in cases:
            # the default retry settings on purpose: a refused certificate or an untrusted
            # server stays so, and must not be retried (6 retries from 30 s, capped at 128 s,
            # would keep a pipeline step busy for about 10 minutes)
            n0 = len(px.refused)
            try:
                _, err, took = repo(tgt, "push", *args, rc=1, timeout=PROMPT_S)
            except Hang:
                n = len(px.refused) - n0
                # what it says without retries, for the report
                _, err0, _ = repo(tgt + ["--retries", "0"], "push", *args, rc=1,
                                  timeout=PROMPT_S)
                bad.append("%s: no answer within %d s with the default retries (%d connection(s) "
                           "failed at the proxy by then: retried as transient); with --retries 0 "
                           "it says %r" % (label, PROMPT_S, n, err0))
                continue
            print("  %s: exit 1 in %.2f s: %s" % (label, took, err), flush=True)
            if not re.search(r"SSL|TLS|certificate|alert|handshake|key", err, re.I):
                bad.append("%s: the line does not name the TLS failure: %r" % (label, err))
            if tgt[1] not in err:
                bad.append("%s: the line does not name the URL: %r" % (label, err))
        check(oid not in rows(coll), "stored although TLS failed")
        check(not bad, " | ".join(bad))

    def p_tls_close():
        for k in ("proxy", "proxy12"):
            if state.get(k):
                state[k].close()

    part("1a capabilities and anonymous reads", p_caps)
    part("1b documents put, again already exists", p_put)
    part("1c header cases pushed: created", p_push_created)
    part("1d pushed again: unchanged", p_push_unchanged)
    part("1e bearer token refusals", p_auth)
    part("1f client --compute agrees with the compute collection", p_push_compute_client)
    part("2a TLS proxy: certificates, Host and X-Forwarded-Proto", p_tls_setup)
    part("2b TLS client certificate push", p_tls_push)
    part("2b TLS RFC 3820 proxy certificate push", p_tls_proxy_cert)
    part("2c TLS refusals: named, prompt", p_tls_refused)
    p_tls_close()
    total = time.time() - t_start
    print("timing: %s; total %.2f s" % (", ".join("%s %.2f s" % (lb.split(" ")[0], t)
                                                  for lb, t in TIMES), total), flush=True)
    if SUBFAIL:
        b.dump_log(30)
        fail("%d part(s) failed: %s" % (len(SUBFAIL), ", ".join(SUBFAIL)))
    b.stop()


if __name__ == "__main__":
    main(run, "repo_remote")
