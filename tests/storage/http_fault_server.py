#!/usr/bin/env python3
# http_fault_server.py - a local HTTP server with scripted faults for the lib/httpc and
# lib/storage tests. Binds 127.0.0.1 port 0 and writes the chosen port to PORT_FILE.
#   usage: http_fault_server.py PORT_FILE
# Routes (GET unless noted):
#   /ok/N            200, N deterministic bytes (byte i = i % 251)
#   /flaky/ID/K      500 for the first K requests with this ID, then 200 "recovered"
#   /always500       500 every time
#   /slow/MS         waits MS milliseconds, then 200 "late"
#   /truncated       Content-Length 1000 but only 10 bytes, then the connection closes
#   /missing         404 "no such object"
#   /count/ID        200, the number of requests seen so far for ID (flaky/missing/... count)
#   /echo            any method: 200 JSON {method, path, headers, body_len, body_sha256}
#   /redirect        302 to /ok/16
#   /redirectbody    302 to /ok/16 with a short HTML body (as real servers send)
#   /bigheaders      200 with 300 response headers
#   /s3loop          S3 ListObjectsV2 page: truncated, one key, and always the same
#                    continuation token (a server that makes no progress)
#   /s3empty         S3 ListObjectsV2 page: truncated, no keys, a new token every time
#   /s3unclosed      S3 list page whose <Contents> is never closed
#   /s3nokey         S3 list page with an entry without <Key>
#   /s3notoken       S3 list page that is truncated but has no NextContinuationToken
#   /urilist/good    a URI list (storage_walk): comments, blank lines, CRLF, blanks around
#   /urilist/bad     a URI list whose line 4 is not a URI
#   /urilist/long    a URI list whose line 3 is longer than STORAGE_URI_MAX (4096) bytes
#   /urilist/many/N  N lines "s3://bucket/kNNNNNNN.fits" (LF), for reads across chunks
#   /s3mpnoid/KEY    S3 multipart: the initiation answers 200 without an UploadId
#   /s3mperr/KEY     S3 multipart: initiate and parts succeed, the completion answers 200 with
#                    an <Error> body; the abort (DELETE ?uploadId=) is counted as s3mperr-abort
# SPDX-License-Identifier: Apache-2.0
import hashlib
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

COUNTS = {}
LOCK = threading.Lock()


def bump(key):
    with LOCK:
        COUNTS[key] = COUNTS.get(key, 0) + 1
        return COUNTS[key]


