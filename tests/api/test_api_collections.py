#!/usr/bin/env python3
"""test_api_collections.py - the operator surface of collections (issue 10, item 4) through the
real obsflowd and the obsflow CLI, with a bearer token:

 1. PUT /v1/collections/{name}: 201 + Location when new, 200 when replaced, the stored
    collection as the body; 422 naming `rule` (a regex PCRE2 refuses), `job.kind`,
    `job.profile`; 409 for a collection defined by a file of the config directory; 401
    without the token;
 2. GET /v1/collections (both origins), GET /v1/collections/{name}, 404 for an unknown name;
 3. POST /v1/collections/{name}/run: 202 with the job and Location /v1/jobs/{id}; while that
    run is queued another run (and a retry) is a 409 naming its job (the API replica claims no
    `collection` jobs, so the run stays queued until a second replica that does is started);
    404 for an unknown collection;
 4. the run over a directory of small generated FITS files ends succeeded; GET /v1/jobs/{id}
    shows its counts (`collection`) and its children; the files pages by outcome (limit 1,
    cursors followed) give exactly the names the rule rejects, the broken file as failed, the
    others as succeeded; bad outcome, limit and cursor are refused by field;
 5. POST .../retry takes the failed entry again (a new child for it);
 6. the CLI verbs against the same server: collections, collection show|put|run --wait|
    retry|files, one-line errors and exit codes.

SPDX-License-Identifier: Apache-2.0
"""
import json
import os
import shutil
import subprocess
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from apitest import BIN_DIR, TMP, Daemon, check, main, wait_until  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "collection"))
import colltest  # noqa: E402

TOKEN = "coll-token"
PROFILE = "apit"
RULE = r"^(?<obs_id>C\d{6}_[A-Z]+)_(?<product_id>SCIRED|SCI)\.fits$"
GOOD = ["C170101_AAA_SCI.fits", "C170101_AAA_SCIRED.fits", "C170102_BBB_SCI.fits",
        "C170103_CCC_SCI.fits"]
BROKEN = "C170104_DDD_SCI.fits"  # matches the rule, but is no FITS file: its child fails
BAD_NAMES = ["X170105_EEE_SCI.fits", "C170106_FFF_RAW.fits"]  # the rule does not match
ENDED = ("succeeded", "failed", "cancelled")


def fits_bytes(obj, date):
    """A small FITS file: primary header of 80-character cards and a 4x4 float32 image."""
    def card(k, v):
        if isinstance(v, bool):
            v = "%20s" % ("T" if v else "F")
        elif isinstance(v, int):
            v = "%20d" % v
        else:
            v = "%-20s" % ("'%-8s'" % v)
        return ("%-8s= %s" % (k, v)).ljust(80)
    cards = [card("SIMPLE", True), card("BITPIX", -32), card("NAXIS", 2), card("NAXIS1", 4),
             card("NAXIS2", 4), card("OBJECT", obj), card("DATE-OBS", date),
             card("TELESCOP", "OMM"), card("INSTRUME", "CPAPIR"), "END".ljust(80)]
    head = "".join(cards)
    head += " " * (-len(head) % 2880)
    data = b"\x3f\x80\x00\x00" * 16
    return head.encode("ascii") + data + b"\0" * (2880 - len(data))


def make_tree(root):
    data = os.path.join(root, "data")
    conf = os.path.join(root, "conf")
    for d in (data, os.path.join(conf, "profiles"), os.path.join(conf, "collections")):
        os.makedirs(d)
    for i, n in enumerate(GOOD + BAD_NAMES):
        with open(os.path.join(data, n), "wb") as f:
            f.write(fits_bytes(n.split("_")[1], "2017-01-%02dT01:02:03" % (i + 1)))
    with open(os.path.join(data, BROKEN), "wb") as f:
        f.write(b"this is not a FITS file\n")
    with open(os.path.join(conf, "profiles", PROFILE + ".yaml"), "w") as f:
        f.write("name: %s\ncollection: APIT\nscheme: cadc\nqueue: ingest\n"
                % PROFILE)
    with open(os.path.join(conf, "collections", "fromfile.yaml"), "w") as f:
        f.write("source: file:%s\ninclude: ['*.fits']\nrule: '%s'\n"
                "job: {kind: ingest, profile: %s}\n" % (data, RULE, PROFILE))
    return data, conf


