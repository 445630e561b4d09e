#!/usr/bin/env python3
"""test_api_registry.py - the dataset registry (issue 13) through the real obsflowd:

 1. dimension records, dataset types (an identical definition again is a no-op, another one a
    409), RUN collections made by registration; file records and data IDs as given;
 2. certification: an overlapping range is a 409 naming the certified dataset and its range;
    the adjacent range is accepted; the exclusion constraint is in the schema;
 3. calibration lookup: an exposure inside one range finds that bias; an exposure straddling
    two ranges is a 409 naming both candidates; none is a 404;
 4. decertify splits a range around the window (and the lookup in the hole finds nothing);
 5. chained collections: find-first picks the first child that has a match, for queries and
    lookups, and redefining the chain's order changes the answer;
 5b. TAGGED collections: associate (one dataset per type and data ID: a second is a 409
    naming both), in a chain, disassociate;
 6. provenance up and down on GET /v1/datasets/{id};
 7. bad input: unknown dataset type, unknown field, a dimension the type lacks, an unknown
    collection are 400s naming them; a WHERE syntax error says where;
 8. WHERE over data IDs and exposure times (IN, comparisons, OVERLAPS);
 9. remove-runs: refused (409 naming the dataset and its user) while a dataset of the run is an
    input of another run's, done with force; non-RUN collections refused;
10. 10,000 datasets registered concurrently by two clients (each batch also syncing the same
    dimension records) without deadlock or loss;
10b. a time without an offset is UTC, whatever the database's TimeZone;
11. the CLI verbs query-datasets, query-collections, collection-chain, certify-calibrations,
    decertify, ingest-files, remove-runs, associate and find-calibration against the same
    server.

SPDX-License-Identifier: Apache-2.0
"""
import json
import os
import subprocess
import sys
import threading
import urllib.parse

sys.path.insert(0, os.path.join(os.environ.get("OBSFLOW_SOURCE_DIR", "."), "tests", "api"))
from apitest import BIN_DIR, TMP, Daemon, Database, check, main  # noqa: E402

TOKEN = "reg-token"


def q(path, **params):
    return path + "?" + urllib.parse.urlencode(params)


def exp(i, begin, end, **kw):
    r = {"instrument": "KAST", "id": i, "begin": begin, "end": end, "obs_type": "science"}
    r.update(kw)
    return r


def expect(d, method, path, body, status, what):
    st, _, b = d.request(method, path, body)
    check(st == status, "%s: %s %s answered %s (wanted %s): %s" % (what, method, path, st,
                                                                   status, b))
    return b


def register(d, run, dtype, items, status=201):
    return expect(d, "POST", "/v1/datasets", {"run": run, "dataset_type": dtype,
                                              "datasets": items}, status, "register")


