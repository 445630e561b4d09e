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
 7. (issue 8 item 8) obsflowd killed (kill -9) while a dataset job with params.collection
    calibrates (a 16-imset HRC raw made from j8bt05njq, so that stage 1 lasts long enough to be
    caught between imsets): the rescued job's products are the bytes `obsflow process` writes
    and the built-in repository holds one observation, whose UUIDs a clean resubmission leaves
    as they are (unchanged);
 8. a cancel while a dataset calibrates ends `cancelled` (the latency and where the run
    stopped are printed; the bound asserted is 10 s, the issue's is 2 s) with nothing that
    looks complete;
 9. transient failures are retried with backoff and then succeed (the archive answers 500,
    then cuts the transfer, then serves the file) or, always failing, end after max_attempts
    (a remote repository answering 503: repository_unavailable); permanent ones fail on the
    first attempt with the CALDP code and reason in `error` (a corrupt raw: STAGE1_ERROR[23];
    a remote repository answering 403: repository_refused);
10. (issue 8 item 9) products that do not meet their expectations (a config whose acs_flt.yaml
    asks for what stage 1 does not write) are not published: the job fails at once with
    STAGE1_ERROR[23] naming every violation (file, HDU, keyword, expected, found) in `error`
    and in process.txt, and nothing that looks complete is left.
Prints the service time of a dataset job and the CLI time on the same dataset, the cancel
latency and the backoff between attempts.

SPDX-License-Identifier: Apache-2.0
"""
import datetime
import hashlib
import json
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
from apitest import (BIN_DIR, SRC_DIR, TMP, Daemon, Database, check, main,  # noqa: E402
                     wait_until)
from apitest import SHARED, wait_end as _wait_end  # noqa: E402
import make_refs  # noqa: E402

OBSFLOW = os.path.join(BIN_DIR, "obsflow")
RAW = os.path.join(SHARED, "testdata", "fits", "j8bt05njq_raw.fits")
CONF = os.path.realpath(os.path.join(SRC_DIR, "config"))
DS = "j8bt05njq"
BIG = "j8bt99hrq"  # j8bt05njq's imset 16 times: a stage 1 that lasts
BIG_IMSETS = 16
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


def products_of(out, ds=DS):
    """{relative path: md5} of the products and previews of a published dataset."""
    base = os.path.join(out, "data", "acs", ds)
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


# ---- a raw file with many imsets, in plain Python (the test runs without numpy) -------------

def fits_hdus(data):
    """[(cards without END, data bytes)] of the HDUs of a FITS file."""
    out, off = [], 0
    while off < len(data):
        cards = []
        while True:
            blk = data[off:off + 2880]
            off += 2880
            cards += [blk[i:i + 80].decode("ascii") for i in range(0, 2880, 80)]
            if any(c.rstrip() == "END" for c in cards[-36:]):
                break
        cards = cards[:[c.rstrip() for c in cards].index("END")]
        kv = {c[:8].strip(): c[10:].split("/")[0].strip() for c in cards if c[8:10] == "= "}
        n = 1 if int(kv["NAXIS"]) else 0
        for i in range(int(kv["NAXIS"])):
            n *= int(kv["NAXIS%d" % (i + 1)])
        nb = n * abs(int(kv["BITPIX"])) // 8
        out.append((cards, data[off:off + nb]))
        off += (nb + 2879) // 2880 * 2880
    return out


def fits_set(cards, key, value):
    card = "%-8s= '%-8s'" % (key, value) if isinstance(value, str) else "%-8s= %20s" % (key, value)
    for i, c in enumerate(cards):
        if c[:8].strip() == key:
            cards[i] = "%-80s" % card
            return
    cards.append("%-80s" % card)


def fits_block(cards, payload=b""):
    h = ("".join("%-80s" % c for c in cards) + "%-80s" % "END").encode("ascii")
    return h + b" " * (-len(h) % 2880) + payload + b"\0" * (-len(payload) % 2880)


def make_multi_imset(raw, ds, path, imsets):
    """The one-imset raw @raw with its imset (SCI/ERR/DQ) repeated @imsets times, named @ds."""
    src = fits_hdus(open(raw, "rb").read())
    pc = list(src[0][0])
    fits_set(pc, "ROOTNAME", ds)
    fits_set(pc, "NEXTEND", 3 * imsets)
    fits_set(pc, "FILENAME", ds + "_raw.fits")
    out = [fits_block(pc)]
    for v in range(1, imsets + 1):
        for k in (1, 2, 3):
            c = list(src[k][0])
            fits_set(c, "EXTVER", v)
            out.append(fits_block(c, src[k][1]))
    with open(path, "wb") as f:
        f.write(b"".join(out))


def iso_s(t):
    """Seconds since the epoch of an RFC 3339 UTC time."""
    return datetime.datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp()


def caom_ids(xml):
    """Every CAOM entity id (the caom2:id attributes) of an observation document, in order."""
    return [v for e in ET.fromstring(xml).iter() for k, v in e.attrib.items()
            if k == "id" or k.endswith("}id")]


class FakeRepo(http.server.BaseHTTPRequestHandler):
    """A remote CAOM repository that answers every request with `status`."""
    status = 503
    count = 0

    def log_message(self, *args):
        pass

    def answer(self):
        FakeRepo.count += 1
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)
        body = b"fake repository says %d\n" % FakeRepo.status
        self.send_response(FakeRepo.status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = answer  # noqa: N815 - http.server's names


def wait_end(d, jid, timeout=120):
    return _wait_end(d, jid, timeout, interval=0.02)


class Trickle(http.server.BaseHTTPRequestHandler):
    """An archive that sends the raw file 16 KiB at a time every 100 ms (about 14 s), or at
    once when `slow` is cleared; the requests for it first follow `plan` ("500": an internal
    error; "cut": the connection closes after 64 KiB of the announced length)."""
    stop = threading.Event()
    slow = threading.Event()
    plan = []
    asked = 0  # requests for the raw file

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
        Trickle.asked += 1
        step = Trickle.plan.pop(0) if Trickle.plan else None
        if step == "500":
            self.send_response(500)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if step == "cut":
            data_len, data = len(data), data[:65536]
            self.send_response(200)
            self.send_header("Content-Length", str(data_len))
            self.end_headers()
            self.wfile.write(data)
            self.close_connection = True
            return
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
    inbig, inbad = os.path.join(root, "inbig"), os.path.join(root, "inbad")
    os.makedirs(inbig)
    os.makedirs(inbad)
    make_multi_imset(RAW, BIG, os.path.join(inbig, BIG + "_raw.fits"), BIG_IMSETS)
    with open(RAW, "rb") as f:  # a raw cut short in its first data unit: unreadable
        bad = f.read()[:2880 * 12 + 4096]
    with open(os.path.join(inbad, DS + "_raw.fits"), "wb") as f:
        f.write(bad)
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Trickle)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    env = {"OBSFLOW_CONFIG_DIR": CONF, "OBSFLOW_DATA_ROOTS": root, "OBSFLOW_WORK_DIR": work,
           "OBSFLOW_CAOM_COLLECTIONS": "*",
           "OBSFLOW_ARCHIVE_URL": "http://127.0.0.1:%d/{name}" % srv.server_address[1], **refs}
    d = Daemon(db.url, name="dataset", workers=2, env=env)
    cli = {}

    def process_cli(out, ds=DS, src=inp):
        e = dict(os.environ, OBSFLOW_WORK_DIR=cliwork, OBSFLOW_NO_PROGRESS="1", **refs)
        e.pop("OBSFLOW_DATA_ROOTS", None)
        t0 = time.time()
        p = subprocess.run([OBSFLOW, "process", "--quiet", ds, "file:" + src, "file:" + out,
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

    def nothing_complete(out, ds, what):
        """Nothing of a failed or cancelled dataset looks complete in @out."""
        msg = os.path.join(out, "messages")
        for m in ("processed-%s.trigger" % ds, "processing-%s" % ds,
                  os.path.join("datasets-processed", ds), os.path.join("dataset-synced", ds)):
            check(not os.path.exists(os.path.join(msg, m)), "%s: %s left" % (what, m))
        check(not products_of(out, ds), "%s: products left: %s" % (what, products_of(out, ds)))
        check(not os.listdir(work), "%s: scratch left: %s" % (what, os.listdir(work)))

    def wait_calibrating(out, ds, jid, imset=2):
        """Until process.txt shows stage 1 done with @imset imsets (of BIG_IMSETS)."""
        log = os.path.join(out, "data", "acs", ds, "logs", "process.txt")

        def calibrating():
            try:
                with open(log) as f:
                    text = f.read()
            except OSError:
                return False
            check("imset %d:" % BIG_IMSETS not in text, "stage 1 ended before it was caught")
            return "imset %d:" % imset in text
        wait_until(calibrating, 60, "job %s to calibrate" % jid, interval=0.005)
        return log

    def imsets_done(log):
        with open(log) as f:
            text = f.read()
        return sum(1 for ln in text.splitlines() if " imset " in ln and "->" in ln), text

    cli_big = {}

    def p_crash_calibrating():
        cli_out = os.path.join(root, "cli_big")
        process_cli(cli_out, BIG, inbig)
        cli_big.update(products_of(cli_out, BIG))
        shutil.rmtree(cli_out)
        check(BIG + "_flt.fits" in cli_big, "obsflow process %s: %s" % (BIG, sorted(cli_big)))
        out = os.path.join(root, "crashcal")
        params = {"dataset": BIG, "input": "file:" + inbig, "output": "file:" + out,
                  "collection": "HSTCRASH"}
        j = d.submit({"kind": "dataset", "max_attempts": 3, "params": params})
        log = wait_calibrating(out, BIG, j["id"])
        d.kill9()
        try:
            n, text = imsets_done(log)
            scratch = os.path.join(work, "obsflow-process-%s-%s" % (BIG, j["id"]), "outputs")
            left = sorted(os.listdir(scratch))
        finally:
            t0 = time.time()
            d.start()
        # the product is being written (its temporary beside it), not yet there
        check(0 < n < BIG_IMSETS and "meets acs/flt" not in text and
              BIG + "_flt.fits" not in left and
              any(x.startswith("." + BIG + "_flt.fits.") for x in left),
              "not killed mid-calibration: %d imsets done, scratch %s" % (n, left))
        b = wait_end(d, j["id"], timeout=180)
        print("kill -9 mid-calibration (after imset %d of %d, product half written): rescued "
              "and re-run in %.1f s after the restart (attempts %d)"
              % (n, BIG_IMSETS, time.time() - t0, b["attempts"]), flush=True)
        check(b["state"] == "succeeded" and b["attempts"] >= 2, "rescued job: %s" % b)
        check(products_of(out, BIG) == cli_big, "re-run products differ from obsflow process:"
              "\n  job %s\n  cli %s" % (products_of(out, BIG), cli_big))
        c = b["result"].get("caom") or {}
        check(c.get("outcome") == "created" and c.get("uri") == "caom:HSTCRASH/" + BIG,
              "CAOM outcome of the rescued job: %s" % c)
        check(not os.listdir(work), "scratch left: %s" % os.listdir(work))
        st, _, listing = d.request("GET", "/caom2/observations/HSTCRASH", raw=True)
        rows = [r for r in listing.decode().splitlines() if r.strip()]
        check(st == 200 and len(rows) == 1 and rows[0].split("\t")[1] == BIG,
              "observations of HSTCRASH: %s %s" % (st, rows))
        st, _, doc = d.request("GET", "/caom2/observations/HSTCRASH/" + BIG, raw=True)
        check(st == 200, "GET the observation: %s" % st)
        ids = caom_ids(doc)
        sums = {a.find("{*}uri").text.rsplit("/", 1)[-1]: a.find("{*}contentChecksum").text
                for a in ET.fromstring(doc).iter() if a.tag.endswith("}artifact")}
        check(sums == {k.rsplit("/", 1)[-1]: "md5:" + h for k, h in cli_big.items()
                       if k.endswith(".fits") or k.endswith(".jpg")},
              "artifact checksums %s, products %s" % (sums, cli_big))
        # a clean run of the same job: the same observation, nothing to change
        j2 = d.submit({"kind": "dataset", "max_attempts": 1, "params": params})
        b2 = wait_end(d, j2["id"], timeout=180)
        c2 = (b2.get("result") or {}).get("caom") or {}
        check(b2["state"] == "succeeded" and c2.get("outcome") == "unchanged" and
              c2.get("acc_meta_checksum") == c.get("acc_meta_checksum"),
              "clean resubmission: %s" % b2)
        st, _, doc2 = d.request("GET", "/caom2/observations/HSTCRASH/" + BIG, raw=True)
        check(caom_ids(doc2) == ids and len(ids) >= 4, "UUIDs after the clean run: %s, were %s"
              % (caom_ids(doc2), ids))
        st, _, listing = d.request("GET", "/caom2/observations/HSTCRASH", raw=True)
        check(len([r for r in listing.decode().splitlines() if r.strip()]) == 1,
              "observations after the clean run: %s" % listing)
        print("rescued dataset: one CAOM observation, %d entity UUIDs, unchanged by a clean "
              "resubmission" % len(ids), flush=True)
        shutil.rmtree(out)

    def p_cancel_calibrating():
        out = os.path.join(root, "cancelcal")
        j = d.submit({"kind": "dataset", "max_attempts": 3,
                      "params": {"dataset": BIG, "input": "file:" + inbig,
                                 "output": "file:" + out}})
        log = wait_calibrating(out, BIG, j["id"])
        t0 = time.time()
        st, _, b = d.request("POST", "/v1/jobs/%s/cancel" % j["id"])
        check(st in (200, 202), "cancel: %s %s" % (st, b))
        b = wait_end(d, j["id"], timeout=60)
        took = time.time() - t0
        n, text = imsets_done(log)
        # the worker learns of the request at its next heartbeat (1 s), so stage 1 may have
        # ended by then: where the run stopped is reported, not asserted
        where = ("inside stage 1, after imset %d of %d" % (n, BIG_IMSETS) if n < BIG_IMSETS
                 else "after stage 1 (%s)" % ("products checked" if "meets acs/flt" in text
                                              else "before the product check"))
        print("cancel mid-calibration: cancelled %.2f s after the request, stopped %s"
              % (took, where), flush=True)
        check(b["state"] == "cancelled" and b["attempts"] == 1, "cancelled job: %s" % b)
        check(took < 10.0, "cancel took %.2f s" % took)
        nothing_complete(out, BIG, "cancel mid-calibration")
        check(os.path.exists(os.path.join(out, "messages", "error-" + BIG)), "no error marker")

    def events_of(jid):
        st, _, ev = d.request("GET", "/v1/jobs/%s/events" % jid)
        check(st == 200, "events of %s: %s" % (jid, st))
        return ev["items"]

    def p_transient_retried():
        out = os.path.join(root, "transient")
        Trickle.stop.clear()
        Trickle.slow.clear()
        # lib/httpc tries a GET 4 times (200 ms backoff, doubling) within one attempt of the
        # job: 8 failures make two failed attempts, each retried by the queue after its backoff
        Trickle.plan[:] = ["500", "cut"] * 4
        Trickle.asked = 0
        j = d.submit({"kind": "dataset", "max_attempts": 3,
                      "params": {"dataset": DS, "input": "astroquery:", "output": "file:" + out}})
        b = wait_end(d, j["id"], timeout=120)
        check(b["state"] == "succeeded" and b["attempts"] == 3 and Trickle.asked == 9,
              "archive failing 8 times (500 and cut transfers), then whole: %s (%d requests)"
              % (b, Trickle.asked))
        check(products_of(out) == cli, "products after the retries differ from obsflow process")
        ev = events_of(j["id"])
        states = [e["state"] for e in ev]
        # running events also mark each step of an attempt (with its attempt number)
        check(states.count("retrying") == 2 and
              sorted({e["attempt"] for e in ev if e["state"] == "running"}) == [1, 2, 3],
              "events: %s" % [(e["state"], e["attempt"]) for e in ev])
        retry_msgs = [e.get("message") or "" for e in ev if e["state"] == "retrying"]
        check(all("ASTROQUERY_ERROR[22]" in m for m in retry_msgs), "retry reasons: %s"
              % retry_msgs)
        gaps = []
        for i, e in enumerate(ev):
            if e["state"] == "retrying":
                nxt = next(x for x in ev[i + 1:] if x["state"] == "running" and
                           x["attempt"] == e["attempt"] + 1)
                gaps.append(iso_s(nxt["at"]) - iso_s(e["at"]))
        print("transient archive failures (8: 500s and cut transfers, 4 per attempt through "
              "lib/httpc's own retries): succeeded on attempt 3 (%d requests); queue backoff "
              "before attempts 2 and 3: %s s; reasons: %s" %
              (Trickle.asked, ", ".join("%.2f" % g for g in gaps), retry_msgs), flush=True)

    def p_permanent_input():
        out = os.path.join(root, "badin")
        j = d.submit({"kind": "dataset", "max_attempts": 3,
                      "params": {"dataset": DS, "input": "file:" + inbad, "output": "file:" + out}})
        b = wait_end(d, j["id"])
        check(b["state"] == "failed" and b["attempts"] == 1 and
              b["error"]["code"] == "stage1_error" and
              b["error"]["message"].startswith("STAGE1_ERROR[23]: ") and
              "corrupt or unreadable FITS input" in b["error"]["message"],
              "corrupt raw: %s" % b)
        print("permanent (corrupt raw): failed on attempt 1: %s" % b["error"]["message"],
              flush=True)
        nothing_complete(out, DS, "corrupt raw")
        # a dataset the archive does not have (404 for every file): permanent as well
        j = d.submit({"kind": "dataset", "max_attempts": 3,
                      "params": {"dataset": "j8bt09jcq", "input": "astroquery:",
                                 "output": "file:" + out}})
        b = wait_end(d, j["id"])
        check(b["state"] == "failed" and b["attempts"] == 1 and
              b["error"]["code"] == "astroquery_error" and
              "has no raw files" in b["error"]["message"], "archive 404: %s" % b)
        print("permanent (not in the archive): failed on attempt 1: %s" % b["error"]["message"],
              flush=True)

    def other_daemon(name, extra):
        """A second obsflowd on its own database (its jobs are its own)."""
        odb = Database(name)
        try:
            return odb, Daemon(odb.url, name=name, workers=1, env=dict(env, **extra))
        except BaseException:
            odb.drop()
            raise

    def p_repository():
        repo = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeRepo)
        threading.Thread(target=repo.serve_forever, daemon=True).start()
        odb, r = other_daemon("dsrepo", {"OBSFLOW_CAOM_REPO_URL": "http://127.0.0.1:%d/caom2"
                                         % repo.server_address[1]})
        try:
            for status, attempts, code in ((503, 3, "repository_unavailable"),
                                           (403, 1, "repository_refused")):
                FakeRepo.status = status
                FakeRepo.count = 0
                out = os.path.join(root, "repo%d" % status)
                t0 = time.time()
                j = r.submit({"kind": "dataset", "max_attempts": 3,
                              "params": {"dataset": DS, "input": "file:" + inp,
                                         "output": "file:" + out, "collection": "HSTR"}})
                b = wait_end(r, j["id"], timeout=120)
                check(b["state"] == "failed" and b["attempts"] == attempts and
                      b["error"]["code"] == code and FakeRepo.count >= attempts,
                      "repository %d: %s (requests %d)" % (status, b, FakeRepo.count))
                print("remote repository answering %d: failed after %d attempt(s) in %.1f s, "
                      "%d requests: %s" % (status, b["attempts"], time.time() - t0,
                                           FakeRepo.count, b["error"]["message"]), flush=True)
        finally:
            r.stop()
            odb.drop()
            repo.shutdown()
            repo.server_close()

    def p_products_invalid():
        conf = os.path.join(root, "badconf")
        shutil.copytree(CONF, conf)
        fy = os.path.join(conf, "expectations", "acs_flt.yaml")
        with open(fy) as f:
            y = f.read()
        # three demands stage 1 does not meet: a keyword it does not write, a type, a range
        y = y.replace("      CAL_VER:", "      OBSCHECK: {type: string}\n      CAL_VER:", 1)
        y = y.replace("    bitpix: [16]\n    naxis: [2]\n    shape_as: SCI",
                      "    bitpix: [8]\n    naxis: [2]\n    shape_as: SCI", 1)
        y = y.replace("NGOODPIX: {type: integer, minimum: 0}",
                      "NGOODPIX: {type: integer, maximum: 1000}", 1)
        with open(fy, "w") as f:
            f.write(y)
        want = ["j8bt05njq_flt.fits: PRIMARY.OBSCHECK required: expected string, found absent",
                "SCI,1.NGOODPIX maximum: expected <= 1000, found ",
                "DQ,1.BITPIX bitpix: expected 8, found 16"]
        odb, r = other_daemon("dsprod", {"OBSFLOW_CONFIG_DIR": conf})
        out = os.path.join(root, "badprod")
        try:
            j = r.submit({"kind": "dataset", "max_attempts": 3,
                          "params": {"dataset": DS, "input": "file:" + inp,
                                     "output": "file:" + out, "collection": "HSTBAD"}})
            b = wait_end(r, j["id"])
            msg = b.get("error", {}).get("message", "")
            check(b["state"] == "failed" and b["attempts"] == 1 and
                  b["error"]["code"] == "stage1_error" and
                  msg.startswith("STAGE1_ERROR[23]: products do not meet their expectations: "
                                 "3 violations in 1 of 1 product: "), "bad products: %s" % b)
            for w in want:
                check(w in msg, "error does not name %r: %s" % (w, msg))
            logs = os.path.join(out, "data", "acs", DS, "logs")
            with open(os.path.join(logs, "process.txt")) as f:
                text = f.read()
            errs = [ln for ln in text.splitlines() if ln.startswith("ERROR - product ")]
            check(len(errs) == 3 and all(any(w in ln for ln in errs) for w in want),
                  "process.txt ERROR lines: %s" % errs)
            check("EXIT - STAGE1_ERROR[23]: products do not meet their expectations" in text,
                  "process.txt EXIT line")
            check(os.path.exists(os.path.join(logs, "validation.json")), "no validation.json")
            check(not os.listdir(os.path.join(out, "data", "acs", DS, "previews")),
                  "previews published of a failed product")
            st, _, _ = r.request("GET", "/caom2/observations/HSTBAD/" + DS, raw=True)
            check(st == 404, "an observation was pushed for the failed products: %s" % st)
            nothing_complete(out, DS, "products failing their expectations")
            print("products failing their expectations: %s" % msg, flush=True)
        finally:
            r.stop()
            odb.drop()
        # more violations than the reason holds: all counted, all in process.txt and
        # validation.json, the reason names the first ones and says where the rest are
        many = ["MISSKEY%d" % i for i in range(20)]
        with open(fy, "w") as f:
            f.write(y.replace("      CAL_VER:", "".join("      %s: {type: string}\n" % k
                                                     for k in many) + "      CAL_VER:", 1))
        out = os.path.join(root, "manyprod")
        e = dict(os.environ, OBSFLOW_WORK_DIR=cliwork, OBSFLOW_NO_PROGRESS="1", **refs)
        e.pop("OBSFLOW_DATA_ROOTS", None)
        p = subprocess.run([OBSFLOW, "process", "--quiet", DS, "file:" + inp, "file:" + out,
                            "file:" + conf], capture_output=True, text=True, timeout=120, env=e)
        logs = os.path.join(out, "data", "acs", DS, "logs")
        with open(os.path.join(logs, "process.txt")) as f:
            text = f.read()
        exit_line = [ln for ln in text.splitlines() if ln.startswith("EXIT - ")]
        errs = [ln for ln in text.splitlines() if ln.startswith("ERROR - product ")]
        with open(os.path.join(logs, "validation.json")) as f:
            rep = json.load(f)
        check(p.returncode == 23 and len(exit_line) == 1 and
              "23 violations in 1 of 1 product (" in exit_line[0] and
              " named here, all in logs/validation.json): " in exit_line[0] and
              len(exit_line[0]) < 600, "many violations: exit %d, %s" % (p.returncode, exit_line))
        check(len(errs) == 23 and all(any(k + " " in ln for ln in errs) for k in many),
              "process.txt ERROR lines: %d" % len(errs))
        check(len(rep) == 1 and rep[0]["count"] == 23 and len(rep[0]["violations"]) == 23,
              "validation.json: %s" % rep)
        nothing_complete(out, DS, "many violations")
        print("23 violations: %s" % exit_line[0], flush=True)

    try:
        part("dataset job: products as obsflow process (MD5), steps timed", p_same_as_cli)
        part("dataset job resubmitted: same bytes", p_again)
        part("four dataset jobs at once: same bytes", p_concurrent)
        part("bad dataset params: 422 naming the field; outside the roots: failed at once",
             p_bad_params)
        part("cancel mid-dataset: cancelled within 2 s, nothing that looks complete", p_cancel)
        part("CAOM step: observation created, resubmitted unchanged", p_caom)
        part("kill -9 mid-dataset: rescued, re-run, same bytes as obsflow process", p_crash)
        part("kill -9 mid-calibration with CAOM: same bytes, one observation, same UUIDs",
             p_crash_calibrating)
        part("cancel mid-calibration: cancelled, nothing that looks complete",
             p_cancel_calibrating)
        part("transient archive failures: retried with backoff, then succeeded",
             p_transient_retried)
        part("corrupt raw and a dataset the archive lacks: failed at once", p_permanent_input)
        part("remote repository 503: retried then failed; 403: failed at once", p_repository)
        part("products failing their expectations: not published, every violation named",
             p_products_invalid)
    finally:
        Trickle.stop.set()
        d.stop()
        srv.shutdown()
        srv.server_close()
    shutil.rmtree(root, ignore_errors=True)
    check(not SUBFAIL, "failed parts: %s" % ", ".join(SUBFAIL))


if __name__ == "__main__":
    main(run, "dataset_job")
