#!/usr/bin/env python3
"""test_dataset_registry.py - dataset and ingest jobs register their datasets in the registry
RUN collection their profile names (registry_run, issue 13 item 2), through the real API of one
obsflowd on a fresh database of the ctest PostgreSQL fixture:

 1. a dataset job (j8bt05njq, profile hst-noref with registry_run: 'HST/runs/{date}'): the run
    of today's UTC day holds the raw input and the flt product, data ID {instrument ACS,
    exposure = the root j8bt05njq read in base 36}, each with its file record (published URI,
    size, md5 of the published file); the flt's provenance names the job, the software version,
    a digest of the params and the raw as its input; the raw's children name the flt; the
    exposure record has the header's time span; the job's result says what was registered;
 2. an ingest job (j94f05bgq_flt.fits, the same profile): its input registered as an flt of
    its own exposure in the same run, provenance = the job;
 2b. an ingest job of an http:// input (wfc3_uvis_sample_svm_flc.fits from a loopback server
    honouring ranges): registered with its URI, size and exposure from headers read by ranges
    (far fewer bytes than the file);
 3. without registry_run (profile hst): the job succeeds and nothing more is registered;
 4. the same dataset again in the same run: the run already has that raw, the job fails at
    once (registry_conflict), not retried;
 5. a job whose earlier attempt committed its registration (simulated: the job is held, its
    raw registered with its job id, then it runs through /retry) registers nothing twice and
    succeeds, its result naming the datasets already there.

SPDX-License-Identifier: Apache-2.0
"""
import datetime
import hashlib
import http.server
import os
import shutil
import sys
import threading
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "api"))
from apitest import SRC_DIR, TMP, Daemon, check, main, wait_until  # noqa: E402
from apitest import FITS, CONF, wait_end as _wait_end  # noqa: E402
from ranged_http import Ranged  # noqa: E402



def md5(path):
    with open(path, "rb") as f:
        return hashlib.md5(f.read()).hexdigest()


def b36(s):
    return int(s, 36)


def wait_end(d, jid, timeout=180):
    return _wait_end(d, jid, timeout)


def get(d, path, **params):
    st, _, b = d.request("GET", path + ("?" + urllib.parse.urlencode(params) if params else ""))
    check(st == 200, "GET %s %s: %s %s" % (path, params, st, b))
    return b