def setup(d):
    b = expect(d, "POST", "/v1/registry/dimensions", {
        "instruments": [{"name": "KAST", "class_name": "lick.Kast"}],
        "detectors": [{"instrument": "KAST", "id": 0, "full_name": "blue"},
                      {"instrument": "KAST", "id": 1, "full_name": "red"}],
        "exposures": [
            exp(100, "2024-01-05T01:00:00Z", "2024-01-05T01:10:00Z"),
            exp(101, "2024-01-15T02:00:00Z", "2024-01-15T02:10:00Z"),
            exp(102, "2024-01-31T23:55:00Z", "2024-02-01T00:05:00Z"),  # straddles Feb 1
            exp(103, "2024-02-10T03:00:00Z", "2024-02-10T03:10:00Z", obs_type="flat"),
        ]}, 200, "dimensions")
    check(b == {"instruments": 1, "detectors": 2, "exposures": 4}, "dimension counts %s" % b)
    b = expect(d, "POST", "/v1/registry/dimensions",
               {"exposures": [exp(100, "2024-01-05T01:00:00Z", "2024-01-05T01:10:00Z")]}, 200,
               "dimensions again")
    check(b["exposures"] == 0, "an existing exposure is kept: %s" % b)
    expect(d, "POST", "/v1/registry/dimensions",
           {"exposures": [{"instrument": "KAST", "id": 9, "begin": "2024-01-01"}]}, 422,
           "an exposure needs its end")
    types = [("raw", ["instrument", "exposure", "detector"], False),
             ("bias", ["instrument", "detector"], True),
             ("calexp", ["instrument", "exposure", "detector"], False)]
    for name, dims, cal in types:
        t = {"name": name, "dimensions": dims, "storage_class": "FitsImage",
             "is_calibration": cal}
        expect(d, "PUT", "/v1/registry/dataset-types", t, 201, "type " + name)
        expect(d, "PUT", "/v1/registry/dataset-types", t, 200, "type again " + name)
    b = expect(d, "PUT", "/v1/registry/dataset-types",
               {"name": "bias", "dimensions": ["instrument"], "storage_class": "FitsImage"},
               409, "another definition")
    check("bias" in b["detail"], "409 names the type: %s" % b)
    b = expect(d, "PUT", "/v1/registry/dataset-types",
               {"name": "x", "dimensions": ["visit"], "storage_class": "F"}, 422, "bad dim")
    check("visit" in b["detail"], "names the unknown dimension: %s" % b)


