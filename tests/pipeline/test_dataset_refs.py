#!/usr/bin/env python3
"""test_dataset_refs.py - references of `dataset` jobs from a reference store, through the real
API of obsflowd on a fresh database of the ctest PostgreSQL fixture. The store is a local HTTP
server (port 0) serving a small CRDS-layout tree made by tests/support/make_refs.py; it counts
the GETs of every file.

 1. four dataset jobs for j8bt05njq at once (four worker threads of one obsflowd) all succeed;
    each of the four references the dataset needs was downloaded once (one GET per file), the
    cache OBSFLOW_REFERENCE_CACHE holds them with the bytes of the store, and the products say
    the steps were done with them (BIASCORR = COMPLETE, BIASFILE named); /metrics agrees: 4
    downloads, 16 requests of which 4 misses, the rest hits or waits on another job's download;
 2. a fifth job, and a sixth after obsflowd is restarted, download nothing (the cache survives
    restarts: /metrics counts 4 hits, 0 misses after the restart);
 3. a dataset whose flat is not in the store (j8bt09jcq) fails at once (attempt 1 of 5): error
    code bestrefs_error, the message names PFLTFILE and the file; with the flat added and the
    store stalling on it, a cancel of the job waiting for that download ends it `cancelled`
    within 2 s (the download is abandoned, nothing cached); with the
    store answering 503, the same dataset fails its attempt retryably (retrying, not failed)
    and succeeds on attempt 2 once the store is back;
 4. bad settings refuse to start: OBSFLOW_REFERENCE_CACHE_MAX=lots (exit 2 naming it), a
    file: store that does not exist (the line names OBSFLOW_REFERENCE_URI).
Prints the GET counts (the one-download proof).

SPDX-License-Identifier: Apache-2.0
"""
import collections
import hashlib
import http.server
import os
import shutil
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "api"))
sys.path.insert(0, os.path.join(HERE, "..", "support"))
from apitest import BIN_DIR, SRC_DIR, TMP, Daemon, check, main, wait_until  # noqa: E402
from apitest import FITS, CONF, wait_end  # noqa: E402
import make_refs  # noqa: E402

NEEDED = ["m8r09169j_bpx.fits", "m4r1753rj_bia.fits", "n3o1059ij_drk.fits",
          "n3o1633mj_pfl.fits"]  # what config/references/acs.yaml selects for j8bt05njq


class Store(http.server.BaseHTTPRequestHandler):
    """GET /references/hst/<name> from `root`, counted; each answer waits 0.3 s so that jobs
    asking at about the same time overlap; 503 to everything while `down` is set; while
    `stall` is set, a request holds its answer until it is cleared (at most 30 s)."""
    root = None
    gets = collections.Counter()
    lock = threading.Lock()
    down = threading.Event()
    stall = threading.Event()

    def log_message(self, *args):
        pass

    def do_GET(self):  # noqa: N802 - http.server's name
        with Store.lock:
            Store.gets[self.path] += 1
        time.sleep(0.3)
        for _ in range(300):
            if not Store.stall.is_set():
                break
            time.sleep(0.1)
        rel = self.path.lstrip("/")
        p = os.path.join(Store.root, rel)
        if Store.down.is_set():
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if ".." in rel or not os.path.isfile(p):
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        with open(p, "rb") as f:
            data = f.read()
        try:
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a cancelled job)


def md5(path):
    with open(path, "rb") as f:
        return hashlib.md5(f.read()).hexdigest()


def primary_cards(path):
    """{keyword: value text} of a FITS primary header (plain Python)."""
    out = {}
    with open(path, "rb") as f:
        while True:
            block = f.read(2880)
            if len(block) < 2880:
                return out
            for i in range(0, 2880, 80):
                c = block[i:i + 80].decode("ascii", "replace")
                k = c[:8].strip()
                if k == "END":
                    return out
                if c[8:10] == "= ":
                    v = c[10:].split("/")[0].strip().strip("'").strip()
                    out[k] = v


def metrics(d):
    """{name or name{labels}: value} of the obsflow_reference_* samples of /metrics, after
    promtool accepted the exposition."""
    st, _, body = d.request("GET", "/metrics", raw=True)
    check(st == 200, "/metrics answered %s" % st)
    p = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True)
    check(p.returncode == 0, "promtool check metrics failed:\n%s%s"
          % (p.stdout.decode(), p.stderr.decode()))
    out = {}
    for line in body.decode().splitlines():
        if line.startswith("obsflow_reference_"):
            k, v = line.rsplit(" ", 1)
            out[k] = int(float(v))
    return out



