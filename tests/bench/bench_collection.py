#!/usr/bin/env python3
"""bench_collection.py - driver of bench_collection.sh: collection runs over a `file:` source
of BENCH_COLL_ENTRIES (100,000) generated 0-byte entries (tests/collection/gen_fits.py names:
1 to 3 files per observation, planes SCI and SCIRED), the children `ingest` jobs on a queue of
their own.

 1. first run: listing + diff + enqueue, timed from POST /v1/collections/NAME/run until the
    run leaves its fan-out (phase `waiting` in collection_runs, polled every few ms), with the
    listing and fan-out phases apart; the children's queue is not served meanwhile, so only
    the harvest is measured; then obsflowd is stopped and started again with that queue
    served, and the run ends when the children have (0-byte files: they fail at once);
 2. unchanged re-runs (BENCH_COLL_ROUNDS, default 3): POST .../run to the job's end, 0
    children expected; median;
 3. the queue's own batch enqueue in the same run: POST /v1/jobs arrays of 1,000 noop jobs
    (a queue nobody serves), as many jobs as the first run had children; median of the
    rounds; the child enqueue rate is compared with it;
 4. peak RSS of obsflowd (VmHWM, a fresh process) while a run lists BENCH_COLL_MILLION
    (1,000,000) 0-byte entries in 1,000 directories (on /dev/shm when it is a tmpfs),
    grouped 100 files per observation; removed afterwards.

Figures, not pass/fail (the issue's targets are printed beside them). Env as
tests/repo/test_ingest_job.py (PGHOST of a running cluster).

SPDX-License-Identifier: Apache-2.0
"""
import os
import shutil
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "collection"))
import colltest as C  # noqa: E402
import gen_fits  # noqa: E402
from apitest import TMP, Database, check, main  # noqa: E402

ENTRIES = int(os.environ.get("BENCH_COLL_ENTRIES", "100000"))
ROUNDS = int(os.environ.get("BENCH_COLL_ROUNDS", "3"))
MILLION = int(os.environ.get("BENCH_COLL_MILLION", "1000000"))
# 0: the first run only (listing + diff + fan-out), no drain, re-runs or batch baseline: for
# comparing two builds of obsflowd in one session, run after run
REST = int(os.environ.get("BENCH_COLL_REST", "1"))
KIDS = "benchkids"
NOOPQ = "benchnoop"


