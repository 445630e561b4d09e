#!/usr/bin/env python3
"""test_repo_crash.py - kill -9 obsflowd during a burst of CAOM repository writes, twice, and
restart it on the same database each time.

Sixteen client threads share 200 observations built from one shared document (the CAOM-2.3
HST sample, 28 entities; own observationID, fresh UUIDs chosen by the client) and drive each to its final state the way
caom2pipe / caom2repo clients do: GET; 404 -> PUT (409 -> again from GET); 200 -> set the
proposal PI to a marker and POST with If-Match (412 -> again from GET); connection errors and
503 -> wait and retry. obsflowd is killed with SIGKILL mid-burst (after 30, 100 and 160
observations are done) and restarted on the same database; the clients carry on.

At the end every observation is listed exactly once, holds the UUIDs its client chose, carries
the marker, parses, and its list row agrees with its GET (accMetaChecksum, maxLastModified);
nothing appears in /deletions; no request got a status other than 200/404/409/412/503.

SPDX-License-Identifier: Apache-2.0
"""
import http.client
import os
import re
import sys
import threading
import time
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "api"))
from apitest import check, main  # noqa: E402
from test_repo_api import (CAOM_DATA, NS24, cattr, deletion_rows, fresh_ids, get_doc,  # noqa: E402
                           list_rows, opath, rename, req, show, start, walk_entities)

N = 200
THREADS = 16
COLL = "CRASH"
KILL_AT = (30, 100, 160)  # kill -9 when this many observations are done
SOURCE = "caom2tools/SampleSimple-CAOM-2.3.xml"  # 28 KB, 28 entities, CAOM-2.3 on input


def marker(oid):
    return "updated-" + oid


