#!/usr/bin/env python3
"""test_collection_s3.py - a collection whose source is s3://BUCKET/PREFIX on the s3rver
fixture (tests/storage), through the real obsflowd (fresh database of the ctest PostgreSQL
fixture, the built-in repository): 400 generated CPAPIR frames (gen_fits.py) put under the
prefix, with objects beside the prefix that the listing must not see; the first run creates
one observation per group of the rule with one artifact per object, rejects the unmatched
names (GET .../files?outcome=rejected, s3:// URIs), and counts every listed, new and rejected
entry and one child per observation; a second run enqueues nothing and writes nothing; one
object put again with other bytes gives one changed entry and one child.

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

COUNT = 400
NAME = "omm-s3"


def s3_client(ep):
    import botocore.session
    from botocore.config import Config
    return botocore.session.get_session().create_client(
        "s3", endpoint_url=ep, region_name="us-east-1", aws_access_key_id="S3RVER",
        aws_secret_access_key="S3RVER", config=Config(s3={"addressing_style": "path"}))


def run(db):
    s3dir = os.environ.get("OBSFLOW_S3_DIR")
    check(s3dir and os.path.exists(os.path.join(s3dir, "port")), "no S3 fixture")
    ep = "http://127.0.0.1:%s" % open(os.path.join(s3dir, "port")).read().strip()
    root = C.workdir("s3")
    data = os.path.join(root, "data")
    work = os.path.join(root, "work")
    os.makedirs(work)
    plan = gen_fits.generate(data, COUNT, bad_every=37, real=True)
    names = [p[0] for p in plan]
    groups, bad = gen_fits.expected(names)
    bucket = "coll%d" % os.getpid()
    prefix = "omm/raw"
    s3 = s3_client(ep)
    s3.create_bucket(Bucket=bucket)
    for n in names:
        with open(os.path.join(data, n), "rb") as f:
            s3.put_object(Bucket=bucket, Key="%s/%s" % (prefix, n), Body=f.read())
    # beside the prefix: not part of the collection
    with open(os.path.join(data, names[0]), "rb") as f:
        body = f.read()
    s3.put_object(Bucket=bucket, Key="omm/other/" + names[0], Body=body)
    s3.put_object(Bucket=bucket, Key="omm/rawX/" + names[0], Body=body)
    print("put %d objects under s3://%s/%s: %d observations, %d unmatched" % (
        len(names), bucket, prefix, len(groups), len(bad)), flush=True)
    conf = C.conf_dir(root)
    d = C.daemon(db.url, "colls3", conf, [root], work, env={
        "AWS_ACCESS_KEY_ID": "S3RVER", "AWS_SECRET_ACCESS_KEY": "S3RVER",
        "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL_S3": ep})
    src = "s3://%s/%s" % (bucket, prefix)
    uri = lambda n: "%s/%s" % (src, n)  # noqa: E731

    def first():
        C.put(d, NAME, C.definition(src), expect=(201,))
        job, c = C.run_collection(d, NAME)
        print("first run: %s" % c, flush=True)
        check(c["listed"] == len(names), "listed %d of %d objects (the objects beside the "
              "prefix must not be listed)" % (c["listed"], len(names)))
        check(c["new"] == len(names) - len(bad) and c["rejected"] == len(bad),
              "new %d, rejected %d; expected %d, %d" % (c["new"], c["rejected"],
                                                       len(names) - len(bad), len(bad)))
        check(c["children"] == len(groups) and c["succeeded"] == len(names) - len(bad) and
              c["failed"] == 0, "children %d, entries succeeded %d, failed %d; expected %d "
              "children" % (c["children"], c["succeeded"], c["failed"], len(groups)))
        obs = C.observations(d)
        check(set(obs) == set(groups), "repository holds %d observations, the rule groups %d" %
              (len(obs), len(groups)))
        for o in sorted(groups)[:12]:
            doc = C.observation(d, o)
            want = {p: {"cadc:%s/%s" % (C.COLL, f) for f in fs} for p, fs in groups[o].items()}
            got = {p: set(v[1]) for p, v in doc["planes"].items()}
            check(got == want, "observation %s: %s, expected %s" % (o, got, want))
        rej = C.files(d, NAME, "rejected")
        check({r["uri"] for r in rej} == {uri(b) for b in bad},
              "rejected %s, expected %s" % (sorted(r["uri"] for r in rej)[:4],
                                            sorted(uri(b) for b in bad)[:4]))
        ok = C.files(d, NAME, "succeeded")
        check({r["uri"] for r in ok} == {uri(n) for n in names if n not in bad},
              "%d succeeded entries" % len(ok))
        check(all(r.get("etag") for r in ok[:20]), "entries keep the ETag: %s" % ok[:2])

    def second():
        before = C.observations(d)
        job, c = C.run_collection(d, NAME)
        print("second run: %s" % c, flush=True)
        check(c["children"] == 0 and c["new"] == 0 and c["changed"] == 0,
              "second run: %s" % c)
        check(C.observations(d) == before, "the repository changed on an unchanged run")

    def changed():
        n = [x for x in names if x.endswith("_SCI.fits")][3]
        o = gen_fits.expected([n])[0].popitem()[0]
        p = os.path.join(data, n)
        gen_fits.rewrite_card(p, "OBJECT", "CHANGED-S3")
        before = C.observations(d)
        with open(p, "rb") as f:
            s3.put_object(Bucket=bucket, Key="%s/%s" % (prefix, n), Body=f.read())
        job, c = C.run_collection(d, NAME)
        print("third run (one object changed): %s" % c, flush=True)
        check(c["changed"] == 1 and c["children"] == 1 and c["succeeded"] == 1,
              "one changed object: %s" % c)
        after = C.observations(d)
        upd = {x for x in after if before.get(x) != after.get(x)}
        check(upd == {o}, "updated %s, expected %s" % (sorted(upd), o))

    try:
        if C.part("e: s3 source, first run", first):
            C.part("e: s3 source, unchanged run", second)
            C.part("e: s3 source, one object changed", changed)
        if C.SUBFAIL:
            d.dump_log(40)
        d.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    check(not C.SUBFAIL, "failed parts: %s" % ", ".join(C.SUBFAIL))


if __name__ == "__main__":
    main(run, "colls3")
