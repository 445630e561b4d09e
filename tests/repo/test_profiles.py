#!/usr/bin/env python3
"""test_profiles.py - collection profiles through the real obsflowd (fresh database in the
ctest PostgreSQL fixture):

 1. a config dir holding the shipped profile (config/profiles/wallaby.yaml) and its blueprint:
    GET /v1/profiles lists it;
 2. an ingest job with only `profile` + `uris` for the shared WALLABY cube header succeeds and
    the observation is in the built-in repository under the profile's collection (WALLABY),
    with the profile's blueprint applied;
 3. an unknown profile is a 422 naming params.profile at submit;
 4. a broken profile stops obsflowd at start: exit 2 and the one line "file:line: what is
    wrong"; a config dir without profiles/ starts with no profiles.

SPDX-License-Identifier: Apache-2.0
"""
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "api"))
sys.path.insert(0, os.path.join(HERE, "..", "caom2data"))
sys.path.insert(0, HERE)
from apitest import BIN_DIR, SRC_DIR, TMP, Daemon, check, main, wait_until  # noqa: E402
from test_repo_push import CAOM_DATA  # noqa: E402

CUBE = os.path.realpath(os.path.join(CAOM_DATA, "wallaby2caom2", "dr2",
                                     "SoFiA_J124915+043926_cube.fits.header"))


def conf_dir(tag):
    conf = os.path.join(TMP, "profiles.%d.%s" % (os.getpid(), tag))
    shutil.rmtree(conf, ignore_errors=True)
    os.makedirs(os.path.join(conf, "profiles"))
    os.makedirs(os.path.join(conf, "blueprints"))
    return conf


def start_fails(db, conf):
    """obsflowd with OBSFLOW_CONFIG_DIR=conf: (exit status, stderr) of a refused start."""
    env = dict(os.environ)
    env.update({"OBSFLOW_DATABASE_URL": db.url, "OBSFLOW_CONFIG_DIR": conf})
    p = subprocess.run([os.path.join(BIN_DIR, "obsflowd"), "--listen", "127.0.0.1:0"],
                       stdin=subprocess.DEVNULL, capture_output=True, env=env, timeout=30)
    return p.returncode, p.stderr.decode("utf-8", "replace")


def run(db):
    if not os.path.exists(CUBE):
        print("SKIP: shared WALLABY cube header missing: %s" % CUBE)
        sys.exit(77)
    conf = conf_dir("good")
    shutil.copyfile(os.path.join(SRC_DIR, "config", "profiles", "wallaby.yaml"),
                    os.path.join(conf, "profiles", "wallaby.yaml"))
    shutil.copyfile(os.path.join(SRC_DIR, "config", "blueprints", "wallaby_cube.blueprint"),
                    os.path.join(conf, "blueprints", "wallaby_cube.blueprint"))
    env = {"OBSFLOW_CAOM_COLLECTIONS": "*", "OBSFLOW_CONFIG_DIR": conf,
           "OBSFLOW_DATA_ROOTS": os.path.dirname(CUBE)}
    d = Daemon(db.url, name="profiles", workers=1, env=env)

    st, _, doc = d.request("GET", "/v1/profiles")
    check(st == 200, "GET /v1/profiles: %s %s" % (st, doc))
    profs = {p["name"]: p for p in doc["profiles"]}
    check(list(profs) == ["wallaby"], "profiles listed: %s" % doc)
    w = profs["wallaby"]
    check(w["collection"] == "WALLABY" and w["scheme"] == "cadc" and
          w["blueprints"] == ["wallaby_cube.blueprint"] and w["compute"] is False and
          w["queue"] == "ingest", "wallaby profile: %s" % w)
    print("ok: GET /v1/profiles", flush=True)

    st, _, jobs = d.request("POST", "/v1/jobs", {
        "kind": "ingest", "max_attempts": 1,
        "params": {"profile": "wallaby", "uris": ["file:" + CUBE]}})
    check(st == 202, "POST ingest with a profile: %s %s" % (st, jobs))
    jid = (jobs[0] if isinstance(jobs, list) else jobs)["id"]
    job = wait_until(lambda: (lambda b: b if b["state"] in ("succeeded", "failed", "cancelled")
                              else None)(d.job(jid)), 120, "the ingest job to end", 0.05)
    check(job["state"] == "succeeded", "ingest job with a profile: %s" % job)
    uri = job["result"]["uri"]
    check(uri.startswith("caom:WALLABY/") and job["result"]["outcome"] == "created",
          "result %s" % job["result"])
    st, _, body = d.request("GET", "/caom2/observations/WALLABY/%s" % uri.split("/", 1)[1],
                            raw=True)
    check(st == 200, "stored observation: %s" % st)
    root = ET.fromstring(body)
    coll = root.find("{*}collection")
    check(coll is not None and coll.text == "WALLABY", "collection of the stored document")
    prop = root.find("{*}proposal/{*}id")
    check(prop is not None and prop.text == "SoFiA_J124915+043926",
          "the profile's blueprint applied (proposal id %s)" % (prop.text if prop is not None
                                                               else None))
    ptype = root.find("{*}planes/{*}plane/{*}dataProductType")
    check(ptype is not None and ptype.text.endswith("cube"), "dataProductType cube")
    print("ok: ingest job with only profile + uris -> %s" % uri, flush=True)

    st, _, doc = d.request("POST", "/v1/jobs", {
        "kind": "ingest", "params": {"profile": "nope", "uris": ["file:" + CUBE]}})
    check(st == 422 and doc.get("field") == "params.profile",
          "unknown profile: %s %s" % (st, doc))
    print("ok: unknown profile -> 422 params.profile", flush=True)
    d.stop()

    bad = conf_dir("bad")
    path = os.path.join(bad, "profiles", "broken.yaml")
    with open(path, "w") as f:
        f.write("name: broken\ncollection: X\ncolour: red\n")
    rc, err = start_fails(db, bad)
    want = "%s:3: unknown key \"colour\"" % path
    check(rc == 2, "obsflowd with a broken profile exited %d: %s" % (rc, err))
    lines = [ln for ln in err.splitlines() if ln.strip()]
    check(len(lines) == 1 and lines[0].endswith(want), "stderr %r, expected the line %r" %
          (err, want))
    os.unlink(path)
    with open(path, "w") as f:
        f.write("name: broken\ncollection: X\nblueprints: [missing.blueprint]\n")
    rc, err = start_fails(db, bad)
    check(rc == 2 and "broken.yaml:3: blueprints: " in err and "does not exist" in err,
          "missing blueprint: %d %s" % (rc, err))
    print("ok: a broken profile stops the start: %s" % err.strip(), flush=True)

    none = conf_dir("none")
    os.rmdir(os.path.join(none, "profiles"))
    d = Daemon(db.url, name="profiles-none", workers=0, env={"OBSFLOW_CONFIG_DIR": none})
    st, _, doc = d.request("GET", "/v1/profiles")
    check(st == 200 and doc == {"profiles": []}, "no profiles/: %s %s" % (st, doc))
    d.stop()
    print("ok: no profiles/ directory -> no profiles", flush=True)
    for c in (conf, bad, none):
        shutil.rmtree(c, ignore_errors=True)


if __name__ == "__main__":
    main(run, "profiles")
