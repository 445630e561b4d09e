#!/usr/bin/env python3
"""test_ingest_planes.py - ingest jobs with params.product_ids (one plane ID per input, the
shape a collection's rule gives: several files to one plane, several planes to one
observation), through the real obsflowd and its built-in repository (fresh database of the
ctest PostgreSQL fixture), on real FITS files of ../shared/testdata/fits:

 1. three files with product_ids [A, A, B] and no observation_id: one observation named by
    the StorageName of the first input, plane A with the first two files' artifacts and B
    with the third's, each artifact with its file's contentLength and MD5; each stored plane
    equals, structurally, what `obsflow caom --product-id` writes for its files alone;
 2. the same job again: unchanged, same accMetaChecksum;
 3. later pushes of plane B alone (observation_id given): with the same file, updated (the
    observation's own values now come from B's first file) with both planes stored as they
    were, byte for byte (UUIDs, checksums, lastModified), then unchanged; with one file more,
    updated: plane A kept with its UUIDs, plane B keeps its UUID and its first artifact's, and
    gains the new artifact;
 4. inputs listed [B, A, A]: the observation is named after the first input (of plane B);
 5. bad product_ids (count, a bad ID, with product_id too): 422 naming the field.

SPDX-License-Identifier: Apache-2.0
"""
import hashlib
import os
import subprocess
import sys
import urllib.parse
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "api"))
from apitest import BIN_DIR, SRC_DIR, Daemon, check, main, wait_until  # noqa: E402

OBSFLOW = os.path.join(BIN_DIR, "obsflow")
SHARED = os.environ.get("OBSFLOW_SHARED") or os.path.join(SRC_DIR, "..", "shared")
FITS = os.path.realpath(os.path.join(SHARED, "testdata", "fits"))
F1, F2, F3, F4 = (os.path.join(FITS, n) for n in (
    "kastb_b1_arc.fits", "kastb_b11_domeflat.fits", "kastb_b21_bias.fits",
    "kastb_b22_bias.fits"))
DROP = {"id", "lastModified", "maxLastModified", "metaChecksum", "accMetaChecksum"}


def local(tag):
    return tag.split("}")[-1]


def strip(el):
    """The element as comparable text: ids and server-side bookkeeping left out."""
    el = ET.fromstring(ET.tostring(el))
    for e in el.iter():
        for k in list(e.attrib):
            if local(k) in DROP:
                del e.attrib[k]
    for parent in el.iter():
        for child in list(parent):
            if local(child.tag) in DROP:
                parent.remove(child)
    return ET.tostring(el).decode()


def ident(el):
    return next(v for k, v in el.attrib.items() if local(k) == "id")


def planes(doc):
    """{productID: plane element}."""
    return {p.find("{*}productID").text: p for p in doc.findall("{*}planes/{*}plane")}


def artifacts(plane):
    """[(uri, contentLength, contentChecksum, id)] in document order."""
    return [(a.find("{*}uri").text, a.find("{*}contentLength").text,
             getattr(a.find("{*}contentChecksum"), "text", None), ident(a))
            for a in plane.findall("{*}artifacts/{*}artifact")]


def md5(path):
    with open(path, "rb") as f:
        return "md5:" + hashlib.md5(f.read()).hexdigest()


def want_artifacts(coll, files):
    return [("cadc:%s/%s" % (coll, os.path.basename(f)), str(os.path.getsize(f)), md5(f))
            for f in files]


def cli_plane(coll, obs, pid, files):
    """The plane `obsflow caom` builds from @files alone."""
    p = subprocess.run([OBSFLOW, "caom", "--collection", coll, "--observation-id", obs,
                        "--product-id", pid] + files, capture_output=True, text=True,
                       timeout=120)
    check(p.returncode == 0, "obsflow caom %s: %s" % (pid, p.stderr))
    got = planes(ET.fromstring(p.stdout))
    check(list(got) == [pid], "obsflow caom planes %s" % list(got))
    return got[pid]


