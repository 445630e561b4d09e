#!/usr/bin/env python3
"""test_api_routes.py - every route of the real obsflowd (port 0, fresh database, bearer token
set): happy paths, bad input for every route, idempotency, auth, 404/405, the problem+json
shape, JSON logs with request_id/job_id, and `promtool check metrics` on /metrics.

SPDX-License-Identifier: Apache-2.0
"""
import http.client
import socket
import json
import os
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from apitest import Daemon, check, fail, main, wait_until  # noqa: E402

TOKEN = "s3cret-token"
NOT_THERE = "0b7c6a2e-1f3d-4c5b-9a8e-7d6c5b4a3f21"
checks = 0


def expect(d, method, path, status, body=None, field=None, code=None, headers=None, auth=True,
           raw_body=None):
    """One request that must fail (or succeed) with @status; problem+json checked on errors."""
    global checks
    checks += 1
    b = raw_body if raw_body is not None else body
    if isinstance(b, (str, bytes)) and b and "Content-Type" not in (headers or {}):
        # a body must be declared JSON (issue 9: 415 otherwise); these check what is inside
        headers = dict(headers or {}, **{"Content-Type": "application/json"})
    st, hd, doc = d.request(method, path, b, headers=headers, auth=auth)
    check(st == status, "%s %s: status %s, expected %s: %s" % (method, path, st, status, doc))
    if status >= 400:
        check(hd.get("content-type") == "application/problem+json",
              "%s %s: content-type %s" % (method, path, hd.get("content-type")))
        for k in ("type", "title", "status", "code", "detail", "request_id"):
            check(k in doc, "%s %s: problem lacks %s: %s" % (method, path, k, doc))
        check(doc["status"] == status, "problem status %s != %s" % (doc["status"], status))
        if field is not None:
            check(doc.get("field") == field, "%s %s: field %r, expected %r (%s)" %
                  (method, path, doc.get("field"), field, doc))
        if code is not None:
            check(doc["code"] == code, "%s %s: code %r, expected %r" % (method, path, doc["code"], code))
    return st, hd, doc


def wait_state(d, jid, states, timeout=30):
    return wait_until(lambda: d.job(jid) if d.job(jid)["state"] in states else None, timeout,
                      "job %s to reach %s" % (jid, states))


