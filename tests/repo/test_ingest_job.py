#!/usr/bin/env python3
"""test_ingest_job.py - the `ingest` job kind through the real API (POST /v1/jobs) and the
built-in repository of obsflowd, with a fresh database in the ctest PostgreSQL fixture:

 1. every shared case (tests/caom2data/cases, identities from the expected XML as
    test_repo_push builds them) submitted as one ingest job with file: URIs under
    OBSFLOW_DATA_ROOTS: each succeeds with outcome "created", and the document stored in the
    built-in repository equals, structurally, what `obsflow caom` writes for the same inputs
    (same planes, artifacts, parts, chunks and values; UUIDs and server attributes aside);
 2. the same jobs submitted again: outcome "unchanged", same accMetaChecksum;
 3. bad params (missing, wrong type, unknown key, bad URI, blueprint escaping its directory,
    artifact_uris count) refused with 422 naming the field, in a batch too;
 4. http:// inputs (a local server): downloaded whole into OBSFLOW_WORK_DIR, the same
    document as from files, the scratch removed; a 404 fails at once;
    real FITS files (one gzipped) with identities left to the StorageName rule: stored as
    `obsflow caom --collection C FILE` writes them;
 5. a missing input file, a file outside the data roots, an unknown blueprint and headers
    f2c cannot read (a DATE-OBS of 1987 as dd/mm/yy): the job fails on its first attempt
    (not retried) with a named error code and message;
 6. an unreachable remote repository (OBSFLOW_CAOM_REPO_URL on a closed port): the job is
    retried with backoff, then fails with code repository_unavailable.
Prints the ingest rate of part 1 ("ingest: N jobs in S s").

SPDX-License-Identifier: Apache-2.0
"""
import functools
import glob
import gzip
import http.server
import os
import re
import shutil
import socket
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
sys.path.insert(0, HERE)
from apitest import BIN_DIR, TMP, Daemon, Database, check, fail, main, wait_until  # noqa: E402
from run_case import Cmp  # noqa: E402
from test_repo_push import CASES, SHARED, case_push  # noqa: E402

OBSFLOW = os.path.join(BIN_DIR, "obsflow")
DATA_ROOT = os.path.realpath(os.path.join(SHARED, "testdata"))
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


CASES_FIRST = sorted(glob.glob(os.path.join(CASES, "*.case")))


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def params_of(args, bpdir, tag):
    """The ingest params equal to `obsflow caom` build arguments; blueprints are copied into
    the daemon's blueprint directory under names of their own."""
    p = {"uris": [], "artifact_uris": [], "blueprints": []}
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("--collection", "--observation-id", "--product-id", "--artifact-uri",
                 "--blueprint", "--scheme"):
            v = args[i + 1]
            i += 2
            if a == "--artifact-uri":
                p["artifact_uris"].append(v)
            elif a == "--blueprint":
                name = "%s.%d.blueprint" % (tag, len(p["blueprints"]))
                shutil.copyfile(v, os.path.join(bpdir, name))
                p["blueprints"].append(name)
                # the lookup tables it names ("table NAME = 'file.csv'") go beside it
                with open(v) as f:
                    for m in re.finditer(r"^table\s+\w+\s*=\s*'([^']+)'", f.read(), re.M):
                        shutil.copyfile(os.path.join(os.path.dirname(v), m.group(1)),
                                        os.path.join(bpdir, m.group(1)))
            else:
                p[a[2:].replace("-", "_")] = v
        elif a == "--compute":
            p["compute"] = True
            i += 1
        elif a.startswith("-"):
            fail("case argument %s has no ingest parameter" % a)
        else:
            real = os.path.realpath(a)
            check(real.startswith(DATA_ROOT + "/"), "%s is under %s" % (a, DATA_ROOT))
            p["uris"].append("file:" + os.path.abspath(a))
            i += 1
    if not p["blueprints"]:
        del p["blueprints"]
    return p