def definition(data, **over):
    d = {"source": "file:" + data, "include": ["*.fits"], "recursive": False, "rule": RULE,
         "job": {"kind": "ingest", "profile": PROFILE, "queue": "ingest"},
         "retry": {"max_attempts": 1}}
    d.update(over)
    return d


def problem(st, b, status, field=None):
    return st == status and isinstance(b, dict) and (field is None or b.get("field") == field)


def files(d, name, query):
    """Every entry of GET /v1/collections/{name}/files?query, following the cursors; also
    the number of pages."""
    out, pages, cursor = [], 0, None
    while True:
        q = query + ("&cursor=" + urllib.parse.quote(cursor, safe="") if cursor else "")
        st, _, b = d.request("GET", "/v1/collections/%s/files?%s" % (name, q))
        check(st == 200, "files %s: %s %s" % (q, st, b))
        out += b["items"]
        pages += 1
        cursor = b["next_cursor"]
        if not cursor:
            return out, pages
        check(pages < 100, "files paging does not end")


def wait_job(d, jid, timeout=180):
    return wait_until(lambda: (lambda b: b if b["state"] in ENDED else None)(d.job(jid)),
                      timeout, "job %s to end" % jid, interval=0.1)


def put_checks(d, data):
    st, hd, b = d.request("PUT", "/v1/collections/apit", definition(data))
    check(st == 201, "PUT new: %s %s" % (st, b))
    check(hd.get("location") == "/v1/collections/apit", "PUT Location: %s" % hd)
    check(b["name"] == "apit" and b["origin"] == "api" and
          b["definition"]["rule"] == RULE and b["last_run"] is None, "PUT body: %s" % b)
    st, hd, b = d.request("PUT", "/v1/collections/apit", definition(data, recursive=True))
    check(st == 200 and b["definition"]["recursive"] is True, "PUT replace: %s %s" % (st, b))
    check("location" not in hd, "no Location on a replace: %s" % hd)
    for doc, field, what in [
            (definition(data, rule="^(?<obs_id>C\\d{6}_[A-Z+)\\.fits$"), "rule", "bad regex"),
            (definition(data, job={"kind": "nosuchkind", "profile": PROFILE}), "job.kind",
             "unknown kind"),
            (definition(data, job={"kind": "ingest", "profile": "nosuchprofile"}),
             "job.profile", "unknown profile")]:
        st, _, b = d.request("PUT", "/v1/collections/bad", doc)
        check(problem(st, b, 422, field), "%s: %s %s" % (what, st, b))
        check(b["code"] == "invalid", "%s: code %s" % (what, b))
    st, _, b = d.request("PUT", "/v1/collections/bad", [1, 2])
    check(problem(st, b, 422, "body"), "array body: %s %s" % (st, b))
    st, _, b = d.request("PUT", "/v1/collections/bad", "{\"source\":",
                         headers={"Content-Type": "application/json"})
    check(problem(st, b, 400, "body"), "malformed body: %s %s" % (st, b))
    st, _, b = d.request("PUT", "/v1/collections/apit", definition(data), auth=False)
    check(st == 401, "PUT without the token: %s %s" % (st, b))
    st, _, b = d.request("PUT", "/v1/collections/fromfile", definition(data))
    check(problem(st, b, 409) and b["code"] == "conflict", "PUT over a file's: %s %s" % (st, b))
    st, _, b = d.request("GET", "/v1/collections/bad")
    check(st == 404, "a refused definition is not stored: %s %s" % (st, b))


