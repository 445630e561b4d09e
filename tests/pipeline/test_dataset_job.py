#!/usr/bin/env python3
"""test_dataset_job.py - the `dataset` job kind through the real API (POST /v1/jobs) of one
obsflowd on a fresh database of the ctest PostgreSQL fixture, against `obsflow process` on the
same inputs (the shared HST ACS dataset j8bt05njq, config/ of the source tree, the references
from a small reference store made by tests/support/make_refs.py, OBSFLOW_REFERENCE_URI):

 1. a dataset job (file: input and output under OBSFLOW_DATA_ROOTS) succeeds with exit code 0,
    its result lists every product (uri, size, md5, type) and the five step timings, and the
    products are the same bytes (MD5) as `obsflow process` writes, previews included;
 2. the same job submitted again gives the same bytes; four at once (two worker threads, one
    process) each give the same bytes too;
 3. bad params are refused with 422 naming the field (in a batch too); an output outside the
    data roots fails the job at once with the CALDP code and reason;
 4. a dataset job whose input (astroquery:, a local archive that trickles the raw file) is
    cancelled mid-fetch ends `cancelled` within 2 s and leaves nothing that looks complete
    (no trigger, no products, no previews; scratch removed);
 5. with params.collection the job pushes one CAOM observation <collection>/<dataset> to the
    built-in repository: created, one plane per FITS product (raw: calibrationLevel 1, flt: 2),
    the previews as preview/thumbnail artifacts of the flt plane, every artifact's
    contentChecksum and contentLength those of the published file; resubmitted: unchanged,
    same accMetaChecksum;
 6. obsflowd killed (kill -9) while a dataset job fetches its input: a new obsflowd rescues the
    job, runs it again and it succeeds with the same product bytes as `obsflow process`; the
    killed attempt's scratch directory is replaced and removed.
Prints the service time of a dataset job and the CLI time on the same dataset.

SPDX-License-Identifier: Apache-2.0
"""
import hashlib
import http.server
import os
import shutil
import subprocess
import sys
import threading
import time
import traceback
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "api"))
sys.path.insert(0, os.path.join(HERE, "..", "support"))
from apitest import BIN_DIR, SRC_DIR, TMP, Daemon, check, main, wait_until  # noqa: E402
import make_refs  # noqa: E402

OBSFLOW = os.path.join(BIN_DIR, "obsflow")
SHARED = os.environ.get("OBSFLOW_SHARED", os.path.join(SRC_DIR, "..", "shared"))
RAW = os.path.join(SHARED, "testdata", "fits", "j8bt05njq_raw.fits")
CONF = os.path.realpath(os.path.join(SRC_DIR, "config"))
DS = "j8bt05njq"
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


def md5(path):
    with open(path, "rb") as f:
        return hashlib.md5(f.read()).hexdigest()


def products_of(out):
    """{relative path: md5} of the products and previews of a published dataset."""
    base = os.path.join(out, "data", "acs", DS)
    got = {}
    for sub in ("", "previews"):
        d = os.path.join(base, sub)
        if not os.path.isdir(d):
            continue
        for n in sorted(os.listdir(d)):
            p = os.path.join(d, n)
            if os.path.isfile(p):
                got[os.path.join(sub, n)] = md5(p)
    return got


def wait_end(d, jid, timeout=120):
    return wait_until(lambda: (lambda b: b if b["state"] in ("succeeded", "failed", "cancelled")
                               else None)(d.job(jid)), timeout, "job %s to end" % jid,
                      interval=0.02)


class Trickle(http.server.BaseHTTPRequestHandler):
    """An archive that sends the raw file 16 KiB at a time every 100 ms (about 14 s), or at
    once when `slow` is cleared."""
    stop = threading.Event()
    slow = threading.Event()

    def log_message(self, *args):
        pass

    def do_GET(self):  # noqa: N802 - http.server's name
        name = self.path.rsplit("/", 1)[-1]
        if name != DS + "_raw.fits":
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        with open(RAW, "rb") as f:
            data = f.read()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        try:
            for i in range(0, len(data), 16384):
                if Trickle.stop.is_set():
                    return
                self.wfile.write(data[i:i + 16384])
                self.wfile.flush()
                if Trickle.slow.is_set():
                    time.sleep(0.1)
        except (BrokenPipeError, ConnectionResetError):
            pass