def test_calibrations(d, db):
    raws = []
    for e in (100, 101, 102, 103):
        for det in (0, 1):
            raws.append({"data_id": {"instrument": "KAST", "exposure": e, "detector": det},
                         "files": [{"uri": "file:raw/%d_%d.fits" % (e, det), "size": 2880 * 4,
                                    "checksum": "md5:%032d" % e}]})
    b = register(d, "KAST/raw", "raw", raws)
    check(len(b["ids"]) == 8, "8 raws registered: %s" % b)
    b1 = register(d, "KAST/calib/run1", "bias",
                  [{"data_id": {"instrument": "KAST", "detector": 0}}])["ids"][0]
    b2 = register(d, "KAST/calib/run2", "bias",
                  [{"data_id": {"instrument": "KAST", "detector": 0}}])["ids"][0]
    # a second bias for the same data ID in the same run is a conflict
    b = register(d, "KAST/calib/run1", "bias", [{"data_id": {"instrument": "KAST",
                                                             "detector": 0}}], 409)
    check("detector" in b["detail"], "the conflict names the data ID: %s" % b)
    # a data ID outside the type's dimensions, or a record that does not exist
    b = register(d, "KAST/raw", "raw", [{"data_id": {"instrument": "KAST", "exposure": 100,
                                                     "detector": 0, "visit": 3}}], 422)
    check(b.get("field", "").endswith("visit"), "names the extra key: %s" % b)
    b = register(d, "KAST/raw", "raw", [{"data_id": {"instrument": "KAST", "exposure": 999,
                                                     "detector": 0}}], 422)
    check("999" in b["detail"], "names the missing exposure: %s" % b)
    b = register(d, "KAST/raw", "nosuch", [{"data_id": {}}], 422)
    check("nosuch" in b["detail"], "names the unknown type: %s" % b)

    cert = {"collection": "KAST/calib", "dataset_type": "bias", "datasets": [b1],
            "begin": "2024-01-01T00:00:00Z", "end": "2024-02-01T00:00:00Z"}
    b = expect(d, "POST", "/v1/calibrations/certify", cert, 200, "certify b1")
    check(b["certified"] == 1, "one certified: %s" % b)
    over = dict(cert, datasets=[b2], begin="2024-01-20T00:00:00Z", end="2024-03-01T00:00:00Z")
    b = expect(d, "POST", "/v1/calibrations/certify", over, 409, "overlap")
    check(b1 in b["detail"] and "2024-01-01" in b["detail"] and "2024-02-01" in b["detail"],
          "the 409 names the certified dataset and its range: %s" % b)
    adj = dict(over, begin="2024-02-01T00:00:00Z")
    expect(d, "POST", "/v1/calibrations/certify", adj, 200, "adjacent range")
    b = expect(d, "POST", "/v1/calibrations/certify", dict(cert, dataset_type="raw"), 422,
               "not a calibration type")
    check("raw" in b["detail"], "names the type: %s" % b)
    con = db.sql("SELECT count(*) FROM pg_constraint WHERE conname = 'reg_calib_no_overlap'"
                 " AND contype = 'x'")
    check(con == "1", "the exclusion constraint exists")

    def lookup(expo, status, colls="KAST/calib"):
        return expect(d, "GET", q("/v1/calibrations/lookup", type="bias", collections=colls,
                                  instrument="KAST", detector="0", exposure=str(expo)), None,
                      status, "lookup %s" % expo)
    check(lookup(100, 200)["id"] == b1, "exposure 100 -> b1")
    check(lookup(103, 200)["id"] == b2, "exposure 103 -> b2")
    b = lookup(102, 409)
    check(b1 in b["detail"] and b2 in b["detail"] and "ambiguous" in b["detail"],
          "the straddling exposure is ambiguous, both named: %s" % b)
    b = expect(d, "GET", q("/v1/calibrations/lookup", type="bias", collections="KAST/calib",
                           instrument="KAST", detector="1", exposure="100"), None, 404,
               "no bias for detector 1")
    # decertify a window inside b1's range: split in two
    b = expect(d, "POST", "/v1/calibrations/decertify",
               {"collection": "KAST/calib", "dataset_type": "bias",
                "begin": "2024-01-10T00:00:00Z", "end": "2024-01-20T00:00:00Z"}, 200, "decertify")
    check(b == {"removed": 0, "trimmed": 0, "split": 1}, "one range split: %s" % b)
    rows = db.sql("SELECT lower(validity) || ' ' || upper(validity) FROM reg_calib k"
                  " JOIN reg_dataset d ON d.id = k.dataset_id WHERE k.dataset_id = '%s'"
                  " ORDER BY lower(validity)" % b1).splitlines()
    check(len(rows) == 2 and "2024-01-10" in rows[0] and "2024-01-20" in rows[1],
          "b1 valid before and after the window: %s" % rows)
    lookup(101, 404)  # in the hole
    # one dataset valid over two ranges that both overlap the span is one answer
    r = expect(d, "GET", q("/v1/calibrations/lookup", type="bias", collections="KAST/calib",
                           instrument="KAST", detector="0", begin="2024-01-05",
                           end="2024-01-25"), None, 200, "span over both of b1's ranges")
    check(r["id"] == b1, "b1 over both its ranges: %s" % r)
    check(lookup(100, 200)["id"] == b1, "before the hole still b1")
    g = expect(d, "GET", "/v1/datasets/" + b1, None, 200, "get b1")
    check(len(g["certifications"]) == 2, "two certifications listed: %s" % g)
    # decertify trimming the end of b2's range
    b = expect(d, "POST", "/v1/calibrations/decertify",
               {"collection": "KAST/calib", "dataset_type": "bias",
                "begin": "2024-02-20T00:00:00Z"}, 200, "decertify open end")
    check(b == {"removed": 0, "trimmed": 1, "split": 0}, "one range trimmed: %s" % b)
    return b1, b2


