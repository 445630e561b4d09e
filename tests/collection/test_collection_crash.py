#!/usr/bin/env python3
"""test_collection_crash.py - kill -9 obsflowd while a collection run fans out, restart it on
the same database: every entry ends handled exactly once. About 4,000 generated CPAPIR frames
(gen_fits.py; 2,500 observations, so the fan-out takes several batches of children); the
run's phase and child count are polled through a psql session and obsflowd gets SIGKILL as
soon as the run has fanned out some children but not all (or, if the fan-out was quicker
than the poll, at the first sight of it past the listing). After the restart:

 - the same collection job ends succeeded, its report counting one child per observation;
 - the child jobs (parent_id = the run) are one per observation: every observation of the
   rule is covered by exactly one child, no child covers none or two (file states name
   their child), and every child ended succeeded;
 - no entry is left pending or queued; every matched entry is succeeded, the unmatched
   ones rejected;
 - the built-in repository holds exactly the rule's observations.

SPDX-License-Identifier: Apache-2.0
"""
import collections
import os
import shutil
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import colltest as C  # noqa: E402
import gen_fits  # noqa: E402
from colltest import check  # noqa: E402
from apitest import main  # noqa: E402

COUNT = int(os.environ.get("COLLTEST_CRASH_FILES", "4000"))
NAME = "omm-crash"


def run(db):
    root = C.workdir("crash")
    data = os.path.join(root, "data")
    work = os.path.join(root, "work")
    os.makedirs(work)
    plan = gen_fits.generate(data, COUNT, subdirs=8)
    names = [p[0] for p in plan]
    groups, bad = gen_fits.expected(names)
    print("generated %d files in 8 directories: %d observations, %d unmatched" % (
        len(names), len(groups), len(bad)), flush=True)
    conf = C.conf_dir(root)
    d = C.daemon(db.url, "collcrash", conf, [data], work)
    ps = C.Psql(db.host, db.name)
    try:
        # children the kill interrupts are taken up again: they need attempts left
        C.put(d, NAME, C.definition("file:" + data, retry={"max_attempts": 3}), expect=(201,))
        jid = C.start_run(d, NAME)
        seen = []
        deadline = time.time() + 300
        while True:
            check(time.time() < deadline, "the run never reached its fan-out: %s" % seen[-3:])
            r = C.run_row(ps, jid)
            kids = int(ps.sql("SELECT count(*) FROM jobs WHERE parent_id = '%s'" % jid))
            if r and (not seen or seen[-1] != (r, kids)):
                seen.append((r, kids))
            if r and ((r[0] == "fanout" and 0 < kids < len(groups)) or
                      r[0] in ("waiting", "done", "failed")):
                break
            time.sleep(0.002)
        d.kill9()
        r = C.run_row(ps, jid)
        kids = int(ps.sql("SELECT count(*) FROM jobs WHERE parent_id = '%s'" % jid))
        states = ps.sql("SELECT outcome || '=' || count(*) FROM collection_files "
                        "WHERE collection = '%s' GROUP BY outcome ORDER BY 1" % NAME)
        print("killed at phase %s (listed %d), %d of %d children enqueued; entries %s; "
              "phases seen %s" % (r[0], r[1], kids, len(groups), states.replace("\n", " "),
                                  [s[0][0] for s in seen]), flush=True)
        k = C.counts_check(ps, NAME, when="after the kill")
        print("counts after the kill (kept by the triggers, as counted): %s" % k, flush=True)
        if not (r[0] == "fanout" and 0 < kids < len(groups)):
            print("note: the kill came after the fan-out (phase %s): the restart is checked "
                  "all the same" % r[0], flush=True)

        d.start()
        job = C.wait_job(d, jid, 600)
        check(job["state"] == "succeeded", "the collection run after the restart: %s" %
              str(job)[:2000])
        c = job["result"]["counts"]
        print("after the restart: attempts %s, counts %s" % (job.get("attempts"), c),
              flush=True)
        check(c["children"] == len(groups) and c["succeeded"] == len(names) - len(bad) and
              c["failed"] == 0 and c["listed"] == len(names), "report: %s, expected %d "
              "children, %d entries succeeded; failures %s" % (
                  c, len(groups), len(names) - len(bad), job["result"].get("failures", [])[:5]))

        C.counts_check(ps, NAME, d, "after the restart")
        kids = db.sql("SELECT id || '|' || state FROM jobs WHERE parent_id = '%s'" % jid)
        kids = dict(k.split("|") for k in kids.splitlines() if k)
        check(len(kids) == len(groups), "%d child jobs for %d observations" % (
            len(kids), len(groups)))
        check(all(s == "succeeded" for s in kids.values()), "children not succeeded: %s" %
              collections.Counter(kids.values()))
        rows = db.sql("SELECT coalesce(obs_id, '') || '|' || coalesce(child_id::text, '') || "
                      "'|' || outcome FROM collection_files WHERE collection = '%s'" %
                      NAME).splitlines()
        by_obs = collections.defaultdict(set)
        by_child = collections.defaultdict(set)
        outcomes = collections.Counter()
        for line in rows:
            o, ch, oc = line.split("|")
            outcomes[oc] += 1
            if oc == "rejected":
                continue
            by_obs[o].add(ch)
            by_child[ch].add(o)
        check(outcomes == collections.Counter(
            {"succeeded": len(names) - len(bad), "rejected": len(bad)}),
            "entry outcomes %s" % dict(outcomes))
        check(set(by_obs) == set(groups), "observations of the entries != the rule's groups")
        two = {o: ch for o, ch in by_obs.items() if len(ch) != 1}
        check(not two, "observations handled by more than one child: %s" %
              list(two.items())[:5])
        shared = {ch: o for ch, o in by_child.items() if len(o) != 1}
        check(not shared, "children covering several observations: %s" %
              list(shared.items())[:5])
        check(set(by_child) == set(kids), "children no entry names (doubled fan-out): %s" %
              sorted(set(kids) - set(by_child))[:5])
        # the children's params name their observation once each, when they name it
        ids = [x for x in db.sql("SELECT params->>'observation_id' FROM jobs WHERE "
                                 "parent_id = '%s'" % jid).splitlines() if x]
        if ids:
            dup = [o for o, n in collections.Counter(ids).items() if n > 1]
            check(not dup and set(ids) == set(groups), "child params observation_id: %d "
                  "distinct of %d, twice: %s" % (len(set(ids)), len(groups), dup[:5]))
        for o in ("pending", "queued"):
            left = C.files(d, NAME, o)
            check(not left, "%d entries %s after the run" % (len(left), o))
        obs = C.observations(d)
        check(set(obs) == set(groups), "repository holds %d observations, the rule groups %d" %
              (len(obs), len(groups)))
        check(d.stop() == 0, "clean exit after the restart")
    except AssertionError:
        d.dump_log(60)
        raise
    finally:
        ps.close()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main(run, "collcrash")