def happy(d):
    for p in ("/livez", "/readyz"):
        st, hd, doc = d.request("GET", p)
        check(st == 200 and doc == {"status": "ok"}, "%s: %s %s" % (p, st, doc))
    st, hd, body = d.request("HEAD", "/livez")
    check(st == 200, "HEAD /livez: %s" % st)
    st, hd, body = d.request("GET", "/openapi.yaml")
    check(st == 200 and body.startswith(b"openapi: 3"), "openapi.yaml: %s" % st)
    check("yaml" in hd["content-type"], "openapi content type %s" % hd["content-type"])

    # one job: 202 + Location, then it runs to succeeded
    st, hd, job = d.request("POST", "/v1/jobs", {"kind": "noop", "params": {"sleep_ms": 1}},
                            headers={"X-Request-Id": "req-happy-1"})
    check(st == 202, "POST one: %s %s" % (st, job))
    check(hd.get("location") == "/v1/jobs/" + job["id"], "Location %s" % hd.get("location"))
    check(hd.get("x-request-id") == "req-happy-1", "X-Request-Id not echoed: %s" % hd)
    check(job["kind"] == "noop" and job["queue"] == "default" and job["priority"] == 5 and
          job["max_attempts"] == 5, "defaults: %s" % job)
    first = job["id"]
    done = wait_state(d, first, ("succeeded",))
    check(done["attempts"] == 1 and done["finished_at"], "finished job: %s" % done)
    st, _, ev = d.request("GET", "/v1/jobs/%s/events" % first)
    check(st == 200 and ev["items"] and ev["items"][-1]["state"] == "succeeded", "events: %s" % ev)
    check(sum(1 for e in ev["items"] if e["state"] == "succeeded") == 1, "one succeeded event")

    # an array, all accepted, in order
    specs = [{"kind": "noop", "queue": "q2", "priority": p, "params": {"sleep_ms": 0}}
             for p in (1, 2, 3)]
    st, hd, jobs = d.request("POST", "/v1/jobs", specs)
    check(st == 202 and isinstance(jobs, list) and len(jobs) == 3, "POST array: %s %s" % (st, jobs))
    check([j["priority"] for j in jobs] == [1, 2, 3], "order kept: %s" % jobs)
    check(hd["location"] == "/v1/jobs/" + jobs[0]["id"], "array Location")

    # list: filters and cursor pagination over all three
    st, _, page = d.request("GET", "/v1/jobs?queue=q2&limit=2")
    check(st == 200 and len(page["items"]) == 2 and page["next_cursor"], "page 1: %s" % page)
    st, _, page2 = d.request("GET", "/v1/jobs?queue=q2&limit=2&cursor=" + page["next_cursor"])
    check(st == 200 and len(page2["items"]) == 1 and page2["next_cursor"] is None, "page 2: %s" % page2)
    seen = {j["id"] for j in page["items"] + page2["items"]}
    check(seen == {j["id"] for j in jobs}, "pages cover the batch exactly")
    st, _, page = d.request("GET", "/v1/jobs?kind=noop&limit=500")
    check(st == 200 and len(page["items"]) == 4, "kind filter: %d" % len(page["items"]))
    wait_until(lambda: all(d.job(j["id"])["state"] == "succeeded" for j in jobs), 30, "batch done")
    st, _, page = d.request("GET", "/v1/jobs?state=succeeded&queue=q2")
    check(st == 200 and len(page["items"]) == 3, "state filter: %s" % page)

    # parent / children
    child = d.submit({"kind": "noop", "parent_id": first})
    st, _, page = d.request("GET", "/v1/jobs?parent=" + first)
    check(st == 200 and [j["id"] for j in page["items"]] == [child["id"]], "parent filter: %s" % page)
    check(d.job(first)["children"]["total"] == 1, "children count: %s" % d.job(first))

    # run_at: RFC 3339 offsets up to 23:59 (PostgreSQL alone refuses past 15:59) and a space
    # for the T are read by the one reader and stored as the UTC instant
    for given, utc in (("2099-01-01T00:00:00+18:00", "2098-12-31T06:00:00.000000Z"),
                       ("2099-01-01 00:00:00.5-23:59", "2099-01-01T23:59:00.500000Z")):
        j = d.submit({"kind": "noop", "run_at": given})
        check(j["run_at"] == utc, "run_at %s is %s, expected %s" % (given, j["run_at"], utc))
        check(d.job(j["id"])["run_at"] == utc, "stored run_at of %s: %s" % (given, d.job(j["id"])))
        d.request("POST", "/v1/jobs/%s/cancel" % j["id"])

    # cancel a queued job (run_at in the future), cancel again, retry it
    later = d.submit({"kind": "noop", "run_at": "2099-01-01T00:00:00Z"})
    st, _, j = d.request("POST", "/v1/jobs/%s/cancel" % later["id"])
    check(st == 200 and j["state"] == "cancelled", "cancel queued: %s %s" % (st, j))
    st, _, j = d.request("POST", "/v1/jobs/%s/cancel" % later["id"], {})
    check(st == 200 and j["state"] == "cancelled", "cancel twice: %s %s" % (st, j))
    st, _, j = d.request("POST", "/v1/jobs/%s/retry" % later["id"])
    check(st == 200 and j["state"] in ("queued", "running", "succeeded"), "retry cancelled: %s %s" % (st, j))

    # cancelling a parent cancels what it fanned out: the waiting child at once, the running
    # one (and its own child) through its worker
    parent = d.submit({"kind": "noop", "run_at": "2099-01-01T00:00:00Z"})
    waiting = d.submit({"kind": "noop", "run_at": "2099-01-01T00:00:00Z",
                        "parent_id": parent["id"]})
    busy = d.submit({"kind": "noop", "params": {"sleep_ms": 60000}, "parent_id": parent["id"]})
    grand = d.submit({"kind": "noop", "run_at": "2099-01-01T00:00:00Z", "parent_id": busy["id"]})
    wait_state(d, busy["id"], ("running",))
    st, _, j = d.request("POST", "/v1/jobs/%s/cancel" % parent["id"])
    check(st == 200 and j["state"] == "cancelled", "cancel parent: %s %s" % (st, j))
    check(d.job(waiting["id"])["state"] == "cancelled", "waiting child: %s" % d.job(waiting["id"]))
    check(d.job(grand["id"])["state"] == "cancelled", "grandchild: %s" % d.job(grand["id"]))
    b = wait_state(d, busy["id"], ("cancelled",))
    check(b["state"] == "cancelled", "running child: %s" % b)
    ev = d.request("GET", "/v1/jobs/%s/events" % waiting["id"])[2]
    check(any(e.get("message") == "cancelled with its parent" for e in ev.get("items", ev)
              if isinstance(e, dict)), "the child's event says why: %s" % ev)

    # a failing job ends failed after max_attempts, retry brings it back
    bad = d.submit({"kind": "noop", "max_attempts": 1, "params": {"fail_times": 3}})
    f = wait_state(d, bad["id"], ("failed",))
    check(f["error"] and f["error"]["code"], "failed job has an error: %s" % f)
    st, _, j = d.request("POST", "/v1/jobs/%s/retry" % bad["id"])
    check(st == 200 and j["state"] in ("queued", "running", "failed") and j["attempts"] in (0, 1),
          "retry failed: %s %s" % (st, j))

    # a running job gets a cancellation request (202) and ends cancelled
    slow = d.submit({"kind": "noop", "params": {"sleep_ms": 20000}})
    wait_state(d, slow["id"], ("running",))
    st, _, j = d.request("POST", "/v1/jobs/%s/cancel" % slow["id"])
    check(st == 202 and j.get("cancel_requested") is True, "cancel running: %s %s" % (st, j))
    wait_state(d, slow["id"], ("cancelled",), timeout=30)

    # finished jobs: 409 on cancel, 409 on retry of a succeeded job
    expect(d, "POST", "/v1/jobs/%s/cancel" % first, 409, code="conflict")
    expect(d, "POST", "/v1/jobs/%s/retry" % first, 409, code="conflict")
    return first


