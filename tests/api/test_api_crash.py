#!/usr/bin/env python3
"""test_api_crash.py - kill -9 obsflowd while 200 noop jobs with sleep_ms run, restart it on the
same database: every job ends succeeded, none is lost, each has exactly one succeeded event, and
the jobs the kill interrupted show their extra attempt in the events.

SPDX-License-Identifier: Apache-2.0
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from apitest import Daemon, check, main, wait_until  # noqa: E402

N = 200


def run(db):
    d = Daemon(db.url, name="crash", workers=4)
    try:
        jobs = []
        for i in range(0, N, 50):
            jobs += d.submit([{"kind": "noop", "params": {"sleep_ms": 150}} for _ in range(50)])
        ids = [j["id"] for j in jobs]
        check(len(set(ids)) == N, "200 distinct ids")
        # kill while some are done and some are running
        wait_until(lambda: int(db.sql("SELECT count(*) FROM jobs WHERE state='succeeded'")) >= 20,
                   60, "20 jobs to succeed")
        running_sql = "SELECT id FROM jobs WHERE state='running' ORDER BY id"
        wait_until(lambda: db.sql(running_sql), 30, "jobs running")
        d.kill9()
        interrupted = set(db.sql(running_sql).split())
        check(interrupted, "some jobs were running at the kill")
        done_before = int(db.sql("SELECT count(*) FROM jobs WHERE state='succeeded'"))
        check(done_before < N, "the kill came before the end (%d done)" % done_before)
        print("killed with %d running, %d succeeded" % (len(interrupted), done_before))

        d.start()  # a new process (new boot id) on the same database
        t0 = time.time()
        wait_until(lambda: int(db.sql("SELECT count(*) FROM jobs WHERE state='succeeded'")) == N,
                   120, "all 200 jobs to succeed after the restart")
        print("all succeeded %.1f s after the restart" % (time.time() - t0))
        check(int(db.sql("SELECT count(*) FROM jobs")) == N, "no job lost or duplicated")
        for jid in ids:
            job = d.job(jid)
            check(job["state"] == "succeeded", "job %s is %s" % (jid, job["state"]))
            st, _, ev = d.request("GET", "/v1/jobs/%s/events" % jid)
            check(st == 200, "events of %s" % jid)
            states = [e["state"] for e in ev["items"]]
            check(states.count("succeeded") == 1, "job %s has %d succeeded events: %s" %
                  (jid, states.count("succeeded"), states))
            if jid in interrupted:
                check(job["attempts"] >= 2, "interrupted job %s shows attempts %d" % (jid, job["attempts"]))
                check(states.count("running") >= 2, "interrupted job %s has one running event per "
                      "attempt: %s" % (jid, states))
        check(d.stop() == 0, "clean exit after the restart")
    except AssertionError:
        d.dump_log()
        d.stop()
        raise


if __name__ == "__main__":
    main(run, "api_crash")