def parse_case_collection(path):
    """The collection of a case's expected document."""
    coll, _, _ = case_push(path)
    return coll


def wait_jobs(d, ids, states=("succeeded", "failed", "cancelled"), timeout=300):
    done = {}

    def poll():
        for j in ids:
            if j not in done:
                b = d.job(j)
                if b["state"] in states:
                    done[j] = b
        return len(done) == len(ids)
    wait_until(poll, timeout, "%d jobs to end" % len(ids), interval=0.05)
    return done


def structure(root):
    """(planes, artifacts, parts, chunks) counts of a document."""
    return tuple(len(root.findall(p)) for p in (
        "{*}planes/{*}plane", "{*}planes/{*}plane/{*}artifacts/{*}artifact",
        "{*}planes/{*}plane/{*}artifacts/{*}artifact/{*}parts/{*}part",
        "{*}planes/{*}plane/{*}artifacts/{*}artifact/{*}parts/{*}part/{*}chunks/{*}chunk"))


def same_document(label, cli_root, stored_root):
    check(structure(cli_root) == structure(stored_root),
          "%s: planes/artifacts/parts/chunks %s from obsflow caom, %s stored" %
          (label, structure(cli_root), structure(stored_root)))
    errs = []
    for a, b in ((cli_root, stored_root), (stored_root, cli_root)):
        c = Cmp([], [])
        c.node("", a, b)
        check(c.compared > 10, "%s: only %d values compared" % (label, c.compared))
        errs += c.errors
    check(not errs, "%s: stored document differs from obsflow caom:\n  %s" %
          (label, "\n  ".join(errs[:20])))


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def run(db):
    conf = os.path.join(TMP, "ingest.%d.conf" % os.getpid())
    bpdir = os.path.join(conf, "blueprints")
    os.makedirs(bpdir, exist_ok=True)
    work = os.path.join(TMP, "ingest.%d.work" % os.getpid())
    os.makedirs(work, exist_ok=True)
    gzdir = os.path.join(TMP, "ingest.%d.gz" % os.getpid())
    os.makedirs(gzdir, exist_ok=True)
    env = {"OBSFLOW_CAOM_COLLECTIONS": "*", "OBSFLOW_CONFIG_DIR": conf,
           "OBSFLOW_DATA_ROOTS": DATA_ROOT + ":" + gzdir, "OBSFLOW_WORK_DIR": work}
    d = Daemon(db.url, name="ingest", workers=2, env=env)
    cases = []  # (label, params, cli args)
    for path in sorted(glob.glob(os.path.join(CASES, "*.case"))):
        label = os.path.basename(path)[:-5]
        # a collection of its own per case: cases sharing an observation (planes of one
        # WALLABY source) would otherwise accumulate planes and compare against one plane
        orig = parse_case_collection(path)
        # a file: ingest measures its inputs (here the header files) as its storage facts, so
        # the CLI document it is compared with is built without the case's storage lines
        coll, obs_id, args = case_push(path, collection="%s-%s" % (orig, label), storage=False)
        cases.append((label, coll, obs_id, params_of(args, bpdir, label), args))
    check(len(cases) >= 10, "shared cases found: %d" % len(cases))
    first = {}

    def submit_all(expect):
        t0 = time.time()
        st, _, jobs = d.request("POST", "/v1/jobs",
                                [{"kind": "ingest", "params": c[3], "max_attempts": 1}
                                 for c in cases])
        check(st == 202, "POST %d ingest jobs: %s %s" % (len(cases), st, jobs))
        done = wait_jobs(d, [j["id"] for j in jobs])
        took = time.time() - t0
        out = {}
        for c, j in zip(cases, jobs):
            b = done[j["id"]]
            check(b["state"] == "succeeded", "%s: ingest job %s: %s" % (c[0], b["state"], b))
            r = b["result"]
            check(r["outcome"] == expect, "%s: outcome %s, expected %s" %
                  (c[0], r["outcome"], expect))
            check(r["uri"] == "caom:%s/%s" % (c[1], c[2]), "%s: uri %s" % (c[0], r["uri"]))
            check(r["acc_meta_checksum"].startswith("md5:") and
                  r["artifacts"] == len(c[3]["uris"]), "%s: result %s" % (c[0], r))
            out[c[0]] = r
        print("ingest: %d jobs (%s) in %.2f s: %.1f jobs/s" %
              (len(cases), expect, took, len(cases) / took), flush=True)
        return out

    def p_created():
        first.update(submit_all("created"))
        for label, coll, obs_id, _, args in cases:
            out = os.path.join(TMP, "ingest.%d.%s.xml" % (os.getpid(), label))
            p = subprocess.run([OBSFLOW, "caom", "-o", out] + args, capture_output=True,
                               text=True, timeout=120)
            check(p.returncode == 0, "%s: obsflow caom exit %d: %s" %
                  (label, p.returncode, p.stderr))
            st, h, body = d.request("GET", "/caom2/observations/%s/%s" % (
                urllib.parse.quote(coll, safe=""), urllib.parse.quote(obs_id, safe="")),
                raw=True)
            check(st == 200, "%s: GET stored document: %s %r" % (label, st, body[:200]))
            check(h.get("etag", "").strip('"') == first[label]["acc_meta_checksum"],
                  "%s: ETag %s, job result %s" % (label, h.get("etag"),
                                                   first[label]["acc_meta_checksum"]))
            same_document(label, ET.parse(out).getroot(), ET.fromstring(body))
            os.unlink(out)

    def p_unchanged():
        again = submit_all("unchanged")
        for label, r in again.items():
            if label in first:
                check(r["acc_meta_checksum"] == first[label]["acc_meta_checksum"],
                      "%s: checksum moved on an unchanged push" % label)

    def p_fits_defaults():
        """Real FITS files, one gzipped, with every identity left to its default (StorageName
        of the input's file name): the same document as `obsflow caom --collection C FILE`."""
        gz = os.path.join(gzdir, "kastb_b1_arc.fits.gz")
        with open(os.path.join(DATA_ROOT, "fits", "kastb_b1_arc.fits"), "rb") as f:
            data = f.read()
        with gzip.open(gz, "wb") as f:
            f.write(data)
        inputs = [("FITS-plain", os.path.join(DATA_ROOT, "fits", "o4sp040b0_raw.fits"),
                   "o4sp040b0_raw"),
                  ("FITS-gzip", gz, "kastb_b1_arc")]
        st, _, jobs = d.request("POST", "/v1/jobs", [
            {"kind": "ingest", "params": {"collection": c, "uris": ["file:" + f]},
             "max_attempts": 1} for c, f, _ in inputs])
        check(st == 202, "POST FITS ingests: %s %s" % (st, jobs))
        done = wait_jobs(d, [j["id"] for j in jobs])
        for (coll, f, oid), j in zip(inputs, jobs):
            b = done[j["id"]]
            check(b["state"] == "succeeded" and b["result"]["uri"] == "caom:%s/%s" % (coll, oid),
                  "%s: %s" % (coll, b))
            out = os.path.join(TMP, "ingest.%d.%s.xml" % (os.getpid(), coll))
            p = subprocess.run([OBSFLOW, "caom", "--collection", coll, "-o", out, f],
                               capture_output=True, text=True, timeout=120)
            check(p.returncode == 0, "%s: obsflow caom: %s" % (coll, p.stderr))
            st, _, body = d.request("GET", "/caom2/observations/%s/%s" % (coll, oid), raw=True)
            check(st == 200, "%s: GET: %s" % (coll, st))
            stored = ET.fromstring(body)
            same_document(coll, ET.parse(out).getroot(), stored)
            uri = stored.find("{*}planes/{*}plane/{*}artifacts/{*}artifact/{*}uri").text
            check(uri == "cadc:%s/%s.fits" % (coll, oid), "%s: artifact URI %s" % (coll, uri))
            os.unlink(out)

    def p_http_inputs():
        """http:// inputs are downloaded whole into OBSFLOW_WORK_DIR, built like file: ones
        and the scratch copies removed; a 404 fails the job at once."""
        label = os.path.basename(CASES_FIRST[0])[:-5]
        coll = "%s-http" % parse_case_collection(CASES_FIRST[0])
        _, obs_id, args = case_push(CASES_FIRST[0], collection=coll, storage=False)
        params = params_of(args, bpdir, label + "-http")
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(
            QuietHandler, directory=DATA_ROOT))
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        base = "http://127.0.0.1:%d/" % srv.server_address[1]
        try:
            # the path below the served root (the shared tree may be reached through a link)
            params["uris"] = [base + os.path.relpath(os.path.realpath(u[len("file:"):]), DATA_ROOT)
                              for u in params["uris"]]
            missing = dict(params, uris=[base + "caom2/no-such-file.fits.header"],
                           artifact_uris=None)
            st, _, jobs = d.request("POST", "/v1/jobs", [
                {"kind": "ingest", "params": p, "max_attempts": 3} for p in (params, missing)])
            check(st == 202, "POST http ingests: %s %s" % (st, jobs))
            done = wait_jobs(d, [j["id"] for j in jobs], timeout=60)
        finally:
            srv.shutdown()
            srv.server_close()
        ok, nf = done[jobs[0]["id"]], done[jobs[1]["id"]]
        check(ok["state"] == "succeeded" and ok["result"]["outcome"] == "created",
              "http ingest: %s" % ok)
        check(nf["state"] == "failed" and nf["attempts"] == 1 and
              nf["error"]["code"] == "input_not_found", "http 404: %s" % nf)
        out = os.path.join(TMP, "ingest.%d.http.xml" % os.getpid())
        p = subprocess.run([OBSFLOW, "caom", "-o", out] + args, capture_output=True, text=True,
                           timeout=120)
        check(p.returncode == 0, "obsflow caom: %s" % p.stderr)
        st, _, body = d.request("GET", "/caom2/observations/%s/%s" % (
            urllib.parse.quote(coll, safe=""), urllib.parse.quote(obs_id, safe="")), raw=True)
        check(st == 200, "GET http-ingested document: %s" % st)
        same_document(coll, ET.parse(out).getroot(), ET.fromstring(body))
        os.unlink(out)
        left = os.listdir(work)
        check(not left, "scratch left in OBSFLOW_WORK_DIR: %s" % left)

    def p_bad_params():
        good = dict(cases[0][3])
        uri0 = good["uris"][0]

        def refused(params, field, batch=False):
            spec = {"kind": "ingest", "params": params}
            body = [{"kind": "ingest", "params": good}, spec] if batch else spec
            st, _, doc = d.request("POST", "/v1/jobs", body)
            want = ("[1]." if batch else "") + field
            check(st == 422 and doc.get("field") == want,
                  "params %s: %s field %r, expected 422 %r (%s)" %
                  (params, st, doc.get("field") if isinstance(doc, dict) else None, want, doc))

        refused({}, "params.collection")
        refused({"collection": "X"}, "params.uris")
        refused(dict(good, colour="red"), "params.colour")
        refused(dict(good, collection="a/b"), "params.collection")
        refused(dict(good, uris=[]), "params.uris")
        refused(dict(good, uris="file:/x"), "params.uris")
        refused(dict(good, uris=[uri0, uri0, uri0]), "params.artifact_uris")
        refused(dict(good, artifact_uris="cadc:X/a"), "params.artifact_uris")
        g = {k: v for k, v in good.items() if k != "artifact_uris"}
        refused(dict(g, uris=[uri0, uri0, "ftp://h/x.fits"]), "params.uris[2]")
        refused(dict(g, uris=[uri0, 7]), "params.uris[1]")
        refused(dict(g, uris=["file:/data/dir/"]), "params.uris[0]")
        refused(dict(good, artifact_uris=["nocolon"] * len(good["uris"])),
                "params.artifact_uris[0]")
        refused(dict(good, artifact_uris=["cadc:X/a"] * (len(good["uris"]) + 1)),
                "params.artifact_uris")
        refused(dict(good, blueprints=["../caom2-collections.conf"]), "params.blueprints[0]")
        refused(dict(good, blueprints=["/etc/passwd"]), "params.blueprints[0]")
        refused(dict(good, compute="yes"), "params.compute")
        refused(dict(good, scheme="Bad Scheme"), "params.scheme")
        refused(dict(good, observation_id=""), "params.observation_id")
        refused(dict(good, product_id="a/b"), "params.product_id")
        refused({"collection": "X", "uris": ["s3://BAD_bucket/k.fits"]}, "params.uris[0]")
        refused({"collection": "X", "uris": ["ftp://h/a.fits"]}, "params.uris[0]", batch=True)
        st, _, _ = d.request("POST", "/v1/jobs", {"kind": "ingest", "params": "x"})
        check(st == 422, "params not an object: %s" % st)

    def p_permanent_failures():
        good = cases[0][3]
        g = {k: v for k, v in good.items() if k != "artifact_uris"}
        specs = [
            ("input_not_found", dict(g, uris=["file:" + DATA_ROOT + "/caom2/no-such-file.fits"]),
             "no-such-file"),
            ("input_refused", dict(g, uris=["file:/etc/hostname"]), ""),
            ("blueprint", dict(good, blueprints=["no-such.blueprint"]), "no-such.blueprint"),
            ("bad_input", {"collection": "FITS-bad",
                           "uris": ["file:" + os.path.join(DATA_ROOT, "fits", "m51.fits")]},
             "is not a date"),
        ]
        st, _, jobs = d.request("POST", "/v1/jobs", [
            {"kind": "ingest", "params": p, "max_attempts": 5} for _, p, _ in specs])
        check(st == 202, "POST failing ingests: %s %s" % (st, jobs))
        done = wait_jobs(d, [j["id"] for j in jobs], states=("failed", "succeeded"), timeout=60)
        for (code, _, word), j in zip(specs, jobs):
            b = done[j["id"]]
            check(b["state"] == "failed" and b["attempts"] == 1,
                  "%s: failed at once expected: %s" % (code, b))
            check(b["error"]["code"] == code and word in b["error"]["message"],
                  "%s: error %s" % (code, b["error"]))

    def p_remote_unreachable():
        port = closed_port()
        d.stop()  # the jobs of this database must be claimed by the daemon below only
        r = Daemon(db.url, name="ingest-remote", workers=1, env=dict(
            env, OBSFLOW_CAOM_REPO_URL="http://127.0.0.1:%d/caom2" % port))
        try:
            t0 = time.time()
            j = r.submit({"kind": "ingest", "params": cases[0][3], "max_attempts": 2})
            b = wait_jobs(r, [j["id"]], states=("failed", "succeeded"), timeout=120)[j["id"]]
            check(b["state"] == "failed" and b["attempts"] == 2,
                  "unreachable repository: retried then failed expected: %s" % b)
            check(b["error"]["code"] == "repository_unavailable",
                  "unreachable repository: error %s" % b["error"])
            print("unreachable repository: failed after %d attempts in %.1f s: %s" %
                  (b["attempts"], time.time() - t0, b["error"]["message"]), flush=True)
        finally:
            r.stop()

    def p_remote_a_to_b():
        """obsflowd A runs the ingest jobs and pushes to obsflowd B over HTTP (B's capabilities
        URL, B's API token): B stores the observations, A's own repository does not."""
        d.stop()
        bdb = Database("ingest_b")
        b = Daemon(bdb.url, name="ingest-b", workers=0, token="b-secret",
                   env={"OBSFLOW_CAOM_COLLECTIONS": "*"})
        a = None
        try:
            caps = "http://127.0.0.1:%d/caom2/capabilities" % b.port
            a = Daemon(db.url, name="ingest-a", workers=2, env=dict(
                env, OBSFLOW_CAOM_REPO_URL=caps, OBSFLOW_CAOM_REPO_TOKEN="b-secret"))
            picked = cases[:4]
            for expect in ("created", "unchanged"):
                st, _, jobs = a.request("POST", "/v1/jobs", [
                    {"kind": "ingest", "params": dict(c[3], collection="R-" + c[1]),
                     "max_attempts": 1} for c in picked])
                check(st == 202, "POST to A: %s %s" % (st, jobs))
                done = wait_jobs(a, [j["id"] for j in jobs])
                for c, j in zip(picked, jobs):
                    r = done[j["id"]]
                    check(r["state"] == "succeeded" and r["result"]["outcome"] == expect,
                          "%s via A: %s expected, got %s" % (c[0], expect, r))
                    path = "/caom2/observations/%s/%s" % (
                        urllib.parse.quote("R-" + c[1], safe=""), urllib.parse.quote(c[2], safe=""))
                    st_b, h, _ = b.request("GET", path, raw=True)
                    check(st_b == 200 and h.get("etag") == r["result"]["acc_meta_checksum"],
                          "%s: B holds it with the job's checksum: %s %s" % (c[0], st_b, h))
                    st_a, _, _ = a.request("GET", path, raw=True)
                    check(st_a == 404, "%s: A's built-in repository has it too: %s" % (c[0], st_a))
            # a wrong token: B answers 401, a permanent failure on the first attempt
            a.stop()
            a = Daemon(db.url, name="ingest-a2", workers=1, env=dict(
                env, OBSFLOW_CAOM_REPO_URL=caps, OBSFLOW_CAOM_REPO_TOKEN="wrong"))
            j = a.submit({"kind": "ingest", "params": dict(cases[0][3], collection="R-bad"),
                          "max_attempts": 3})
            r = wait_jobs(a, [j["id"]], states=("failed", "succeeded"))[j["id"]]
            check(r["state"] == "failed" and r["attempts"] == 1 and
                  r["error"]["code"] == "repository_refused" and "invalid token" in
                  r["error"]["message"], "wrong token for B: %s" % r)
            print("A -> B: %d observations created then unchanged in B through its capabilities "
                  "and token; a wrong token failed at once: %s" % (len(picked),
                                                                   r["error"]["message"]))
        finally:
            if a:
                a.stop()
            b.stop()
            bdb.drop()
            d.start()

    part("every shared case ingested: created, stored as obsflow caom writes it", p_created)
    part("every shared case ingested again: unchanged", p_unchanged)
    part("real FITS (gzip too), identities by StorageName: as obsflow caom", p_fits_defaults)
    part("http inputs fetched into scratch, removed after; 404 failed at once", p_http_inputs)
    part("bad ingest params: 422 naming the field", p_bad_params)
    part("missing/refused input, unknown blueprint, bad headers: failed at once",
         p_permanent_failures)
    part("obsflowd A pushes to obsflowd B (remote mode, token)", p_remote_a_to_b)
    part("unreachable remote repository: retried, then failed", p_remote_unreachable)
    shutil.rmtree(conf, ignore_errors=True)
    shutil.rmtree(gzdir, ignore_errors=True)
    shutil.rmtree(work, ignore_errors=True)
    check(not SUBFAIL, "failed parts: %s" % ", ".join(SUBFAIL))


if __name__ == "__main__":
    main(run, "ingest_job")
