#!/usr/bin/env python3
"""test_collection_rename.py - a renamed file through the real obsflowd (fresh database of the
ctest PostgreSQL fixture, the built-in repository), over 300 generated CPAPIR frames
(gen_fits.py):

 1. a first run creates one observation per group of the rule;
 2. a file of a one-file observation renamed to a name the rule does not match (`.fit`): the
    next run rejects it ("rule did not match", GET .../files?outcome=rejected) and writes
    nothing;
 3. the rule widened to take `.fit` (PUT of the definition): the next run accepts the renamed
    file with one child, its entry ends succeeded under the same observation and plane, the
    observation gets the artifact of the new name and no other observation is written; the
    name the file had before is gone from the source, so it is no input of that child.

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

NAME = "omm-rename"


def run(db):
    root = C.workdir("rename")
    data = os.path.join(root, "data")
    work = os.path.join(root, "work")
    os.makedirs(work)
    plan = gen_fits.generate(data, 300, bad_every=31)
    names = [p[0] for p in plan]
    groups, bad = gen_fits.expected(names)
    conf = C.conf_dir(root)
    d = C.daemon(db.url, "collrename", conf, [data], work)
    src = "file:" + data
    try:
        C.put(d, NAME, C.definition(src), expect=(201,))
        job, c = C.run_collection(d, NAME)
        print("first run: %s" % c, flush=True)
        check(c["children"] == len(groups) and c["failed"] == 0 and
              set(C.observations(d)) == set(groups), "first run: %s" % c)

        single = [o for o in sorted(groups) if groups[o] == {"SCI": [o + "_SCI.fits"]}][0]
        old = os.path.join(data, single + "_SCI.fits")
        new = os.path.join(data, single + "_SCI.fit")
        os.rename(old, new)
        before = C.observations(d)
        job, c = C.run_collection(d, NAME)
        print("second run (%s renamed .fit): %s" % (single, c), flush=True)
        rej = {r["uri"]: r for r in C.files(d, NAME, "rejected")}
        check("file:" + new in rej, "the renamed file is not rejected: %s" % sorted(rej))
        check("rule did not match" in (rej["file:" + new].get("reason") or ""),
              "reason of the renamed file: %s" % rej["file:" + new])
        check(set(rej) == {"file:" + os.path.join(data, b) for b in bad} | {"file:" + new},
              "rejected entries: %s" % sorted(rej))
        check(c["children"] == 0, "the rename alone fanned out %d children" % c["children"])
        check(C.observations(d) == before, "the repository changed on the rejecting run")

        # the fix: a rule that also takes .fit
        C.put(d, NAME, C.definition(src, rule=gen_fits.WIDE_RULE), expect=(200,))
        job, c = C.run_collection(d, NAME)
        print("third run (rule widened): %s; failures %s" % (
            c, job["result"].get("failures")), flush=True)
        rej = {r["uri"] for r in C.files(d, NAME, "rejected")}
        check("file:" + new not in rej, "the renamed file is still rejected")
        check(rej == {"file:" + os.path.join(data, b) for b in bad},
              "rejected after the fix: %s" % sorted(rej))
        ent = [r for r in C.files(d, NAME) if r["uri"] == "file:" + new]
        check(len(ent) == 1 and ent[0]["outcome"] == "succeeded" and
              ent[0]["obs_id"] == single and ent[0]["product_id"] == "SCI",
              "entry of the renamed file: %s" % ent)
        check(c["children"] == 1 and c["failed"] == 0,
              "the widened rule fanned out %d children, %d entries failed (expected 1 child: "
              "only the renamed file is new to it)" % (c["children"], c["failed"]))
        doc = C.observation(d, single)
        arts = set(doc["planes"].get("SCI", (None, {}))[1])
        check("cadc:%s/%s_SCI.fit" % (C.COLL, single) in arts,
              "observation %s has artifacts %s" % (single, arts))
        after = C.observations(d)
        changed = {o for o in after if before.get(o) != after.get(o)}
        check(changed == {single}, "observations written by the third run: %s" %
              sorted(changed)[:10])
        C.counts_check(db, NAME, d, "after the rename (an entry forgotten)")
        check(d.stop() == 0, "clean exit")
    except AssertionError:
        d.dump_log(30)
        raise
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main(run, "collrename")