def get_checks(d, data):
    st, _, b = d.request("GET", "/v1/collections")
    check(st == 200, "GET list: %s %s" % (st, b))
    items = {c["name"]: c for c in b["items"]}
    check(sorted(items) == ["apit", "fromfile"], "listed: %s" % b)
    check(items["apit"]["origin"] == "api" and items["fromfile"]["origin"] == "file" and
          items["apit"]["source"] == "file:" + data, "list items: %s" % b)
    st, _, b = d.request("GET", "/v1/collections/fromfile")
    check(st == 200 and b["origin"] == "file" and b["definition"]["job"]["profile"] == PROFILE,
          "GET file-defined: %s %s" % (st, b))
    st, _, b = d.request("GET", "/v1/collections/nope")
    check(problem(st, b, 404) and b["code"] == "not_found", "GET unknown: %s %s" % (st, b))
    st, _, b = d.request("GET", "/v1/collections?x=1")
    check(problem(st, b, 400, "x"), "unknown query: %s %s" % (st, b))


def held_run_checks(d, cli):
    """The API replica claims no collection job: the run stays queued."""
    st, hd, b = d.request("POST", "/v1/collections/apit/run")
    check(st == 202, "run: %s %s" % (st, b))
    jid = b["id"]
    check(hd.get("location") == "/v1/jobs/" + jid, "run Location: %s" % hd)
    check(b["kind"] == "collection" and b["params"].get("collection") == "apit" and
          b["state"] == "queued", "run job: %s" % b)
    for action in ("run", "retry"):
        st, _, b = d.request("POST", "/v1/collections/apit/" + action)
        check(problem(st, b, 409) and jid in b["detail"],
              "%s while queued: 409 naming %s: %s %s" % (action, jid, st, b))
    _, err = cli("collection", "run", "apit", rc=5)
    check("409" in err and jid in err, "CLI run while queued names the job: %r" % err)
    st, _, b = d.request("POST", "/v1/collections/nope/run")
    check(problem(st, b, 404), "run unknown: %s %s" % (st, b))
    st, _, b = d.request("POST", "/v1/collections/apit/run", auth=False)
    check(st == 401, "run without the token: %s %s" % (st, b))
    st, _, b = d.request("POST", "/v1/collections/apit/run", {"now": True})
    check(problem(st, b, 422, "now"), "run with a body: %s %s" % (st, b))
    job = d.job(jid)
    check(job["state"] == "queued", "the held run is still queued: %s" % job)
    return jid


def run_checks(d, jid, data):
    job = wait_job(d, jid)
    check(job["state"] == "succeeded", "the run ended succeeded: %s" % json.dumps(job)[:2000])
    c = job.get("collection")
    check(isinstance(c, dict), "GET /v1/jobs/{id} of a collection job has its counts: %s" % job)
    check(c["listed"] == len(GOOD) + len(BAD_NAMES) + 1 and c["rejected"] == len(BAD_NAMES)
          and c["children"] == 4 and "phase" in c, "run counts: %s" % c)
    check(job["children"]["total"] == 4, "children: %s" % job["children"])
    noop = d.submit({"kind": "noop"})
    check("collection" not in d.job(noop["id"]), "a noop job has no collection member")

    every, _ = files(d, "apit", "limit=1000")
    uris = [e["uri"] for e in every]
    check(uris == sorted(uris) and len(uris) == len(GOOD) + len(BAD_NAMES) + 1,
          "every entry once, by URI: %s" % uris)
    by_name = {os.path.basename(e["uri"]): e for e in every}
    rej, pages = files(d, "apit", "outcome=rejected&limit=1")
    check(sorted(os.path.basename(e["uri"]) for e in rej) == sorted(BAD_NAMES) and
          pages >= len(BAD_NAMES), "rejected, a page each: %s (%d pages)" % (rej, pages))
    check(all(e["outcome"] == "rejected" and "rule did not match" in (e["reason"] or "")
              for e in rej), "rejections say why: %s" % rej)
    failed, _ = files(d, "apit", "outcome=failed")
    check([os.path.basename(e["uri"]) for e in failed] == [BROKEN] and failed[0]["reason"],
          "the broken file failed with a reason: %s" % failed)
    ok, _ = files(d, "apit", "outcome=succeeded&limit=2")
    check(sorted(os.path.basename(e["uri"]) for e in ok) == sorted(GOOD),
          "the others succeeded: %s" % [(n, e["outcome"], e["reason"])
                                        for n, e in by_name.items()])
    check(by_name["C170101_AAA_SCI.fits"]["obs_id"] == "C170101_AAA" and
          by_name["C170101_AAA_SCIRED.fits"]["product_id"] == "SCIRED" and
          by_name["C170101_AAA_SCI.fits"]["child_id"] ==
          by_name["C170101_AAA_SCIRED.fits"]["child_id"], "one child per observation: %s" %
          by_name)
    for q, status, field in [("outcome=nope", 422, "outcome"), ("limit=0", 422, "limit"),
                             ("limit=1001", 422, "limit"), ("cursor=%25%25bad", 400, "cursor"),
                             ("sort=uri", 400, "sort")]:
        st, _, b = d.request("GET", "/v1/collections/apit/files?" + q)
        check(problem(st, b, status, field), "files?%s: %s %s" % (q, st, b))
    st, _, b = d.request("GET", "/v1/collections/nope/files")
    check(problem(st, b, 404), "files of an unknown collection: %s %s" % (st, b))

    st, _, b = d.request("GET", "/v1/collections/apit")
    check(st == 200 and b["last_run"]["job_id"] == jid and
          b["last_run"]["state"] == "succeeded", "GET one after the run: %s %s" % (st, b))
    check(b["files"]["total"] == len(every) and b["files"]["rejected"] == len(BAD_NAMES) and
          b["files"]["failed"] == 1 and b["files"]["succeeded"] == len(GOOD),
          "entries by outcome: %s" % b["files"])
    failing = {os.path.basename(e["uri"]): e for e in b["failing"]}
    check(BROKEN in failing and failing[BROKEN]["reason"],
          "the failing entries name the broken file with its reason: %s" % b["failing"])
    return by_name[BROKEN]["child_id"]


