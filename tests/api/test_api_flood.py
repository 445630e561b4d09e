#!/usr/bin/env python3
"""test_api_flood.py - issue 9 item 1 as a regression: a connection flood does not lock clients
out.

Eight loopback source addresses (127.0.0.2 .. 127.0.0.9, loopback on Linux) hold ~1,000
connections to obsflowd: half idle, half trickling a byte of a request head every second, and
every connection the server closes is opened again (an attacker that keeps trying). Meanwhile
a normal client on 127.0.0.1 gets /livez, /readyz and GET /v1/jobs/{id} answered within 100 ms,
before and after the header deadline cuts the flood's connections. /metrics counts the refusals
(per_client, slow_headers) and the log holds far fewer lines than there were refusals.

Bounded (about 30 s), loopback only, port 0. SPDX-License-Identifier: Apache-2.0
"""
import os
import re
import select
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from apitest import Daemon, check, main  # noqa: E402

ADDRS = ["127.0.0.%d" % i for i in range(2, 10)]
PER_ADDR = 125  # 1,000 in all
FLOOD_S = 16    # longer than the 5 s header deadline: the cut connections come back
LIMIT_MS = 100.0
HEAD = b"GET /livez HTTP/1.1\r\nHost: x\r\n"  # never finished


class Flood:
    def __init__(self, port):
        self.port = port
        self.stop = threading.Event()
        self.slots = []  # [addr, sock or None, trickle?, bytes sent]
        for a in ADDRS:
            for i in range(PER_ADDR):
                self.slots.append([a, None, i % 2 == 1, 0])
        self.opened = 0
        self.thread = threading.Thread(target=self.run, daemon=True)

    def connect(self, slot):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind((slot[0], 0))
            s.settimeout(1.0)
            s.connect(("127.0.0.1", self.port))
            s.setblocking(False)
        except OSError:
            s.close()
            return
        slot[1] = s
        slot[3] = 0
        self.opened += 1

    def sweep(self, trickle):
        for slot in self.slots:
            if self.stop.is_set():
                return
            s = slot[1]
            if s is not None:
                r, _, _ = select.select([s], [], [], 0)
                closed = False
                if r:
                    try:
                        closed = s.recv(4096) == b""
                    except OSError:
                        closed = True
                if not closed and trickle and slot[2]:
                    try:
                        s.send(HEAD[slot[3] % len(HEAD):][:1])
                        slot[3] += 1
                    except OSError:
                        closed = True
                if closed:
                    s.close()
                    slot[1] = None
            if slot[1] is None:
                self.connect(slot)

    def run(self):
        n = 0
        while not self.stop.is_set():
            self.sweep(trickle=(n % 2 == 0))
            n += 1
            self.stop.wait(0.5)

    def close(self):
        self.stop.set()
        self.thread.join(30)
        for slot in self.slots:
            if slot[1] is not None:
                slot[1].close()
                slot[1] = None

    def open_now(self):
        return sum(1 for s in self.slots if s[1] is not None)


def timed(d, path):
    t0 = time.monotonic()
    st, _, _ = d.request("GET", path)
    return st, (time.monotonic() - t0) * 1000.0


def refused(d):
    st, _, text = d.request("GET", "/metrics", raw=True)
    check(st == 200, "/metrics answered %s" % st)
    out = {}
    for m in re.finditer(rb'obsflow_http_connections_refused_total\{reason="(\w+)"\} (\d+)', text):
        out[m.group(1).decode()] = int(m.group(2))
    return out


def run(db):
    d = Daemon(db.url, name="flood", workers=1)
    jid = d.submit({"kind": "noop", "run_at": "2100-01-01T00:00:00Z"})["id"]
    before = refused(d)
    check(set(before) == {"per_client", "total", "slow_headers"}, "refusal series: %s" % before)
    flood = Flood(d.port)
    flood.thread.start()
    try:
        t_end = time.monotonic() + FLOOD_S
        time.sleep(2.0)  # the flood is in place
        print("flood: %d connections open from %d addresses" % (flood.open_now(), len(ADDRS)))
        worst = {}
        samples = 0
        while time.monotonic() < t_end:
            for path in ("/livez", "/readyz", "/v1/jobs/" + jid):
                st, ms = timed(d, path)
                check(st == 200, "%s answered %s during the flood" % (path, st))
                check(ms < LIMIT_MS, "%s took %.1f ms during the flood" % (path, ms))
                worst[path] = max(worst.get(path, 0.0), ms)
                samples += 1
            time.sleep(0.25)
        print("normal client: %d samples, worst %s" %
              (samples, {k: "%.1f ms" % v for k, v in worst.items()}))
        check(samples >= 30, "only %d samples" % samples)
        ref = refused(d)
    finally:
        opened = flood.opened
        flood.close()
    print("flood opened %d connections; refused: %s" % (opened, ref))
    check(ref["per_client"] > 100, "per-client refusals not counted: %s" % ref)
    check(ref["slow_headers"] > 100, "slow headers not cut: %s" % ref)
    total = sum(ref.values())
    d.stop()
    lines = d.log_text().splitlines()
    print("log: %d lines for %d refused connections" % (len(lines), total))
    check(len(lines) * 10 < total, "the log has %d lines for %d refusals" % (len(lines), total))


if __name__ == "__main__":
    main(run, "api_flood")
