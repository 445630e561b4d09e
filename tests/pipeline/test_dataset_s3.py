#!/usr/bin/env python3
"""test_dataset_s3.py - a `dataset` job whose input, output and reference store are on S3
(the s3rver fixture), through the real API of one obsflowd (fresh database of the ctest
PostgreSQL fixture), against `obsflow process` on the same inputs with file: output:

 1. the job succeeds (twice); its result names the dataset tarball
    s3://B/outputs/data/acs/<ds>/<ds>.tar.gz with the MD5 and size of the object in the
    bucket; the products in the tarball are the same bytes (MD5) as `obsflow process` writes,
    previews included (the tarball itself differs run to run: its logs carry times);
 2. its observation (collection given in the params) is in the built-in repository: planes
    <ds>_raw and <ds>_flt whose artifacts carry the lengths and MD5s of the files inside the
    tarball; resubmitted: unchanged.

SPDX-License-Identifier: Apache-2.0
"""
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "api"))
sys.path.insert(0, os.path.join(HERE, "..", "support"))
from apitest import BIN_DIR, SRC_DIR, TMP, Daemon, check, main, wait_until  # noqa: E402
import make_refs  # noqa: E402

SHARED = os.environ.get("OBSFLOW_SHARED", os.path.join(SRC_DIR, "..", "shared"))
RAW = os.path.join(SHARED, "testdata", "fits", "j8bt05njq_raw.fits")
CONF = os.path.realpath(os.path.join(SRC_DIR, "config"))
S3UTIL = os.path.join(HERE, "..", "process", "s3util.py")
DS = "j8bt05njq"


def md5b(b):
    return hashlib.md5(b).hexdigest()


