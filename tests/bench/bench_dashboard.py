#!/usr/bin/env python3
"""bench_dashboard.py - driver of bench_dashboard.sh: the requests the dashboard polls, timed
against one obsflowd whose jobs table holds BENCH_DASHBOARD_JOBS (1,000,000) jobs inserted with
SQL (96.7% succeeded, 2% cancelled, 1% queued, 0.3% failed, each with params, a result or an
error, spread over 30 days; the failures all among the oldest tenth, so that the list of recent
failures has to look past 900,000 newer jobs), plus a few real jobs run through the API (running ones among them, and
one with its events). Each route is asked BENCH_DASHBOARD_REPEAT (30) times over one
keep-alive connection; /metrics reads the job counts from the database at most every 2 s, so
it is asked after 2.1 s pauses to time the database read each time. Prints the median, p95
and max per route, and the old count (GROUP BY state over the table) as it was before
migration 0010, in the same run. Env as tests/api (PGHOST of a running cluster).

SPDX-License-Identifier: Apache-2.0
"""
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "api"))
from apitest import Daemon, check, main, wait_until  # noqa: E402

JOBS = int(os.environ.get("BENCH_DASHBOARD_JOBS", "1000000"))
REPEAT = int(os.environ.get("BENCH_DASHBOARD_REPEAT", "30"))
BUDGET_MS = 50.0

FILL = """
INSERT INTO jobs (id, state, priority, attempts, max_attempts, run_at, queue, kind, created_at,
                  started_at, finished_at, params, result, error_code, error_message)
SELECT ('00000000-0000-7000-8000-' || lpad(to_hex(i), 12, '0'))::uuid, st,
       (1 + i % 9)::smallint, CASE WHEN st = 'queued' THEN 0 ELSE 1 END, 5, t,
       CASE WHEN i % 3 = 0 AND st <> 'queued' THEN 'calib' ELSE 'default' END,
       CASE WHEN i % 3 = 0 AND st <> 'queued' THEN 'dataset' ELSE 'noop' END, t,
       CASE WHEN st = 'queued' THEN NULL ELSE t END,
       CASE WHEN st = 'queued' THEN NULL ELSE t + interval '2 seconds' END,
       jsonb_build_object('sleep_ms', 100 + i % 900),
       CASE WHEN st = 'succeeded' THEN jsonb_build_object('slept_ms', i % 1000) END,
       CASE WHEN st = 'failed' THEN 'noop_failure' END,
       CASE WHEN st = 'failed' THEN 'bench failure of row ' || i END
FROM (SELECT i, now() - interval '30 days' + (i * interval '30 days') / {N} AS t,
             CASE WHEN i % 100 = 99 THEN 'queued' WHEN i % 100 >= 97 THEN 'cancelled'
                  WHEN i <= {N} / 10 AND i % 100 < 3 THEN 'failed'
                  ELSE 'succeeded' END::job_state AS st
      FROM generate_series(1, {N}) AS i) g
"""


def timed(d, path, repeat, pause=0.0):
    conn = d.conn()
    out = []
    for _ in range(repeat):
        if pause:
            time.sleep(pause)
        t0 = time.perf_counter()
        conn.request("GET", path)
        r = conn.getresponse()
        r.read()
        out.append((time.perf_counter() - t0) * 1000.0)
        check(r.status == 200, "GET %s: %d" % (path, r.status))
    conn.close()
    return out


def run(db):
    t0 = time.time()
    d = Daemon(db.url, name="bench_dashboard", workers=2, env={"OBSFLOW_LOG_LEVEL": "warn"})
    # the bulk rows, with the queue's own triggers (one statement: one delta per state)
    db.sql("SET synchronous_commit = off; " + FILL.replace("{N}", str(JOBS)))
    db.sql("VACUUM ANALYZE jobs")
    print("dashboard.setup jobs=%d filled_in=%.1fs" % (JOBS, time.time() - t0), flush=True)
    # real jobs: one that succeeded with its events, one failed, two running long
    st, _, ok = d.request("POST", "/v1/jobs", {"kind": "noop", "priority": 0, "params": {"sleep_ms": 1200}})
    check(st == 202, "submit: %s" % st)
    st, _, bad = d.request("POST", "/v1/jobs",
                           {"kind": "noop", "priority": 0, "max_attempts": 1,
                            "params": {"fail_times": 1}})
    check(st == 202, "submit: %s" % st)
    wait_until(lambda: d.job(ok["id"])["state"] == "succeeded", 60, "the real job to finish")
    wait_until(lambda: d.job(bad["id"])["state"] == "failed", 60, "the failing job to fail")
    # the bulk's queued jobs (priority 1 to 9, behind the real ones) keep both workers busy
    wait_until(lambda: d.request("GET", "/v1/jobs?state=running&limit=1")[2]["items"], 60,
               "a running job")
    counts = db.sql("SELECT state, count(*) FROM jobs GROUP BY state ORDER BY state")
    print("dashboard.jobs " + " ".join(counts.replace("|", "=").split()), flush=True)
    routes = [
        ("/readyz", 0.0),
        ("/v1/jobs?state=running&limit=50", 0.0),
        ("/v1/jobs?state=failed&limit=20", 0.0),
        ("/v1/collections", 0.0),
        ("/v1/jobs?limit=200", 0.0),
        ("/v1/jobs?state=succeeded&limit=200", 0.0),
        ("/v1/jobs?kind=dataset&limit=200", 0.0),
        ("/v1/jobs/%s" % ok["id"], 0.0),
        ("/v1/jobs/%s/events" % ok["id"], 0.0),
        ("/metrics", 2.1),
        ("/", 0.0),
    ]
    worst = 0.0
    for path, pause in routes:
        n = REPEAT if not pause else max(5, REPEAT // 3)
        ms = sorted(timed(d, path, n, pause))
        p95 = ms[min(len(ms) - 1, int(round(0.95 * (len(ms) - 1))))]
        worst = max(worst, p95)
        label = path.replace(ok["id"], "{id}")
        print("dashboard.poll route=%s n=%d median_ms=%.2f p95_ms=%.2f max_ms=%.2f" %
              (label, n, statistics.median(ms), p95, ms[-1]), flush=True)
    # the failures list without migration 0010's index, in the same run
    db.sql("DROP INDEX jobs_failed")
    ms = sorted(timed(d, "/v1/jobs?state=failed&limit=20", 5))
    print("dashboard.without_jobs_failed_index route=/v1/jobs?state=failed&limit=20 n=5"
          " median_ms=%.1f" % statistics.median(ms), flush=True)
    db.sql("CREATE INDEX jobs_failed ON jobs (id) WHERE state = 'failed'")
    # the count as queue_stats did it before migration 0010, in the same run
    q = ("SELECT s.state::text, coalesce(c.n, 0) FROM unnest(enum_range(NULL::job_state)) AS"
         " s(state) LEFT JOIN (SELECT state, count(*) AS n FROM jobs GROUP BY state) c USING (state)")
    old = []
    for _ in range(5):
        t1 = time.perf_counter()
        db.sql(q)
        old.append((time.perf_counter() - t1) * 1000.0)
    print("dashboard.old_count_by_state median_ms=%.1f (psql round trip included)" %
          statistics.median(old), flush=True)
    print("dashboard.worst_p95_ms=%.2f budget_ms=%.0f %s" %
          (worst, BUDGET_MS, "within" if worst <= BUDGET_MS else "OVER"), flush=True)
    d.stop()


if __name__ == "__main__":
    main(run, "bench_dashboard")