def retry_checks(d, old_child):
    st, hd, b = d.request("POST", "/v1/collections/apit/retry")
    check(st == 202 and hd.get("location") == "/v1/jobs/" + b["id"], "retry: %s %s" % (st, b))
    check(b["params"].get("retry") is True, "retry job params: %s" % b)
    job = wait_job(d, b["id"])
    check(job["state"] == "succeeded", "the retry run ended: %s" % json.dumps(job)[:2000])
    failed, _ = files(d, "apit", "outcome=failed")
    check(len(failed) == 1 and failed[0]["child_id"] and failed[0]["child_id"] != old_child,
          "the failed entry was taken again by a new child: %s (before %s)" %
          (failed, old_child))


def cli_checks(cli, root, data):
    out, _ = cli("collections")
    lines = out.splitlines()
    check(lines[0].split()[0] == "NAME" and len(lines) == 3, "collections table: %r" % out)
    row = [ln for ln in lines if ln.startswith("apit ")]
    check(row and "file:" + data in row[0] and "succeeded" in row[0], "apit row: %r" % out)
    out, _ = cli("collections", "--json")
    check(len(json.loads(out)["items"]) == 2, "collections --json: %r" % out)
    out, _ = cli("collection", "show", "apit")
    check(json.loads(out)["name"] == "apit", "collection show: %r" % out)
    cli("collection", "show", "nope", rc=4)
    path = os.path.join(root, "cli.json")
    with open(path, "w") as f:
        json.dump(definition(data), f)
    out, _ = cli("collection", "put", "clicoll", path)
    check(out.strip() == "clicoll  created", "put new: %r" % out)
    out, _ = cli("collection", "put", "clicoll", "-", stdin=json.dumps(definition(data)))
    check(out.strip() == "clicoll  replaced", "put again: %r" % out)
    _, err = cli("collection", "put", "clicoll", "-",
                 stdin=json.dumps(definition(data, rule="(?<obs_id>")), rc=5)
    check("422" in err and "(field rule)" in err, "put bad rule: %r" % err)
    cli("collection", "put", "clicoll", "-", stdin="{", rc=2)
    cli("collection", "put", "fromfile", path, rc=5)
    out, _ = cli("collection", "run", "clicoll", "--wait", "--timeout", "120")
    lines = out.splitlines()
    check(len(lines) == 2 and "succeeded" in lines[0] and "collection" in lines[0] and
          "listed %d" % (len(GOOD) + len(BAD_NAMES) + 1) in lines[1],
          "run --wait: the job line and its counts: %r" % out)
    out, _ = cli("collection", "files", "clicoll", "--outcome", "rejected")
    check(sorted(ln.split()[1].rsplit("/", 1)[1] for ln in out.splitlines()) ==
          sorted(BAD_NAMES) and all(ln.startswith("rejected") and "rule did not match" in ln
                                    for ln in out.splitlines()), "files --outcome: %r" % out)
    out, _ = cli("collection", "files", "clicoll", "--limit", "3")
    check(len(out.splitlines()) == 3, "files --limit 3: %r" % out)
    out, _ = cli("collection", "files", "clicoll")
    check(len(out.splitlines()) == len(GOOD) + len(BAD_NAMES) + 1, "files: %r" % out)
    _, err = cli("collection", "files", "clicoll", "--outcome", "nope", rc=5)
    check("(field outcome)" in err, "files bad outcome: %r" % err)
    out, _ = cli("collection", "retry", "clicoll", "--wait")
    check("succeeded" in out, "retry --wait: %r" % out)
    out, _ = cli("collection", "run", "clicoll")
    jid = out.split()[0]
    check(len(jid) == 36 and "collection" in out, "run prints the job line: %r" % out)
    cli("wait", jid)
    cli("collection", "run", "nope", rc=4)
    cli("collection", "files", "nope", rc=4)
    cli("collection", "frob", "apit", rc=2)
    cli("collection", "run", rc=2)
    cli("collection", "show", "apit", "--wait", rc=2)