def test_chains(d, b1, b2):
    # two CALIBRATION collections with a bias valid over all time each, chained in order
    for name, ds in (("KAST/calib/A", b1), ("KAST/calib/B", b2)):
        expect(d, "POST", "/v1/calibrations/certify",
               {"collection": name, "dataset_type": "bias", "datasets": [ds]}, 200, name)
    b = expect(d, "PUT", "/v1/registry/collections",
               {"name": "KAST/calib/chain", "type": "CHAINED",
                "children": ["KAST/calib/A", "KAST/calib/B"]}, 201, "chain")
    check(b["children"] == ["KAST/calib/A", "KAST/calib/B"], "chain children: %s" % b)

    def lookup():
        st, _, r = d.request("GET", q("/v1/calibrations/lookup", type="bias",
                                      collections="KAST/calib/chain", instrument="KAST",
                                      detector="0", exposure="102"))
        check(st == 200, "chained lookup answered %s: %s" % (st, r))
        return r
    r = lookup()
    check(r["id"] == b1 and r["collection"] == "KAST/calib/A", "find-first picks A: %s" % r)
    expect(d, "PUT", "/v1/registry/collections",
           {"name": "KAST/calib/chain", "type": "CHAINED", "children": ["KAST/calib/B"],
            "mode": "prepend"}, 200, "prepend B")
    r = lookup()
    check(r["id"] == b2 and r["collection"] == "KAST/calib/B", "after prepend B wins: %s" % r)
    b = expect(d, "PUT", "/v1/registry/collections",
               {"name": "KAST/calib/A", "type": "CHAINED", "children": []}, 409, "type change")
    expect(d, "PUT", "/v1/registry/collections",
           {"name": "KAST/outer", "type": "CHAINED", "children": ["KAST/calib/chain"]}, 201,
           "outer")
    b = expect(d, "PUT", "/v1/registry/collections",
               {"name": "KAST/calib/chain", "type": "CHAINED", "children": ["KAST/outer"],
                "mode": "extend"}, 422, "cycle")
    check("cycle" in b["detail"], "a cycle is refused: %s" % b)
    b = expect(d, "PUT", "/v1/registry/collections",
               {"name": "KAST/x", "type": "CHAINED", "children": ["nope"]}, 404, "unknown child")
    check("nope" in b["detail"], "names the child: %s" % b)
    lst = expect(d, "GET", q("/v1/registry/collections", glob="KAST/outer", flatten="true"),
                 None, 200, "flatten")
    check(lst["items"][0]["flattened"] == ["KAST/calib/B", "KAST/calib/A"],
          "flattened chain in order: %s" % lst)
    # query-datasets find-first over a chain of RUNs
    register(d, "KAST/raw2", "raw",
             [{"data_id": {"instrument": "KAST", "exposure": 100, "detector": 0}}])
    expect(d, "PUT", "/v1/registry/collections",
           {"name": "KAST/raws", "type": "CHAINED", "children": ["KAST/raw2", "KAST/raw"]}, 201,
           "raw chain")
    r = expect(d, "GET", q("/v1/datasets", type="raw", collections="KAST/raws",
                           where="exposure = 100 AND detector = 0", find_first="true"), None,
               200, "find-first")
    check(len(r["items"]) == 1 and r["items"][0]["run"] == "KAST/raw2",
          "find-first keeps the first child's: %s" % r)
    r = expect(d, "GET", q("/v1/datasets", type="raw", collections="KAST/raws",
                           where="exposure = 100 AND detector = 0"), None, 200, "all")
    check(sorted(i["run"] for i in r["items"]) == ["KAST/raw", "KAST/raw2"],
          "without find-first both: %s" % r)
    r = expect(d, "GET", q("/v1/datasets", type="bias", collections="KAST/calib/chain"), None,
               200, "calibration collection listing")
    check(all(i["validity"] is not None for i in r["items"]), "validity shown: %s" % r)
    r = expect(d, "GET", q("/v1/datasets", type="bias", collections="KAST/calib/chain",
                           find_first="true"), None, 200, "find-first skips calibs")
    check(r["items"] == [], "find-first without a time skips CALIBRATION collections: %s" % r)


