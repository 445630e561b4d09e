"""ranged_http.py - a loopback HTTP file server for the API tests that honours Range requests
(or ignores them, to play a server without range support) and counts what it sent.

SPDX-License-Identifier: Apache-2.0
"""
import http.server
import os
import threading


class Ranged(http.server.BaseHTTPRequestHandler):
    """Serves files of `root`; honours 'Range: bytes=a-b' unless `ignore_range`; counts."""
    root = None
    ignore_range = False
    sent = 0
    requests = 0
    lock = threading.Lock()

    def log_message(self, *args):
        pass

    def do_GET(self):  # noqa: N802 - http.server's name
        path = os.path.join(self.root, os.path.basename(self.path))
        if not os.path.isfile(path):
            self.send_error(404)
            return
        with open(path, "rb") as f:
            data = f.read()
        rng = self.headers.get("Range")
        status, body = 200, data
        if rng and not self.ignore_range and rng.startswith("bytes="):
            a, b = rng[6:].split("-")
            a, b = int(a), min(int(b), len(data) - 1)
            if a >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", "bytes */%d" % len(data))
                self.end_headers()
                return
            status, body = 206, data[a:b + 1]
        self.send_response(status)
        if status == 206:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (a, b, len(data)))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        with Ranged.lock:
            Ranged.sent += len(body)
            Ranged.requests += 1