def pattern(n):
    return bytes(i % 251 for i in range(n))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # keep the test output quiet
        pass

    def reply(self, status, body, ctype="application/octet-stream", extra=None):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or []):
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def route(self):
        parts = [p for p in self.path.split("?")[0].split("/") if p]
        body = self.read_body()
        if not parts:
            return self.reply(200, b"root")
        head = parts[0]
        if head == "ok" and len(parts) == 2:
            bump("ok")
            return self.reply(200, pattern(int(parts[1])))
        if head == "flaky" and len(parts) == 3:
            n = bump("flaky/" + parts[1])
            if n <= int(parts[2]):
                return self.reply(500, b"temporary failure", "text/plain")
            return self.reply(200, b"recovered", "text/plain")
        if head == "always500":
            bump("always500")
            return self.reply(500, b"broken", "text/plain")
        if head == "slow" and len(parts) == 2:
            bump("slow")
            time.sleep(int(parts[1]) / 1000.0)
            return self.reply(200, b"late", "text/plain")
        if head == "truncated":
            bump("truncated")
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b"0123456789")
            self.wfile.flush()
            self.close_connection = True
            return None
        if head == "missing":
            bump("missing")
            return self.reply(404, b"no such object", "text/plain")
        if head == "count" and len(parts) == 2:
            with LOCK:
                n = COUNTS.get(parts[1].replace(":", "/"), 0)
            return self.reply(200, str(n).encode(), "text/plain")
        if head == "echo":
            doc = {
                "method": self.command,
                "path": self.path,
                "headers": [[k, v] for k, v in self.headers.items()],
                "body_len": len(body),
                "body_sha256": hashlib.sha256(body).hexdigest(),
            }
            return self.reply(200, json.dumps(doc).encode(), "application/json",
                              [("X-Echo", "yes")])
        if head == "redirectbody":
            return self.reply(302, b"<a href=/ok/16>moved</a>", "text/html",
                              [("Location", "/ok/16")])
        if head == "redirect":
            return self.reply(302, b"", extra=[("Location", "/ok/16")])
        if head == "bigheaders":
            return self.reply(200, b"x", extra=[("X-H%d" % i, "v") for i in range(300)])
        if head == "urilist" and len(parts) >= 2:
            lists = {
                "good": b"# a collection\r\n"
                        b"s3://bucket/raw/a.fits\r\n"
                        b"\r\n"
                        b"   \n"
                        b"  file:/data/raw/b.fits\t\n"
                        b"#s3://bucket/skipped.fits\n"
                        b"https://archive.example/c.fits?x=1\r\n"
                        b"astroquery:j8cb01u2q_raw.fits",
                "bad": b"s3://bucket/a.fits\n# fine\ns3://bucket/b.fits\nftp://nope/c.fits\n"
                       b"s3://bucket/d.fits\n",
                "long": b"s3://bucket/a.fits\n\ns3://bucket/" + b"k" * 5000 + b"\n"
                        b"s3://bucket/z.fits\n",
            }
            if parts[1] == "many" and len(parts) == 3:
                n = int(parts[2])
                return self.reply(200, b"".join(b"s3://bucket/k%07d.fits\n" % i
                                                for i in range(n)), "text/plain")
            if parts[1] in lists:
                return self.reply(200, lists[parts[1]], "text/plain")
        broken = {
            "s3unclosed": "<ListBucketResult><Contents><Key>k</Key>",
            "s3nokey": "<ListBucketResult><Contents><Size>1</Size></Contents></ListBucketResult>",
            "s3notoken": "<ListBucketResult><Contents><Key>k</Key></Contents>"
                         "<IsTruncated>true</IsTruncated></ListBucketResult>",
        }
        query = self.path.split("?", 1)[1] if "?" in self.path else ""
        if head == "s3mpnoid":
            return self.reply(200, b"<InitiateMultipartUploadResult/>", "application/xml")
        if head == "s3mperr":
            if self.command == "POST" and query.startswith("uploads"):
                return self.reply(200, b"<InitiateMultipartUploadResult><UploadId>u-1</UploadId>"
                                  b"</InitiateMultipartUploadResult>", "application/xml")
            if self.command == "PUT" and "partNumber=" in query:
                return self.reply(200, b"", extra=[("ETag", '"%s"' % hashlib.md5(body).hexdigest())])
            if self.command == "POST" and query.startswith("uploadId="):
                return self.reply(200, b"<Error><Code>InternalError</Code>"
                                  b"<Message>completion failed</Message></Error>", "application/xml")
            if self.command == "DELETE" and query.startswith("uploadId="):
                bump("s3mperr-abort")
                return self.reply(204, b"")
        if head in broken:
            return self.reply(200, broken[head].encode(), "application/xml")
        if head in ("s3loop", "s3empty"):
            n = bump(head)
            token = "same" if head == "s3loop" else "t%d" % n
            contents = ("<Contents><Key>k</Key><Size>1</Size></Contents>"
                        if head == "s3loop" else "")
            doc = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult>"
                   "<Name>%s</Name>%s<IsTruncated>true</IsTruncated>"
                   "<NextContinuationToken>%s</NextContinuationToken></ListBucketResult>"
                   % (head, contents, token))
            return self.reply(200, doc.encode(), "application/xml")
        return self.reply(404, b"unknown route", "text/plain")

    do_GET = route
    do_HEAD = route
    do_POST = route
    do_PUT = route
    do_DELETE = route
    do_PATCH = route


def main():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    if len(sys.argv) >= 4:
        import ssl
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(sys.argv[2], sys.argv[3])
        if len(sys.argv) >= 5:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(sys.argv[4])
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    with open(sys.argv[1] + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    import os
    os.rename(sys.argv[1] + ".tmp", sys.argv[1])
    srv.serve_forever()


if __name__ == "__main__":
    main()