def test_tagged(d):
    def find(colls, ff="false"):
        return expect(d, "GET", q("/v1/datasets", type="raw", collections=colls,
                                  where="exposure = 100 AND detector = 0", find_first=ff), None,
                      200, "query " + colls)["items"]
    a = find("KAST/raw")[0]["id"]
    b = find("KAST/raw2")[0]["id"]
    r = expect(d, "POST", "/v1/registry/associate", {"collection": "KAST/tagged",
                                                     "datasets": [a]}, 200, "associate")
    check(r == {"collection": "KAST/tagged", "associated": 1}, "associated: %s" % r)
    r = expect(d, "POST", "/v1/registry/associate", {"collection": "KAST/tagged",
                                                     "datasets": [a]}, 200, "again")
    check(r["associated"] == 0, "tagging twice is a no-op: %s" % r)
    r = expect(d, "POST", "/v1/registry/associate", {"collection": "KAST/tagged",
                                                     "datasets": [b]}, 409, "same data ID")
    check(a in r["detail"] and b in r["detail"], "the 409 names both: %s" % r)
    expect(d, "POST", "/v1/registry/associate", {"collection": "KAST/raw", "datasets": [b]},
           422, "not TAGGED")
    items = find("KAST/tagged")
    check([i["id"] for i in items] == [a] and items[0]["collection"] == "KAST/tagged",
          "the tagged dataset is found there: %s" % items)
    expect(d, "PUT", "/v1/registry/collections",
           {"name": "KAST/tagchain", "type": "CHAINED", "children": ["KAST/tagged", "KAST/raw2"]},
           201, "chain over a TAGGED collection")
    check([i["id"] for i in find("KAST/tagchain", "true")] == [a], "find-first takes the tag")
    r = expect(d, "POST", "/v1/registry/associate", {"collection": "KAST/tagged",
                                                     "datasets": [a], "disassociate": True}, 200,
               "disassociate")
    check(r["disassociated"] == 1, "disassociated: %s" % r)
    check([i["id"] for i in find("KAST/tagchain", "true")] == [b], "then the run's")


def test_where_and_errors(d):
    def ds(where, status=200, **kw):
        p = dict(type="raw", collections="KAST/raw", where=where)
        p.update(kw)
        return expect(d, "GET", q("/v1/datasets", **p), None, status, "where " + where)
    r = ds("detector = 1 AND exposure IN (100, 101)")
    check(sorted(i["data_id"]["exposure"] for i in r["items"]) == [100, 101], "IN: %s" % r)
    r = ds("exposure.begin >= T'2024-01-15' AND exposure.obs_type = 'science' AND detector = 0")
    check(sorted(i["data_id"]["exposure"] for i in r["items"]) == [101, 102], "time: %s" % r)
    r = ds("exposure.timespan OVERLAPS (T'2024-02-01T00:00:00Z', T'2024-02-02') AND detector=0")
    check([i["data_id"]["exposure"] for i in r["items"]] == [102], "overlaps: %s" % r)
    r = ds("NOT (exposure NOT IN (103)) OR 100 > exposure")
    check({i["data_id"]["exposure"] for i in r["items"]} == {103}, "not in: %s" % r)
    r = ds("instrument = 'KAST''; DROP TABLE reg_dataset; --'")
    check(r["items"] == [], "a quote inside a literal is a value: %s" % r)
    r = ds("", limit="3")
    check(len(r["items"]) == 3 and r["truncated"], "limit and truncated: %s" % r)
    b = ds("visit = 3", 400)
    check("visit" in b["detail"] and b.get("field") == "where", "unknown field: %s" % b)
    b = ds("exposure = 3", 400, type="bias", collections="KAST/calib")
    check("exposure" in b["detail"] and "bias" in b["detail"], "dimension of type: %s" % b)
    b = ds("detector = ", 400)
    check("offset" in b["detail"], "syntax error says where: %s" % b)
    b = ds("detector = 'x'", 400)
    check("integer" in b["detail"], "type error: %s" % b)
    b = ds("", 400, type="nosuch")
    check("nosuch" in b["detail"] and b.get("field") == "type", "unknown type: %s" % b)
    b = ds("", 400, collections="KAST/raw,nowhere")
    check("nowhere" in b["detail"], "unknown collection: %s" % b)
    b = expect(d, "GET", q("/v1/datasets", collections="KAST/raw"), None, 400, "no type")
    b = expect(d, "GET", q("/v1/calibrations/lookup", type="nosuch", collections="KAST/calib",
                           instrument="KAST", exposure="100"), None, 400, "lookup unknown type")
    check("nosuch" in b["detail"], "lookup names the type: %s" % b)
    b = expect(d, "GET", q("/v1/calibrations/lookup", type="bias", collections="KAST/calib",
                           instrument="KAST", exposure="100"), None, 400, "lookup no detector")
    check("detector" in b["detail"], "lookup names the missing dimension: %s" % b)