def idempotency(d):
    spec = {"kind": "noop", "params": {"sleep_ms": 0}}
    st, hd, a = d.request("POST", "/v1/jobs", spec, headers={"Idempotency-Key": "key-1"})
    check(st == 202 and "idempotent-replayed" not in hd, "first keyed POST: %s %s" % (st, hd))
    st, hd, b = d.request("POST", "/v1/jobs", spec, headers={"Idempotency-Key": "key-1"})
    check(st == 202 and b["id"] == a["id"], "replay returns the original job: %s vs %s" % (a, b))
    check(hd.get("idempotent-replayed") == "true", "replay header: %s" % hd)
    expect(d, "POST", "/v1/jobs", 422, {"kind": "noop", "params": {"sleep_ms": 5}},
           field="Idempotency-Key", headers={"Idempotency-Key": "key-1"})
    st, _, page = d.request("GET", "/v1/jobs?limit=500")
    check(sum(1 for j in page["items"] if j["id"] == a["id"]) == 1, "one job for the key")
    expect(d, "POST", "/v1/jobs", 400, spec, field="Idempotency-Key",
           headers={"Idempotency-Key": "k" * 300})


def bad_input(d, first):
    J = "/v1/jobs"
    # POST /v1/jobs
    expect(d, "POST", J, 400, raw_body='{"kind": "noop",', field="body", code="parse")
    expect(d, "POST", J, 400, raw_body="", field="body")
    expect(d, "POST", J, 422, {"kind": 7}, field="kind", code="invalid")
    expect(d, "POST", J, 422, {"kind": "noop", "priority": "high"}, field="priority")
    expect(d, "POST", J, 422, {"kind": "noop", "priority": 12}, field="priority")
    expect(d, "POST", J, 422, {"kind": "noop", "max_attempts": 0}, field="max_attempts")
    expect(d, "POST", J, 422, {"kind": "noop", "params": [1]}, field="params")
    expect(d, "POST", J, 422, {"kind": "noop", "params": {"sleep_ms": "x"}}, field="params.sleep_ms")
    expect(d, "POST", J, 422, {"kind": "noop", "run_at": "soon"}, field="run_at")
    expect(d, "POST", J, 422, {"kind": "noop", "queue": "has space"}, field="queue")
    expect(d, "POST", J, 422, {"kind": "noop", "colour": "red"}, field="colour")
    expect(d, "POST", J, 422, {"kind": "no_such_kind"}, field="kind", code="invalid")
    # only the kinds this obsflowd runs (noop, dataset, ingest, collection)
    _, _, doc = expect(d, "POST", J, 422, {"kind": "harvest"}, field="kind", code="invalid")
    check("harvest" in doc.get("detail", ""), "the refused kind is named: %s" % doc)
    # a collection job names its collection
    expect(d, "POST", J, 422, {"kind": "collection"}, field="params", code="invalid")
    expect(d, "POST", J, 422, {"kind": "collection", "params": {"collection": "a b"}},
           field="params.collection", code="invalid")
    expect(d, "POST", J, 422, [{"kind": "noop"}, {"kind": "sleep"}], field="[1].kind",
           code="invalid")
    # each kind's params at submit time, with the validator its worker runs
    expect(d, "POST", J, 422, {"kind": "noop", "params": {"sleeep": 1}}, field="params.sleeep")
    expect(d, "POST", J, 422, [{"kind": "noop"}, {"kind": "noop", "params": {"fail_times": 101}}],
           field="[1].params.fail_times")
    expect(d, "POST", J, 422, {"kind": "dataset", "params": {}}, field="params.dataset")
    expect(d, "POST", J, 422, [{"kind": "noop"}, {"kind": "ingest", "params": {"uris": []}}],
           field="[1].params.uris")
    # RFC 3339 as the one reader reads it: a day that does not exist, a 24:00 offset
    expect(d, "POST", J, 422, {"kind": "noop", "run_at": "2026-02-30T00:00:00Z"}, field="run_at")
    expect(d, "POST", J, 422, {"kind": "noop", "run_at": "2026-01-01T00:00:00+24:00"},
           field="run_at")
    expect(d, "POST", J, 422, {"kind": "noop", "parent_id": "nope"}, field="parent_id")
    expect(d, "POST", J, 422, [{"kind": "noop"}, {"kind": "noop", "priority": -1}], field="[1].priority")
    expect(d, "POST", J, 422, [], field="body")
    expect(d, "POST", J, 422, "\"noop\"", field="body")
    expect(d, "POST", J, 413, [{"kind": "noop"}] * 1001, field="body", code="too_large")
    expect(d, "POST", J, 413, raw_body=json.dumps({"kind": "noop", "params": {"x": "y" * 9000}}))
    expect(d, "POST", J, 413, raw_body="[" * 40 + "]" * 40, code="too_large")
    # Content-Length over the cap: answered from the headers, before any of the body is read
    global checks
    checks += 1
    sock = socket.create_connection(("127.0.0.1", d.port), timeout=30)
    sock.sendall(b"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + TOKEN.encode() +
                 b"\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n[" % (2 << 20))
    head = sock.recv(4096).decode("latin-1")
    sock.close()
    check(head.startswith("HTTP/1.1 413"), "Content-Length over the cap: %r" % head[:80])
    check("too_large" in head, "413 body names too_large: %r" % head)
    expect(d, "POST", J, 415, raw_body='{"kind":"noop"}', headers={"Content-Type": "text/plain"},
           field="Content-Type", code="unsupported")
    expect(d, "POST", J, 401, {"kind": "noop"}, auth=False, field="Authorization", code="unauthorized")
    st, hd, _ = expect(d, "POST", J, 401, {"kind": "noop"},
                       headers={"Authorization": "Bearer wrong"}, code="unauthorized")
    check(hd.get("www-authenticate", "").startswith("Bearer"), "WWW-Authenticate: %s" % hd)
    expect(d, "POST", J, 401, {"kind": "noop"}, headers={"Authorization": "Basic eDp5"})
    # all or nothing, also when only the database can tell (a parent that does not exist)
    st, _, doc = expect(d, "POST", J, 422, [{"kind": "noop", "queue": "aon"},
                                             {"kind": "noop", "queue": "aon", "parent_id": NOT_THERE}])
    check("parent" in doc.get("field", ""), "the missing parent is named: %s" % doc)
    st, _, page = d.request("GET", "/v1/jobs?queue=aon")
    check(st == 200 and page["items"] == [], "no job of a refused batch is stored: %s" % page)
    # nothing of the refused bodies was inserted
    st, _, page = d.request("GET", "/v1/jobs?kind=no_such_kind")
    check(st == 200 and page["items"] == [], "refused jobs not stored")

    # chunked upload over the cap: refused while streaming
    c = d.conn()
    c.putrequest("POST", J)
    c.putheader("Authorization", "Bearer " + TOKEN)
    c.putheader("Content-Type", "application/json")
    c.putheader("Transfer-Encoding", "chunked")
    c.endheaders()
    chunk = b"[" + b" " * 65535
    try:
        for _ in range(20):
            c.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            chunk = b" " * 65536
        c.send(b"1\r\n]\r\n0\r\n\r\n")
        r = c.getresponse()
        check(r.status == 413, "chunked oversize: %s" % r.status)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server may close while we still send: also a refusal
    finally:
        c.close()

    # a refused upload that goes on and on is cut off (8 MiB of it read), not drained forever
    c = d.conn()
    c.putrequest("POST", J)
    c.putheader("Authorization", "Bearer " + TOKEN)
    c.putheader("Content-Type", "application/json")
    c.putheader("Transfer-Encoding", "chunked")
    c.endheaders()
    chunk = b" " * 65536
    cut = False
    try:
        for _ in range(512):  # 32 MiB
            c.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        c.send(b"0\r\n\r\n")
        c.getresponse().read()
    except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
        cut = True
    finally:
        c.close()
    check(cut, "a 32 MiB refused upload was read to the end")

    # GET /v1/jobs/{id}
    expect(d, "GET", J + "/not-a-uuid", 400, field="id", code="parse")
    expect(d, "GET", J + "/" + NOT_THERE, 404, code="not_found")
    expect(d, "GET", J + "/%s?verbose=1" % first, 400, field="verbose")
    # GET /v1/jobs
    expect(d, "GET", J + "?cursor=garbage!!", 400, field="cursor", code="parse")
    expect(d, "GET", J + "?state=sleeping", 422, field="state")
    expect(d, "GET", J + "?limit=0", 422, field="limit")
    expect(d, "GET", J + "?limit=abc", 422, field="limit")
    expect(d, "GET", J + "?parent=xyz", 400, field="parent")
    expect(d, "GET", J + "?sort=asc", 400, field="sort")
    expect(d, "GET", J + "?state=queued&state=running", 400, field="state")
    # GET /v1/jobs/{id}/events
    expect(d, "GET", J + "/123/events", 400, field="id")
    expect(d, "GET", J + "/%s/events" % NOT_THERE, 404)
    # POST cancel / retry
    for action in ("cancel", "retry"):
        p = J + "/%s/" + action
        expect(d, "POST", p % "zzz", 400, field="id")
        expect(d, "POST", p % NOT_THERE, 404)
        expect(d, "POST", p % first, 401, auth=False)
        expect(d, "POST", p % first, 422, {"force": True}, field="force")
        expect(d, "POST", p % first, 400, raw_body="{oops", field="body")
        expect(d, "POST", p % first, 413, raw_body="{" + " " * 5000 + "}")
        expect(d, "GET", p % first, 405)
    # unknown routes, wrong methods
    expect(d, "GET", "/v2/jobs", 404, code="not_found")
    expect(d, "GET", "/ui/nope.js", 404, code="not_found")
    expect(d, "POST", "/", 405, code="method_not_allowed")
    expect(d, "GET", J + "/", 404)
    st, hd, _ = expect(d, "DELETE", J, 405, code="method_not_allowed")
    check(hd.get("allow") == "POST, GET, HEAD", "Allow: %s" % hd.get("allow"))
    st, hd, _ = expect(d, "PUT", J + "/" + first, 405)
    check(hd.get("allow") == "GET, HEAD", "Allow: %s" % hd.get("allow"))
    expect(d, "POST", "/livez", 405)
    expect(d, "PATCH", "/metrics", 405)