def run(db):
    root = os.path.realpath(os.path.join(TMP, "dsrefs.%d" % os.getpid()))
    shutil.rmtree(root, ignore_errors=True)
    inp, work, cache = (os.path.join(root, n) for n in ("in", "work", "refcache"))
    for p in (inp, work):
        os.makedirs(p)
    for ds in ("j8bt05njq", "j8bt09jcq"):
        shutil.copyfile(os.path.join(FITS, ds + "_raw.fits"), os.path.join(inp, ds + "_raw.fits"))
    crds = os.path.join(root, "crds")
    made = make_refs.make(crds, omit=("n3o1633nj_pfl.fits",))  # j8bt09jcq's flat is missing
    Store.root = crds
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Store)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    uri = "http://127.0.0.1:%d" % srv.server_address[1]
    env = {"OBSFLOW_CONFIG_DIR": CONF, "OBSFLOW_DATA_ROOTS": root, "OBSFLOW_WORK_DIR": work,
           "OBSFLOW_REFERENCE_URI": uri, "OBSFLOW_REFERENCE_CACHE": cache,
           "OBSFLOW_REFERENCE_CACHE_MAX": "64MiB"}
    d = Daemon(db.url, name="dsrefs", workers=4, env=env)

    def job(ds, out):
        return d.submit({"kind": "dataset", "params": {
            "dataset": ds, "input": "file:" + inp, "output": "file:" + os.path.join(root, out)}})

    def gets_of(name):
        with Store.lock:
            return Store.gets["/references/hst/" + name]

    try:
        check(d.request("GET", "/readyz")[0] == 200, "not ready")
        check("references from %s" % uri in d.log_text(), "no start line naming the store")
        # 1. four at once
        ids = [job("j8bt05njq", "out%d" % i)["id"] for i in range(4)]
        for jid in ids:
            b = wait_end(d, jid)
            check(b["state"] == "succeeded", "job %s: %s" % (jid, b))
        counts = {n: gets_of(n) for n in NEEDED}
        print("GETs per reference after 4 concurrent jobs: %s" % counts)
        check(all(c == 1 for c in counts.values()), "one download per file: %s" % counts)
        m = metrics(d)
        print("metrics after 4 concurrent jobs: %s" % m)

        def req(result):
            return m.get('obsflow_reference_requests_total{result="%s"}' % result, -1)
        check(m.get("obsflow_reference_downloads_total") == 4 and req("miss") == 4 and
              req("hit") + req("miss") + req("wait") == 16 and
              m.get("obsflow_reference_cache_files") == 4 and
              m.get("obsflow_reference_cache_pinned") == 0 and
              m.get("obsflow_reference_cache_max_bytes") == 64 << 20, "metrics: %s" % m)
        hst = os.path.join(cache, "references", "hst")
        check(sorted(os.listdir(hst)) == sorted(NEEDED), "cache holds %s" % os.listdir(hst))
        for n in NEEDED:
            check(md5(os.path.join(hst, n)) == md5(os.path.join(crds, "references", "hst", n)),
                  "cached %s differs from the store" % n)
        for i in range(4):
            p = primary_cards(os.path.join(root, "out%d" % i, "data", "acs", "j8bt05njq",
                                           "j8bt05njq_flt.fits"))
            for k in ("DQICORR", "BIASCORR", "DARKCORR", "FLATCORR"):
                check(p.get(k) == "COMPLETE", "out%d: %s = %s" % (i, k, p.get(k)))
            check(p.get("BIASFILE") == "m4r1753rj_bia.fits", "BIASFILE %s" % p.get("BIASFILE"))
        # 2. cached: again, and after a restart
        b = wait_end(d, job("j8bt05njq", "out4")["id"])
        check(b["state"] == "succeeded", "fifth job: %s" % b)
        check(d.stop() == 0, "clean exit")
        d.start()
        b = wait_end(d, job("j8bt05njq", "out5")["id"])
        check(b["state"] == "succeeded", "job after restart: %s" % b)
        counts = {n: gets_of(n) for n in NEEDED}
        print("GETs per reference after 6 jobs and a restart: %s" % counts)
        check(all(c == 1 for c in counts.values()), "downloaded again: %s" % counts)
        m = metrics(d)
        print("metrics after a restart and one job: %s" % m)
        check(m.get("obsflow_reference_downloads_total") == 0 and req("hit") == 4 and
              req("miss") == 0 and m.get("obsflow_reference_cache_files") == 4,
              "metrics after restart: %s" % m)
        # 3. a missing reference
        b = wait_end(d, job("j8bt09jcq", "out6")["id"])
        err = b.get("error") or {}
        check(b["state"] == "failed" and b.get("attempts") == 1 and
              err.get("code") == "bestrefs_error" and
              "PFLTFILE n3o1633nj_pfl.fits" in err.get("message", "") and
              "BESTREFS_ERROR[27]" in err.get("message", ""), "missing reference: %s" % b)
        check("n3o1633nj_pfl.fits" not in os.listdir(hst), "a missing file was cached")
        print("missing reference: %s" % err.get("message"))
        m = metrics(d)
        check(m.get("obsflow_reference_download_failures_total") == 1, "metrics: %s" % m)
        # the flat added, the store stalling on it: a cancel stops the job waiting for it
        make_refs.make(crds)
        Store.stall.set()
        jid = d.submit({"kind": "dataset", "params": {
            "dataset": "j8bt09jcq", "input": "file:" + inp,
            "output": "file:" + os.path.join(root, "out8")}})["id"]
        wait_until(lambda: gets_of("n3o1633nj_pfl.fits") >= 1, 60, "the flat to be asked for")
        t0 = time.time()
        st, _, b = d.request("POST", "/v1/jobs/%s/cancel" % jid)
        check(st in (200, 202), "cancel: %s %s" % (st, b))
        b = wait_end(d, jid, timeout=25)
        took = time.time() - t0
        Store.stall.clear()
        print("cancel while downloading a reference: cancelled %.2f s after the request" % took)
        check(b["state"] == "cancelled", "cancelled job: %s" % b)
        check(took <= 2.0, "cancel took %.2f s (> 2 s)" % took)
        check("n3o1633nj_pfl.fits" not in os.listdir(hst), "an abandoned download was cached")
        check(not os.path.exists(os.path.join(root, "out8", "messages",
                                              "processed-j8bt09jcq.trigger")),
              "a cancelled dataset looks complete")
        # the store down: a retryable failure, then success when it is back
        Store.down.set()
        jid = d.submit({"kind": "dataset", "max_attempts": 3, "params": {
            "dataset": "j8bt09jcq", "input": "file:" + inp,
            "output": "file:" + os.path.join(root, "out7")}})["id"]
        b = wait_until(lambda: (lambda b: b if b["state"] in ("retrying", "failed", "succeeded")
                                else None)(d.job(jid)), 120, "the first attempt to end")
        err = b.get("error") or {}
        check(b["state"] == "retrying" and err.get("code") == "bestrefs_error" and
              "n3o1633nj_pfl.fits" in err.get("message", ""), "store down: %s" % b)
        print("store down: %s" % err.get("message"))
        Store.down.clear()
        b = wait_end(d, jid)
        check(b["state"] == "succeeded" and b["attempts"] == 2, "store back: %s" % b)
        check("n3o1633nj_pfl.fits" in os.listdir(hst), "the flat was not cached")
    finally:
        d.stop()
        srv.shutdown()
        srv.server_close()
    # 4. bad settings refuse to start
    base = dict(os.environ, OBSFLOW_DATABASE_URL=db.url, OBSFLOW_WORKERS="1", **env)
    for k, v, want in (("OBSFLOW_REFERENCE_CACHE_MAX", "lots", "OBSFLOW_REFERENCE_CACHE_MAX"),
                       ("OBSFLOW_REFERENCE_URI", "ftp://x/y", "OBSFLOW_REFERENCE_URI"),
                       ("OBSFLOW_REFERENCE_URI", "file:" + os.path.join(root, "nope"),
                        "OBSFLOW_REFERENCE_URI")):
        e = dict(base, **{k: v})
        p = subprocess.run([os.path.join(BIN_DIR, "obsflowd"), "--listen", "127.0.0.1:0"],
                           env=e, capture_output=True, text=True, timeout=60)
        check(p.returncode != 0 and want in p.stdout + p.stderr,
              "%s=%s: exit %d: %s%s" % (k, v, p.returncode, p.stdout[-500:], p.stderr[-500:]))
    check(made and not os.listdir(work), "scratch left in OBSFLOW_WORK_DIR: %s" % os.listdir(work))
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main(run, "dataset_refs")