def run(db):
    d = Daemon(db.url, name="planes", workers=2,
               env={"OBSFLOW_CAOM_COLLECTIONS": "*", "OBSFLOW_DATA_ROOTS": FITS})
    try:
        def ingest(params, expect):
            j = d.submit({"kind": "ingest", "max_attempts": 1, "params": params})
            b = wait_until(lambda: (lambda b: b if b["state"] in (
                "succeeded", "failed", "cancelled") else None)(d.job(j["id"])), 120,
                "ingest job %s" % j["id"], interval=0.05)
            check(b["state"] == "succeeded" and b["result"]["outcome"] == expect,
                  "%s: %s expected, got %s" % (params, expect, b))
            return b["result"]

        def stored(coll, obs):
            st, h, body = d.request("GET", "/caom2/observations/%s/%s" % (
                coll, urllib.parse.quote(obs, safe="")), raw=True)
            check(st == 200, "GET %s/%s: %s" % (coll, obs, st))
            return h.get("etag", "").strip('"'), ET.fromstring(body)

        coll, obs = "PLANES", "kastb_b1_arc"
        three = {"collection": coll, "uris": ["file:" + f for f in (F1, F2, F3)],
                 "product_ids": ["A", "A", "B"]}

        # 1. [A, A, B] -> one observation, planes A (2 artifacts) and B (1)
        r = ingest(three, "created")
        check(r["uri"] == "caom:%s/%s" % (coll, obs) and r["artifacts"] == 3, "result %s" % r)
        etag, doc = stored(coll, obs)
        check(etag == r["acc_meta_checksum"], "ETag %s, job %s" % (etag, r))
        pl = planes(doc)
        check(sorted(pl) == ["A", "B"], "planes %s" % sorted(pl))
        got = {k: [a[:3] for a in artifacts(v)] for k, v in pl.items()}
        check(got == {"A": want_artifacts(coll, [F1, F2]), "B": want_artifacts(coll, [F3])},
              "artifacts %s" % got)
        for pid, files in (("A", [F1, F2]), ("B", [F3])):
            a, b = strip(pl[pid]), strip(cli_plane(coll, obs, pid, files))
            check(a == b, "plane %s differs from obsflow caom:\n%s\n---\n%s" %
                  (pid, a[:2000], b[:2000]))
        ids_a = (ident(pl["A"]), [a[3] for a in artifacts(pl["A"])])
        ids_b = (ident(pl["B"]), [a[3] for a in artifacts(pl["B"])])
        obs_id = ident(doc)
        print("ok: [A, A, B] -> %s: plane A %d artifacts, plane B %d, each as obsflow caom" %
              (r["uri"], len(ids_a[1]), len(ids_b[1])), flush=True)

        # 2. the same job again
        r2 = ingest(three, "unchanged")
        check(r2["acc_meta_checksum"] == r["acc_meta_checksum"], "checksum moved: %s" % r2)
        print("ok: same params again: unchanged", flush=True)

        # 3. plane B alone: A kept with its UUIDs
        only_b = {"collection": coll, "uris": ["file:" + F3], "product_ids": ["B"],
                  "observation_id": obs}
        # the observation's own values now come from the headers of F3 (a bias, where F1 is
        # an arc): the observation is updated, its planes are not touched
        r3 = ingest(only_b, "updated")
        check(r3["artifacts"] == 1, "B alone: %s" % r3)
        _, doc3 = stored(coll, obs)
        pl3 = planes(doc3)
        check(sorted(pl3) == ["A", "B"] and ident(doc3) == obs_id, "B alone: planes %s" % pl3)
        for pid in ("A", "B"):
            check(ET.tostring(pl3[pid]) == ET.tostring(pl[pid]),
                  "B alone: plane %s changed:\n%s\n---\n%s" % (
                      pid, ET.tostring(pl[pid])[:1500], ET.tostring(pl3[pid])[:1500]))
        moved = sorted(local(e.tag) for e, f in zip(doc3, doc)
                       if local(e.tag) != "planes" and strip(e) != strip(f))
        print("B alone: updated, planes untouched; observation values from F3: %s" % moved,
              flush=True)
        check(ingest(only_b, "unchanged")["acc_meta_checksum"] == r3["acc_meta_checksum"],
              "B alone again")
        r4 = ingest(dict(only_b, uris=["file:" + F3, "file:" + F4], product_ids=["B", "B"]),
                    "updated")
        check(r4["acc_meta_checksum"] != r["acc_meta_checksum"] and r4["artifacts"] == 2,
              "B with one file more: %s" % r4)
        etag, doc = stored(coll, obs)
        check(etag == r4["acc_meta_checksum"] and ident(doc) == obs_id,
              "observation UUID %s -> %s" % (obs_id, ident(doc)))
        pl = planes(doc)
        check(sorted(pl) == ["A", "B"], "planes after B alone: %s" % sorted(pl))
        check((ident(pl["A"]), [a[3] for a in artifacts(pl["A"])]) == ids_a,
              "plane A UUIDs %s -> %s" % (ids_a, artifacts(pl["A"])))
        arts_b = artifacts(pl["B"])
        check(ident(pl["B"]) == ids_b[0] and arts_b[0][3] == ids_b[1][0] and
              [a[:3] for a in arts_b] == want_artifacts(coll, [F3, F4]),
              "plane B %s (was %s): %s" % (ident(pl["B"]), ids_b, arts_b))
        a, b = strip(pl["B"]), strip(cli_plane(coll, obs, "B", [F3, F4]))
        check(a == b, "plane B differs from obsflow caom:\n%s\n---\n%s" % (a[:2000], b[:2000]))
        print("ok: plane B pushed alone: planes untouched, unchanged again, then updated with a "
              "file more; plane A and every UUID kept", flush=True)

        # 4. the first input names the observation, whatever plane it is in
        r5 = ingest({"collection": "PLANES2", "uris": ["file:" + f for f in (F3, F1, F2)],
                     "product_ids": ["B", "A", "A"]}, "created")
        check(r5["uri"] == "caom:PLANES2/kastb_b21_bias" and r5["artifacts"] == 3,
              "[B, A, A]: %s" % r5)
        _, doc = stored("PLANES2", "kastb_b21_bias")
        got = {k: [a[0] for a in artifacts(v)] for k, v in planes(doc).items()}
        check(got == {"A": ["cadc:PLANES2/kastb_b1_arc.fits",
                            "cadc:PLANES2/kastb_b11_domeflat.fits"],
                      "B": ["cadc:PLANES2/kastb_b21_bias.fits"]}, "[B, A, A]: %s" % got)
        print("ok: [B, A, A] -> %s" % r5["uri"], flush=True)

        # 5. refusals name the field
        def refused(params, field):
            st, _, doc = d.request("POST", "/v1/jobs", {"kind": "ingest", "params": params})
            check(st == 422 and doc.get("field") == field,
                  "%s: %s %s, expected 422 %s" % (params, st, doc, field))
        refused(dict(three, product_ids=["A", "B"]), "params.product_ids")
        refused(dict(three, product_ids=["A", "A", "B", "C"]), "params.product_ids")
        refused(dict(three, product_ids=["A", "A", "x/y"]), "params.product_ids[2]")
        refused(dict(three, product_ids=["A", "", "B"]), "params.product_ids[1]")
        refused(dict(three, product_ids=["A", "A", "B" * 257]), "params.product_ids[2]")
        refused(dict(three, product_id="A"), "params.product_ids")
        print("ok: bad product_ids refused naming the field", flush=True)
    finally:
        d.stop()


if __name__ == "__main__":
    main(run, "ingest_planes")
