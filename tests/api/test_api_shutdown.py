#!/usr/bin/env python3
"""test_api_shutdown.py - SIGTERM with running jobs: /readyz turns 503 on an open connection,
new connections are refused, a job that ends within OBSFLOW_SHUTDOWN_GRACE finishes, the one
that would not is released back to queued without a charged attempt, queued jobs stay queued,
exit status 0, and after a restart everything ends succeeded (nothing lost).

SPDX-License-Identifier: Apache-2.0
"""
import os
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from apitest import Daemon, check, main, wait_until  # noqa: E402

GRACE = 3


def run(db):
    d = Daemon(db.url, name="shutdown", workers=2, grace=GRACE)
    try:
        short = d.submit({"kind": "noop", "priority": 0, "params": {"sleep_ms": 1500}})
        long_ = d.submit({"kind": "noop", "priority": 0, "params": {"sleep_ms": 8000}})
        rest = d.submit([{"kind": "noop", "priority": 9, "params": {"sleep_ms": 100}}
                         for _ in range(10)])
        wait_until(lambda: all(d.job(j["id"])["state"] == "running" for j in (short, long_)), 20,
                   "both slow jobs running")
        keep = d.conn()
        keep.request("GET", "/livez")
        check(keep.getresponse().read() is not None, "keep-alive connection open")
        t0 = time.time()
        d.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        keep.request("GET", "/readyz")
        r = keep.getresponse()
        r.read()
        check(r.status == 503, "/readyz on an open connection while draining: %s" % r.status)
        keep.close()
        refused = False
        try:
            socket.create_connection(("127.0.0.1", d.port), timeout=2).close()
        except OSError:
            refused = True
        check(refused, "new connections are refused while draining")
        rc = d.proc.wait(GRACE + 30)
        took = time.time() - t0
        d.log.close()
        check(rc == 0, "exit status %s" % rc)
        print("drained and exited in %.1f s" % took)
        s = db.sql("SELECT state, attempts FROM jobs WHERE id='%s'" % short["id"])
        check(s == "succeeded|1", "the short job finished within the grace: %s" % s)
        s = db.sql("SELECT state, attempts FROM jobs WHERE id='%s'" % long_["id"])
        check(s == "queued|0", "the long job was released, attempt not charged: %s" % s)
        check(db.sql("SELECT count(*) FROM jobs WHERE state='running'") == "0", "nothing left running")
        check(int(db.sql("SELECT count(*) FROM jobs")) == 12, "nothing lost")
        check("released" in d.log_text(), "the log says what was released")
        d.start()
        wait_until(lambda: db.sql("SELECT count(*) FROM jobs WHERE state='succeeded'") == "12", 60,
                   "all 12 jobs to succeed after the restart")
        ev = d.request("GET", "/v1/jobs/%s/events" % long_["id"])[2]["items"]
        check([e["state"] for e in ev].count("succeeded") == 1, "one succeeded event: %s" % ev)
        check(d.stop() == 0, "clean exit")
    except AssertionError:
        d.dump_log()
        d.stop()
        raise


if __name__ == "__main__":
    main(run, "api_shutdown")