def run(db):
    s3dir = os.environ.get("OBSFLOW_S3_DIR")
    check(s3dir and os.path.exists(os.path.join(s3dir, "port")), "no S3 fixture")
    ep = "http://127.0.0.1:%s" % open(os.path.join(s3dir, "port")).read().strip()

    def s3(*args, out=False):
        p = subprocess.run([sys.executable, S3UTIL, ep] + list(args), capture_output=True,
                           timeout=120)
        check(p.returncode == 0, "s3util %s: %s" % (args[:2], p.stderr.decode()[-500:]))
        return p.stdout

    root = os.path.realpath(os.path.join(TMP, "dss3.%d" % os.getpid()))
    shutil.rmtree(root, ignore_errors=True)
    work, cliwork, cliout = (os.path.join(root, n) for n in ("work", "cliwork", "cli"))
    for p in (work, cliwork):
        os.makedirs(p)
    bucket = "dss3-%d" % os.getpid()
    s3("mb", bucket)
    crds = os.path.join(root, "crds")
    for n in make_refs.make(crds):
        s3("put", bucket, "crds/references/hst/" + n, os.path.join(crds, "references", "hst", n))
    tb = os.path.join(root, DS + ".tar.gz")
    with tarfile.open(tb, "w:gz") as t:
        t.add(RAW, arcname=DS + "_raw.fits")
    s3("put", bucket, "inputs/%s.tar.gz" % DS, tb)
    aws = {"AWS_ACCESS_KEY_ID": "S3RVER", "AWS_SECRET_ACCESS_KEY": "S3RVER",
           "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL_S3": ep,
           "OBSFLOW_REFERENCE_URI": "s3://%s/crds" % bucket}

    # the oracle: obsflow process, same S3 input and references, file: output
    e = dict(os.environ, OBSFLOW_WORK_DIR=cliwork, OBSFLOW_NO_PROGRESS="1",
             OBSFLOW_REFERENCE_CACHE=os.path.join(root, "clirefs"), **aws)
    e.pop("OBSFLOW_DATA_ROOTS", None)
    p = subprocess.run([os.path.join(BIN_DIR, "obsflow"), "process", "--quiet", DS,
                        "s3://%s/inputs" % bucket, "file:" + cliout, "file:" + CONF],
                       capture_output=True, text=True, timeout=180, env=e)
    check(p.returncode == 0, "obsflow process: %d %s" % (p.returncode, p.stderr))
    base = os.path.join(cliout, "data", "acs", DS)
    cli = {}
    for sub in ("", "previews"):
        for n in os.listdir(os.path.join(base, sub)):
            path = os.path.join(base, sub, n)
            if os.path.isfile(path):
                with open(path, "rb") as f:
                    cli[os.path.join(sub, n)] = md5b(f.read())

    d = Daemon(db.url, name="dataset_s3", env=dict(
        aws, OBSFLOW_CONFIG_DIR=CONF, OBSFLOW_WORK_DIR=work, OBSFLOW_CAOM_COLLECTIONS="*",
        OBSFLOW_REFERENCE_CACHE=os.path.join(root, "refcache")))
    try:
        params = {"dataset": DS, "input": "s3://%s/inputs" % bucket,
                  "output": "s3://%s/outputs" % bucket, "collection": "DS3"}
        results = []
        for _ in range(2):
            j = d.submit({"kind": "dataset", "max_attempts": 1, "params": params})
            b = wait_until(lambda: (lambda x: x if x["state"] in (
                "succeeded", "failed", "cancelled") else None)(d.job(j["id"])), 180,
                "dataset job", interval=0.05)
            check(b["state"] == "succeeded", "S3 dataset job: %s" % b)
            results.append(b["result"])
        # the bucket holds the second run's tarball (its logs have times: not the same bytes)
        r = results[1]
        key = "outputs/data/acs/%s/%s.tar.gz" % (DS, DS)
        check([p["uri"] for p in r["products"]] == ["s3://%s/%s" % (bucket, key)],
              "products %s" % r["products"])
        obj = s3("get", bucket, key)
        check(r["products"][0]["md5"] == md5b(obj) and r["products"][0]["size"] == len(obj),
              "tarball in the result %s, in the bucket md5 %s size %d" %
              (r["products"][0], md5b(obj), len(obj)))
        inside = {}
        with tarfile.open(fileobj=io.BytesIO(obj), mode="r:gz") as t:
            for m in t.getmembers():
                if m.isfile():  # members are <ds>/<file> as CALDP packs them
                    check(m.name.startswith(DS + "/"), "tarball member %s" % m.name)
                    inside[m.name[len(DS) + 1:]] = t.extractfile(m).read()
        got = {n: md5b(b) for n, b in inside.items() if not n.startswith("logs/") and
               not n.startswith("env/")}
        check(got == cli, "tarball products differ from obsflow process:\n %s\n %s" %
              (sorted(got.items()), sorted(cli.items())))
        c1, c2 = results[0]["caom"], results[1]["caom"]
        check(c1["outcome"] == "created" and c2["outcome"] == "unchanged" and
              c1["artifacts"] == 6, "CAOM outcomes %s / %s" % (c1, c2))
        st, _, body = d.request("GET", "/caom2/observations/DS3/" + DS, raw=True)
        check(st == 200, "GET DS3/%s: %s" % (DS, st))
        arts = {}
        for a in ET.fromstring(body).iter():
            if a.tag.endswith("}artifact"):
                arts[a.find("{*}uri").text.rsplit("/", 1)[1]] = (
                    int(a.find("{*}contentLength").text), a.find("{*}contentChecksum").text)
        want = {os.path.basename(n): (len(b), "md5:" + md5b(b)) for n, b in inside.items()
                if n.endswith(".fits") or n.endswith(".jpg")}
        check(arts == want, "artifacts %s, tarball files %s" % (arts, want))
        print("ok: S3 dataset: tarball = obsflow process products, observation with the "
              "tarball files' lengths and MD5s, resubmitted unchanged", flush=True)
        check(d.stop() == 0, "clean exit")
    except AssertionError:
        d.dump_log()
        d.stop()
        raise
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main(run, "dataset_s3")
