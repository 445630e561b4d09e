"""colltest.py - helpers of the collection drivers (tests/collection/test_collection_*.py and
tests/bench/bench_collection.py): a config directory with the generated frames' profile and
blueprint, obsflowd started on it (tests/api/apitest.py), definitions stored and runs started
through /v1/collections, the built-in repository read back, and a persistent psql session for
polling a run's phase without a process per poll.

SPDX-License-Identifier: Apache-2.0
"""
import os
import shutil
import subprocess
import sys
import time
import traceback
import urllib.parse
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "api"))
sys.path.insert(0, HERE)
from apitest import PGHOST, TMP, Daemon, check, fail, wait_until  # noqa: E402,F401
import gen_fits  # noqa: E402

COLL = "COLLT"          # the CAOM collection of the profile
PROFILE = "collt"
BLUEPRINT = os.path.join(HERE, "collt.blueprint")
ENDED = ("succeeded", "failed", "cancelled")
SUBFAIL = []


def part(label, fn, *args):
    """Run one part; a failure is recorded and the next part still runs."""
    try:
        fn(*args)
        print("ok: %s" % label, flush=True)
        return True
    except Exception as e:  # noqa: BLE001 - every failure is reported, none stops the run
        if not isinstance(e, AssertionError):
            traceback.print_exc()
        print("FAIL: %s: %s: %s" % (label, type(e).__name__, e), flush=True)
        SUBFAIL.append(label)
        return False


def workdir(tag):
    """A fresh directory under the test tmp (realpath: the data roots compare real paths)."""
    d = os.path.realpath(os.path.join(TMP, "coll.%d.%s" % (os.getpid(), tag)))
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d


def conf_dir(root, collections=None, queue="ingest"):
    """<root>/conf with profiles/collt.yaml, blueprints/collt.blueprint and
    collections/NAME.yaml for each {NAME: yaml text} of @p collections."""
    conf = os.path.join(root, "conf")
    for sub in ("profiles", "blueprints", "collections"):
        os.makedirs(os.path.join(conf, sub), exist_ok=True)
    shutil.copyfile(BLUEPRINT, os.path.join(conf, "blueprints", "collt.blueprint"))
    with open(os.path.join(conf, "profiles", "collt.yaml"), "w") as f:
        f.write("# the generated CPAPIR frames of tests/collection/gen_fits.py\n"
                "name: %s\ncollection: %s\nscheme: cadc\nblueprints: [collt.blueprint]\n"
                "compute: false\nqueue: %s\n" % (PROFILE, COLL, queue))
    for name, text in (collections or {}).items():
        with open(os.path.join(conf, "collections", name + ".yaml"), "w") as f:
            f.write(text)
    return conf


def definition(source, rule=gen_fits.RULE, queue="ingest", **extra):
    d = {"source": source, "include": list(gen_fits.INCLUDE), "recursive": True, "rule": rule,
         "job": {"kind": "ingest", "profile": PROFILE, "queue": queue},
         "retry": {"max_attempts": 1}}
    d.update(extra)
    return d


def daemon(db_url, name, conf, roots, work, queues="collection=1,ingest=3", env=None):
    e = {"OBSFLOW_CONFIG_DIR": conf, "OBSFLOW_DATA_ROOTS": ":".join(roots),
         "OBSFLOW_WORK_DIR": work, "OBSFLOW_CAOM_COLLECTIONS": "*", "OBSFLOW_QUEUES": queues}
    e.update(env or {})
    return Daemon(db_url, name=name, env=e)


def put(d, name, doc, expect=(200, 201)):
    st, _, b = d.request("PUT", "/v1/collections/" + name, doc)
    check(st in expect, "PUT /v1/collections/%s answered %s: %s" % (name, st, b))
    return b


