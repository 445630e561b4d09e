#!/usr/bin/env python3
"""test_api_progress.py - GET /v1/jobs/{id} shows where a running job is (issue 8 item 3),
through the real obsflowd on a fresh database of the ctest PostgreSQL fixture:

 1. a noop job sleeping 3 s reports one step "sleep": while it runs, GET /v1/jobs/{id} and the
    list items show "progress" {"step","index","nsteps","detail","attempt","updated_at"} with
    the detail advancing; when it ends the progress stays (where it stopped) and its events hold
    a step event for "sleep" and a last one ("steps done") carrying the step's measured
    duration; a failed job keeps the step it stopped in and a retry clears it; a job that
    reports no step has "progress": null and no step event;
 2. a dataset job (the shared HST ACS dataset j8bt05njq, references from a small store made by
    tests/support/make_refs.py) records each pipeline step as an event
    in order (fetch, validate, calibrate, previews, publish; index i of 5), each naming the step
    before it with its duration, and keeps "publish" 5/5 as its progress;
 3. an ingest job (a shared STIS raw file) reports no steps (one short step; the writes cost a
    third of the ingest throughput), so its progress stays null and it has no step events.

SPDX-License-Identifier: Apache-2.0
"""
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "support"))
from apitest import SRC_DIR, TMP, Daemon, check, main, wait_until  # noqa: E402
import make_refs  # noqa: E402

SHARED = os.environ.get("OBSFLOW_SHARED", os.path.join(SRC_DIR, "..", "shared"))
RAW = os.path.join(SHARED, "testdata", "fits", "j8bt05njq_raw.fits")
STIS = os.path.join(SHARED, "testdata", "fits", "o4sp040b0_raw.fits")
CONF = os.path.realpath(os.path.join(SRC_DIR, "config"))
DS = "j8bt05njq"
STEPS = ["fetch", "validate", "calibrate", "previews", "publish"]


def ended(d, jid, timeout=120):
    out = {}

    def done():
        out["j"] = d.job(jid)
        return out["j"]["state"] in ("succeeded", "failed", "cancelled")
    wait_until(done, timeout, "job %s ends" % jid)
    return out["j"]


def step_events(d, jid):
    st, _, ev = d.request("GET", "/v1/jobs/%s/events" % jid)
    check(st == 200, "events of %s: %s" % (jid, st))
    return [e for e in ev["items"] if "step" in e]


def noop_progress(d):
    j = d.submit({"kind": "noop", "params": {"sleep_ms": 3000}})
    seen = []

    def reported():
        b = d.job(j["id"])
        p = b.get("progress")
        if b["state"] == "running" and p is not None:
            seen.append(p)
        return len({x["detail"] for x in seen}) >= 2
    wait_until(reported, 30, "the running noop job reports its progress twice")
    p = seen[-1]
    check(set(p) == {"step", "index", "nsteps", "detail", "attempt", "updated_at"},
          "progress members: %s" % p)
    check(p["step"] == "sleep" and p["index"] == 1 and p["nsteps"] == 1 and p["attempt"] == 1,
          "progress: %s" % p)
    check(p["detail"].endswith("of 3000 ms"), "progress detail: %s" % p)
    check(p["updated_at"].endswith("Z") and "T" in p["updated_at"], "updated_at: %s" % p)
    st, _, page = d.request("GET", "/v1/jobs?kind=noop&state=running")
    check(st == 200, "list running: %s" % st)
    items = [x for x in page["items"] if x["id"] == j["id"]]
    check(items and items[0]["progress"] and items[0]["progress"]["step"] == "sleep",
          "a list item shows the progress: %s" % items)
    # while it runs, the events already hold the step's start
    ev = step_events(d, j["id"])
    check(len(ev) == 1 and ev[0]["state"] == "running" and ev[0]["step"]["name"] == "sleep" and
          "previous" not in ev[0]["step"] and ev[0]["message"] == "step 1/1: sleep",
          "step event while running: %s" % ev)
    b = ended(d, j["id"])
    check(b["state"] == "succeeded", "noop job: %s" % b)
    check(b["progress"] and b["progress"]["step"] == "sleep",
          "the progress stays at the last step: %s" % b["progress"])
    ev = step_events(d, j["id"])
    check([e["message"] for e in ev] == ["step 1/1: sleep", "steps done"], "step events: %s" % ev)
    last = ev[-1]["step"]
    check(last["name"] is None and last["previous"]["name"] == "sleep" and
          last["previous"]["duration_ms"] >= 2000,
          "the last step event carries the sleep's duration: %s" % last)
    # a failed job keeps the step it stopped in; a retry starts without progress
    f = d.submit({"kind": "noop", "max_attempts": 1, "params": {"sleep_ms": 1000, "fail_times": 1}})
    b = ended(d, f["id"])
    check(b["state"] == "failed" and b["progress"] and b["progress"]["step"] == "sleep",
          "a failed job shows where it stopped: %s" % b)
    st, _, r = d.request("POST", "/v1/jobs/%s/retry" % f["id"])
    check(st == 200 and r["progress"] is None, "a retried job has no progress: %s %s" % (st, r))
    ended(d, f["id"])
    # a job that reports nothing
    q = d.submit({"kind": "noop"})
    check(q["progress"] is None, "a new job has progress null: %s" % q)
    b = ended(d, q["id"])
    check(b["progress"] is None and step_events(d, q["id"]) == [],
          "no progress for a job without steps: %s" % b)


