#!/usr/bin/env python3
"""test_api_queues.py - per-queue concurrency through the real obsflowd: with
OBSFLOW_QUEUES=calib=1,ingest=3 two slow noop jobs on calib and six on ingest (calib's
submitted first) never run more than 1 and 3 at once (from their events' started_at and at),
ingest is not starved behind calib, a job of a queue not listed stays queued (and the start log
says such jobs are left to other replicas), /metrics shows obsflow_queue_workers{queue} and
obsflow_queue_workers_busy{queue} (promtool check metrics), OBSFLOW_WORKERS is overridden by
the sum; a bad OBSFLOW_QUEUES stops obsflowd at once with a message naming the entry.

SPDX-License-Identifier: Apache-2.0
"""
import datetime
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from apitest import BIN_DIR, Daemon, check, main, wait_until  # noqa: E402

CALIB_MS = 1500  # long enough that both calib jobs outlast the six ingests by far
INGEST_MS = 300
SLACK_S = 0.15  # a completion is written a few ms after the job ended (batched)


def ts(s):
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))


def bad_config():
    for value, named in (("calib=1,calib=2", 'entry "calib=2": queue calib is named twice'),
                         ("calib=1,ingest=0", 'entry "ingest=0": the count must be'),
                         ("calib=1,in gest=2", 'entry "in gest=2": the queue name'),
                         ("calib", 'entry "calib": expected NAME=COUNT')):
        env = dict(os.environ, OBSFLOW_QUEUES=value, OBSFLOW_DATABASE_URL="host=/nonexistent")
        p = subprocess.run([os.path.join(BIN_DIR, "obsflowd"), "--listen", "127.0.0.1:0"],
                           env=env, capture_output=True, text=True, timeout=30)
        check(p.returncode == 2, "OBSFLOW_QUEUES=%s: exit %d" % (value, p.returncode))
        first = p.stderr.splitlines()[0] if p.stderr else ""
        check(named in first and "OBSFLOW_QUEUES" in first,
              "OBSFLOW_QUEUES=%s: first line %r lacks %r" % (value, first, named))


def runs(d, ids):
    """(queue, start, end) of each job's succeeded run, from its events."""
    out = []
    for jid, queue in ids:
        st, _, ev = d.request("GET", "/v1/jobs/%s/events" % jid)
        check(st == 200, "events of %s: %s" % (jid, st))
        done = [e for e in ev["items"] if e["state"] == "succeeded"]
        check(len(done) == 1, "job %s: %d succeeded events" % (jid, len(done)))
        job = d.job(jid)
        check(job["attempts"] == 1, "job %s ran %d times" % (jid, job["attempts"]))
        out.append((queue, ts(job["started_at"]), ts(done[0]["at"])))
    return out


def most_at_once(rs, queue):
    rs = [r for r in rs if r[0] == queue]
    best = 0
    for _, a0, _ in rs:
        n = sum(1 for _, b0, b1 in rs
                if b0 <= a0 and (b1 - a0).total_seconds() > SLACK_S)
        best = max(best, n)
    return best


def run(db):
    bad_config()
    d = Daemon(db.url, name="queues", workers=16,
               env={"OBSFLOW_QUEUES": "calib=1,ingest=3"})
    try:
        # /readyz may answer before the pool's start line is written (seen under TSan)
        wait_until(lambda: "calib=1,ingest=3 only" in d.log_text(), 30,
                   "the start log to say which queues are served")
        log = d.log_text()
        check("calib=1,ingest=3 only" in log and "another replica may run them" in log,
              "the start log does not say which queues are served")
        check("OBSFLOW_WORKERS=16 is ignored" in log, "no warning that OBSFLOW_WORKERS is overridden")
        # a job of a queue not listed, then calib first, then ingest
        other = d.submit({"kind": "noop", "queue": "elsewhere"})
        calib = d.submit([{"kind": "noop", "queue": "calib", "params": {"sleep_ms": CALIB_MS}}
                          for _ in range(2)])
        ingest = d.submit([{"kind": "noop", "queue": "ingest", "params": {"sleep_ms": INGEST_MS}}
                           for _ in range(6)])
        busy_seen = {"calib": 0, "ingest": 0}

        def all_done():
            st, _, body = d.request("GET", "/metrics", raw=True)
            for line in body.decode().splitlines():
                for q in busy_seen:
                    if line.startswith('obsflow_queue_workers_busy{queue="%s"}' % q):
                        busy_seen[q] = max(busy_seen[q], int(line.split()[-1]))
            return all(d.job(j["id"])["state"] == "succeeded" for j in calib + ingest)

        wait_until(all_done, 60, "the eight jobs to succeed", interval=0.02)
        check(busy_seen["calib"] <= 1 and busy_seen["ingest"] <= 3,
              "per-queue busy gauges went over the limits: %s" % busy_seen)
        rs = runs(d, [(j["id"], "calib") for j in calib] + [(j["id"], "ingest") for j in ingest])
        check(most_at_once(rs, "calib") == 1, "calib ran %d at once" % most_at_once(rs, "calib"))
        n = most_at_once(rs, "ingest")
        check(2 <= n <= 3, "ingest ran %d at once (3 slots)" % n)
        first_calib = min(r[1] for r in rs if r[0] == "calib")
        first_ingest = min(r[1] for r in rs if r[0] == "ingest")
        last_calib = max(r[2] for r in rs if r[0] == "calib")
        last_ingest = max(r[2] for r in rs if r[0] == "ingest")
        # ingest runs while calib runs (ordering, not a timing bound: under TSan on a loaded
        # machine a claim can take 0.6 s)
        first_calib_end = min(r[2] for r in rs if r[0] == "calib")
        check(first_ingest < first_calib_end,
              "ingest started %.3f s after calib, after the first calib job ended" %
              (first_ingest - first_calib).total_seconds())
        check(last_ingest < last_calib, "ingest finished after calib: starved behind it")
        # the unlisted queue's job is still waiting, never attempted
        job = d.job(other["id"])
        check(job["state"] == "queued" and job["attempts"] == 0,
              "job on an unlisted queue: %s" % json.dumps(job))
        # metrics: per-queue gauges, valid exposition
        st, _, body = d.request("GET", "/metrics", raw=True)
        text = body.decode()
        p = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True)
        check(p.returncode == 0, "promtool check metrics failed:\n%s%s"
              % (p.stdout.decode(), p.stderr.decode()))
        for needle in ('obsflow_queue_workers{queue="calib"} 1\n',
                       'obsflow_queue_workers{queue="ingest"} 3\n',
                       'obsflow_queue_workers_busy{queue="calib"} 0\n',
                       "obsflow_workers 4\n"):
            check(needle in text, "metrics lack %r" % needle)
        # the default queue of a kind without one of its own (dataset and ingest: test_workers_queues_pg)
        check(d.submit({"kind": "noop", "run_at": "2100-01-01T00:00:00Z"})["queue"] == "default",
              "noop's default queue")
        check(d.stop() == 0, "clean exit")
    except AssertionError:
        d.dump_log()
        d.stop()
        raise


if __name__ == "__main__":
    main(run, "api_queues")
