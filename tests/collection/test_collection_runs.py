#!/usr/bin/env python3
"""test_collection_runs.py - collection runs over a `file:` directory through the real obsflowd
(fresh database of the ctest PostgreSQL fixture, the built-in repository), on about 3,000
CPAPIR frames made by gen_fits.py from the shared OMM headers (1 to 3 files per observation,
planes SCI and SCIRED, some names no rule matches) and four real FITS files of the shared
test data under names the rule takes:

 a. the first run (PUT /v1/collections/NAME, POST .../run) creates one observation per group
    of the rule in the built-in repository, with the rule's planes and one artifact per file;
    its report counts every listed, new and rejected entry and one child per observation;
    the unmatched names are listed by GET .../files?outcome=rejected with their reason;
 b. a second run enqueues nothing (0 children, no job row but its own) and writes nothing
    (the repository's list, maxLastModified and accMetaChecksum included, is unchanged);
 c. 10 files of 6 observations changed (their OBJECT card rewritten): the third run counts
    10 changed entries and 6 children, exactly those observations are updated, each keeping
    its observation, plane and artifact UUIDs;
 (d, a renamed file rejected and then accepted after a fix of the rule, is
 test_collection_rename.py.)

SPDX-License-Identifier: Apache-2.0
"""
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import colltest as C  # noqa: E402
import gen_fits  # noqa: E402
from colltest import check  # noqa: E402
from apitest import main  # noqa: E402

COUNT = int(os.environ.get("COLLTEST_FILES", "3000"))
NAME = "omm-gen"


