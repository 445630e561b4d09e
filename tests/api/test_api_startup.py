#!/usr/bin/env python3
"""test_api_startup.py - obsflowd started while PostgreSQL is down: it listens at once (port
file), /livez 200, /readyz and the job routes 503 with Retry-After, one log line per connection
attempt; once a private cluster comes up (tools/pg_up.sh under OBSFLOW_TEST_TMP) it migrates,
turns ready and runs jobs without a restart.

SPDX-License-Identifier: Apache-2.0
"""
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from apitest import SRC_DIR, TMP, Daemon, check, main, psql, wait_until  # noqa: E402


def run(_db):
    pgdir = os.path.join(TMP, "pg")
    if os.path.exists(pgdir):
        subprocess.run([os.path.join(SRC_DIR, "tools/pg_down.sh"), pgdir], check=False)
    d = Daemon("host=%s dbname=obsflow user=postgres connect_timeout=2" % pgdir, name="startup",
               workers=1, wait_ready=False)
    started = False
    try:
        st, hd, _ = d.request("GET", "/livez")
        check(st == 200, "/livez without a database: %s" % st)
        st, hd, doc = d.request("GET", "/readyz")
        check(st == 503 and doc["code"] == "unavailable", "/readyz without a database: %s %s" % (st, doc))
        st, hd, doc = d.request("POST", "/v1/jobs", {"kind": "noop"})
        check(st == 503 and hd.get("retry-after") == "1", "POST without a database: %s %s" % (st, hd))
        st, hd, doc = d.request("GET", "/v1/jobs")
        check(st == 503, "GET /v1/jobs without a database: %s" % st)

        def attempts():
            n = 0
            for ln in d.log_text().splitlines():
                try:
                    m = json.loads(ln).get("msg", "")
                except ValueError:
                    continue
                if "could not prepare the database (attempt" in m:
                    n += 1
            return n >= 2
        wait_until(attempts, 30, "two logged connection attempts")

        subprocess.run([os.path.join(SRC_DIR, "tools/pg_up.sh"), pgdir], check=True)
        started = True
        psql("CREATE DATABASE obsflow", host=pgdir)
        d.wait_ready(60)
        job = d.submit({"kind": "noop", "params": {"sleep_ms": 1}})
        wait_until(lambda: d.job(job["id"])["state"] == "succeeded", 30, "the job to succeed")
        check(d.stop() == 0, "clean exit")
    except AssertionError:
        d.dump_log()
        d.stop()
        raise
    finally:
        if started:
            subprocess.run([os.path.join(SRC_DIR, "tools/pg_down.sh"), pgdir], check=False)
        shutil.rmtree(pgdir, ignore_errors=True)


if __name__ == "__main__":
    main(run, "api_startup")
