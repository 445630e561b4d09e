#!/usr/bin/env python3
"""test_dataset_queues.py - real job kinds under per-queue concurrency, through one obsflowd on
a fresh database of the ctest PostgreSQL fixture: with OBSFLOW_QUEUES=calib=1,ingest=4, two
`dataset` jobs (j8bt05njq and j8bt09jcq, calibrated from a small reference store, each pushing
its observation) and twenty `ingest` jobs (the shared FITS files under varied observation IDs)
submitted together, datasets first:

 - from the jobs' events: never more than one dataset and four ingests ran at once (the
   datasets' runs do not overlap);
 - ingest is not starved behind calibration: the twenty ingests finish before the second
   dataset does;
 - every job succeeds once, every observation is in the built-in repository;
 - prints obsflowd's peak resident set (VmHWM) over the run.

SPDX-License-Identifier: Apache-2.0
"""
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "api"))
sys.path.insert(0, os.path.join(HERE, "..", "support"))
from apitest import SRC_DIR, TMP, Daemon, check, main, wait_until  # noqa: E402
from test_api_queues import most_at_once, runs  # noqa: E402
import make_refs  # noqa: E402

SHARED = os.environ.get("OBSFLOW_SHARED", os.path.join(SRC_DIR, "..", "shared"))
FITS = os.path.join(SHARED, "testdata", "fits")
CONF = os.path.realpath(os.path.join(SRC_DIR, "config"))
DATASETS = ["j8bt05njq", "j8bt09jcq"]
INGEST_FILES = ["j94f05bgq_flt.fits", "wfc3_ir_sample_flt.fits", "m13.fits", "kastb_b1_arc.fits"]


def vm_hwm_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return -1


def overlap(intervals):
    """Most intervals open at one instant (raw stamps: completion stamps may be late)."""
    ev = sorted([(a, 1) for a, _ in intervals] + [(b, -1) for _, b in intervals])
    best = cur = 0
    for _, k in ev:
        cur += k
        best = max(best, cur)
    return best


def run(db):
    root = os.path.realpath(os.path.join(TMP, "dsq.%d" % os.getpid()))
    shutil.rmtree(root, ignore_errors=True)
    inp, out, work = (os.path.join(root, n) for n in ("in", "out", "work"))
    for p in (inp, out, work):
        os.makedirs(p)
    for ds in DATASETS:
        shutil.copyfile(os.path.join(FITS, ds + "_raw.fits"), os.path.join(inp, ds + "_raw.fits"))
    for f in INGEST_FILES:
        shutil.copyfile(os.path.join(FITS, f), os.path.join(inp, f))
    make_refs.make(os.path.join(root, "crds"))
    env = {"OBSFLOW_CONFIG_DIR": CONF, "OBSFLOW_DATA_ROOTS": root, "OBSFLOW_WORK_DIR": work,
           "OBSFLOW_CAOM_COLLECTIONS": "*", "OBSFLOW_QUEUES": "calib=1,ingest=4",
           "OBSFLOW_REFERENCE_URI": "file:" + os.path.join(root, "crds"),
           "OBSFLOW_REFERENCE_CACHE": os.path.join(root, "refcache")}
    d = Daemon(db.url, name="dsqueues", env=env)
    try:
        datasets = d.submit([{"kind": "dataset", "max_attempts": 1, "params": {
            "dataset": ds, "input": "file:" + inp, "output": "file:" + out,
            "collection": "QDS"}} for ds in DATASETS])
        ingests = d.submit([{"kind": "ingest", "max_attempts": 1, "params": {
            "collection": "QING", "observation_id": "q%02d" % i,
            "uris": ["file:" + os.path.join(inp, INGEST_FILES[i % len(INGEST_FILES)])]}}
            for i in range(20)])
        check(all(j["queue"] == "calib" for j in datasets) and
              all(j["queue"] == "ingest" for j in ingests),
              "default queues: %s" % [j["queue"] for j in datasets + ingests])
        ids = [j["id"] for j in datasets + ingests]

        def ended():
            states = [d.job(j)["state"] for j in ids]
            bad = [s for s in states if s in ("failed", "cancelled")]
            check(not bad, "jobs ended %s: %s" % (bad, [d.job(j) for j in ids
                                                        if d.job(j)["state"] in bad][:2]))
            return all(s == "succeeded" for s in states)

        wait_until(ended, 240, "the 22 jobs to succeed", interval=0.1)
        rs = runs(d, [(j["id"], "calib") for j in datasets] +
                  [(j["id"], "ingest") for j in ingests])
        nc, ni = most_at_once(rs, "calib"), most_at_once(rs, "ingest")
        check(nc == 1, "datasets ran %d at once (1 slot)" % nc)
        # (ingests last tens of ms: shorter than the slack the count allows for batched
        # completion stamps, so the count is a bound from above, not the real overlap)
        check(ni <= 4, "ingests ran %d at once (4 slots)" % ni)
        cal = sorted((r[1], r[2]) for r in rs if r[0] == "calib")
        ing = [(r[1], r[2]) for r in rs if r[0] == "ingest"]
        # not starved: all twenty ingests are done before the second dataset is (order, not a
        # time bound; when the first ingest starts relative to the first dataset depends on
        # when the pool's claim wakes up, which one CI run saw after a 0.3 s dataset)
        check(max(e for _, e in ing) < cal[1][1],
              "ingests finished after the second dataset: starved behind calibration")
        for ds in DATASETS:
            st, _, _ = d.request("GET", "/caom2/observations/QDS/" + ds, raw=True)
            check(st == 200, "observation QDS/%s: %s" % (ds, st))
        for i in (0, 19):
            st, _, _ = d.request("GET", "/caom2/observations/QING/q%02d" % i, raw=True)
            check(st == 200, "observation QING/q%02d: %s" % (i, st))
        print("2 datasets + 20 ingests: at most %d dataset at once, ingests %d at once by raw "
              "stamps (4 slots); obsflowd peak RSS %.1f MiB" %
              (nc, overlap(ing), vm_hwm_kib(d.proc.pid) / 1024.0), flush=True)
        check(d.stop() == 0, "clean exit")
    except AssertionError:
        d.dump_log()
        d.stop()
        raise
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main(run, "dataset_queues")