def run(db):
    root = C.workdir("runs")
    data = os.path.join(root, "data")
    work = os.path.join(root, "work")
    os.makedirs(work)
    plan = gen_fits.generate(data, COUNT, real=True)
    names = [p[0] for p in plan]
    groups, bad = gen_fits.expected(names)
    matched = len(names) - len(bad)
    print("generated %d files: %d observations, %d planes, %d unmatched" % (
        len(names), len(groups), sum(len(g) for g in groups.values()), len(bad)), flush=True)
    check(len(bad) >= 10 and len(groups) > 1000, "the generated set has both kinds of names")
    conf = C.conf_dir(root)
    d = C.daemon(db.url, "collruns", conf, [data], work)
    src = "file:" + data
    st = {}

    def first_run():
        C.put(d, NAME, C.definition(src), expect=(201,))
        # the same definition again: stored, not created
        C.put(d, NAME, C.definition(src), expect=(200,))
        job, c = C.run_collection(d, NAME)
        st["first"] = job["id"]
        print("first run: %s" % c, flush=True)
        check(c["listed"] == len(names), "listed %d of %d files" % (c["listed"], len(names)))
        check(c["rejected"] == len(bad), "rejected %d, expected %d" % (c["rejected"], len(bad)))
        check(c["new"] == matched and c["changed"] == 0 and c["skipped"] == 0,
              "new %d (expected %d), changed %d, skipped %d" % (
                  c["new"], matched, c["changed"], c["skipped"]))
        # children: one per observation; succeeded/failed: entries
        check(c["children"] == len(groups) and c["succeeded"] == matched and
              c["failed"] == 0, "children %d, succeeded %d, failed %d; expected %d "
              "children, %d entries succeeded" % (c["children"], c["succeeded"], c["failed"],
                                                  len(groups), matched))
        kids = db.sql("SELECT state || '=' || count(*) FROM jobs WHERE parent_id = '%s' "
                      "GROUP BY state" % job["id"])
        check(kids == "succeeded=%d" % len(groups), "child jobs with the run as parent: %s, "
              "expected succeeded=%d" % (kids, len(groups)))
        obs = C.observations(d)
        check(set(obs) == set(groups), "repository holds %d observations, the rule groups %d; "
              "missing %s, extra %s" % (len(obs), len(groups), sorted(set(groups) - set(obs))[:5],
                                        sorted(set(obs) - set(groups))[:5]))
        # the documents: the rule's planes, one artifact per file
        multi = [o for o in sorted(groups) if len(groups[o]) > 1 or
                 any(len(f) > 1 for f in groups[o].values())][:15]
        real = sorted({gen_fits.expected([n])[0].popitem()[0] for _, n in gen_fits.REAL})
        for o in multi + sorted(groups)[:5] + real:
            doc = C.observation(d, o)
            want = {p: {"cadc:%s/%s" % (C.COLL, f) for f in fs} for p, fs in groups[o].items()}
            got = {p: set(v[1]) for p, v in doc["planes"].items()}
            check(got == want, "observation %s: planes/artifacts %s, expected %s" %
                  (o, got, want))
        rej = C.files(d, NAME, "rejected")
        want_rej = {"file:" + os.path.join(data, b) for b in bad}
        check({r["uri"] for r in rej} == want_rej, "rejected entries %s, expected %s" % (
            sorted(r["uri"] for r in rej)[:5], sorted(want_rej)[:5]))
        check(all("rule did not match" in (r.get("reason") or "") for r in rej),
              "rejected entries name the reason: %s" % rej[:3])
        ok = C.files(d, NAME, "succeeded")
        check(len(ok) == matched and all(r["obs_id"] in groups for r in ok),
              "%d succeeded entries, expected %d" % (len(ok), matched))
        for o in ("pending", "queued", "failed"):
            left = C.files(d, NAME, o)
            check(not left, "%d entries %s after the run: %s" % (len(left), o, left[:3]))
        s, _, coll = d.request("GET", "/v1/collections/" + NAME)
        check(s == 200 and coll["name"] == NAME and coll["last_run"]["job_id"] == job["id"] and
              coll["files"]["total"] == len(names) and coll["files"]["rejected"] == len(bad) and
              coll["files"]["succeeded"] == matched,
              "GET /v1/collections/%s: %s %s" % (NAME, s, str(coll)[:1500]))
        C.counts_check(db, NAME, d, "after the first run")
        st["obs"] = obs

    def second_run():
        before = C.observations(d)
        njobs = int(db.sql("SELECT count(*) FROM jobs"))
        job, c = C.run_collection(d, NAME)
        print("second run: %s" % c, flush=True)
        check(c["children"] == 0 and c["new"] == 0 and c["changed"] == 0,
              "second run enqueued %d children (new %d, changed %d)" % (
                  c["children"], c["new"], c["changed"]))
        check(c["listed"] == c["skipped"] + c["rejected"],
              "listed %d = skipped %d + rejected %d" % (c["listed"], c["skipped"], c["rejected"]))
        check(int(db.sql("SELECT count(*) FROM jobs")) == njobs + 1,
              "the second run added jobs besides itself")
        after = C.observations(d)
        check(after == before, "the repository changed on an unchanged run: %s" % sorted(
            o for o in set(before) | set(after) if before.get(o) != after.get(o))[:10])
        check(not C.deletions(d), "deletions recorded: %s" % C.deletions(d)[:3])
        C.counts_check(db, NAME, d, "after the second run")

    def changed_files():
        # 10 files of 6 observations: all three of an observation with SCI, SCI_2 and SCIRED,
        # SCI+SCIRED of another, SCI+SCI_2 of a third, single files of three more
        by_obs = {o: [f for fs in g.values() for f in fs] for o, g in groups.items()}
        three = [o for o in sorted(by_obs) if len(by_obs[o]) == 3][:1]
        sci_red = [o for o in sorted(by_obs) if set(groups[o]) == {"SCI", "SCIRED"} and
                   len(by_obs[o]) == 2][:1]
        sci_two = [o for o in sorted(by_obs) if set(groups[o]) == {"SCI"} and
                   len(by_obs[o]) == 2][:1]
        singles = [o for o in sorted(by_obs) if len(by_obs[o]) == 1 and "_T" in o][-3:]
        affected = three + sci_red + sci_two + singles
        touched = [f for o in affected for f in by_obs[o]]
        check(len(affected) == 6 and len(touched) == 10, "picked %d files of %d observations" %
              (len(touched), len(affected)))
        sample = [o for o in sorted(by_obs) if o not in affected][:20]
        before = C.observations(d)
        docs = {o: C.observation(d, o) for o in affected + sample}
        for f in touched:
            gen_fits.rewrite_card(os.path.join(data, f), "OBJECT", "CHANGED-" + f[:14])
        job, c = C.run_collection(d, NAME)
        print("third run (10 files changed): %s" % c, flush=True)
        check(c["changed"] == 10 and c["new"] == 0, "changed %d, new %d; expected 10, 0" % (
            c["changed"], c["new"]))
        check(c["children"] == 6 and c["succeeded"] == 10,
              "children %d (entries succeeded %d); expected 6 (10)" % (
                  c["children"], c["succeeded"]))
        after = C.observations(d)
        updated = {o for o in set(before) | set(after) if before.get(o) != after.get(o)}
        check(updated == set(affected), "observations updated %s, expected %s" % (
            sorted(updated)[:10], sorted(affected)))
        for o in affected:
            check(after[o][0] != before[o][0] and after[o][1] != before[o][1],
                  "%s: maxLastModified/accMetaChecksum %s -> %s" % (o, before[o], after[o]))
        for o in affected + sample:
            now = C.observation(d, o)
            check(now["id"] == docs[o]["id"] and now["planes"] == docs[o]["planes"],
                  "%s: UUIDs changed: %s -> %s" % (o, docs[o], now))
        check(C.observation(d, three[0])["target"].startswith("CHANGED-"),
              "the changed header value is in the updated observation")
        C.counts_check(db, NAME, d, "after the third run")
        st["affected"] = set(affected)

    try:
        if C.part("a: first run, one observation per group", first_run):
            C.part("b: second run enqueues and writes nothing", second_run)
            C.part("c: 10 changed files update exactly their observations, UUIDs kept",
                   changed_files)
        if C.SUBFAIL:
            d.dump_log(40)
        d.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    check(not C.SUBFAIL, "failed parts: %s" % ", ".join(C.SUBFAIL))


if __name__ == "__main__":
    main(run, "collruns")