def status_kib(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def watch_run(ps, jid, pid=None, timeout=3600):
    """Poll the run until it leaves its fan-out: {phase: first time seen}, peak VmRSS."""
    seen = {}
    peak = 0
    deadline = time.time() + timeout
    while time.time() < deadline:
        r = C.run_row(ps, jid)
        t = time.time()
        if pid:
            peak = max(peak, status_kib(pid, "VmRSS"))
        if r:
            seen.setdefault(r[0], (t, r[1], r[2]))
            if r[0] in ("waiting", "done", "failed"):
                return seen, peak
        time.sleep(0.005)
    check(False, "run %s did not leave its fan-out in %d s" % (jid, timeout))


def tmpfs_dir():
    try:
        with open("/proc/mounts") as f:
            if any(ln.split()[1] == "/dev/shm" and ln.split()[2] == "tmpfs" for ln in f):
                return tempfile.mkdtemp(prefix="obscoll.", dir="/dev/shm")
    except OSError:
        pass
    return tempfile.mkdtemp(prefix="obscoll.", dir=TMP)


def bench_runs(db, root, conf, work):
    data = os.path.join(root, "data")
    t0 = time.time()
    plan = gen_fits.generate(data, ENTRIES, empty=True, bad_every=0, subdirs=100)
    groups, bad = gen_fits.expected([p[0] for p in plan])
    print("collection.setup entries=%d observations=%d generated in %.1f s cores=%d load=%s" % (
        len(plan), len(groups), time.time() - t0, os.cpu_count(),
        open("/proc/loadavg").read().split()[0]), flush=True)
    env = {"OBSFLOW_LOG_LEVEL": "warn"}
    d = C.daemon(db.url, "bench_coll", conf, [data], work, queues="collection=1", env=env)
    ps = C.Psql(db.host, db.name)
    C.put(d, "bench", C.definition("file:" + data, queue=KIDS))
    t0 = time.time()
    jid = C.start_run(d, "bench")
    seen, _ = watch_run(ps, jid)
    t_end = seen.get("waiting", seen.get("done", seen.get("failed")))[0]
    first = t_end - t0
    kids = int(ps.sql("SELECT count(*) FROM jobs WHERE parent_id = '%s'" % jid))
    t_fan = seen.get("fanout", (t_end,))[0]
    t_list = seen.get("listing", (t0,))[0]
    fan_rate = kids / max(t_end - t_fan, 1e-6)
    print("collection.first entries=%d children=%d total=%.2fs (target <= 10 s: %s) "
          "queued->listing=%.2fs listing+diff=%.2fs fanout=%.2fs entries/s=%.0f "
          "children/s(fanout phase)=%.0f" % (
              ENTRIES, kids, first, "met" if first <= 10 else "missed", t_list - t0,
              t_fan - t_list, t_end - t_fan, ENTRIES / first, fan_rate), flush=True)
    check(kids == len(groups), "first run: %d children for %d observations" % (
        kids, len(groups)))
    if not REST:
        d.kill9()
        ps.close()
        shutil.rmtree(data, ignore_errors=True)
        return
    # the children: served now (0-byte inputs fail at once); the run ends with them
    d.kill9()
    d.extra_env["OBSFLOW_QUEUES"] = "collection=1,%s=2" % KIDS
    d.start()
    t0 = time.time()
    job = C.wait_job(d, jid, 3600)
    print("collection.drain %d children ended in %.1f s after the restart; run %s" % (
        kids, time.time() - t0, job["state"]), flush=True)
    check(job["state"] == "succeeded", "first run: %s" % str(job)[:800])
    reruns = []
    for _ in range(ROUNDS):
        t0 = time.time()
        job, c = C.run_collection(d, "bench", 600)
        reruns.append(time.time() - t0)
        check(c["children"] == 0, "unchanged re-run: %s" % c)
    rr = statistics.median(reruns)
    print("collection.rerun unchanged entries=%d children=0 median=%.2fs of %s (target "
          "<= 5 s: %s)" % (ENTRIES, rr, ["%.2f" % x for x in reruns],
                           "met" if rr <= 5 else "missed"), flush=True)
    # the queue's own batch enqueue of the same number of jobs
    batch = []
    for _ in range(ROUNDS):
        t0 = time.time()
        for k in range(0, kids, 1000):
            n = min(1000, kids - k)
            st, _, b = d.request("POST", "/v1/jobs", [{"kind": "noop", "queue": NOOPQ}] * n)
            check(st == 202, "POST a batch of noop jobs: %s %s" % (st, str(b)[:300]))
        batch.append(kids / (time.time() - t0))
    br = statistics.median(batch)
    print("collection.enqueue children/s=%.0f (fanout phase) %.0f (whole first run) vs "
          "POST /v1/jobs x1000 noop=%.0f/s (median of %s): ratio %.2f (%.2f)" % (
              fan_rate, kids / first, br, ["%.0f" % x for x in batch], fan_rate / br,
              kids / first / br), flush=True)
    d.stop()
    ps.close()
    shutil.rmtree(data, ignore_errors=True)


def bench_million(root, conf, work):
    big = tmpfs_dir()
    db = Database("bench_collm")
    d = None
    try:
        t0 = time.time()
        plan = gen_fits.generate(big, MILLION, empty=True, bad_every=0, per_obs=100,
                                 subdirs=1000)
        print("collection.million setup entries=%d observations=%d in %s, generated in "
              "%.1f s" % (len(plan), (len(plan) + 99) // 100, big, time.time() - t0),
              flush=True)
        d = C.daemon(db.url, "bench_collm", conf, [big], work, queues="collection=1",
                     env={"OBSFLOW_LOG_LEVEL": "warn"})
        pid = d.proc.pid
        base = status_kib(pid, "VmHWM")
        base_rss = status_kib(pid, "VmRSS")
        ps = C.Psql(db.host, db.name)
        C.put(d, "million", C.definition("file:" + big, queue=KIDS))
        t0 = time.time()
        jid = C.start_run(d, "million")
        seen, peak = watch_run(ps, jid, pid)
        took = time.time() - t0
        hwm = status_kib(pid, "VmHWM")
        row = C.run_row(ps, jid)
        print("collection.million entries listed=%d children=%d in %.1f s (%.0f entries/s): "
              "peak RSS (VmHWM) %.1f MiB, %.1f MiB above the idle process (%.1f MiB); "
              "sampled VmRSS peak %.1f MiB" % (
                  row[1], row[2], took, row[1] / took, hwm / 1024.0, (hwm - base) / 1024.0,
                  base_rss / 1024.0, peak / 1024.0), flush=True)
        ps.close()
    finally:
        if d is not None:
            d.kill9()
        db.drop()
        shutil.rmtree(big, ignore_errors=True)


def run(db):
    root = C.workdir("bench")
    work = os.path.join(root, "work")
    os.makedirs(work)
    conf = C.conf_dir(root, queue=KIDS)
    try:
        bench_runs(db, root, conf, work)
        if MILLION:
            bench_million(root, conf, work)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main(run, "bench_coll")
