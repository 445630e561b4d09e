"""apitest.py - helpers for the API tests: a fresh database per test in the fixture's private
PostgreSQL cluster, the real build/obsflowd started on port 0 with --port-file, and a small
HTTP client on http.client (python3 stdlib only).

SPDX-License-Identifier: Apache-2.0
"""
import http.client
import json
import os
import signal
import subprocess
import sys
import time
import uuid

BIN_DIR = os.environ.get("OBSFLOW_BIN_DIR", "build")
SRC_DIR = os.environ.get("OBSFLOW_SOURCE_DIR", ".")
TMP = os.environ.get("OBSFLOW_TEST_TMP", "/tmp")
PGHOST = os.environ.get("PGHOST", "")
# the shared test data and the project's shipped configuration
SHARED = os.environ.get("OBSFLOW_SHARED", os.path.join(SRC_DIR, "..", "shared"))
FITS = os.path.join(SHARED, "testdata", "fits")
CONF = os.path.realpath(os.path.join(SRC_DIR, "config"))


def fail(msg):
    print("FAIL: " + msg, flush=True)
    raise AssertionError(msg)


def check(cond, msg):
    if not cond:
        fail(msg)


def psql(sql, db="postgres", host=None):
    """Run SQL with psql on the fixture cluster; returns stdout (unaligned, tuples only)."""
    out = subprocess.run(["psql", "-h", host or PGHOST, "-U", "postgres", "-d", db, "-XAtq",
                          "-v", "ON_ERROR_STOP=1", "-c", sql],
                         check=True, capture_output=True, text=True)
    return out.stdout.strip()


class Database:
    """A uniquely named database, dropped by drop()."""

    def __init__(self, prefix, host=None):
        self.host = host or PGHOST
        self.name = "%s_%d_%s" % (prefix, os.getpid(), uuid.uuid4().hex[:6])
        psql("CREATE DATABASE %s" % self.name, host=self.host)

    @property
    def url(self):
        return "host=%s dbname=%s user=postgres" % (self.host, self.name)

    def sql(self, q):
        return psql(q, db=self.name, host=self.host)

    def drop(self):
        try:
            psql("DROP DATABASE IF EXISTS %s WITH (FORCE)" % self.name, host=self.host)
        except subprocess.CalledProcessError as e:
            print("warning: could not drop %s: %s" % (self.name, e.stderr))


LIVE = []  # every Daemon started, so main() can stop them whatever happens


class Daemon:
    """One obsflowd process on 127.0.0.1:0."""

    def __init__(self, db_url, name="obsflowd", workers=2, token=None, grace=None, env=None,
                 wait_ready=True):
        LIVE.append(self)
        self.db_url = db_url
        self.name = name
        self.workers = workers
        self.token = token
        self.grace = grace
        self.extra_env = env or {}
        self.proc = None
        self.port = None
        self.addr = None
        self.runs = 0
        self.log_path = None
        self.start(wait_ready)

    def start(self, wait_ready=True):
        self.runs += 1
        self.port_file = os.path.join(TMP, "%s.%d.port" % (self.name, self.runs))
        self.log_path = os.path.join(TMP, "%s.%d.log" % (self.name, self.runs))
        if os.path.exists(self.port_file):
            os.unlink(self.port_file)
        env = dict(os.environ)
        env.update({"OBSFLOW_DATABASE_URL": self.db_url, "OBSFLOW_WORKERS": str(self.workers),
                    "OBSFLOW_LOG_LEVEL": "info"})
        env.pop("OBSFLOW_API_TOKEN", None)
        if self.token is not None:
            env["OBSFLOW_API_TOKEN"] = self.token
        if self.grace is not None:
            env["OBSFLOW_SHUTDOWN_GRACE"] = str(self.grace)
        env.update(self.extra_env)
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [os.path.join(BIN_DIR, "obsflowd"), "--listen", "127.0.0.1:0", "--port-file",
             self.port_file], stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log, env=env)
        deadline = time.time() + 30
        while not os.path.exists(self.port_file):
            if self.proc.poll() is not None:
                self.dump_log()
                fail("obsflowd exited with %d before listening" % self.proc.returncode)
            if time.time() > deadline:
                self.dump_log()
                fail("obsflowd did not write its port file")
            time.sleep(0.02)
        with open(self.port_file) as f:
            self.addr = f.read().strip()
        self.port = int(self.addr.rsplit(":", 1)[1])
        if wait_ready:
            self.wait_ready()

    def wait_ready(self, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                st, _, _ = self.request("GET", "/readyz")
                if st == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        self.dump_log()
        fail("obsflowd not ready after %d s" % timeout)

    def conn(self, timeout=30):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, raw=False, auth=True):
        """Returns (status, headers dict lower-case, parsed JSON or raw bytes)."""
        h = dict(headers or {})
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
            h.setdefault("Content-Type", "application/json")
        if auth and self.token and "Authorization" not in h:
            h["Authorization"] = "Bearer " + self.token
        c = self.conn()
        try:
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            data = r.read()
            hdrs = {k.lower(): v for k, v in r.getheaders()}
        finally:
            c.close()
        if raw:
            return r.status, hdrs, data
        ct = hdrs.get("content-type", "")
        if "json" in ct and data:
            return r.status, hdrs, json.loads(data)
        return r.status, hdrs, data

    def submit(self, spec, key=None):
        h = {"Idempotency-Key": key} if key else None
        st, hd, b = self.request("POST", "/v1/jobs", spec, headers=h)
        check(st == 202, "submit answered %s: %s" % (st, b))
        return b

    def job(self, jid):
        st, _, b = self.request("GET", "/v1/jobs/" + jid)
        check(st == 200, "GET job %s answered %s: %s" % (jid, st, b))
        return b

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=90):
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self.dump_log()
            fail("obsflowd did not exit within %d s of signal %d" % (timeout, sig))
        self.log.close()
        return rc

    def kill9(self):
        self.proc.kill()
        self.proc.wait()
        self.log.close()

    def log_text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def dump_log(self, lines=60):
        try:
            text = self.log_text().splitlines()
        except OSError:
            return
        print("---- last lines of %s ----" % self.log_path)
        for line in text[-lines:]:
            print(line)
        sys.stdout.flush()


def wait_until(pred, timeout, what, interval=0.1):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(interval)
    fail("timed out after %d s waiting for %s" % (timeout, what))


def wait_end(d, jid, timeout=120, interval=0.05):
    """The job's document once it has ended (succeeded, failed or cancelled)."""
    return wait_until(lambda: (lambda b: b if b["state"] in ("succeeded", "failed", "cancelled")
                               else None)(d.job(jid)), timeout, "job %s to end" % jid,
                      interval=interval)


def main(test_fn, prefix):
    """Create a database, run test_fn(db), drop it; exit 0/1 (77 when obsflowd is missing)."""
    if not os.path.exists(os.path.join(BIN_DIR, "obsflowd")):
        print("SKIP: obsflowd not built")
        sys.exit(77)
    db = Database(prefix)
    ok = False
    try:
        test_fn(db)
        ok = True
    except AssertionError:
        pass
    finally:
        for d in LIVE:  # never leave a daemon behind, whatever went wrong
            if d.proc is not None and d.proc.poll() is None:
                d.proc.kill()
                d.proc.wait()
        db.drop()
    print("PASS" if ok else "FAILED")
    sys.exit(0 if ok else 1)
