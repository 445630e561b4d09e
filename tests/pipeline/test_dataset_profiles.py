#!/usr/bin/env python3
"""test_dataset_profiles.py - dataset jobs that name a dataset profile (config/profiles/hst.yaml,
kast.yaml with their blueprints), through the real API of one obsflowd on a fresh database of
the ctest PostgreSQL fixture:

 1. `{"dataset": "j8bt05njq", "input": ..., "profile": "hst"}` (no output, no collection): the
    output comes from the profile's template, the observation HST/j8bt05njq is in the built-in
    repository with the blueprint's values (instrument ACS with DETECTOR=HRC, target NGC104,
    proposal 9019), one plane per product (j8bt05njq_raw level 1, j8bt05njq_flt level 2) whose
    artifacts carry the published files' lengths and MD5s, previews and thumbnails included;
    resubmitted: unchanged;
 2. the Kast frame kastb_b27_science with profile kast: on the profile's queue (a queue the
    job names wins), KAST/kastb_b27_science, one plane;
 2b. a profile with previews: false publishes no previews (one artifact); a profile naming its
    own expectations file fails a frame that does not meet it, naming every violation;
 3. an unknown profile and a dataset outside the profile's dataset_rule are refused with 422
    naming params.profile and params.dataset; GET /v1/profiles lists hst and kast.

SPDX-License-Identifier: Apache-2.0
"""
import hashlib
import os
import shutil
import sys
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "api"))
from apitest import SRC_DIR, TMP, Daemon, check, main, wait_until  # noqa: E402
from apitest import FITS, CONF, wait_end  # noqa: E402



def md5(path):
    with open(path, "rb") as f:
        return hashlib.md5(f.read()).hexdigest()



def planes_of(d, coll, obs):
    st, _, body = d.request("GET", "/caom2/observations/%s/%s" % (coll, obs), raw=True)
    check(st == 200, "GET %s/%s: %s" % (coll, obs, st))
    doc = ET.fromstring(body)
    return doc, {p.find("{*}productID").text: p for p in doc.findall("{*}planes/{*}plane")}


def artifacts_of(plane):
    out = {}
    for a in plane.findall("{*}artifacts/{*}artifact"):
        out[a.find("{*}uri").text] = {
            "productType": a.find("{*}productType").text,
            "contentType": a.find("{*}contentType").text,
            "contentLength": int(a.find("{*}contentLength").text),
            "contentChecksum": a.find("{*}contentChecksum").text}
    return out


