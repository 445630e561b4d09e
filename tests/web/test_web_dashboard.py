#!/usr/bin/env python3
"""test_web_dashboard.py - the dashboard in a browser: starts a private PostgreSQL cluster (under
OBSFLOW_TEST_TMP: the test stops and restarts it, so not the shared fixture) and the real
build/obsflowd on port 0 with an API token, then runs dashboard.test.js (headless Debian
chromium through playwright-core from web/node_modules, installed by tools/deps.sh) against it.
Screenshots are left in <build>/web-artifacts/.

SPDX-License-Identifier: Apache-2.0
"""
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "api"))
from apitest import BIN_DIR, SRC_DIR, TMP, Daemon, check, fail, main, psql  # noqa: E402

TOKEN = "dashboard-test-token"


def run(_db):
    pw = os.path.join(SRC_DIR, "web", "node_modules", "playwright-core")
    check(os.path.isdir(pw), "%s is missing: run tools/deps.sh (npm ci in web/)" % pw)
    check(os.access("/usr/bin/chromium", os.X_OK), "/usr/bin/chromium is missing: run tools/deps.sh")
    pgdir = os.path.join(TMP, "pg")
    if os.path.exists(pgdir):
        subprocess.run([os.path.join(SRC_DIR, "tools/pg_down.sh"), pgdir], check=False)
    subprocess.run([os.path.join(SRC_DIR, "tools/pg_up.sh"), pgdir], check=True)
    try:
        psql("CREATE DATABASE obsflow", host=pgdir)
        d = Daemon("host=%s dbname=obsflow user=postgres connect_timeout=2" % pgdir,
                   name="dashboard", workers=2, token=TOKEN)
        artifacts = os.path.join(os.path.abspath(BIN_DIR), "web-artifacts")
        shutil.rmtree(artifacts, ignore_errors=True)
        env = dict(os.environ, DASH_BASE="http://" + d.addr, DASH_TOKEN=TOKEN, DASH_PGDIR=pgdir,
                   DASH_PID=str(d.proc.pid), DASH_ARTIFACTS=artifacts,
                   OBSFLOW_SOURCE_DIR=os.path.abspath(SRC_DIR))
        r = subprocess.run(["node", os.path.join(SRC_DIR, "tests", "web", "dashboard.test.js")],
                           env=env, stdin=subprocess.DEVNULL, timeout=600)
        if r.returncode != 0:
            d.dump_log()
            fail("dashboard.test.js exited with %d" % r.returncode)
        d.proc.wait(timeout=90)  # the test stopped it with SIGTERM (the unreachable banner)
        check(d.proc.returncode == 0, "obsflowd exited with %d after SIGTERM" % d.proc.returncode)
    finally:
        subprocess.run([os.path.join(SRC_DIR, "tools/pg_down.sh"), pgdir], check=False)


if __name__ == "__main__":
    main(run, "web_dashboard")