def start_run(d, name, retry=False):
    """POST /v1/collections/{name}/run (or /retry): the new collection job's id."""
    st, hd, b = d.request("POST", "/v1/collections/%s/%s" % (name, "retry" if retry else "run"))
    check(st == 202, "POST /v1/collections/%s/run answered %s: %s" % (name, st, b))
    loc = hd.get("location", "")
    jid = b.get("id") if isinstance(b, dict) else None
    check(jid and loc.endswith("/v1/jobs/" + jid),
          "run answer names its job (Location %r, body %s)" % (loc, b))
    return jid


def wait_job(d, jid, timeout=600):
    return wait_until(lambda: (lambda b: b if b["state"] in ENDED else None)(d.job(jid)),
                      timeout, "job %s to end" % jid, interval=0.1)


def run_collection(d, name, timeout=600):
    """Start a run, wait for its end; returns (job, report counts)."""
    jid = start_run(d, name)
    job = wait_job(d, jid, timeout)
    check(job["state"] == "succeeded", "collection run %s: %s" % (jid, str(job)[:2000]))
    rep = job.get("result") or {}
    check(isinstance(rep.get("counts"), dict), "run %s has a report with counts: %s" %
          (jid, str(job)[:2000]))
    return job, rep["counts"]


def observations(d, coll=COLL):
    """{observationID: (maxLastModified, accMetaChecksum)} of the built-in repository."""
    st, _, body = d.request("GET", "/caom2/observations/%s?maxrec=100000" % coll, raw=True)
    if st == 404:
        return {}
    check(st == 200, "GET /caom2/observations/%s: %s %s" % (coll, st, body[:300]))
    out = {}
    for line in body.decode().splitlines():
        if not line.strip():
            continue
        f = line.split("\t")
        check(len(f) >= 4 and f[0] == coll, "observation list row %r" % line)
        check(f[1] not in out, "observation %s listed twice" % f[1])
        out[f[1]] = (f[2], f[3])
    return out


def deletions(d, coll=COLL):
    st, _, body = d.request("GET", "/caom2/deletions/%s" % coll, raw=True)
    if st == 404:
        return []
    check(st == 200, "GET /caom2/deletions/%s: %s" % (coll, st))
    return [ln for ln in body.decode().splitlines() if ln.strip()]


CAOM_ID = "{http://www.opencadc.org/caom2/xml/v2.4}id"


def observation(d, obs, coll=COLL):
    """The stored document's identities: {"id", "planes": {productID: (id, {uri: id})},
    "target"}."""
    st, _, body = d.request("GET", "/caom2/observations/%s/%s" % (
        coll, urllib.parse.quote(obs, safe="")), raw=True)
    check(st == 200, "GET observation %s/%s: %s" % (coll, obs, st))
    root = ET.fromstring(body)
    planes = {}
    for p in root.findall("{*}planes/{*}plane"):
        arts = {a.find("{*}uri").text: a.get(CAOM_ID)
                for a in p.findall("{*}artifacts/{*}artifact")}
        planes[p.find("{*}productID").text] = (p.get(CAOM_ID), arts)
    t = root.find("{*}target/{*}name")
    return {"id": root.get(CAOM_ID), "planes": planes,
            "target": t.text if t is not None else None}


def files(d, name, outcome=None, limit=500):
    """Every entry of GET /v1/collections/{name}/files[?outcome=], following next_cursor."""
    items, cursor, pages = [], None, 0
    while True:
        q = {"limit": str(limit)}
        if outcome:
            q["outcome"] = outcome
        if cursor:
            q["cursor"] = cursor
        st, _, b = d.request("GET", "/v1/collections/%s/files?%s" % (
            name, urllib.parse.urlencode(q)))
        check(st == 200, "GET files of %s (%s): %s %s" % (name, q, st, b))
        items += b["items"]
        pages += 1
        check(pages < 10000, "files paging does not end")
        cursor = b.get("next_cursor")
        if not cursor:
            return items
        check(b["items"], "a page with a next_cursor has items")


COUNT_KEYS = ("total", "pending", "queued", "succeeded", "failed", "rejected", "cancelled")


