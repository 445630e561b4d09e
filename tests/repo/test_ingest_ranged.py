#!/usr/bin/env python3
"""test_ingest_ranged.py - ingest jobs read only the headers of remote FITS files, through the
real obsflowd (fresh database of the ctest PostgreSQL fixture) and the s3rver fixture:

 1. http:// inputs on a local server that honours Range and counts what it sends: the shared
    HST raw file (4 HDUs, 2.2 MB) and WFC3 flt are ingested with a few ranged GETs; the bytes
    sent are a small fraction of the files, never a whole one; the stored document equals,
    structurally, what `obsflow caom` writes from the whole files (contentLength the file's;
    no contentChecksum, as a plain HTTP server gives no MD5);
 2. s3:// inputs on s3rver: the same, with contentChecksum the object's MD5 (its single-part
    ETag), equal to what `obsflow caom` computes from the file; both files in one job with
    params.product_ids: one plane each in one observation, each artifact with its own size
    and MD5, read by the same ranges as one by one;
 3. a server that ignores Range (answers 200 with the whole file): the file is downloaded
    whole and the document is the same; a truncated remote FITS file (its size cuts the last
    HDU's data) fails at once with code bad_input.

SPDX-License-Identifier: Apache-2.0
"""
import hashlib
import http.server
import os
import shutil
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "api"))
sys.path.insert(0, os.path.join(HERE, "..", "process"))
from apitest import BIN_DIR, SRC_DIR, TMP, Daemon, check, main, wait_until  # noqa: E402
from ranged_http import Ranged  # noqa: E402

OBSFLOW = os.path.join(BIN_DIR, "obsflow")
SHARED = os.environ.get("OBSFLOW_SHARED", os.path.join(SRC_DIR, "..", "shared"))
FITS = os.path.join(SHARED, "testdata", "fits")
FILES = ["j8bt05njq_raw.fits", "wfc3_ir_sample_flt.fits"]


def md5(path):
    with open(path, "rb") as f:
        return hashlib.md5(f.read()).hexdigest()


def strip(el):
    """The document as comparable text: ids and server-side attributes left out."""
    drop = {"id", "lastModified", "maxLastModified", "metaChecksum", "accMetaChecksum"}
    for e in el.iter():
        for k in list(e.attrib):
            if k.split("}")[-1] in drop:
                del e.attrib[k]
    for parent in el.iter():
        for child in list(parent):
            if child.tag.split("}")[-1] in drop:
                parent.remove(child)
    return ET.tostring(el)


def same(got, want, what):
    a, b = strip(got).decode().split("\n"), strip(want).decode().split("\n")
    diff = [(x, y) for x, y in zip(a, b) if x != y][:3]
    check(a == b, "%s: stored document differs from obsflow caom: %s (%d vs %d elements)"
          % (what, diff, len(a), len(b)))


def caom_cli(coll, files, extra=()):
    p = subprocess.run([OBSFLOW, "caom", "--collection", coll] + list(extra) + files,
                       capture_output=True, text=True, timeout=120)
    check(p.returncode == 0, "obsflow caom: %s" % p.stderr)
    return ET.fromstring(p.stdout)