def run(db):
    root = os.path.realpath(os.path.join(TMP, "dsjob.%d" % os.getpid()))
    shutil.rmtree(root, ignore_errors=True)
    inp, work = os.path.join(root, "in"), os.path.join(root, "work")
    cliwork = os.path.join(root, "cliwork")
    for p in (inp, work, cliwork):
        os.makedirs(p)
    shutil.copyfile(RAW, os.path.join(inp, DS + "_raw.fits"))
    make_refs.make(os.path.join(root, "crds"))
    refs = {"OBSFLOW_REFERENCE_URI": "file:" + os.path.join(root, "crds"),
            "OBSFLOW_REFERENCE_CACHE": os.path.join(root, "refcache")}
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Trickle)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    env = {"OBSFLOW_CONFIG_DIR": CONF, "OBSFLOW_DATA_ROOTS": root, "OBSFLOW_WORK_DIR": work,
           "OBSFLOW_CAOM_COLLECTIONS": "*",
           "OBSFLOW_ARCHIVE_URL": "http://127.0.0.1:%d/{name}" % srv.server_address[1], **refs}
    d = Daemon(db.url, name="dataset", workers=2, env=env)
    cli = {}

    def process_cli(out):
        e = dict(os.environ, OBSFLOW_WORK_DIR=cliwork, OBSFLOW_NO_PROGRESS="1", **refs)
        e.pop("OBSFLOW_DATA_ROOTS", None)
        t0 = time.time()
        p = subprocess.run([OBSFLOW, "process", "--quiet", DS, "file:" + inp, "file:" + out,
                            "file:" + CONF], capture_output=True, text=True, timeout=120, env=e)
        took = time.time() - t0
        check(p.returncode == 0, "obsflow process: exit %d: %s" % (p.returncode, p.stderr))
        return took

    def dataset_job(out, max_attempts=1):
        t0 = time.time()
        j = d.submit({"kind": "dataset", "max_attempts": max_attempts,
                      "params": {"dataset": DS, "input": "file:" + inp, "output": "file:" + out}})
        b = wait_end(d, j["id"])
        return b, time.time() - t0

    def p_same_as_cli():
        cli_out = os.path.join(root, "cli")
        times = [process_cli(cli_out) for _ in range(3)]
        cli.update(products_of(cli_out))
        check(DS + "_flt.fits" in cli and "previews/%s_flt.jpg" % DS in cli,
              "obsflow process products: %s" % sorted(cli))
        out = os.path.join(root, "svc")
        svc_times, pipe_ms = [], []
        for _ in range(3):
            b, took = dataset_job(out)
            svc_times.append(took)
            check(b["state"] == "succeeded", "dataset job: %s" % b)
            pipe_ms.append(b["result"]["total_ms"])
        r = b["result"]
        check(r["exit_code"] == 0 and r["exit_name"] == "SUCCESS", "result: %s" % r)
        names = [s["name"] for s in r["steps"]]
        check(names == ["fetch", "validate", "calibrate", "previews", "publish"],
              "step timings: %s" % r["steps"])
        got = products_of(out)
        check(got == cli, "dataset job products differ from obsflow process:\n  job %s\n  cli %s"
              % (got, cli))
        listed = {p["uri"][len("file:"):]: p for p in r["products"]}
        base = os.path.join(out, "data", "acs", DS)
        for rel, h in got.items():
            p = listed.get(os.path.join(base, rel))
            check(p is not None, "product %s not in the result %s" % (rel, sorted(listed)))
            check(p["md5"] == h and p["size"] == os.path.getsize(os.path.join(base, rel)),
                  "product %s: result %s, file md5 %s" % (rel, p, h))
        types = sorted(p["type"] for p in r["products"])
        check(types == ["flt", "preview", "preview", "raw", "thumbnail", "thumbnail"],
              "product types %s" % types)
        check(os.path.exists(os.path.join(out, "messages", "processed-%s.trigger" % DS)),
              "no processed trigger")
        check(not os.listdir(work), "scratch left in OBSFLOW_WORK_DIR: %s" % os.listdir(work))
        print("dataset %s: obsflow process %.3f s (best of 3), dataset job submit-to-succeeded "
              "%.3f s (best of 3; pipeline %d ms); ratio %.2f" %
              (DS, min(times), min(svc_times), min(pipe_ms), min(svc_times) / min(times)),
              flush=True)

    def p_again():
        out = os.path.join(root, "svc2")
        first, _ = dataset_job(out)
        a = products_of(out)
        again, _ = dataset_job(out)
        check(first["state"] == "succeeded" and again["state"] == "succeeded",
              "resubmitted: %s / %s" % (first["state"], again["state"]))
        check(products_of(out) == a == cli, "resubmitted dataset: bytes differ")
        check(sorted((p["uri"], p["md5"]) for p in first["result"]["products"]) ==
              sorted((p["uri"], p["md5"]) for p in again["result"]["products"]),
              "resubmitted: result products differ")

    def p_concurrent():
        outs = [os.path.join(root, "par%d" % i) for i in range(4)]
        st, _, jobs = d.request("POST", "/v1/jobs", [
            {"kind": "dataset", "max_attempts": 1,
             "params": {"dataset": DS, "input": "file:" + inp, "output": "file:" + o}}
            for o in outs])
        check(st == 202, "POST 4 dataset jobs: %s %s" % (st, jobs))
        t0 = time.time()
        for j in jobs:
            b = wait_end(d, j["id"])
            check(b["state"] == "succeeded", "concurrent dataset job: %s" % b)
        print("4 dataset jobs on 2 workers: %.2f s" % (time.time() - t0), flush=True)
        for o in outs:
            check(products_of(o) == cli, "concurrent run %s: bytes differ" % o)

    def p_bad_params():
        good = {"dataset": DS, "input": "file:" + inp, "output": "file:" + root + "/x"}

        def refused(params, field, batch=False):
            spec = {"kind": "dataset", "params": params}
            body = [{"kind": "dataset", "params": good}, spec] if batch else spec
            st, _, doc = d.request("POST", "/v1/jobs", body)
            want = ("[1]." if batch else "") + field
            check(st == 422 and isinstance(doc, dict) and doc.get("field") == want,
                  "params %s: %s %s, expected 422 %r" % (params, st, doc, want))

        refused({}, "params.dataset")
        refused({"input": good["input"], "output": good["output"]}, "params.dataset")
        refused(dict(good, dataset=7), "params.dataset")
        refused(dict(good, dataset="../etc"), "params.dataset")
        refused(dict(good, dataset="x" * 80), "params.dataset")
        refused({"dataset": DS, "output": good["output"]}, "params.input")
        refused(dict(good, input="ftp://h/x"), "params.input")
        refused(dict(good, input="file:relative/dir"), "params.input")
        refused(dict(good, input="file:/data/../etc"), "params.input")
        refused(dict(good, input="s3://B_ad"), "params.input")
        refused({"dataset": DS, "input": good["input"]}, "params.output")
        refused(dict(good, output="astroquery:"), "params.output")
        refused(dict(good, output=["file:/x"]), "params.output")
        refused(dict(good, colour="red"), "params.colour")
        refused(dict(good, output="http://h/x"), "params.output", batch=True)
        st, _, _ = d.request("POST", "/v1/jobs", {"kind": "dataset", "params": "x"})
        check(st == 422, "params not an object: %s" % st)
        # outside the data roots: accepted (the roots are the worker's), failed at once
        j = d.submit({"kind": "dataset", "max_attempts": 3,
                      "params": dict(good, output="file:/var/tmp/dsjob-outside")})
        b = wait_end(d, j["id"])
        check(b["state"] == "failed" and b["attempts"] == 1 and
              b["error"]["code"] == "generic_error" and
              "GENERIC_ERROR[1]" in b["error"]["message"], "outside the roots: %s" % b)
        check(not os.path.exists("/var/tmp/dsjob-outside"), "created a directory outside the roots")

    def p_cancel():
        out = os.path.join(root, "cancel")
        Trickle.stop.clear()
        Trickle.slow.set()
        j = d.submit({"kind": "dataset", "max_attempts": 1,
                      "params": {"dataset": DS, "input": "astroquery:", "output": "file:" + out}})
        wait_until(lambda: d.job(j["id"])["state"] == "running", 30, "the job to run")
        time.sleep(1.0)  # mid-fetch: the archive needs about 14 s
        t0 = time.time()
        st, _, b = d.request("POST", "/v1/jobs/%s/cancel" % j["id"])
        check(st in (200, 202), "cancel: %s %s" % (st, b))
        b = wait_end(d, j["id"], timeout=30)
        took = time.time() - t0
        Trickle.stop.set()
        check(b["state"] == "cancelled", "cancelled job: %s" % b)
        print("cancel mid-fetch: cancelled %.2f s after the request" % took, flush=True)
        check(took <= 2.0, "cancel took %.2f s (> 2 s)" % took)
        msg = os.path.join(out, "messages")
        check(not os.path.exists(os.path.join(msg, "processed-%s.trigger" % DS)), "trigger")
        check(not os.path.exists(os.path.join(msg, "processing-%s" % DS)), "processing marker")
        check(not os.path.exists(os.path.join(msg, "datasets-processed", DS)), "processed mark")
        check(not products_of(out), "products left: %s" % products_of(out))
        check(not os.listdir(work), "scratch left in OBSFLOW_WORK_DIR: %s" % os.listdir(work))

    def p_caom():
        out = os.path.join(root, "caom")
        params = {"dataset": DS, "input": "file:" + inp, "output": "file:" + out,
                  "collection": "HSTDS"}
        results = []
        for _ in range(2):
            j = d.submit({"kind": "dataset", "max_attempts": 1, "params": params})
            b = wait_end(d, j["id"])
            check(b["state"] == "succeeded", "dataset job with CAOM: %s" % b)
            results.append(b["result"])
        c1, c2 = results[0].get("caom"), results[1].get("caom")
        # planes j8bt05njq_raw and j8bt05njq_flt, each with its FITS file, preview and thumbnail
        check(c1 and c1["outcome"] == "created" and c1["uri"] == "caom:HSTDS/" + DS and
              c1["artifacts"] == 6, "first CAOM outcome: %s" % c1)
        check(c2 and c2["outcome"] == "unchanged" and
              c2["acc_meta_checksum"] == c1["acc_meta_checksum"], "resubmitted: %s" % c2)
        check(products_of(out) == cli, "products with the CAOM step differ from obsflow process")
        st, _, body = d.request("GET", "/caom2/observations/HSTDS/" + DS, raw=True)
        check(st == 200, "GET stored observation: %s" % st)
        doc = ET.fromstring(body)
        planes = {p.find("{*}productID").text: p for p in doc.findall("{*}planes/{*}plane")}
        check(sorted(planes) == [DS + "_flt", DS + "_raw"], "planes: %s" % sorted(planes))
        levels = {k: p.find("{*}calibrationLevel").text for k, p in planes.items()}
        check(levels == {DS + "_raw": "1", DS + "_flt": "2"}, "calibration levels %s" % levels)
        sums, types = {}, {}
        for p in planes.values():
            for a in p.findall("{*}artifacts/{*}artifact"):
                name = a.find("{*}uri").text.rsplit("/", 1)[-1]
                sums[name] = (a.find("{*}contentChecksum").text,
                              int(a.find("{*}contentLength").text))
                types[name] = (a.find("{*}productType").text, a.find("{*}contentType").text)
        want = {n.rsplit("/", 1)[-1]: ("md5:" + h,
                                       os.path.getsize(os.path.join(out, "data", "acs", DS, n)))
                for n, h in cli.items() if n.endswith(".fits") or n.endswith(".jpg")}
        check(sums == want, "artifact checksums/lengths %s, products %s" % (sums, want))
        check(types[DS + "_flt_thumb.jpg"] == ("thumbnail", "image/jpeg") and
              types[DS + "_flt.jpg"] == ("preview", "image/jpeg") and
              types[DS + "_flt.fits"][0] == "science", "artifact types %s" % types)
        for k in (DS + "_raw", DS + "_flt"):
            arts = sorted(a.find("{*}uri").text.rsplit("/", 1)[-1] for a in
                          planes[k].findall("{*}artifacts/{*}artifact"))
            check(arts == [k + ".fits", k + ".jpg", k + "_thumb.jpg"],
                  "plane %s artifacts %s" % (k, arts))
        st, _, doc = d.request("POST", "/v1/jobs", {"kind": "dataset",
                                                    "params": dict(params, collection="a/b")})
        check(st == 422 and doc.get("field") == "params.collection",
              "bad collection: %s %s" % (st, doc))

    def p_crash():
        out = os.path.join(root, "crash")
        Trickle.stop.clear()
        Trickle.slow.set()
        j = d.submit({"kind": "dataset", "max_attempts": 3,
                      "params": {"dataset": DS, "input": "astroquery:", "output": "file:" + out}})
        wait_until(lambda: d.job(j["id"])["state"] == "running", 30, "the job to run")
        time.sleep(1.0)
        check(any(n.startswith("obsflow-process-%s-" % DS) for n in os.listdir(work)),
              "no scratch directory of the running job in %s" % work)
        d.kill9()
        Trickle.stop.set()
        time.sleep(0.2)
        Trickle.stop.clear()
        Trickle.slow.clear()
        t0 = time.time()
        d.start()
        b = wait_end(d, j["id"], timeout=120)
        print("kill -9 mid-dataset: rescued and re-run in %.1f s after the restart (attempts %d)"
              % (time.time() - t0, b["attempts"]), flush=True)
        check(b["state"] == "succeeded" and b["attempts"] >= 2, "rescued job: %s" % b)
        check(products_of(out) == cli, "re-run products differ from obsflow process:\n  job %s"
              "\n  cli %s" % (products_of(out), cli))
        check(os.path.exists(os.path.join(out, "messages", "processed-%s.trigger" % DS)),
              "no processed trigger after the re-run")
        check(not os.path.exists(os.path.join(out, "messages", "error-%s" % DS)),
              "error marker left after the re-run")
        check(not os.listdir(work), "scratch left in OBSFLOW_WORK_DIR: %s" % os.listdir(work))

    try:
        part("dataset job: products as obsflow process (MD5), steps timed", p_same_as_cli)
        part("dataset job resubmitted: same bytes", p_again)
        part("four dataset jobs at once: same bytes", p_concurrent)
        part("bad dataset params: 422 naming the field; outside the roots: failed at once",
             p_bad_params)
        part("cancel mid-dataset: cancelled within 2 s, nothing that looks complete", p_cancel)
        part("CAOM step: observation created, resubmitted unchanged", p_caom)
        part("kill -9 mid-dataset: rescued, re-run, same bytes as obsflow process", p_crash)
    finally:
        Trickle.stop.set()
        d.stop()
        srv.shutdown()
        srv.server_close()
    shutil.rmtree(root, ignore_errors=True)
    check(not SUBFAIL, "failed parts: %s" % ", ".join(SUBFAIL))


if __name__ == "__main__":
    main(run, "dataset_job")