def counts_check(db, name, d=None, when=""):
    """The entries of collection @name counted by outcome (queued: pending entries of a queued
    observation, apart from pending) against the counts the triggers keep (collection_counts,
    collection_obs.pending_n) and, with a daemon @d, against GET /v1/collections/{name}."""
    truth = db.sql(
        "SELECT count(*), count(*) FILTER (WHERE f.outcome = 'pending' AND"
        " coalesce(o.state, '') <> 'queued'), count(*) FILTER (WHERE f.outcome = 'pending'"
        " AND o.state = 'queued'), count(*) FILTER (WHERE f.outcome = 'succeeded'),"
        " count(*) FILTER (WHERE f.outcome = 'failed'), count(*) FILTER (WHERE f.outcome ="
        " 'rejected'), count(*) FILTER (WHERE f.outcome = 'cancelled')"
        " FROM collection_files f LEFT JOIN collection_obs o"
        " ON o.collection = f.collection AND o.obs_id = f.obs_id WHERE f.collection = '%s'"
        % name)
    want = dict(zip(COUNT_KEYS, (int(x) for x in truth.split("|"))))
    kept = db.sql(
        "SELECT coalesce(sum(n) FILTER (WHERE outcome <> 'queued'), 0),"
        " coalesce(sum(n) FILTER (WHERE outcome = 'pending'), 0)"
        " - coalesce(sum(n) FILTER (WHERE outcome = 'queued'), 0),"
        " %s FROM collection_counts WHERE collection = '%s'" % (
            ", ".join("coalesce(sum(n) FILTER (WHERE outcome = '%s'), 0)" % k
                      for k in COUNT_KEYS[2:]), name))
    got = dict(zip(COUNT_KEYS, (int(x) for x in kept.split("|"))))
    check(got == want, "%s: counts kept %s, counted %s" % (when, got, want))
    off = db.sql("SELECT count(*) FROM collection_obs o WHERE o.collection = '%s' AND"
                 " o.pending_n <> (SELECT count(*) FROM collection_files f WHERE"
                 " f.collection = o.collection AND f.obs_id = o.obs_id AND"
                 " f.outcome = 'pending')" % name)
    check(int(off) == 0, "%s: %s observations with a wrong pending_n" % (when, off))
    if d is not None:
        st, _, coll = d.request("GET", "/v1/collections/" + name)
        check(st == 200 and coll["files"] == want, "%s: GET /v1/collections/%s files %s, "
              "counted %s" % (when, name, coll.get("files") if st == 200 else st, want))
    return want


class Psql:
    """One psql process kept open: sql() sends a statement and reads its single-line answer
    (polling a run every few ms without a process per poll)."""

    def __init__(self, db_url_host, db_name):
        self.p = subprocess.Popen(["psql", "-h", db_url_host, "-U", "postgres", "-d", db_name,
                                   "-XAtq", "-v", "ON_ERROR_STOP=1"],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                  bufsize=1)
        self.n = 0

    def sql(self, q):
        self.n += 1
        mark = "__end_%d__" % self.n
        self.p.stdin.write(q.rstrip().rstrip(";") + ";\n\\echo " + mark + "\n")
        self.p.stdin.flush()
        lines = []
        while True:
            ln = self.p.stdout.readline()
            if not ln:
                fail("psql session ended")
            ln = ln.rstrip("\n")
            if ln == mark:
                return "\n".join(lines)
            lines.append(ln)

    def close(self):
        try:
            self.p.stdin.close()
            self.p.wait(10)
        except (OSError, subprocess.TimeoutExpired):
            self.p.kill()
            self.p.wait()


def run_row(db_or_psql, jid):
    """(phase, listed, children) of a run from collection_runs, or None before its row."""
    q = "SELECT phase, listed, children FROM collection_runs WHERE job_id = '%s'" % jid
    out = db_or_psql.sql(q)
    if not out:
        return None
    ph, listed, children = out.split("|")
    return ph, int(listed), int(children)


def wait_for(pred, timeout, what, interval=0.1):
    return wait_until(pred, timeout, what, interval)


def now():
    return time.time()
