#!/usr/bin/env python3
# sigv4_botocore.py - the SigV4 oracle test: runs sigv4_send (lib/storage + libcurl's
# CURLOPT_AWS_SIGV4) through a recording proxy in front of s3rver (the S3 fixture), then
# re-signs every captured request with python3-botocore's S3SigV4Auth on the same fixed inputs
# (credentials, session token, region, timestamp, method, URL, payload) and requires the
# Authorization and x-amz-content-sha256 headers to be identical byte for byte.
#   usage: sigv4_botocore.py SIGV4_SEND_BINARY S3_DIR SCRATCH
# exit 0 pass, 1 fail, 77 skipped (no botocore)
# SPDX-License-Identifier: Apache-2.0
import datetime
import http.client
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

try:
    import botocore.auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
except ImportError:
    print("botocore is not importable by this python3: skipped")
    sys.exit(77)

SENDER, S3_DIR, SCRATCH = sys.argv[1:4]
UPSTREAM = int(open(S3_DIR + "/port").read().strip())
CAPTURED = []
LOCK = threading.Lock()
HOP = {"connection", "keep-alive", "transfer-encoding", "expect", "proxy-connection"}


class Proxy(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def forward(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        with LOCK:
            CAPTURED.append((self.command, self.path, list(self.headers.items()), body))
        conn = http.client.HTTPConnection("127.0.0.1", UPSTREAM, timeout=30)
        hdrs = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
        conn.request(self.command, self.path, body=body if body or n else None, headers=hdrs)
        r = conn.getresponse()
        data = r.read()
        self.send_response(r.status)
        for k, v in r.getheaders():
            if k.lower() not in HOP and k.lower() != "content-length":
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        conn.close()

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = forward


srv = ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
srv.daemon_threads = True
port = srv.server_address[1]
threading.Thread(target=srv.serve_forever, daemon=True).start()
# one fixed timestamp for both signers (near now: s3rver refuses skews over 15 minutes)
FIXED = datetime.datetime.utcnow().replace(microsecond=0)
res = subprocess.run([SENDER, str(port), SCRATCH, FIXED.strftime("%Y%m%dT%H%M%SZ")])
srv.shutdown()
if res.returncode != 0:
    print("sigv4_send failed with exit code", res.returncode)
    sys.exit(1)

botocore.auth.get_current_datetime = lambda *a, **k: FIXED
creds = Credentials("S3RVER", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                    "FQoGZXIvYXdzEXAMPLE//TOKEN+=")
# headers our client adds that botocore computes itself, or that neither side signs
COMPUTED = {"authorization", "x-amz-date", "x-amz-content-sha256", "x-amz-security-token",
            "user-agent", "accept", "content-length", "expect", "host", "connection",
            "transfer-encoding"}

fails = 0
kinds = {}
for method, path, headers, body in CAPTURED:
    got = {}
    for k, v in headers:
        got.setdefault(k.lower(), v)
    req = AWSRequest(method=method, url="http://127.0.0.1:%d%s" % (port, path), data=body,
                     headers={k: v for k, v in headers if k.lower() not in COMPUTED})
    botocore.auth.S3SigV4Auth(creds, "s3", "us-east-1").add_auth(req)
    want_auth = req.headers["Authorization"]
    want_sha = req.headers["X-Amz-Content-SHA256"]
    ok = got.get("authorization") == want_auth and got.get("x-amz-content-sha256") == want_sha
    kind = method + " " + ("?" + path.split("?", 1)[1].split("=", 1)[0] if "?" in path else "")
    kinds[kind] = kinds.get(kind, 0) + 1
    print("%s %s %s" % ("ok  " if ok else "FAIL", method, path))
    if not ok:
        fails += 1
        print("   curl:     ", got.get("authorization"))
        print("   botocore: ", want_auth)
        print("   sha curl/botocore:", got.get("x-amz-content-sha256"), want_sha)

print("request kinds:", sorted(kinds.items()))
expect = {"PUT ?partNumber": 2, "POST ?uploads": 1, "POST ?uploadId": 1}
for k, n in expect.items():
    if kinds.get(k) != n:
        print("expected %d %s requests, saw %s" % (n, k, kinds.get(k)))
        fails += 1
if not any(k.startswith("GET ?continuation-token") for k in kinds):
    print("the listing never used a continuation token")
    fails += 1
if len(CAPTURED) < 10:
    print("too few requests captured:", len(CAPTURED))
    fails += 1
print("%d requests, %d mismatches" % (len(CAPTURED), fails))
sys.exit(1 if fails else 0)
