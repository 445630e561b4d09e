#!/usr/bin/env python3
"""test_api_cli.py - the obsflow client commands (submit, status, wait, cancel, retry, jobs)
against the real obsflowd with a bearer token: outputs, one-line errors and exit codes.

SPDX-License-Identifier: Apache-2.0
"""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from apitest import BIN_DIR, TMP, Daemon, check, main  # noqa: E402

TOKEN = "cli-token"
NOT_THERE = "0b7c6a2e-1f3d-4c5b-9a8e-7d6c5b4a3f21"


def run(db):
    d = Daemon(db.url, name="cli", workers=2, token=TOKEN)
    env = dict(os.environ, OBSFLOW_URL="http://" + d.addr, OBSFLOW_API_TOKEN=TOKEN)

    def cli(*args, stdin=None, rc=0, e=None):
        p = subprocess.run([os.path.join(BIN_DIR, "obsflow")] + list(args), input=stdin,
                           capture_output=True, text=True, env=e or env, timeout=60)
        check(p.returncode == rc, "obsflow %s: exit %d, expected %d\nstdout: %s\nstderr: %s" %
              (" ".join(args), p.returncode, rc, p.stdout, p.stderr))
        if rc not in (0, 1, 7):
            lines = [ln for ln in p.stderr.splitlines() if ln]
            check(len(lines) == 1 and lines[0].startswith("obsflow "),
                  "one-line error expected: %r" % p.stderr)
        return p.stdout, p.stderr

    try:
        path = os.path.join(TMP, "job.json")
        with open(path, "w") as f:
            json.dump({"kind": "noop", "params": {"sleep_ms": 5}}, f)
        out, _ = cli("submit", path)
        jid = out.strip()
        check(len(jid) == 36, "submit prints the id: %r" % out)
        out, _ = cli("submit", "-", stdin=json.dumps([{"kind": "noop"}, {"kind": "noop"}]))
        two = out.split()
        check(len(two) == 2, "array submit prints two ids: %r" % out)
        out, _ = cli("wait", jid, *two)
        check(out.count("succeeded") == 3, "wait prints the final lines: %r" % out)
        out, _ = cli("status", jid)
        check(out.startswith(jid) and "succeeded" in out and "attempt 1/5" in out, "status: %r" % out)
        out, _ = cli("status", "--json", jid)
        check(json.loads(out)["state"] == "succeeded", "status --json")
        out, err = cli("jobs", "--kind", "noop", "--limit", "1")
        check(len(out.splitlines()) == 1 and "--cursor" in err, "jobs page: %r %r" % (out, err))
        out, _ = cli("jobs", "--kind", "noop", "--limit", "1", "--all")
        check(len(out.splitlines()) == 3, "jobs --all: %r" % out)
        out, _ = cli("jobs", "--state", "succeeded", "--json")
        check(len(json.loads(out)["items"]) == 3, "jobs --json")
        # errors and exit codes
        _, err = cli("cancel", jid, rc=5)
        check("409" in err and "conflict" in err, "cancel finished job: %r" % err)
        cli("status", NOT_THERE, rc=4)
        cli("status", "not-a-uuid", rc=2)
        # a key longer than the header buffer was cut and sent as another key (exit 5 from
        # the server's 400); now it is a usage error before anything is sent
        cli("submit", "--idempotency-key", "k" * 300, path, rc=2)
        _, err = cli("submit", "-", stdin='{"kind":"noop","priority":99}', rc=5)
        check("(field priority)" in err, "field named: %r" % err)
        cli("submit", "-", stdin='{"kind":', rc=2)
        cli("submit", os.path.join(TMP, "missing.json"), rc=2)
        noauth = dict(env)
        noauth.pop("OBSFLOW_API_TOKEN")
        cli("submit", path, rc=9, e=noauth)
        cli("status", jid, e=dict(env, OBSFLOW_URL="http://127.0.0.1:1"), rc=3)
        out, _ = cli("submit", "-", stdin='{"kind":"noop","max_attempts":1,"params":{"fail_times":2}}')
        cli("wait", out.strip(), rc=1)
        out, _ = cli("submit", "-", stdin='{"kind":"noop","run_at":"2099-01-01T00:00:00Z"}')
        later = out.strip()
        cli("wait", "--timeout", "1", later, rc=8)
        out, _ = cli("cancel", later)
        check("cancelled" in out, "cancel: %r" % out)
        cli("wait", later, rc=7)
        out, _ = cli("retry", later)
        check("queued" in out, "retry: %r" % out)
        # obsflowd's own command line: bad settings fail fast with one message
        daemon = os.path.join(BIN_DIR, "obsflowd")
        for args, extra, code, needle in (
                (["--workers", "many"], {}, 2, "invalid OBSFLOW_WORKERS"),
                (["--colour"], {}, 2, "unrecognized argument"),
                ([], {"OBSFLOW_LISTEN": "nohost"}, 2, "invalid listen address"),
                ([], {"OBSFLOW_LOG_LEVEL": "loud"}, 2, "unrecognized log level"),
                (["--listen", d.addr], {"OBSFLOW_DATABASE_URL": db.url}, 1, "could not listen")):
            p = subprocess.run([daemon] + args, capture_output=True, text=True, timeout=30,
                               env=dict(os.environ, **extra), stdin=subprocess.DEVNULL)
            check(p.returncode == code and needle in p.stderr,
                  "obsflowd %s %s: exit %d, stderr %r" % (args, extra, p.returncode, p.stderr))
        p = subprocess.run([daemon, "--help"], capture_output=True, text=True, timeout=30)
        check(p.returncode == 0 and "OBSFLOW_LISTEN" in p.stdout, "obsflowd --help")
        check(d.stop() == 0, "clean exit")
    except AssertionError:
        d.dump_log()
        d.stop()
        raise


if __name__ == "__main__":
    main(run, "api_cli")
