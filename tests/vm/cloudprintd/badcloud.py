#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""A deliberately broken cloud for cloudprintd's guest tests.

Answers each job poll with the next bad answer of ANSWERS (then cycles):
malformed JSON, wrong types, an oversized body, a huge job, a bad SHA-256,
an error body of the wrong shape, an HTML 404.  Logs every request, one
JSON object per line, to --log.  None of these answers means "deleted".
"""
import argparse
import http.server
import json
import ssl
import sys

SHA = "0" * 64
ANSWERS = [
    (200, "application/json", b'{"jobs": [ {"id": "j1", '),
    (200, "application/json", b'{"jobs": "none"}'),
    (200, "application/json", b'[1, 2, 3]'),
    (200, "application/json", b'{"jobs": [], "pad": "' + b"x" * (2 << 20) + b'"}'),
    (200, "application/json", json.dumps({"jobs": [
        {"id": "huge", "name": "huge", "size": 1e15, "sha256": SHA,
         "data_url": "/v1/jobs/huge/data"}]}).encode()),
    (200, "application/json", json.dumps({"jobs": [
        {"id": "badsha", "size": 10, "sha256": "xyz", "data_url": "/v1/jobs/badsha/data"},
        {"id": 7, "size": "ten"}, "junk"]}).encode()),
    (404, "application/json", b'{"error": "printer_deleted"}'),
    (404, "application/json", b'{"error": {"code": 404}}'),
    (404, "text/html", b"<html><body>Sign in to the hotel Wi-Fi</body></html>"),
    (200, "text/plain", b"\x00\xff\xfe binary"),
    (200, "application/json", b'{"jobs": [], "poll_interval": 1e9}'),
    (200, "application/json", b'{"jobs": [], "poll_interval": "soon"}'),
]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    polls = 0

    def log_message(self, fmt, *args):
        pass

    def reply(self, status, ctype, body):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def record(self, body=None):
        with open(self.server.log, "a") as f:
            f.write(json.dumps({"method": self.command, "path": self.path,
                                "body": body}) + "\n")

    def do_GET(self):
        self.record()
        if self.path.endswith("/jobs"):
            status, ctype, body = ANSWERS[Handler.polls % len(ANSWERS)]
            if b'"data_url": "/' in body:
                body = body.replace(b'"data_url": "/',
                                    ('"data_url": "%s/' % self.server.base).encode())
            Handler.polls += 1
            self.reply(status, ctype, body)
        else:
            self.reply(404, "text/html", b"<html>no</html>")

    def do_POST(self):
        n = int(self.headers.get("Content-Length", 0))
        body = self.rfile.read(n).decode(errors="replace")
        self.record(body)
        self.reply(200, "application/json", b"{}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--log", required=True)
    a = ap.parse_args()
    srv = http.server.HTTPServer(("127.0.0.1", a.port), Handler)
    srv.log = a.log
    srv.base = "https://127.0.0.1:%d" % a.port
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.cert, a.key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print("listening on %s" % srv.base, flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
