#!/usr/bin/env python3
"""bench_ingest.py - driver of bench_ingest.sh: BENCH_INGEST_COUNT (10,000) ingest jobs, the
shared CAOM cases' headers with varied observation IDs, submitted through POST /v1/jobs in
batches of 1,000 to one obsflowd (BENCH_INGEST_WORKERS workers, default 2 x cores) pushing
into its built-in repository; timed from the first POST until every job has ended. Then
`obsflow caom` converting the same headers in the same run (one process per observation, as
a pipeline calls it). Env as tests/repo/test_ingest_job.py (PGHOST of a running cluster).

SPDX-License-Identifier: Apache-2.0
"""
import glob
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "api"))
sys.path.insert(0, os.path.join(HERE, "..", "repo"))
sys.path.insert(0, os.path.join(HERE, "..", "caom2data"))
from apitest import BIN_DIR, TMP, Daemon, check, main  # noqa: E402
import test_ingest_job as T  # noqa: E402

COUNT = int(os.environ.get("BENCH_INGEST_COUNT", "10000"))
WORKERS = int(os.environ.get("BENCH_INGEST_WORKERS", str(2 * (os.cpu_count() or 1))))
CLI_RUNS = int(os.environ.get("BENCH_INGEST_CLI_RUNS", "300"))


def run(db):
    conf = os.path.join(TMP, "bench_ingest.conf")
    bpdir = os.path.join(conf, "blueprints")
    os.makedirs(bpdir, exist_ok=True)
    cases = []
    for path in sorted(glob.glob(os.path.join(T.CASES, "*.case"))):
        label = os.path.basename(path)[:-5]
        _, _, args = T.case_push(path)
        cases.append((T.params_of(args, bpdir, label), args))
    d = Daemon(db.url, name="bench_ingest", workers=WORKERS, env={
        "OBSFLOW_CONFIG_DIR": conf, "OBSFLOW_DATA_ROOTS": T.DATA_ROOT,
        "OBSFLOW_LOG_LEVEL": "warn"})
    specs = []
    for i in range(COUNT):
        p = dict(cases[i % len(cases)][0], collection="BENCH", observation_id="obs-%06d" % i)
        specs.append({"kind": "ingest", "params": p, "max_attempts": 1})
    t0 = time.time()
    for k in range(0, COUNT, 1000):
        st, _, b = d.request("POST", "/v1/jobs", specs[k:k + 1000])
        check(st == 202, "POST a batch: %s %s" % (st, str(b)[:300]))
    submitted = time.time() - t0
    while int(db.sql("SELECT count(*) FROM jobs WHERE state IN ('succeeded', 'failed')")) < COUNT:
        time.sleep(0.05)
    took = time.time() - t0
    failed = int(db.sql("SELECT count(*) FROM jobs WHERE state = 'failed'"))
    rows = int(db.sql("SELECT count(*) FROM caom_observations"))
    svc = COUNT / took
    print("ingest jobs: %d observations in %.2f s (submitted in %.2f s), %d workers: %.0f "
          "observations/s; %d failed; %d stored" % (COUNT, took, submitted, WORKERS, svc,
                                                    failed, rows), flush=True)
    d.stop()
    out = os.path.join(TMP, "bench_ingest.xml")
    t0 = time.time()
    for i in range(CLI_RUNS):
        subprocess.run([os.path.join(BIN_DIR, "obsflow"), "caom", "-o", out] +
                       cases[i % len(cases)][1], check=True, capture_output=True)
    cli = CLI_RUNS / (time.time() - t0)
    print("obsflow caom, same headers: %d conversions, %.0f/s (one process each); ingest "
          "jobs end to end (queue + build + push + PostgreSQL) = %.1fx that" %
          (CLI_RUNS, cli, svc / cli), flush=True)
    check(failed == 0, "%d ingest jobs failed" % failed)


if __name__ == "__main__":
    main(run, "bench_ingest")