def run(db):
    root = os.path.realpath(os.path.join(TMP, "collapi.%d" % os.getpid()))
    shutil.rmtree(root, ignore_errors=True)
    data, conf = make_tree(root)
    env = {"OBSFLOW_CONFIG_DIR": conf, "OBSFLOW_DATA_ROOTS": root,
           "OBSFLOW_CAOM_COLLECTIONS": "*", "OBSFLOW_WORK_DIR": os.path.join(root, "work")}
    os.makedirs(env["OBSFLOW_WORK_DIR"])
    # the API replica runs no collection job; the worker replica, started later, does
    d = Daemon(db.url, name="collapi", token=TOKEN,
               env=dict(env, OBSFLOW_QUEUES="ingest=1,default=1"))
    cenv = dict(os.environ, OBSFLOW_URL="http://" + d.addr, OBSFLOW_API_TOKEN=TOKEN)

    def cli(*args, stdin=None, rc=0):
        p = subprocess.run([os.path.join(BIN_DIR, "obsflow")] + list(args), input=stdin,
                           capture_output=True, text=True, env=cenv, timeout=150)
        check(p.returncode == rc, "obsflow %s: exit %d, expected %d\nstdout: %s\nstderr: %s" %
              (" ".join(args), p.returncode, rc, p.stdout, p.stderr))
        if rc not in (0, 1, 7):
            lines = [ln for ln in p.stderr.splitlines() if ln]
            check(len(lines) == 1 and lines[0].startswith("obsflow "),
                  "one-line error expected: %r" % p.stderr)
        return p.stdout, p.stderr

    try:
        put_checks(d, data)
        print("ok: PUT create/replace, 422 rule/job.kind/job.profile, 409 file-defined, 401",
              flush=True)
        get_checks(d, data)
        print("ok: GET list/one/404", flush=True)
        jid = held_run_checks(d, cli)
        print("ok: run 202 + Location; run and retry while queued: 409 naming the job", flush=True)
        Daemon(db.url, name="collapi-w", workers=3,
               env=dict(env, OBSFLOW_QUEUES="collection=1,ingest=2"))
        old_child = run_checks(d, jid, data)
        print("ok: run ended; job counts; files by outcome with cursors; GET after the run",
              flush=True)
        retry_checks(d, old_child)
        colltest.counts_check(db, "apit", d, "after the retry")
        print("ok: retry takes the failed entry again; the counts kept match the entries",
              flush=True)
        cli_checks(cli, root, data)
        print("ok: CLI collections, collection show/put/run/retry/files", flush=True)
    except AssertionError:
        for x in (d,):
            x.dump_log(40)
        raise
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main(run, "collapi")