def metrics_and_logs(d):
    st, hd, body = d.request("GET", "/metrics")
    check(st == 200 and hd["content-type"].startswith("text/plain"), "metrics: %s" % st)
    text = body.decode()
    p = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True)
    check(p.returncode == 0, "promtool check metrics failed:\n%s%s" % (p.stdout.decode(), p.stderr.decode()))
    for needle in ('obsflow_http_requests_total{method="GET",route="/v1/jobs/{id}",code="200"}',
                   'obsflow_http_requests_total{method="POST",route="/v1/jobs",code="202"}',
                   'obsflow_http_requests_total{method="DELETE",route="/v1/jobs",code="405"}',
                   'obsflow_http_request_duration_seconds_bucket{method="POST",route="/v1/jobs",code="422",le="+Inf"}',
                   'obsflow_jobs{state="succeeded"}', "obsflow_oldest_queued_job_age_seconds",
                   "obsflow_jobs_claimed_total", "obsflow_jobs_succeeded_total",
                   "obsflow_jobs_failed_total", "obsflow_jobs_retried_total", "obsflow_workers_busy",
                   "obsflow_db_pool_in_use", "obsflow_ready 1"):
        check(needle in text, "metrics lack %s" % needle)
    # JSON log lines on stderr, correlated
    lines = [ln for ln in d.log_text().splitlines() if ln.strip()]
    docs = []
    for ln in lines:
        try:
            docs.append(json.loads(ln))
        except ValueError:
            fail("log line is not JSON: %r" % ln)
    check(any(x.get("request_id") == "req-happy-1" and x.get("job_id") for x in docs),
          "a log line carries request_id req-happy-1 and a job_id")
    check(any("listening on http://127.0.0.1:%d" % d.port in x.get("msg", "") for x in docs),
          "the bound address is logged")