def run(db):
    root = os.path.realpath(os.path.join(TMP, "dsreg.%d" % os.getpid()))
    shutil.rmtree(root, ignore_errors=True)
    conf, inp, work, out = (os.path.join(root, n) for n in ("conf", "in", "work", "out"))
    shutil.copytree(CONF, conf)
    for p in (inp, work, out):
        os.makedirs(p)
    with open(os.path.join(conf, "profiles", "hst-noref.yaml"), "a") as f:
        f.write("registry_run: 'HST/runs/{date}'\noutput: 'file:%s/{dataset}'\n" % out)
    with open(os.path.join(conf, "profiles", "hst.yaml"), "a") as f:
        f.write("missing_reference: skip\noutput: 'file:%s/plain/{dataset}'\n" % out)
    for n in ("j8bt05njq_raw.fits", "j8bt09jcq_raw.fits", "j94f05bgq_flt.fits"):
        shutil.copyfile(os.path.join(FITS, n), os.path.join(inp, n))
    env = {"OBSFLOW_CONFIG_DIR": conf, "OBSFLOW_DATA_ROOTS": root, "OBSFLOW_WORK_DIR": work,
           "OBSFLOW_CAOM_COLLECTIONS": "*"}
    d = Daemon(db.url, name="dsreg", workers=2, env=env)
    try:
        st, _, doc = d.request("GET", "/v1/profiles")
        prof = {p["name"]: p for p in doc["profiles"]}
        check(prof["hst-noref"].get("registry_run") == "HST/runs/{date}" and
              "registry_run" not in prof["hst"], "profiles: %s" % prof)

        # 1. a dataset job
        day0 = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
        j = d.submit({"kind": "dataset", "max_attempts": 1,
                      "params": {"dataset": "j8bt05njq", "input": "file:" + inp,
                                 "profile": "hst-noref"}})
        b = wait_end(d, j["id"])
        day1 = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
        check(b["state"] == "succeeded", "dataset job: %s" % b)
        reg = b["result"].get("registry") or {}
        runname = reg.get("run")
        check(runname in ("HST/runs/" + day0, "HST/runs/" + day1) and reg.get("datasets") == 2,
              "the job's result names the run and the 2 datasets: %s" % reg)
        published = {os.path.basename(p["uri"]): p for p in b["result"]["products"]}
        raws = get(d, "/v1/datasets", type="raw", collections=runname)["items"]
        flts = get(d, "/v1/datasets", type="flt", collections=runname)["items"]
        check(len(raws) == 1 and len(flts) == 1, "one raw and one flt: %s %s" % (raws, flts))
        raw, flt = raws[0], flts[0]
        want_id = {"instrument": "ACS", "exposure": b36("j8bt05njq")}
        check(raw["data_id"] == want_id and flt["data_id"] == want_id,
              "data IDs %s %s" % (raw["data_id"], flt["data_id"]))
        for ds, name in ((raw, "j8bt05njq_raw.fits"), (flt, "j8bt05njq_flt.fits")):
            files = ds["files"]
            p = published[name]
            path = p["uri"][len("file:"):]
            check(len(files) == 1 and files[0]["uri"] == p["uri"] and
                  files[0]["size"] == os.path.getsize(path) and
                  files[0]["checksum"] == "md5:" + md5(path),
                  "%s file record %s, published %s" % (name, files, p))
        g = get(d, "/v1/datasets/" + flt["id"])
        pv = g["provenance"]
        check(pv["job_id"] == j["id"] and pv["software_version"].startswith("obsflow ") and
              pv["parameters_digest"].startswith("sha256:") and
              len(pv["parameters_digest"]) == 7 + 64, "flt provenance: %s" % pv)
        check([(p["id"], p["role"]) for p in g["parents"]] == [(raw["id"], "input")],
              "flt parents: %s" % g["parents"])
        g = get(d, "/v1/datasets/" + raw["id"])
        check(g["provenance"]["job_id"] == j["id"] and
              [c["id"] for c in g["children"]] == [flt["id"]], "raw: %s" % g)
        # the exposure record: the header's EXPSTART/EXPEND (MJD 52377.76, 2002-04-13 18:17 UTC)
        hits = get(d, "/v1/datasets", type="raw", collections=runname,
                   where="exposure.obs_id = 'j8bt05njq' AND exposure.timespan OVERLAPS "
                         "(T'2002-04-13', T'2002-04-14')")["items"]
        check([h["id"] for h in hits] == [raw["id"]], "the exposure's time span: %s" % hits)
        hits = get(d, "/v1/datasets", type="raw", collections=runname,
                   where="exposure.timespan OVERLAPS (T'2002-04-13T18:30', T'2002-04-14')")["items"]
        check(hits == [], "no exposure after its end: %s" % hits)
        print("ok: dataset job registered raw and flt in %s with files and provenance" % runname,
              flush=True)

        # 2. an ingest job of the same profile
        j2 = d.submit({"kind": "ingest", "max_attempts": 1,
                       "params": {"uris": ["file:" + os.path.join(inp, "j94f05bgq_flt.fits")],
                                  "profile": "hst-noref"}})
        b = wait_end(d, j2["id"])
        check(b["state"] == "succeeded", "ingest job: %s" % b)
        check((b["result"].get("registry") or {}).get("run") == runname or
              day1 != day0, "ingest result: %s" % b["result"])
        flts = get(d, "/v1/datasets", type="flt", collections=b["result"]["registry"]["run"],
                   where="exposure = %d" % b36("j94f05bgq"))["items"]
        check(len(flts) == 1 and flts[0]["files"][0]["uri"] ==
              "file:" + os.path.join(inp, "j94f05bgq_flt.fits"), "ingested flt: %s" % flts)
        g = get(d, "/v1/datasets/" + flts[0]["id"])
        check(g["provenance"]["job_id"] == j2["id"] and g["parents"] == [],
              "ingest provenance: %s" % g)
        print("ok: ingest job registered its input", flush=True)

        # 2b. a remote input: its headers by ranged reads
        remote = os.path.join(root, "remote")
        os.makedirs(remote)
        name = "wfc3_uvis_sample_svm_flc.fits"
        shutil.copyfile(os.path.join(FITS, name), os.path.join(remote, name))
        Ranged.root, Ranged.sent = remote, 0
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Ranged)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        try:
            uri = "http://127.0.0.1:%d/%s" % (srv.server_address[1], name)
            j4 = d.submit({"kind": "ingest", "max_attempts": 1,
                           "params": {"uris": [uri], "profile": "hst-noref"}})
            b = wait_end(d, j4["id"])
        finally:
            srv.shutdown()
            srv.server_close()
        check(b["state"] == "succeeded", "remote ingest job: %s" % b)
        size = os.path.getsize(os.path.join(remote, name))
        flcs = get(d, "/v1/datasets", type="flc", collections=b["result"]["registry"]["run"],
                   where="exposure = %d AND exposure.timespan OVERLAPS (T'2011-02-19', "
                         "T'2011-02-20')" % b36("wfc3"))["items"]
        check(len(flcs) == 1 and flcs[0]["files"][0]["uri"] == uri and
              flcs[0]["files"][0]["size"] == size and flcs[0]["data_id"]["instrument"] == "WFC3",
              "remote flc registered: %s" % flcs)
        check(Ranged.sent < size, "headers by ranges: %d bytes sent for a %d-byte file "
              "(ingest and registry)" % (Ranged.sent, size))
        print("ok: remote ingest input registered (%d of %d bytes read)" % (Ranged.sent, size),
              flush=True)

        # 3. without registry_run: nothing registered
        colls = get(d, "/v1/registry/collections")["items"]
        before = sorted((c["name"], c.get("datasets")) for c in colls)
        j3 = d.submit({"kind": "dataset", "max_attempts": 1,
                       "params": {"dataset": "j8bt09jcq", "input": "file:" + inp,
                                  "profile": "hst"}})
        b = wait_end(d, j3["id"])
        check(b["state"] == "succeeded" and "registry" not in b["result"], "hst job: %s" % b)
        colls = get(d, "/v1/registry/collections")["items"]
        after = sorted((c["name"], c.get("datasets")) for c in colls)
        check(after == before, "nothing registered without registry_run: %s -> %s"
              % (before, after))
        print("ok: no registry_run, no registration", flush=True)

        # 4. the same dataset again in the same run: refused, not retried
        if datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d") == \
                runname.rsplit("/", 1)[1]:
            j4 = d.submit({"kind": "dataset", "max_attempts": 3,
                           "params": {"dataset": "j8bt05njq", "input": "file:" + inp,
                                      "profile": "hst-noref"}})
            b = wait_end(d, j4["id"])
            err = b.get("error") or {}
            check(b["state"] == "failed" and b["attempts"] == 1 and
                  err.get("code") == "registry_conflict" and runname in err.get("message", ""),
                  "a second registration of the same raw: %s" % b)
            print("ok: the same raw twice in one run: registry_conflict, not retried",
                  flush=True)

        # 5. an attempt after a committed registration of the same job
        j5 = d.submit({"kind": "dataset", "max_attempts": 1, "run_at": "2100-01-01T00:00:00Z",
                       "params": {"dataset": "j8bt09jcq", "input": "file:" + inp,
                                  "profile": "hst-noref"}})
        st, _, b = d.request("POST", "/v1/jobs/%s/cancel" % j5["id"], {})
        check(st == 200, "cancel the held job: %s %s" % (st, b))
        run5 = "HST/runs/" + datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
        st, _, b = d.request("POST", "/v1/registry/dimensions", {"exposures": [
            {"instrument": "ACS", "id": b36("j8bt09jcq"), "obs_id": "j8bt09jcq",
             "begin": "2002-04-14T00:00:00Z", "end": "2002-04-14T00:01:00Z"}]})
        check(st == 200, "exposure: %s %s" % (st, b))
        st, _, b = d.request("POST", "/v1/datasets", {
            "run": run5, "dataset_type": "raw", "datasets": [
                {"data_id": {"instrument": "ACS", "exposure": b36("j8bt09jcq")},
                 "provenance": {"job_id": j5["id"]}}]})
        check(st == 201, "the earlier attempt's raw: %s %s" % (st, b))
        earlier = b["ids"]
        st, _, b = d.request("POST", "/v1/jobs/%s/retry" % j5["id"], {})
        check(st == 200, "retry: %s %s" % (st, b))
        b = wait_end(d, j5["id"])
        reg = (b.get("result") or {}).get("registry") or {}
        check(b["state"] == "succeeded" and reg.get("already") is True and
              reg.get("ids") == [{"run": run5, "dataset_type": "raw", "ids": earlier}] and
              reg.get("datasets") == 1, "the attempt after a committed registration: %s" % b)
        flts = get(d, "/v1/datasets", type="flt", collections=run5,
                   where="exposure = %d" % b36("j8bt09jcq"))["items"]
        check(flts == [], "nothing registered twice: %s" % flts)
        print("ok: a job's registration is not repeated by a later attempt", flush=True)
    finally:
        d.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main(run, "dataset_registry")