def test_provenance_and_removal(d, b1):
    raw = expect(d, "GET", q("/v1/datasets", type="raw", collections="KAST/raw",
                             where="exposure = 103 AND detector = 0"), None, 200,
                 "raw 103")["items"][0]["id"]
    out = register(d, "KAST/proc", "calexp", [{
        "data_id": {"instrument": "KAST", "exposure": 103, "detector": 0},
        "files": [{"uri": "file:proc/calexp_103_0.fits", "size": 5760}],
        "provenance": {"job_id": "job-1", "software_version": "obsflow 0.1",
                       "parameters_digest": "sha256:ab", "inputs": [raw],
                       "references": [b1]}}])["ids"][0]
    g = expect(d, "GET", "/v1/datasets/" + out, None, 200, "get calexp")
    check(g["provenance"]["job_id"] == "job-1" and g["run"] == "KAST/proc", "provenance: %s" % g)
    check({(p["id"], p["role"]) for p in g["parents"]} == {(raw, "input"), (b1, "reference")},
          "parents (up): %s" % g["parents"])
    check(g["files"][0]["uri"] == "file:proc/calexp_103_0.fits", "files: %s" % g)
    g = expect(d, "GET", "/v1/datasets/" + raw, None, 200, "get raw")
    check([c["id"] for c in g["children"]] == [out], "children (down): %s" % g["children"])
    expect(d, "GET", "/v1/datasets/00000000-0000-7000-8000-000000000000", None, 404, "404")
    expect(d, "GET", "/v1/datasets/not-a-uuid", None, 400, "not a uuid")
    b = register(d, "KAST/proc", "calexp", [{
        "data_id": {"instrument": "KAST", "exposure": 100, "detector": 0},
        "provenance": {"inputs": ["00000000-0000-7000-8000-000000000001"]}}], 422)
    check("00000000-0000-7000-8000-000000000001" in b["detail"], "unknown input: %s" % b)
    # remove-runs
    b = expect(d, "POST", "/v1/registry/remove-runs", {"runs": ["KAST/raw"]}, 409, "refused")
    check(raw in b["detail"] and out in b["detail"], "names the input and its user: %s" % b)
    b = expect(d, "POST", "/v1/registry/remove-runs", {"runs": ["KAST/calib"]}, 422, "not RUN")
    check("CALIBRATION" in b["detail"], "a non-RUN is refused: %s" % b)
    expect(d, "POST", "/v1/registry/remove-runs", {"runs": ["nope"]}, 404, "unknown run")
    b = expect(d, "POST", "/v1/registry/remove-runs", {"runs": ["KAST/raw"], "force": True}, 200,
               "forced")
    check(b["removed"] == ["KAST/raw"] and b["datasets"] == 8, "removed: %s" % b)
    g = expect(d, "GET", "/v1/datasets/" + out, None, 200, "calexp after")
    check([p["id"] for p in g["parents"]] == [b1], "the input link is gone: %s" % g)
    lst = expect(d, "GET", q("/v1/registry/collections", glob="KAST/raws"), None, 200, "chain")
    check(lst["items"][0]["children"] == ["KAST/raw2"], "chain lost the run: %s" % lst)


