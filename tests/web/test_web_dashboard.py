#!/usr/bin/env python3
"""test_web_dashboard.py - the dashboard in a browser: starts a private PostgreSQL cluster (under
OBSFLOW_TEST_TMP: the test stops and restarts it, so not the shared fixture) and the real
build/obsflowd on port 0 with an API token, then runs dashboard.test.js (headless Debian
chromium through playwright-core from web/node_modules, installed by tools/deps.sh) against it,
with what a dataset job needs (the shared ACS raw j8bt05njq, a reference store from
tests/support/make_refs.py, the repository open to every collection).
Screenshots are left in <build>/web-artifacts/.

SPDX-License-Identifier: Apache-2.0
"""
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "api"))
sys.path.insert(0, os.path.join(HERE, "..", "support"))
from apitest import BIN_DIR, SRC_DIR, TMP, Daemon, check, fail, main, psql  # noqa: E402
import make_refs  # noqa: E402

TOKEN = "dashboard-test-token"
SHARED = os.environ.get("OBSFLOW_SHARED", os.path.join(SRC_DIR, "..", "shared"))
RAW = os.path.join(SHARED, "testdata", "fits", "j8bt05njq_raw.fits")


def run(_db):
    pw = os.path.join(SRC_DIR, "web", "node_modules", "playwright-core")
    check(os.path.isdir(pw), "%s is missing: run tools/deps.sh (npm ci in web/)" % pw)
    check(os.access("/usr/bin/chromium", os.X_OK), "/usr/bin/chromium is missing: run tools/deps.sh")
    check(os.path.isfile(RAW), "%s is missing (the shared test data)" % RAW)
    # a dataset job's inputs (the ACS raw of tests/pipeline) and a small reference store
    root = os.path.realpath(os.path.join(TMP, "data"))
    shutil.rmtree(root, ignore_errors=True)
    for sub in ("in", "out", "work"):
        os.makedirs(os.path.join(root, sub))
    shutil.copyfile(RAW, os.path.join(root, "in", "j8bt05njq_raw.fits"))
    make_refs.make(os.path.join(root, "crds"))
    env_ds = {"OBSFLOW_CONFIG_DIR": os.path.realpath(os.path.join(SRC_DIR, "config")),
              "OBSFLOW_DATA_ROOTS": root, "OBSFLOW_WORK_DIR": os.path.join(root, "work"),
              "OBSFLOW_CAOM_COLLECTIONS": "*",
              "OBSFLOW_REFERENCE_URI": "file:" + os.path.join(root, "crds"),
              "OBSFLOW_REFERENCE_CACHE": os.path.join(root, "refcache")}
    pgdir = os.path.join(TMP, "pg")
    if os.path.exists(pgdir):
        subprocess.run([os.path.join(SRC_DIR, "tools/pg_down.sh"), pgdir], check=False)
        shutil.rmtree(root, ignore_errors=True)
    subprocess.run([os.path.join(SRC_DIR, "tools/pg_up.sh"), pgdir], check=True)
    try:
        psql("CREATE DATABASE obsflow", host=pgdir)
        d = Daemon("host=%s dbname=obsflow user=postgres connect_timeout=2" % pgdir,
                   name="dashboard", workers=2, token=TOKEN, env=env_ds)
        artifacts = os.path.join(os.path.abspath(BIN_DIR), "web-artifacts")
        shutil.rmtree(artifacts, ignore_errors=True)
        env = dict(os.environ, DASH_BASE="http://" + d.addr, DASH_TOKEN=TOKEN, DASH_PGDIR=pgdir,
                   DASH_PID=str(d.proc.pid), DASH_ARTIFACTS=artifacts,
                   OBSFLOW_SOURCE_DIR=os.path.abspath(SRC_DIR),
                   DASH_DATASET_IN="file:" + os.path.join(root, "in"),
                   DASH_DATASET_OUT="file:" + os.path.join(root, "out"))
        r = subprocess.run(["node", os.path.join(SRC_DIR, "tests", "web", "dashboard.test.js")],
                           env=env, stdin=subprocess.DEVNULL, timeout=600)
        if r.returncode != 0:
            d.dump_log()
            fail("dashboard.test.js exited with %d" % r.returncode)
        d.proc.wait(timeout=90)  # the test stopped it with SIGTERM (the unreachable banner)
        check(d.proc.returncode == 0, "obsflowd exited with %d after SIGTERM" % d.proc.returncode)
    finally:
        subprocess.run([os.path.join(SRC_DIR, "tools/pg_down.sh"), pgdir], check=False)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main(run, "web_dashboard")
