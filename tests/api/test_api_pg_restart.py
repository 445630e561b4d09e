#!/usr/bin/env python3
"""test_api_pg_restart.py - PostgreSQL restarted under load: a private cluster (tools/pg_up.sh
under OBSFLOW_TEST_TMP, so the shared fixture is not disturbed) is stopped and started again
while a client keeps submitting noop jobs; obsflowd reconnects by itself, /readyz comes back,
and every job that got a 202 ends succeeded (none lost).

SPDX-License-Identifier: Apache-2.0
"""
import os
import shutil
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from apitest import SRC_DIR, TMP, Daemon, check, main, psql, wait_until  # noqa: E402


def run(_db):
    pgdir = os.path.join(TMP, "pg")
    subprocess.run([os.path.join(SRC_DIR, "tools/pg_up.sh"), pgdir], check=True)
    psql("CREATE DATABASE obsflow", host=pgdir)
    d = Daemon("host=%s dbname=obsflow user=postgres connect_timeout=2" % pgdir, name="pgrestart",
               workers=2)
    accepted = []
    refused = [0]
    stop = threading.Event()

    def submitter():
        while not stop.is_set():
            try:
                st, _, b = d.request("POST", "/v1/jobs",
                                     [{"kind": "noop", "params": {"sleep_ms": 2}} for _ in range(10)])
            except OSError:
                st, b = 0, None
            if st == 202:
                accepted.extend(j["id"] for j in b)
            else:
                refused[0] += 1
                time.sleep(0.05)
    t = threading.Thread(target=submitter)
    try:
        t.start()
        wait_until(lambda: len(accepted) >= 200, 60, "200 accepted jobs before the restart")
        subprocess.run([os.path.join(SRC_DIR, "tools/pg_down.sh"), pgdir, "--keep"], check=True)
        time.sleep(2)
        n_down = len(accepted)
        subprocess.run([os.path.join(SRC_DIR, "tools/pg_up.sh"), pgdir, "--keep"], check=True)
        wait_until(lambda: d.request("GET", "/readyz")[0] == 200, 60, "/readyz back to 200")
        wait_until(lambda: len(accepted) >= n_down + 200, 60, "200 more accepted after the restart")
        stop.set()
        t.join()
        print("accepted %d jobs, %d requests refused while PostgreSQL was down" %
              (len(accepted), refused[0]))
        ids = set(accepted)
        check(len(ids) == len(accepted), "no id accepted twice")

        def all_done():
            out = psql("SELECT state, count(*) FROM jobs GROUP BY state ORDER BY state",
                       db="obsflow", host=pgdir)
            return out == "succeeded|%d" % len(ids)
        wait_until(all_done, 120, "every accepted job to succeed")
        stored = set(psql("SELECT id FROM jobs", db="obsflow", host=pgdir).split())
        check(ids <= stored, "%d accepted jobs are missing" % len(ids - stored))
        bad = psql("SELECT count(*) FROM (SELECT job_id FROM job_events WHERE state='succeeded' "
                   "GROUP BY job_id HAVING count(*) <> 1) x", db="obsflow", host=pgdir)
        check(bad == "0", "%s jobs without exactly one succeeded event" % bad)
        check(d.stop() == 0, "clean exit")
    except AssertionError:
        stop.set()
        t.join()
        d.dump_log()
        d.stop()
        raise
    finally:
        stop.set()
        subprocess.run([os.path.join(SRC_DIR, "tools/pg_down.sh"), pgdir], check=False)
        shutil.rmtree(pgdir, ignore_errors=True)


if __name__ == "__main__":
    main(run, "api_pg_restart")