def run(db):
    root = os.path.realpath(os.path.join(TMP, "ranged.%d" % os.getpid()))
    shutil.rmtree(root, ignore_errors=True)
    data, work = os.path.join(root, "data"), os.path.join(root, "work")
    os.makedirs(data)
    os.makedirs(work)
    for f in FILES:
        shutil.copyfile(os.path.join(FITS, f), os.path.join(data, f))
    # a FITS file cut in the middle of its SCI data (whole blocks, so only the sizes tell)
    with open(os.path.join(FITS, FILES[0]), "rb") as f:
        whole = f.read()
    with open(os.path.join(data, "cut_raw.fits"), "wb") as f:
        f.write(whole[:len(whole) // 2 // 2880 * 2880])
    Ranged.root = data
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Ranged)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    base = "http://127.0.0.1:%d/" % srv.server_address[1]
    s3dir = os.environ.get("OBSFLOW_S3_DIR")
    check(s3dir and os.path.exists(os.path.join(s3dir, "port")), "no S3 fixture")
    ep = "http://127.0.0.1:%s" % open(os.path.join(s3dir, "port")).read().strip()
    s3util = os.path.join(HERE, "..", "process", "s3util.py")
    bucket = "ranged%d" % os.getpid()
    subprocess.run([sys.executable, s3util, ep, "mb", bucket], check=True, timeout=60)
    for f in FILES:
        subprocess.run([sys.executable, s3util, ep, "put", bucket, "in/" + f,
                        os.path.join(data, f)], check=True, timeout=60)
    env = {"OBSFLOW_DATA_ROOTS": root, "OBSFLOW_WORK_DIR": work, "OBSFLOW_CAOM_COLLECTIONS": "*",
           "AWS_ACCESS_KEY_ID": "S3RVER", "AWS_SECRET_ACCESS_KEY": "S3RVER",
           "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL_S3": ep}
    d = Daemon(db.url, name="ranged", workers=2, env=env)
    try:
        def ingest(coll, uris, max_attempts=1):
            j = d.submit({"kind": "ingest", "max_attempts": max_attempts,
                          "params": {"collection": coll, "uris": uris}})
            return wait_until(lambda: (lambda b: b if b["state"] in (
                "succeeded", "failed", "cancelled") else None)(d.job(j["id"])), 60,
                "ingest job %s" % j["id"], interval=0.05)

        def stored(coll, obs):
            st, _, body = d.request("GET", "/caom2/observations/%s/%s" % (coll, obs), raw=True)
            check(st == 200, "GET %s/%s: %s" % (coll, obs, st))
            return ET.fromstring(body)

        def artifacts(doc):
            return {a.find("{*}uri").text: (a.find("{*}contentLength").text,
                                            getattr(a.find("{*}contentChecksum"), "text", None))
                    for a in doc.iter() if a.tag.endswith("}artifact")}

        total = sum(os.path.getsize(os.path.join(data, f)) for f in FILES)
        # 1. http with ranges
        for f in FILES:
            Ranged.sent = Ranged.requests = 0
            b = ingest("RANGEDH", [base + f])
            check(b["state"] == "succeeded", "http ingest %s: %s" % (f, b))
            size = os.path.getsize(os.path.join(data, f))
            r = b["result"]
            check(r["range_requests"] == Ranged.requests and r["bytes_read"] == Ranged.sent,
                  "result counts %s, server saw %d requests %d bytes" %
                  (r, Ranged.requests, Ranged.sent))
            # never the whole file; for the 2.2 MB raw file a few percent
            check(Ranged.sent < size and (size < 1e6 or Ranged.sent < size / 10),
                  "%s: %d of %d bytes sent" % (f, Ranged.sent, size))
            print("http %s: %d ranged GETs, %d of %d bytes (%.1f%%)" % (
                f, Ranged.requests, Ranged.sent, size, 100.0 * Ranged.sent / size), flush=True)
            obs = f[:-5]
            got = stored("RANGEDH", obs)
            want = caom_cli("RANGEDH", [os.path.join(data, f)])
            arts = artifacts(got)
            check(arts == {"cadc:RANGEDH/" + f: (str(size), None)}, "artifacts %s" % arts)
            # the CLI's document has the MD5 of the whole file; http gives none
            for a in want.iter():
                if a.tag.endswith("}artifact"):
                    a.remove(a.find("{*}contentChecksum"))
            same(got, want, "http " + f)
        print("ok: http ingests by ranges (%d bytes of files) = obsflow caom" % total,
              flush=True)

        # 2. s3 with ranges, MD5 from the single-part ETag
        s3_read = {}
        for f in FILES:
            b = ingest("RANGEDS", ["s3://%s/in/%s" % (bucket, f)])
            check(b["state"] == "succeeded", "s3 ingest %s: %s" % (f, b))
            size = os.path.getsize(os.path.join(data, f))
            check(b["result"]["bytes_read"] < size, "s3 %s: %s" % (f, b["result"]))
            s3_read[f] = b["result"]["bytes_read"]
            got = stored("RANGEDS", f[:-5])
            check(artifacts(got) == {"cadc:RANGEDS/" + f: (str(size), "md5:" + md5(
                os.path.join(data, f)))}, "s3 artifacts %s" % artifacts(got))
            same(got, caom_cli("RANGEDS", [os.path.join(data, f)]), "s3 " + f)
        print("ok: s3 ingests by ranges, contentChecksum from the ETag = obsflow caom",
              flush=True)

        # 2b. both s3 files in one observation, one plane each (params.product_ids): each
        # artifact still read by ranges, with its own size and ETag MD5
        j = d.submit({"kind": "ingest", "max_attempts": 1, "params": {
            "collection": "RANGEDP", "observation_id": "both",
            "uris": ["s3://%s/in/%s" % (bucket, f) for f in FILES],
            "product_ids": [f[:-5] for f in FILES]}})
        b = wait_until(lambda: (lambda b: b if b["state"] in (
            "succeeded", "failed", "cancelled") else None)(d.job(j["id"])), 60,
            "ingest job %s" % j["id"], interval=0.05)
        check(b["state"] == "succeeded" and b["result"]["artifacts"] == len(FILES) and
              b["result"]["bytes_read"] == sum(s3_read.values()),
              "s3 product_ids ingest (%s read one by one): %s" % (s3_read, b))
        got = stored("RANGEDP", "both")
        pls = {p.find("{*}productID").text: artifacts(p) for p in got.iter()
               if p.tag.endswith("}plane")}
        check(pls == {f[:-5]: {"cadc:RANGEDP/" + f: (
            str(os.path.getsize(os.path.join(data, f))), "md5:" + md5(os.path.join(data, f)))}
            for f in FILES}, "s3 product_ids planes %s" % pls)
        print("ok: s3 product_ids: %d planes in one observation, %d bytes read by ranges" %
              (len(pls), b["result"]["bytes_read"]), flush=True)

        # 3. a server that ignores ranges; a truncated remote file
        Ranged.ignore_range = True
        Ranged.sent = 0
        b = ingest("RANGEDW", [base + FILES[0]])
        Ranged.ignore_range = False
        size = os.path.getsize(os.path.join(data, FILES[0]))
        check(b["state"] == "succeeded" and b["result"]["bytes_read"] == size,
              "range ignored: %s" % b)
        b = ingest("RANGEDH", [base + "cut_raw.fits"], max_attempts=3)
        check(b["state"] == "failed" and b["attempts"] == 1 and
              b["error"]["code"] == "bad_input" and "truncated" in b["error"]["message"],
              "truncated remote file: %s" % b)
        check(not os.listdir(work), "scratch left: %s" % os.listdir(work))
        print("ok: range ignored -> whole download; truncated file -> bad_input", flush=True)
    finally:
        d.stop()
        srv.shutdown()
        srv.server_close()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main(run, "ingest_ranged")
