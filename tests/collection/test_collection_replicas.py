#!/usr/bin/env python3
"""test_collection_replicas.py - two obsflowd replicas on one database (fresh database of the
ctest PostgreSQL fixture), both reading the same config directory whose collections/sched.yaml
schedules a collection `every 2s` over 60 generated CPAPIR frames. After about 10 s:

 - each schedule slot ran once: one `collection` job per slot, whichever replica enqueued it
   (the jobs, not only the run rows, are counted: a slot enqueued by both replicas would be
   two jobs), consecutive slots at least one period apart, about 5 of them;
 - every run ended succeeded; the first created the observations, the later ones enqueued
   no child;
 - missed slots do not pile up: a replica started again after 6 s without any (3 slots
   missed) runs at most one of them.

SPDX-License-Identifier: Apache-2.0
"""
import datetime
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

NAME = "sched"
PERIOD = 2
WINDOW = 10


def slots(db):
    """[(slot as datetime, job id, job state, trigger, children)] of the scheduled runs."""
    rows = db.sql("SELECT extract(epoch FROM r.slot)::text || '|' || r.job_id || '|' || "
                  "coalesce(j.state::text, 'MISSING') || '|' || r.trigger || '|' || r.children "
                  "FROM collection_runs r LEFT JOIN jobs j ON j.id = r.job_id "
                  "WHERE r.collection = '%s' ORDER BY r.slot, r.created_at" % NAME)
    out = []
    for line in rows.splitlines():
        s, jid, state, trig, kids = line.split("|")
        out.append((float(s) if s else None, jid, state, trig, int(kids)))
    return out


def run(db):
    root = C.workdir("replicas")
    data = os.path.join(root, "data")
    work = os.path.join(root, "work")
    os.makedirs(work)
    plan = gen_fits.generate(data, 60, bad_every=0)
    groups, _ = gen_fits.expected([p[0] for p in plan])
    yaml = ("# every 2 s over the generated frames (tests/collection/test_collection_replicas)\n"
            "source: file:%s\n"
            "include: ['*.fits']\n"
            "recursive: true\n"
            "rule: '%s'\n"
            "job: {kind: ingest, profile: %s, queue: ingest}\n"
            "schedule: every %ds\n"
            "retry: {max_attempts: 1}\n" % (data, gen_fits.RULE, C.PROFILE, PERIOD))
    conf = C.conf_dir(root, {NAME: yaml})
    a = C.daemon(db.url, "replica_a", conf, [data], work)
    b = C.daemon(db.url, "replica_b", conf, [data], work)
    try:
        t0 = time.time()
        time.sleep(WINDOW)
        # stop the schedulers: TERM both (a run still going is finished by the grace or
        # taken up again below)
        check(a.stop() == 0 and b.stop() == 0, "replicas stop cleanly")
        took = time.time() - t0
        jobs = int(db.sql("SELECT count(*) FROM jobs WHERE kind = 'collection'"))
        runs = slots(db)
        print("%.1f s with 2 replicas: %d collection jobs, slots %s" % (
            took, jobs, [(datetime.datetime.utcfromtimestamp(s[0]).strftime("%H:%M:%S"), s[2],
                          s[4]) for s in runs if s[0]]), flush=True)
        check(runs and all(r[3] == "schedule" for r in runs),
              "runs not triggered by the schedule: %s" % [r[3] for r in runs])
        check(jobs == len(runs), "%d collection jobs for %d run rows (a slot enqueued twice, "
              "or a job without its run)" % (jobs, len(runs)))
        ss = [r[0] for r in runs]
        check(len(set(ss)) == len(ss), "a slot ran twice: %s" % ss)
        gaps = [round(y - x, 3) for x, y in zip(ss, ss[1:])]
        print("gaps between slots: %s" % gaps, flush=True)
        check(all(g >= PERIOD - 0.01 for g in gaps), "two slots within one period: %s" % gaps)
        # about 5 slots in 10 s; a loaded machine may run fewer (missed slots are not made up)
        check(2 <= len(ss) <= WINDOW // PERIOD + 2, "%d slots in %.1f s" % (len(ss), took))
        # the runs left unfinished by the stop end when a replica comes back
        a.start()
        left = lambda: db.sql("SELECT count(*) FROM jobs WHERE kind = 'collection' AND "  # noqa
                              "state NOT IN ('succeeded', 'failed', 'cancelled')") == "0"
        C.wait_until(left, 120, "the scheduled runs to end")
        # downtime: slots missed while nothing ran are not made up
        a.stop()
        before = {r[1] for r in slots(db)}
        time.sleep(3 * PERIOD)
        t_up = time.time()
        a.start()
        time.sleep(PERIOD / 2.0)
        a.stop()
        new = [r[0] for r in slots(db) if r[1] not in before]
        print("after %d s down: slots %s enqueued at start (%.3f)" % (3 * PERIOD, new, t_up),
              flush=True)
        stale = [s for s in new if s < t_up - 0.5]
        check(len(stale) <= 1, "%d slots missed while down were run at the start: %s (up at "
              "%.3f)" % (len(stale), stale, t_up))
        a.start()
        C.wait_until(left, 120, "the scheduled runs to end")
        a.stop()
        runs = slots(db)
        states = [r[2] for r in runs]
        check(all(s == "succeeded" for s in states), "scheduled runs: %s" % states)
        check(runs[0][4] == len(groups) and all(r[4] == 0 for r in runs[1:]),
              "children per run %s: the first creates the %d observations, the others none" %
              ([r[4] for r in runs], len(groups)))
        a.start()
        obs = C.observations(a)
        check(set(obs) == set(groups), "repository holds %d observations of %d" % (
            len(obs), len(groups)))
        a.stop()
    except AssertionError:
        a.dump_log(40)
        b.dump_log(40)
        raise
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main(run, "collrepl")