def run(db):
    raw = open(os.path.join(CAOM_DATA, SOURCE), "rb").read()
    oids = ["crash-%03d" % i for i in range(N)]
    docs = {}
    for oid in oids:
        body = fresh_ids(rename(raw, collection=COLL, obs_id=oid))
        docs[oid] = (body, re.findall(r'\bcaom2:id="([^"]*)"', body.decode()))
    d = start(db.url, "repo_crash", "*")
    lock = threading.Lock()
    done = set()
    errors = []
    stats = {"put": 0, "post": 0, "409": 0, "412": 0, "503": 0, "conn": 0}
    odd = []  # statuses outside 200/404/409/412/503
    deadline = time.time() + 300

    def count(k):
        with lock:
            stats[k] += 1

    def unexpected(what, st, b):
        with lock:
            odd.append("%s -> %s %s" % (what, st, show(b, 120)))

    def finish(oid):
        body, ids = docs[oid]
        path = opath(COLL, oid)
        for _ in range(500):
            if time.time() > deadline:
                errors.append("%s: not finished before the deadline" % oid)
                return
            try:
                st, hd, b = req(d, "GET", path)
                if st == 404:
                    st, _, b = req(d, "PUT", path, body, {"Content-Type": "text/xml"})
                    if st == 200:
                        count("put")
                    elif st == 409:
                        count("409")  # our earlier PUT committed but its answer was lost
                    elif st == 503:
                        count("503")
                        time.sleep(0.1)
                    else:
                        unexpected("PUT " + oid, st, b)
                        time.sleep(0.1)
                    continue
                if st == 503:
                    count("503")
                    time.sleep(0.1)
                    continue
                if st != 200:
                    unexpected("GET " + oid, st, b)
                    time.sleep(0.1)
                    continue
                try:
                    root = ET.fromstring(b)
                except ET.ParseError as e:
                    errors.append("%s: served document does not parse: %s" % (oid, e))
                    return
                if cattr(root, "id") != ids[0]:
                    errors.append("%s: stored observation UUID %s, the client chose %s" %
                                  (oid, cattr(root, "id"), ids[0]))
                    return
                pi = root.find("{%s}proposal/{%s}pi" % (NS24, NS24))
                if pi is None:
                    errors.append("%s: served document has no proposal/pi" % oid)
                    return
                if pi.text == marker(oid):
                    with lock:
                        done.add(oid)
                    return
                pi.text = marker(oid)
                st, _, b = req(d, "POST", path, ET.tostring(root, encoding="utf-8",
                                                            xml_declaration=True),
                               {"Content-Type": "text/xml", "If-Match": hd.get("etag", "")})
                if st == 200:
                    count("post")
                elif st == 412:
                    count("412")
                elif st == 503:
                    count("503")
                    time.sleep(0.1)
                else:
                    unexpected("POST " + oid, st, b)
                    time.sleep(0.1)
            except (OSError, http.client.HTTPException):
                count("conn")
                time.sleep(0.05)
        errors.append("%s: not finished after 500 rounds" % oid)

    def client(k):
        for oid in oids[k::THREADS]:
            try:
                finish(oid)
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append("%s: %s: %s" % (oid, type(e).__name__, e))

    ts = [threading.Thread(target=client, args=(k,)) for k in range(THREADS)]
    t0 = time.time()
    for t in ts:
        t.start()
    try:
        kills = 0
        for at in KILL_AT:
            while len(done) < at and any(t.is_alive() for t in ts) and time.time() < deadline:
                time.sleep(0.005)
            if len(done) >= N or not any(t.is_alive() for t in ts):
                break
            d.kill9()
            kills += 1
            print("kill -9 #%d at %.2f s with %d of %d observations done (%s)" %
                  (kills, time.time() - t0, len(done), N, dict(stats)), flush=True)
            time.sleep(0.3)
            d.start()
            print("restarted after %.2f s" % (time.time() - t0), flush=True)
        for t in ts:
            t.join(max(1, deadline - time.time()))
        check(not any(t.is_alive() for t in ts), "clients still running at the deadline")
        print("clients finished in %.1f s: %s" % (time.time() - t0, stats), flush=True)
        check(kills == len(KILL_AT), "only %d kill(s) happened mid-burst (the burst ended "
              "first); the test did not exercise the crash" % kills)
        check(not errors, "%d client errors: %s" % (len(errors), errors[:10]))
        check(len(done) == N, "%d of %d observations reached their final state" % (len(done), N))

        rows = list_rows(d, COLL)
        listed = [r[1] for r in rows]
        dup = sorted({x for x in listed if listed.count(x) > 1})
        check(not dup, "observations listed more than once: %s" % dup[:10])
        check(sorted(listed) == sorted(oids), "list has %d rows; missing %s, extra %s" %
              (len(rows), sorted(set(oids) - set(listed))[:10], sorted(set(listed) - set(oids))[:10]))
        by_id = {r[1]: r for r in rows}
        for oid in oids:
            root, etag, _ = get_doc(d, COLL, oid, "final")
            ents = walk_entities(root)
            check(sorted(ents) == sorted(docs[oid][1]),
                  "%s: stored entity UUIDs %s, the client chose %s" %
                  (oid, sorted(ents), sorted(docs[oid][1])))
            check(cattr(root, "id") == docs[oid][1][0], "%s: observation UUID %s, chose %s" %
                  (oid, cattr(root, "id"), docs[oid][1][0]))
            pi = root.find("{%s}proposal/{%s}pi" % (NS24, NS24))
            check(pi is not None and pi.text == marker(oid), "%s: update lost (pi %r)" %
                  (oid, None if pi is None else pi.text))
            r = by_id[oid]
            check(r[3] == etag and r[2] == cattr(root, "maxLastModified"),
                  "%s: list row %s disagrees with GET (ETag %s, maxLastModified %s)" %
                  (oid, r, etag, cattr(root, "maxLastModified")))
        check(deletion_rows(d, COLL) == [], "deletions appeared: %s" % deletion_rows(d, COLL)[:5])
        check(not odd, "%d unexpected statuses (only 200/404/409/412/503 are allowed): %s" %
              (len(odd), odd[:10]))
        check(d.stop() == 0, "clean exit after the restarts")
        print("%d observations stored once each with the clients' UUIDs after %d kill(s)" %
              (N, kills))
    except AssertionError:
        d.dump_log()
        d.stop()
        raise
    finally:
        deadline = 0  # let the clients give up if we failed early (they read it late-bound)
        for t in ts:
            t.join(30)


if __name__ == "__main__":
    main(run, "repo_crash")