def test_concurrent(d):
    exps = [exp(1000 + i, "2024-03-01T00:00:%02dZ" % (i % 60), "2024-03-01T00:01:00Z")
            for i in range(5000)]
    errors = []

    def worker(det):
        try:
            for k in range(0, 5000, 500):
                # both clients sync the same dimension records in each batch
                st, _, b = d.request("POST", "/v1/registry/dimensions",
                                     {"exposures": exps[k:k + 500][::1 if det else -1]})
                if st != 200:
                    errors.append("dimensions %s: %s" % (st, b))
                    return
                items = [{"data_id": {"instrument": "KAST", "exposure": 1000 + i,
                                      "detector": det},
                          "files": [{"uri": "file:c/%d_%d" % (i, det), "size": i}]}
                         for i in range(k, k + 500)]
                st, _, b = d.request("POST", "/v1/datasets", {"run": "KAST/concurrent",
                                                              "dataset_type": "raw",
                                                              "datasets": items})
                if st != 201:
                    errors.append("register %s: %s" % (st, b))
                    return
        except Exception as ex:  # noqa: BLE001 - reported below
            errors.append(repr(ex))
    ts = [threading.Thread(target=worker, args=(det,)) for det in (0, 1)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    check(not errors, "concurrent registration failed: %s" % errors[:3])
    lst = expect(d, "GET", q("/v1/registry/collections", glob="KAST/concurrent"), None, 200,
                 "run")
    check(lst["items"][0]["datasets"] == 10000, "10,000 datasets: %s" % lst)


def cli(d, *args, ok=True):
    env = dict(os.environ, OBSFLOW_URL="http://" + d.addr, OBSFLOW_API_TOKEN=TOKEN)
    p = subprocess.run([os.path.join(BIN_DIR, "obsflow"), "registry"] + list(args),
                       capture_output=True, text=True, env=env, timeout=60)
    if ok:
        check(p.returncode == 0, "obsflow registry %s exited %d: %s %s" % (
            " ".join(args), p.returncode, p.stdout, p.stderr))
    return p


def test_cli(d):
    table = os.path.join(TMP, "ingest.tsv")
    with open(table, "w") as f:
        f.write("file:cli/a.fits\tinstrument=KAST,exposure=100,detector=1\t2880\tmd5:aa\n")
        f.write("file:cli/b.fits\tinstrument=KAST,exposure=101,detector=1\n")
    p = cli(d, "ingest-files", "raw", "KAST/cli", table)
    check("2 " in p.stdout, "ingest-files reports 2: %s" % p.stdout)
    p = cli(d, "query-datasets", "raw", "--collections", "KAST/cli", "--where", "exposure = 101")
    check("KAST/cli" in p.stdout and "exposure=101" in p.stdout, "query-datasets: %s" % p.stdout)
    p = cli(d, "query-datasets", "raw", "--collections", "KAST/cli", "--json")
    check(len(json.loads(p.stdout)["items"]) == 2, "--json: %s" % p.stdout)
    p = cli(d, "query-datasets", "nosuch", "--collections", "KAST/cli", ok=False)
    check(p.returncode != 0 and "nosuch" in p.stderr, "error on stderr: %s" % p.stderr)
    b = register(d, "KAST/cli/calib", "bias",
                 [{"data_id": {"instrument": "KAST", "detector": 1}}])["ids"][0]
    p = cli(d, "certify-calibrations", "KAST/cli/calib", "KAST/cli/cal", "bias",
            "--begin-date", "2024-01-01", "--end-date", "2024-06-01")
    check("1 " in p.stdout, "certify-calibrations: %s" % p.stdout)
    p = cli(d, "certify-calibrations", "KAST/cli/calib", "KAST/cli/cal", "bias",
            "--begin-date", "2024-05-01", ok=False)
    check(p.returncode != 0 and b in p.stderr, "overlap names the dataset: %s" % p.stderr)
    p = cli(d, "decertify", "KAST/cli/cal", "bias", "--begin-date", "2024-02-01",
            "--end-date", "2024-03-01")
    check("split 1" in p.stdout, "decertify: %s" % p.stdout)
    cli(d, "collection-chain", "KAST/cli/chain", "KAST/cli/cal", "KAST/cli")
    p = cli(d, "query-collections", "KAST/cli*")
    check("KAST/cli/chain" in p.stdout and "CHAINED" in p.stdout, "query-collections: %s"
          % p.stdout)
    p = cli(d, "query-collections", "KAST/cli/chain", "--chains", "flatten")
    check("KAST/cli/cal" in p.stdout, "flattened: %s" % p.stdout)
    cli(d, "collection-chain", "KAST/cli/chain", "KAST/cli", "--mode", "remove")
    p = cli(d, "query-collections", "KAST/cli/chain", "--json")
    check(json.loads(p.stdout)["items"][0]["children"] == ["KAST/cli/cal"], "remove mode: %s"
          % p.stdout)
    p = cli(d, "find-calibration", "bias", "--collections", "KAST/cli/cal", "instrument=KAST",
            "detector=1", "exposure=100")
    check(p.stdout.startswith(b) and "[2024-01-01" in p.stdout, "find-calibration: %s" % p.stdout)
    p = cli(d, "find-calibration", "bias", "--collections", "KAST/cli/cal", "instrument=KAST",
            "detector=1", "--begin-date", "2024-02-05", "--end-date", "2024-02-10", ok=False)
    check(p.returncode == 4 and "bias" in p.stderr, "nothing in the hole: %s" % p.stderr)
    q1 = json.loads(cli(d, "query-datasets", "raw", "--collections", "KAST/cli", "--where",
                        "exposure = 100", "--json").stdout)["items"][0]["id"]
    p = cli(d, "associate", "KAST/cli/tag", q1)
    check(p.stdout.startswith("1 associated"), "associate: %s" % p.stdout)
    p = cli(d, "associate", "KAST/cli/tag", q1, "--disassociate")
    check(p.stdout.startswith("1 disassociated"), "disassociate: %s" % p.stdout)
    p = cli(d, "remove-runs", "KAST/cli")
    check("KAST/cli" in p.stdout, "remove-runs: %s" % p.stdout)


def test_times_without_offset():
    """A time without an offset is UTC whatever the database's TimeZone says."""
    db = Database("regtz")
    try:
        db.sql("ALTER DATABASE %s SET timezone TO 'America/Los_Angeles'" % db.name)
        d = Daemon(db.url, name="registry-tz", workers=0)
        expect(d, "POST", "/v1/registry/dimensions", {
            "instruments": [{"name": "TZ"}],
            "exposures": [{"instrument": "TZ", "id": 1, "begin": "2024-03-01T00:00",
                           "end": "2024-03-01T00:01:00"}]}, 200, "zone-less exposure")
        got = db.sql("SELECT to_char(lower(timespan) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI')"
                     " FROM reg_exposure WHERE instrument = 'TZ'")
        check(got == "2024-03-01 00:00", "a zone-less time is stored as UTC: %s" % got)
        d.stop()
    finally:
        db.drop()


def run(db):
    d = Daemon(db.url, name="registry", workers=0, token=TOKEN)
    st, _, _ = d.request("POST", "/v1/datasets", {}, auth=False)
    check(st == 401, "writes need the token")
    setup(d)
    b1, b2 = test_calibrations(d, db)
    test_chains(d, b1, b2)
    test_tagged(d)
    test_where_and_errors(d)
    test_provenance_and_removal(d, b1)
    test_concurrent(d)
    test_times_without_offset()
    if os.environ.get("REG_TEST_NO_CLI") is None:
        test_cli(d)
    d.stop()


if __name__ == "__main__":
    main(run, "registry")