def run(db):
    root = os.path.realpath(os.path.join(TMP, "dsprof.%d" % os.getpid()))
    shutil.rmtree(root, ignore_errors=True)
    conf, inp, work, out = (os.path.join(root, n) for n in ("conf", "in", "work", "out"))
    shutil.copytree(CONF, conf)
    for p in (inp, work, out):
        os.makedirs(p)
    # the shipped HST profile with today's reference behaviour made explicit, and an output
    # template under this test's root; the Kast naming rule as `obsflow process` takes it
    with open(os.path.join(conf, "profiles", "hst.yaml"), "a") as f:
        f.write("missing_reference: skip\noutput: 'file:%s/{dataset}'\n" % out)
    with open(os.path.join(conf, "profiles", "kast.yaml")) as f:
        kast = f.read().replace("queue: calib", "queue: kast-calib")
    with open(os.path.join(conf, "profiles", "kast.yaml"), "w") as f:
        f.write(kast + "missing_reference: skip\noutput: 'file:%s/{dataset}'\n" % out)
    # kast without previews; kaststrict with intake expectations the frame does not meet
    with open(os.path.join(conf, "profiles", "kastnp.yaml"), "w") as f:
        f.write("name: kastnp\ncollection: KASTNP\nblueprints: [kast.blueprint]\n"
                "dataset_rule: '^kast[br]_'\npreviews: false\noutput: 'file:%s/np/{dataset}'\n"
                % out)
    with open(os.path.join(conf, "expectations", "kast_strict.yaml"), "w") as f:
        f.write("instrument: kast\nkind: raw\nhdus:\n  - name: PRIMARY\n    keywords:\n"
                "      NOSUCHKEY: {type: string}\n      OBJECT: {type: string, enum: [M31]}\n")
    with open(os.path.join(conf, "profiles", "kaststrict.yaml"), "w") as f:
        f.write("name: kaststrict\ncollection: KASTS\nexpectations: kast_strict.yaml\n"
                "output: 'file:%s/strict/{dataset}'\n" % out)
    with open(os.path.join(conf, "datasets.yaml"), "w") as f:
        f.write("collections:\n  - name: kast\n"
                "    pattern: '(?<instrument>kast[br])_(?<frame>b[0-9]+)_science'\n")
    shutil.copyfile(os.path.join(FITS, "j8bt05njq_raw.fits"),
                    os.path.join(inp, "j8bt05njq_raw.fits"))
    shutil.copyfile(os.path.join(FITS, "kastb_b27_science.fits"),
                    os.path.join(inp, "kastb_b27_science.fits"))
    env = {"OBSFLOW_CONFIG_DIR": conf, "OBSFLOW_DATA_ROOTS": root, "OBSFLOW_WORK_DIR": work,
           "OBSFLOW_CAOM_COLLECTIONS": "*"}
    d = Daemon(db.url, name="dsprof", workers=2, env=env)
    try:
        st, _, doc = d.request("GET", "/v1/profiles")
        names = sorted(p["name"] for p in doc["profiles"])
        check(st == 200 and "hst" in names and "kast" in names, "profiles: %s" % names)

        # 1. HST through the hst profile
        outcomes = []
        for _ in range(2):
            j = d.submit({"kind": "dataset", "max_attempts": 1,
                          "params": {"dataset": "j8bt05njq", "input": "file:" + inp,
                                     "profile": "hst"}})
            b = wait_end(d, j["id"])
            check(b["state"] == "succeeded", "hst dataset job: %s" % b)
            check(b["queue"] == "calib", "queue %s" % b["queue"])
            outcomes.append(b["result"]["caom"])
        check(outcomes[0]["outcome"] == "created" and outcomes[0]["uri"] == "caom:HST/j8bt05njq"
              and outcomes[1]["outcome"] == "unchanged", "outcomes %s" % outcomes)
        published = {}
        for p in b["result"]["products"]:
            path = p["uri"][len("file:"):]
            check(path.startswith(os.path.join(out, "j8bt05njq") + "/"),
                  "product %s not under the profile's output" % path)
            published[os.path.basename(path)] = (p["size"], p["md5"], md5(path))
        doc, planes = planes_of(d, "HST", "j8bt05njq")
        check(doc.find("{*}instrument/{*}name").text == "ACS" and
              doc.find("{*}instrument/{*}keywords/{*}keyword").text == "DETECTOR=HRC" and
              doc.find("{*}target/{*}name").text == "NGC104" and
              doc.find("{*}proposal/{*}id").text == "9019", "observation values from the "
              "blueprint: %s" % ET.tostring(doc)[:400])
        check(sorted(planes) == ["j8bt05njq_flt", "j8bt05njq_raw"], "planes %s" % sorted(planes))
        check(planes["j8bt05njq_raw"].find("{*}calibrationLevel").text == "1" and
              planes["j8bt05njq_flt"].find("{*}calibrationLevel").text == "2",
              "calibration levels")
        seen = set()
        for pid, pl in planes.items():
            arts = artifacts_of(pl)
            want = {"cadc:HST/%s.fits" % pid: ("science", "application/fits"),
                    "cadc:HST/%s.jpg" % pid: ("preview", "image/jpeg"),
                    "cadc:HST/%s_thumb.jpg" % pid: ("thumbnail", "image/jpeg")}
            check({u: (a["productType"], a["contentType"]) for u, a in arts.items()} == want,
                  "plane %s artifacts %s" % (pid, arts))
            for uri, a in arts.items():
                name = uri.rsplit("/", 1)[1]
                size, rmd5, fmd5 = published[name]
                check(a["contentLength"] == size and a["contentChecksum"] == "md5:" + fmd5 and
                      rmd5 == fmd5, "%s: artifact %s, file %s" % (name, a, published[name]))
                seen.add(name)
        check(seen == set(published), "products without artifacts: %s" %
              (set(published) - seen))
        print("ok: hst profile: output from the template, observation with 2 planes, 6 "
              "artifacts = published files; resubmitted unchanged", flush=True)

        # 2. Kast through the kast profile
        j = d.submit({"kind": "dataset", "max_attempts": 1,
                      "params": {"dataset": "kastb_b27_science", "input": "file:" + inp,
                                 "profile": "kast"}})
        check(j["queue"] == "kast-calib", "a job naming the kast profile is on the profile's "
              "queue, not %s" % j["queue"])
        b = wait_end(d, j["id"])
        check(b["state"] == "succeeded", "kast dataset job: %s" % b)
        j = d.submit({"kind": "dataset", "queue": "mine", "run_at": "2100-01-01T00:00:00Z",
                      "params": {"dataset": "kastb_b27_science", "input": "file:" + inp,
                                 "profile": "kast"}})
        check(j["queue"] == "mine", "a queue the job names wins over its profile's")
        doc, planes = planes_of(d, "KAST", "kastb_b27_science")
        check(sorted(planes) == ["kastb_b27_science"] and
              planes["kastb_b27_science"].find("{*}calibrationLevel").text == "1" and
              doc.find("{*}target/{*}name").text == "J1217p3905" and
              doc.find("{*}instrument/{*}name").text == "Kast",
              "kast observation: %s" % ET.tostring(doc)[:600])
        check(len(artifacts_of(planes["kastb_b27_science"])) == 3, "kast artifacts")
        print("ok: kast profile: KAST/kastb_b27_science", flush=True)

        # profile choices: no previews; the profile's own intake expectations
        j = d.submit({"kind": "dataset", "max_attempts": 1,
                      "params": {"dataset": "kastb_b27_science", "input": "file:" + inp,
                                 "profile": "kastnp"}})
        b = wait_end(d, j["id"])
        check(b["state"] == "succeeded" and
              [p["type"] for p in b["result"]["products"]] == ["science"],
              "previews: false: %s" % b.get("result"))
        _, planes = planes_of(d, "KASTNP", "kastb_b27_science")
        check(len(artifacts_of(planes["kastb_b27_science"])) == 1, "kastnp artifacts")
        j = d.submit({"kind": "dataset", "max_attempts": 3,
                      "params": {"dataset": "kastb_b27_science", "input": "file:" + inp,
                                 "profile": "kaststrict"}})
        b = wait_end(d, j["id"])
        msg = (b.get("error") or {}).get("message", "")
        check(b["state"] == "failed" and b["attempts"] == 1 and "NOSUCHKEY" in msg and
              "OBJECT" in msg, "the profile's expectations: %s" % b)
        print("ok: profile previews: false -> no previews; the profile's expectations file "
              "checks the inputs", flush=True)

        # 3. refusals
        st, _, e = d.request("POST", "/v1/jobs", {"kind": "dataset", "params": {
            "dataset": "j8bt05njq", "input": "file:" + inp, "profile": "nope"}})
        check(st == 422 and e.get("field") == "params.profile", "unknown profile: %s %s" % (st, e))
        st, _, e = d.request("POST", "/v1/jobs", {"kind": "dataset", "params": {
            "dataset": "kastb_b27_science", "input": "file:" + inp, "profile": "hst"}})
        check(st == 422 and e.get("field") == "params.dataset" and "dataset_rule" in e["detail"],
              "dataset outside the rule: %s %s" % (st, e))
        st, _, e = d.request("POST", "/v1/jobs", {"kind": "dataset", "params": {
            "dataset": "j8bt05njq", "input": "file:" + inp}})
        check(st == 422 and e.get("field") == "params.output", "no output, no profile: %s %s"
              % (st, e))
        print("ok: bad profile params refused with 422 naming the field", flush=True)
    finally:
        d.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main(run, "dataset_profiles")