def large_pages(d):
    """A page of jobs over the 8 MiB response cap is cut short with a cursor, not refused: it
    answered 413 "Content Too Large" to a GET that had no body (the client cannot fix that)."""
    # an ingest job that never runs (run_at far ahead) with about 56 KB of params: 250 inputs
    big = "x" * 200
    spec = {"kind": "ingest", "queue": "big", "run_at": "2099-01-01T00:00:00Z",
            "params": {"collection": "BIG",
                       "uris": ["file:/big/%s/%03d.fits" % (big, i) for i in range(250)]}}
    ids = set()
    for _ in range(10):
        st, _, jobs = d.request("POST", "/v1/jobs", [spec] * 15)
        check(st == 202, "POST 15 large jobs: %s" % st)
        ids.update(j["id"] for j in jobs)
    seen = []
    cursor = None
    pages = 0
    while True:
        path = "/v1/jobs?queue=big&limit=500" + ("&cursor=" + cursor if cursor else "")
        st, hd, page = d.request("GET", path)
        check(st == 200, "GET a page of large jobs: %s %s" % (st, page if st != 200 else ""))
        pages += 1
        seen += [j["id"] for j in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
        check(pages < 20, "pagination ends")
    check(pages >= 2, "the 8.4 MB page was split (%d page)" % pages)
    check(len(seen) == len(set(seen)) and set(seen) == ids,
          "pages cover the 150 large jobs exactly once (%d seen)" % len(seen))


def run(db):
    d = Daemon(db.url, name="routes", workers=2, token=TOKEN)
    try:
        first = happy(d)
        idempotency(d)
        bad_input(d, first)
        large_pages(d)
        metrics_and_logs(d)
        rc = d.stop()
        check(rc == 0, "obsflowd exit status %s after SIGTERM" % rc)
        print("%d error-path checks passed" % checks)
    except AssertionError:
        d.dump_log()
        d.stop()
        raise


if __name__ == "__main__":
    main(run, "api_routes")