def dataset_progress(d, root):
    inp = os.path.join(root, "in")
    j = d.submit({"kind": "dataset", "max_attempts": 1,
                  "params": {"dataset": DS, "input": "file:" + inp,
                             "output": "file:" + os.path.join(root, "out")}})
    b = ended(d, j["id"])
    check(b["state"] == "succeeded", "dataset job: %s" % b)
    ev = step_events(d, j["id"])
    names = [e["step"]["name"] for e in ev]
    check(names == STEPS + [None], "dataset step events in order: %s" % names)
    for i, e in enumerate(ev[:-1]):
        s = e["step"]
        check(s["index"] == i + 1 and s["nsteps"] == 5, "step %d: %s" % (i + 1, s))
        check(e["message"] == "step %d/5: %s" % (i + 1, STEPS[i]), "message: %s" % e)
        if i == 0:
            check("previous" not in s, "the first step has no previous: %s" % s)
    for i, e in enumerate(ev[1:]):
        prev = e["step"]["previous"]
        check(prev["name"] == STEPS[i] and isinstance(prev["duration_ms"], int) and
              prev["duration_ms"] >= 0, "duration of %s: %s" % (STEPS[i], prev))
    p = b["progress"]
    check(p["step"] == "publish" and p["index"] == 5 and p["nsteps"] == 5,
          "the dataset's progress stays at its last step: %s" % p)


def ingest_progress(d, root):
    j = d.submit({"kind": "ingest", "max_attempts": 1,
                  "params": {"collection": "PROGRESS",
                             "uris": ["file:" + os.path.join(root, "in", "o4sp040b0_raw.fits")]}})
    b = ended(d, j["id"])
    check(b["state"] == "succeeded", "ingest job: %s" % b)
    # an ingest is one short step: it reports none (its cost was a third of the throughput)
    check(b["progress"] is None, "ingest progress: %s" % b["progress"])
    ev = step_events(d, j["id"])
    check(ev == [], "ingest step events: %s" % ev)


def run(db):
    d = Daemon(db.url, name="progress", workers=2)
    noop_progress(d)
    print("ok: noop progress", flush=True)
    d.stop()
    if not os.path.exists(RAW):
        check(False, "the shared dataset %s is missing" % RAW)
    root = os.path.realpath(os.path.join(TMP, "progress.%d" % os.getpid()))
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(os.path.join(root, "in"))
    os.makedirs(os.path.join(root, "work"))
    shutil.copyfile(RAW, os.path.join(root, "in", DS + "_raw.fits"))
    shutil.copyfile(STIS, os.path.join(root, "in", "o4sp040b0_raw.fits"))
    make_refs.make(os.path.join(root, "crds"))  # the references j8bt05njq needs, made small
    env = {"OBSFLOW_CONFIG_DIR": CONF, "OBSFLOW_DATA_ROOTS": root,
           "OBSFLOW_WORK_DIR": os.path.join(root, "work"),
           "OBSFLOW_REFERENCE_URI": "file:" + os.path.join(root, "crds"),
           "OBSFLOW_REFERENCE_CACHE": os.path.join(root, "refcache"),
           "OBSFLOW_CAOM_COLLECTIONS": "*"}
    d = Daemon(db.url, name="progress-ds", workers=1, env=env)
    try:
        dataset_progress(d, root)
        print("ok: dataset steps", flush=True)
        ingest_progress(d, root)
        print("ok: ingest step", flush=True)
    finally:
        d.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main(run, "api_progress")
