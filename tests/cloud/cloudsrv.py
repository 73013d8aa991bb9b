#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Reference cloud print service (docs/protocol.md), Python 3 standard library only.

    cloudsrv.py --cert server.pem --key server.key [--port 8443] ...

Prints "listening on https://127.0.0.1:PORT" once ready; SIGTERM/SIGINT stop it
(exit status 0).  One asyncio loop, a small HTTP/1.1 parser with keep-alive,
state in memory.  A test and demo fixture, not a production service.
"""

import argparse
import asyncio
import base64
import hashlib
import json
import os
import re
import resource
import secrets
import signal
import socket
import ssl
import struct
import sys
import time
import urllib.parse
import zlib

MAX_REQUEST_LINE = 8 * 1024
MAX_HEADER_BLOCK = 16 * 1024
MAX_HEADERS = 100
MAX_JSON_BODY = 64 * 1024
MAX_JOB_DATA = 64 * 1024 * 1024
MAX_NAME = 255
MAX_DETAIL = 1024
IDLE_TIMEOUT = 60.0
STREAM_RETRY_MS = 5000
STREAM_MAX_BUFFER = 1024 * 1024  # a stream reader this far behind is dropped

REASONS = {
    100: "Continue", 200: "OK", 201: "Created", 204: "No Content",
    400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 409: "Conflict", 410: "Gone", 411: "Length Required",
    413: "Content Too Large", 415: "Unsupported Media Type", 429: "Too Many Requests",
    431: "Request Header Fields Too Large", 500: "Internal Server Error",
    502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout",
}

ERROR_CODE_BY_STATUS = {
    400: "bad_request", 401: "invalid_token", 403: "forbidden", 404: "not_found",
    409: "conflict", 410: "gone", 429: "rate_limited", 500: "internal_error",
    502: "bad_gateway", 503: "unavailable", 504: "gateway_timeout",
}

CAPTIVE_PORTAL_HTML = b"""<!DOCTYPE html>
<html><head><title>Hotel WiFi - Login</title></head>
<body><h1>Welcome!</h1><p>Please log in to access the Internet.</p>
<form method="post" action="/login"><input name="room"><input type="submit" value="Connect"></form>
</body></html>
"""

REQUEST_FAULTS = ("http_error", "rate_limit", "delay", "reset", "captive_portal")
FAULT_KINDS = REQUEST_FAULTS + ("stream_keep_open", "no_pings", "split_events")
SPLIT_PIECE = 5  # bytes per write of a split_events stream
ENDPOINT_CLASSES = ("register", "registration", "token", "jobs", "data", "status", "events",
                    "heartbeat", "unregister", "portal", "other")
JOB_FINAL = ("done", "failed", "aborted", "cancelled")
ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class HTTPError(Exception):
    """An error answer: status, code, message, extra headers."""

    def __init__(self, status, code, message, headers=None, close=False):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or []
        self.close = close


class ResetConnection(Exception):
    """The reset fault: drop the connection without an answer."""


class Response:
    def __init__(self, status, body=b"", ctype=None, headers=None):
        self.status = status
        self.body = body
        self.ctype = ctype
        self.headers = headers or []


def json_response(status, obj, headers=None):
    return Response(status, json.dumps(obj).encode(), "application/json", headers)


def error_body(code, message):
    return json.dumps({"error": {"code": code, "message": message}}).encode()


def new_token(prefix):
    return prefix + secrets.token_urlsafe(32)


def new_id(prefix):
    return prefix + secrets.token_hex(8)


CLAIM_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def new_claim_code():
    return "".join(secrets.choice(CLAIM_ALPHABET) for _ in range(8))


class Token:
    __slots__ = ("kind", "printer_id", "expires")

    def __init__(self, kind, printer_id, expires=None):
        self.kind = kind          # "reg", "access", "secret"
        self.printer_id = printer_id
        self.expires = expires    # monotonic deadline or None


class Printer:
    def __init__(self, pid, name, model, reg_token, claim_code, reg_deadline):
        self.id = pid
        self.name = name
        self.model = model
        self.state = "pending"
        self.created = time.time()
        self.claimed = None
        self.deleted = None
        self.deleted_mono = None
        self.last_seen = None
        self.reg_token = reg_token
        self.claim_code = claim_code
        self.reg_deadline = reg_deadline
        self.secret = None
        self.access_tokens = []
        self.streams = set()
        self.jobs = []            # job ids, oldest first
        self.event_seq = 0


class Job:
    def __init__(self, jid, printer_id, name, data):
        self.id = jid
        self.printer_id = printer_id
        self.name = name
        self.data = data
        self.size = len(data)
        self.sha256 = hashlib.sha256(data).hexdigest()
        self.data_crc32 = zlib.crc32(data) & 0xFFFFFFFF
        self.state = "queued"
        self.crc32 = None
        self.detail = None
        self.fetches = 0
        self.created = time.time()
        self.updated = self.created


class Fault:
    def __init__(self, fid, spec):
        self.id = fid
        self.kind = spec["kind"]
        self.printer_id = spec.get("printer_id")
        self.endpoint = spec.get("endpoint") or "any"
        self.remaining = spec.get("count")
        self.status = spec.get("status", 503)
        self.retry_after = spec.get("retry_after")
        self.delay = spec.get("delay", 0)

    def matches(self, printer_id, endpoint):
        if self.printer_id is not None and self.printer_id != printer_id:
            return False
        if self.endpoint == "any":
            return endpoint != "portal"
        return self.endpoint == endpoint

    def as_json(self):
        return {"fault_id": self.id, "kind": self.kind, "printer_id": self.printer_id,
                "endpoint": self.endpoint, "remaining": self.remaining,
                "status": self.status, "retry_after": self.retry_after, "delay": self.delay}


class Stream:
    """One open event stream."""

    def __init__(self, server, printer, writer):
        self.server = server
        self.printer = printer
        self.writer = writer
        self.closed = False
        self.wake = asyncio.Event()
        self.split_delay = None  # split_events: seconds between pieces
        self.backlog = []
        self.trickle = None

    def send(self, event, data):
        if self.closed:
            return
        transport = self.writer.transport
        if transport.is_closing() or transport.get_write_buffer_size() > STREAM_MAX_BUFFER:
            self.close()
            return
        self.printer.event_seq += 1
        text = ("id: %d\nevent: %s\ndata: %s\n\n"
                % (self.printer.event_seq, event, json.dumps(data))).encode()
        if self.split_delay is None:
            self.writer.write(text)
            return
        self.backlog.append(text)
        if self.trickle is None:
            self.trickle = asyncio.ensure_future(self.trickle_out())

    async def trickle_out(self):
        """split_events: each event in SPLIT_PIECE-byte writes (one TLS record each)."""
        try:
            while self.backlog and not self.closed:
                data = self.backlog.pop(0)
                for i in range(0, len(data), SPLIT_PIECE):
                    self.writer.write(data[i:i + SPLIT_PIECE])
                    await self.writer.drain()
                    await asyncio.sleep(self.split_delay)
        except (ConnectionError, OSError, ssl.SSLError):
            self.close()
        finally:
            self.trickle = None

    def drop(self):
        """Abort the connection: no clean TLS or TCP close."""
        self.writer.transport.abort()
        self.close()

    def close(self):
        self.closed = True
        self.wake.set()


class Request:
    def __init__(self, method, target, version, headers, mono, wall):
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers        # lower-case name -> value (last wins)
        self.mono = mono
        self.wall = wall
        split = urllib.parse.urlsplit(target)
        self.path = split.path
        self.query = urllib.parse.parse_qs(split.query, keep_blank_values=True)
        self.segments = [urllib.parse.unquote(s) for s in self.path.split("/")[1:]]
        self.body = b""
        self.endpoint = "other"
        self.params = {}
        self.printer_id = None       # attribution
        self.record = None
        self.fault = None

    def header(self, name, default=None):
        return self.headers.get(name, default)

    def bearer(self):
        auth = self.header("authorization")
        if not auth:
            return None
        parts = auth.split(None, 1)
        if len(parts) != 2 or parts[0].lower() != "bearer" or not parts[1].strip():
            return ""
        return parts[1].strip()


# route table: (method, template, handler name, endpoint class)
ROUTES = [
    ("POST", "/v1/printers", "h_register", "register"),
    ("GET", "/v1/printers/{pid}/registration", "h_registration", "registration"),
    ("POST", "/v1/printers/{pid}/token", "h_token", "token"),
    ("GET", "/v1/printers/{pid}/jobs", "h_jobs", "jobs"),
    ("GET", "/v1/printers/{pid}/events", "h_events", "events"),
    ("POST", "/v1/printers/{pid}/heartbeat", "h_heartbeat", "heartbeat"),
    ("DELETE", "/v1/printers/{pid}", "h_unregister", "unregister"),
    ("GET", "/v1/jobs/{jid}/data", "h_data", "data"),
    ("POST", "/v1/jobs/{jid}/status", "h_status", "status"),
    ("POST", "/v1/portal/claim", "h_portal_claim", "portal"),
    ("GET", "/v1/portal/printers", "h_portal_printers", "portal"),
    ("POST", "/v1/portal/printers/{pid}/jobs", "h_portal_submit", "portal"),
    ("GET", "/v1/portal/printers/{pid}/jobs", "h_portal_jobs", "portal"),
    ("DELETE", "/v1/portal/printers/{pid}", "h_portal_delete", "portal"),
    ("GET", "/_test/health", "t_health", "test"),
    ("POST", "/_test/reset", "t_reset", "test"),
    ("POST", "/_test/faults", "t_fault_add", "test"),
    ("GET", "/_test/faults", "t_fault_list", "test"),
    ("DELETE", "/_test/faults", "t_fault_clear", "test"),
    ("DELETE", "/_test/faults/{fid}", "t_fault_delete", "test"),
    ("POST", "/_test/printers/{pid}/expire-tokens", "t_expire", "test"),
    ("POST", "/_test/config", "t_config", "test"),
    ("POST", "/_test/drop-streams", "t_drop_streams", "test"),
    ("GET", "/_test/requests", "t_requests", "test"),
]
ROUTES = [(m, t.split("/")[1:], h, c) for m, t, h, c in ROUTES]


def match_route(method, segments):
    """(handler, class, params, None) or (None, class, {}, the 404/405 error)."""
    allowed = []
    cls = "other"
    for m, tmpl, handler, c in ROUTES:
        if len(tmpl) != len(segments):
            continue
        params = {}
        for t, s in zip(tmpl, segments):
            if t.startswith("{"):
                if not s:
                    break
                params[t[1:-1]] = s
            elif t != s:
                break
        else:
            if m == method:
                return handler, c, params, None
            allowed.append(m)
            cls = c
    if allowed:
        return None, cls, {}, HTTPError(405, "method_not_allowed",
                                        "method %s not allowed here" % method,
                                        [("Allow", ", ".join(sorted(set(allowed))))])
    if segments and segments[0] == "v1" and len(segments) > 1 and segments[1] == "portal":
        cls = "portal"
    elif segments and segments[0] == "_test":
        cls = "test"
    return None, cls, {}, HTTPError(404, "not_found",
                                    "no such resource: /" + "/".join(segments))


class CloudServer:
    def __init__(self, args):
        self.args = args
        self.port = None
        self.conns = set()
        self.stream_tasks = set()
        self.state_log = None
        if args.state_log:
            self.state_log = open(args.state_log, "a", buffering=1)
        self.reset_state()

    # ---- state -------------------------------------------------------------

    def reset_state(self):
        self.config = {
            "token_lifetime": float(self.args.token_lifetime),
            "ping_interval": float(self.args.ping_interval),
            "poll_interval": float(self.args.poll_interval),
            "heartbeat_interval": float(self.args.heartbeat_interval),
            "registration_lifetime": float(self.args.registration_lifetime),
        }
        self.printers = {}
        self.tokens = {}
        self.claim_codes = {}
        self.jobs = {}
        self.faults = []
        self.fault_seq = 0
        self.accounting = {}
        self.acct_seq = 0

    def log_state(self, event, **kw):
        if not self.state_log:
            return
        kw.update(time=time.time(), event=event)
        try:
            self.state_log.write(json.dumps(kw) + "\n")
        except OSError:
            pass

    def base_url(self):
        return "https://127.0.0.1:%d" % self.port

    def job_json(self, job):
        return {"id": job.id, "name": job.name, "size": job.size, "sha256": job.sha256,
                "data_url": "%s/v1/jobs/%s/data" % (self.base_url(), job.id)}

    def listed_jobs(self, printer):
        return [self.jobs[j] for j in printer.jobs if self.jobs[j].state == "queued"]

    def issue_access_token(self, printer):
        tok = new_token("at_")
        lifetime = self.config["token_lifetime"]
        self.tokens[tok] = Token("access", printer.id, time.monotonic() + lifetime)
        printer.access_tokens.append(tok)
        return tok, int(lifetime)

    def check_expiry(self, printer):
        if printer.state == "pending" and time.monotonic() > printer.reg_deadline:
            printer.state = "expired"
            self.claim_codes.pop(printer.claim_code, None)
            self.log_state("registration_expired", printer_id=printer.id)

    def cancel_jobs(self, printer):
        for jid in printer.jobs:
            job = self.jobs[jid]
            if job.state not in JOB_FINAL:
                job.state = "cancelled"
                job.updated = time.time()

    # ---- faults ------------------------------------------------------------

    def take_fault(self, kinds, printer_id, endpoint):
        """The first active fault of one of KINDS matching; consumes one count."""
        for f in self.faults:
            if f.kind in kinds and f.matches(printer_id, endpoint):
                if f.remaining is not None:
                    f.remaining -= 1
                    if f.remaining <= 0:
                        self.faults.remove(f)
                return f
        return None

    def request_faults(self, printer_id, endpoint):
        """Faults to apply to one request, in creation order: delays, then one answer."""
        out = []
        for f in list(self.faults):
            if f.kind not in REQUEST_FAULTS or not f.matches(printer_id, endpoint):
                continue
            if f.remaining is not None:
                f.remaining -= 1
                if f.remaining <= 0:
                    self.faults.remove(f)
            out.append(f)
            if f.kind != "delay":
                break
        return out

    # ---- accounting --------------------------------------------------------

    def attribute(self, req):
        """Find the printer a request belongs to (path id, else credential)."""
        pid = req.params.get("pid")
        if pid and pid in self.printers:
            return pid
        tok = req.bearer()
        if tok and tok in self.tokens:
            return self.tokens[tok].printer_id
        jid = req.params.get("jid")
        if jid and jid in self.jobs:
            return self.jobs[jid].printer_id
        return None

    def record(self, req, pid):
        printer = self.printers.get(pid)
        if printer is None:
            return
        self.acct_seq += 1
        after = printer.deleted_mono is not None and req.mono > printer.deleted_mono
        rec = {"seq": self.acct_seq, "mono": req.mono, "wall": req.wall,
               "method": req.method, "path": req.path, "endpoint": req.endpoint,
               "status": 0, "fault": None, "after_deletion": after}
        self.accounting.setdefault(pid, []).append(rec)
        printer.last_seen = req.wall
        req.record = rec

    # ---- connection handling -----------------------------------------------

    async def handle_conn(self, reader, writer):
        task = asyncio.current_task()
        self.conns.add(task)
        try:
            await self.serve_conn(reader, writer)
        except (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError, OSError):
            pass
        except ResetConnection:
            self.abort(writer)
            return
        except asyncio.CancelledError:
            pass
        except Exception as exc:  # a bug: log it, never a traceback to the client
            print("cloudsrv: internal error: %r" % exc, file=sys.stderr, flush=True)
        finally:
            self.conns.discard(task)
        try:
            writer.close()
            await asyncio.wait_for(writer.wait_closed(), 2)
        except (Exception, asyncio.CancelledError):
            writer.transport.abort()

    async def linger(self, reader):
        """Before closing on an error, read (and drop) what the client is still
        sending for a moment, so that closing with unread data does not send a
        TCP reset that could destroy the error response in flight."""
        async def drain():
            total = 0
            while total < 4 * 1024 * 1024:
                chunk = await reader.read(65536)
                if not chunk:
                    return
                total += len(chunk)
        try:
            await asyncio.wait_for(drain(), 1.0)
        except Exception:
            pass

    def abort(self, writer):
        sock = writer.get_extra_info("socket")
        try:
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        writer.transport.abort()

    async def send(self, writer, req, resp, close):
        head = ["HTTP/1.1 %d %s" % (resp.status, REASONS.get(resp.status, "Unknown"))]
        if resp.ctype:
            head.append("Content-Type: " + resp.ctype)
        head.append("Content-Length: %d" % len(resp.body))
        head.append("Cache-Control: no-store")
        for k, v in resp.headers:
            head.append("%s: %s" % (k, v))
        head.append("Connection: close" if close else "Connection: keep-alive")
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
        if resp.body:
            writer.write(resp.body)
        if req is not None and req.record is not None:
            req.record["status"] = resp.status
        await writer.drain()

    async def send_error(self, writer, req, err, close=False):
        headers = list(err.headers)
        if err.status == 401:
            headers.append(("WWW-Authenticate", "Bearer"))
        resp = Response(err.status, error_body(err.code, err.message), "application/json", headers)
        await self.send(writer, req, resp, close or err.close)

    async def read_head(self, reader):
        """The request head as bytes, None at a clean EOF between requests."""
        try:
            data = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), IDLE_TIMEOUT)
        except asyncio.IncompleteReadError as e:
            if e.partial.strip():
                raise HTTPError(400, "bad_request", "incomplete request head", close=True)
            return None
        except asyncio.LimitOverrunError:
            raise HTTPError(431, "headers_too_large",
                            "request head larger than %d bytes" % (MAX_REQUEST_LINE + MAX_HEADER_BLOCK),
                            close=True)
        except asyncio.TimeoutError:
            return None
        return data

    def parse_head(self, data):
        lines = data[:-4].split(b"\r\n")
        while lines and lines[0] == b"":   # tolerate stray CRLF between requests
            lines.pop(0)
        if not lines:
            raise HTTPError(400, "bad_request", "empty request", close=True)
        if len(lines[0]) > MAX_REQUEST_LINE:
            raise HTTPError(400, "bad_request", "request line longer than %d bytes"
                            % MAX_REQUEST_LINE, close=True)
        if len(data) - len(lines[0]) > MAX_HEADER_BLOCK or len(lines) - 1 > MAX_HEADERS:
            raise HTTPError(431, "headers_too_large", "header block above %d bytes or %d lines"
                            % (MAX_HEADER_BLOCK, MAX_HEADERS), close=True)
        try:
            line = lines[0].decode("ascii")
            method, target, version = line.split(" ")
        except (UnicodeDecodeError, ValueError):
            raise HTTPError(400, "bad_request", "malformed request line", close=True)
        if version not in ("HTTP/1.1", "HTTP/1.0") or not target.startswith("/") \
                or not method.isalpha():
            raise HTTPError(400, "bad_request", "malformed request line", close=True)
        headers = {}
        for raw in lines[1:]:
            try:
                text = raw.decode("latin-1")
            except UnicodeDecodeError:
                raise HTTPError(400, "bad_request", "malformed header", close=True)
            name, sep, value = text.partition(":")
            if not sep or not name or name != name.strip() or " " in name:
                raise HTTPError(400, "bad_request", "malformed header line", close=True)
            name = name.lower()
            value = value.strip()
            if name == "content-length" and name in headers and headers[name] != value:
                raise HTTPError(400, "bad_request", "conflicting Content-Length", close=True)
            headers[name] = value
        return Request(method, target, version, headers, time.monotonic(), time.time())

    def wants_close(self, req):
        conn = [t.strip().lower() for t in req.header("connection", "").split(",")]
        if "close" in conn:
            return True
        return req.version == "HTTP/1.0" and "keep-alive" not in conn

    async def serve_conn(self, reader, writer):
        while True:
            req = None
            try:
                data = await self.read_head(reader)
                if data is None:
                    return
                req = self.parse_head(data)
            except HTTPError as err:
                await self.send_error(writer, None, err, close=True)
                await self.linger(reader)
                return
            close = self.wants_close(req)
            try:
                handler = await self.prepare(req, reader, writer)
            except HTTPError as err:
                await self.send_error(writer, req, err, close=close)
                if err.close:
                    await self.linger(reader)
                if close or err.close:
                    return
                continue
            if isinstance(handler, Response):
                await self.send(writer, req, handler, close)
                if close:
                    return
                continue
            if handler == "h_events":
                try:
                    printer = self.printer_auth(req)
                except HTTPError as err:
                    await self.send_error(writer, req, err, close=close)
                    if close:
                        return
                    continue
                # the stream owns the connection until it ends
                await self.run_events(req, printer, reader, writer)
                return
            try:
                resp = await getattr(self, handler)(req)
            except HTTPError as err:
                await self.send_error(writer, req, err, close=close)
                if close or err.close:
                    return
                continue
            await self.send(writer, req, resp, close)
            if close:
                return

    async def prepare(self, req, reader, writer):
        """Route, read the body, account, apply faults.

        Returns the handler's name, or a Response when a fault answers."""
        handler, req.endpoint, req.params, route_err = match_route(req.method, req.segments)
        # body framing
        if "transfer-encoding" in req.headers:
            raise HTTPError(411, "length_required",
                            "chunked request bodies are not supported; send Content-Length",
                            close=True)
        cl = req.header("content-length")
        length = 0
        if cl is not None:
            if not cl.isdigit() or len(cl) > 12:
                raise HTTPError(400, "bad_request", "invalid Content-Length", close=True)
            length = int(cl)
        limit = MAX_JOB_DATA if handler == "h_portal_submit" else MAX_JSON_BODY
        if length > limit:
            raise HTTPError(413, "body_too_large", "body of %d bytes above the limit of %d bytes"
                            % (length, limit), close=True)
        if length:
            if req.header("expect", "").lower() == "100-continue":
                writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                await writer.drain()
            req.body = await reader.readexactly(length)
        if route_err is not None:
            if req.endpoint not in ("portal", "test"):
                req.printer_id = self.attribute(req)
                self.record(req, req.printer_id)
            raise route_err
        if req.endpoint == "test":
            return handler
        req.printer_id = self.attribute(req)
        if req.endpoint != "portal":
            self.record(req, req.printer_id)
        for f in self.request_faults(req.printer_id, req.endpoint):
            if req.record is not None:
                req.record["fault"] = f.kind
            if f.kind == "delay":
                await asyncio.sleep(float(f.delay))
            elif f.kind == "reset":
                raise ResetConnection()
            elif f.kind == "captive_portal":
                if req.record is not None:
                    req.record["status"] = 404
                return Response(404, CAPTIVE_PORTAL_HTML, "text/html; charset=utf-8")
            elif f.kind == "rate_limit":
                ra = f.retry_after if f.retry_after is not None else 5
                raise HTTPError(429, "rate_limited", "too many requests (injected)",
                                [("Retry-After", str(int(ra)))])
            elif f.kind == "http_error":
                st = int(f.status)
                hdrs = []
                if f.retry_after is not None:
                    hdrs.append(("Retry-After", str(int(f.retry_after))))
                raise HTTPError(st, ERROR_CODE_BY_STATUS.get(st, "error_%d" % st),
                                "injected HTTP %d" % st, hdrs)
        return handler

    # ---- helpers for handlers ----------------------------------------------

    def json_body(self, req):
        ctype = req.header("content-type")
        if ctype is not None and ctype.split(";")[0].strip().lower() != "application/json":
            raise HTTPError(415, "unsupported_media_type",
                            "expected Content-Type application/json, got %s" % ctype)
        if not req.body.strip():
            return {}
        try:
            obj = json.loads(req.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise HTTPError(400, "invalid_json", "body is not valid JSON: %s" % e)
        if not isinstance(obj, dict):
            raise HTTPError(400, "invalid_body", "body must be a JSON object")
        return obj

    @staticmethod
    def field_str(obj, name, required, maxlen, nonempty=False):
        if name not in obj or obj[name] is None:
            if required:
                raise HTTPError(400, "missing_field", "missing field '%s'" % name)
            return None
        v = obj[name]
        if not isinstance(v, str):
            raise HTTPError(400, "invalid_field", "field '%s' must be a string" % name)
        if len(v.encode("utf-8", "surrogatepass")) > maxlen:
            raise HTTPError(400, "invalid_field", "field '%s' longer than %d bytes" % (name, maxlen))
        if nonempty and not v.strip():
            raise HTTPError(400, "invalid_field", "field '%s' must not be empty" % name)
        return v

    def deleted_check(self, req, secret=None):
        """Step 3 of the error precedence: any credential or path id of a deleted printer."""
        cands = []
        tok = req.bearer()
        if tok and tok in self.tokens:
            cands.append(self.tokens[tok].printer_id)
        if secret and secret in self.tokens:
            cands.append(self.tokens[secret].printer_id)
        pid = req.params.get("pid")
        if pid:
            cands.append(pid)
        for c in cands:
            p = self.printers.get(c)
            if p is not None and p.state == "deleted":
                raise HTTPError(404, "printer_deleted",
                                "printer %s was deleted by its owner" % p.id)

    def authenticate(self, req, kinds):
        """The printer a valid bearer token of one of KINDS belongs to."""
        tok = req.bearer()
        if tok is None or tok == "":
            raise HTTPError(401, "missing_credentials", "Authorization: Bearer <token> required")
        info = self.tokens.get(tok)
        if info is None or info.kind == "secret":
            raise HTTPError(401, "invalid_token", "unknown token")
        printer = self.printers[info.printer_id]
        self.check_expiry(printer)
        if printer.state in ("unregistered", "expired"):
            raise HTTPError(401, "invalid_token", "token revoked (printer %s)" % printer.state)
        if info.kind not in kinds:
            raise HTTPError(401, "invalid_token", "this kind of token is not valid here")
        if info.expires is not None and time.monotonic() >= info.expires:
            raise HTTPError(401, "token_expired", "access token expired; refresh it")
        return printer

    def printer_auth(self, req, kinds=("access",)):
        self.deleted_check(req)
        printer = self.authenticate(req, kinds)
        pid = req.params["pid"]
        if printer.id != pid:
            raise HTTPError(403, "forbidden", "token belongs to another printer")
        return printer

    def job_auth(self, req):
        self.deleted_check(req)
        printer = self.authenticate(req, ("access",))
        job = self.jobs.get(req.params["jid"])
        if job is None or job.printer_id != printer.id:
            raise HTTPError(404, "not_found", "no such job")
        return printer, job

    def portal_auth(self, req):
        tok = req.bearer()
        if tok is None or tok == "":
            raise HTTPError(401, "missing_credentials", "Authorization: Bearer <portal token> required")
        if not secrets.compare_digest(tok.encode(), self.args.portal_token.encode()):
            raise HTTPError(401, "invalid_token", "wrong portal token")

    def portal_printer(self, req):
        p = self.printers.get(req.params["pid"])
        if p is None:
            raise HTTPError(404, "not_found", "no such printer")
        return p

    # ---- printer endpoints ---------------------------------------------------

    async def h_register(self, req):
        body = self.json_body(req)
        name = self.field_str(body, "name", True, MAX_NAME, nonempty=True)
        model = self.field_str(body, "model", False, MAX_NAME)
        pid = new_id("p_")
        while pid in self.printers:
            pid = new_id("p_")
        code = new_claim_code()
        while code in self.claim_codes:
            code = new_claim_code()
        rt = new_token("rt_")
        lifetime = self.config["registration_lifetime"]
        p = Printer(pid, name, model, rt, code, time.monotonic() + lifetime)
        self.printers[pid] = p
        self.tokens[rt] = Token("reg", pid)
        self.claim_codes[code] = pid
        req.params["pid"] = pid
        req.printer_id = pid
        self.record(req, pid)
        self.log_state("registered", printer_id=pid, name=name)
        return json_response(201, {"printer_id": pid, "registration_token": rt, "claim_code": code,
                                   "claim_url": "%s/claim?code=%s" % (self.base_url(), code),
                                   "expires_in": int(lifetime)})

    async def h_registration(self, req):
        self.deleted_check(req)
        tok = req.bearer()
        info = self.tokens.get(tok) if tok else None
        if info is not None and info.kind == "reg":
            p = self.printers[info.printer_id]
            self.check_expiry(p)
            if p.state == "expired" and p.id == req.params["pid"]:
                raise HTTPError(410, "registration_expired",
                                "registration was not claimed in time; register again")
        printer = self.printer_auth(req, ("reg",))
        if printer.state == "pending":
            return json_response(200, {"status": "pending"})
        at, lifetime = self.issue_access_token(printer)
        return json_response(200, {"status": "claimed", "printer_secret": printer.secret,
                                   "access_token": at, "expires_in": lifetime})

    async def h_token(self, req):
        secret = None
        try:
            obj = json.loads(req.body.decode("utf-8")) if req.body.strip() else {}
            if isinstance(obj, dict) and isinstance(obj.get("printer_secret"), str):
                secret = obj["printer_secret"]
        except (UnicodeDecodeError, ValueError):
            pass
        self.deleted_check(req, secret)
        body = self.json_body(req)
        secret = self.field_str(body, "printer_secret", True, 1024)
        p = self.printers.get(req.params["pid"])
        if p is None or p.state in ("unregistered", "expired"):
            raise HTTPError(404, "not_found", "no such printer")
        if p.secret is None or not secrets.compare_digest(secret.encode(), p.secret.encode()):
            raise HTTPError(401, "invalid_secret", "wrong printer secret")
        at, lifetime = self.issue_access_token(p)
        return json_response(200, {"access_token": at, "expires_in": lifetime})

    async def h_jobs(self, req):
        printer = self.printer_auth(req)
        return json_response(200, {"jobs": [self.job_json(j) for j in self.listed_jobs(printer)],
                                   "poll_interval": max(1, round(self.config["poll_interval"]))})

    async def h_heartbeat(self, req):
        self.printer_auth(req)
        self.json_body(req)
        return json_response(200, {"next_heartbeat": max(1, round(self.config["heartbeat_interval"]))})

    async def h_unregister(self, req):
        printer = self.printer_auth(req, ("access", "reg"))
        printer.state = "unregistered"
        self.claim_codes.pop(printer.claim_code, None)
        self.cancel_jobs(printer)
        for s in list(printer.streams):
            s.close()
        self.log_state("unregistered", printer_id=printer.id)
        return Response(204)

    async def h_data(self, req):
        printer, job = self.job_auth(req)
        if job.state in JOB_FINAL:
            raise HTTPError(409, "job_finished", "job is %s" % job.state)
        job.fetches += 1
        return Response(200, job.data, "application/octet-stream")

    async def h_status(self, req):
        printer, job = self.job_auth(req)
        body = self.json_body(req)
        state = body.get("state")
        if state is None:
            raise HTTPError(400, "missing_field", "missing field 'state'")
        if state not in ("printing", "done", "failed", "aborted"):
            raise HTTPError(400, "invalid_field",
                            "field 'state' must be one of printing, done, failed, aborted")
        crc = body.get("crc32")
        if crc is not None and (not isinstance(crc, int) or isinstance(crc, bool)
                                or not 0 <= crc <= 0xFFFFFFFF):
            raise HTTPError(400, "invalid_field", "field 'crc32' must be an integer 0..4294967295")
        detail = body.get("detail")
        if detail is not None and (not isinstance(detail, str) or len(detail) > MAX_DETAIL):
            raise HTTPError(400, "invalid_field",
                            "field 'detail' must be a string of at most %d characters" % MAX_DETAIL)
        if job.state in JOB_FINAL and job.state != state:
            raise HTTPError(409, "job_finished", "job is already %s" % job.state)
        if job.state in JOB_FINAL:
            return json_response(200, {})
        job.state = state
        if crc is not None:
            job.crc32 = crc
        if detail is not None:
            job.detail = detail
        job.updated = time.time()
        self.log_state("job_status", printer_id=printer.id, job_id=job.id, state=state,
                       crc32=crc, detail=detail)
        return json_response(200, {})

    async def run_events(self, req, printer, reader, writer):
        head = ("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                "Cache-Control: no-store\r\nConnection: close\r\n\r\n"
                "retry: %d\n\n" % STREAM_RETRY_MS)
        writer.write(head.encode())
        if req.record is not None:
            req.record["status"] = 200
        stream = Stream(self, printer, writer)
        split = self.take_fault(("split_events",), printer.id, "events")
        if split is not None:
            stream.split_delay = split.delay or 0.02
        printer.streams.add(stream)
        for job in self.listed_jobs(printer):
            stream.send("job", self.job_json(job))

        async def watch_eof():
            try:
                while await reader.read(4096):
                    pass
            except (Exception, asyncio.CancelledError):
                pass
            stream.close()

        eof_task = asyncio.ensure_future(watch_eof())
        try:
            await writer.drain()
            while not stream.closed:
                try:
                    await asyncio.wait_for(stream.wake.wait(), self.config["ping_interval"])
                except asyncio.TimeoutError:
                    if stream.closed:
                        break
                    if self.take_fault(("no_pings",), printer.id, "events") is None:
                        stream.send("ping", {"time": int(time.time())})
                        await writer.drain()
            await asyncio.wait_for(writer.drain(), 5)
        except (ConnectionError, OSError, ssl.SSLError, asyncio.TimeoutError):
            pass
        finally:
            stream.closed = True
            printer.streams.discard(stream)
            eof_task.cancel()

    # ---- portal ------------------------------------------------------------

    async def h_portal_claim(self, req):
        self.portal_auth(req)
        body = self.json_body(req)
        code = self.field_str(body, "claim_code", True, 64)
        norm = re.sub(r"[\s-]", "", code).upper()
        pid = self.claim_codes.get(norm)
        p = self.printers.get(pid) if pid else None
        if p is not None:
            self.check_expiry(p)
        if p is None or p.state in ("expired", "deleted", "unregistered"):
            raise HTTPError(404, "invalid_claim_code", "unknown or expired claim code")
        if p.state != "pending":
            raise HTTPError(409, "already_claimed", "printer %s is already claimed" % p.id)
        p.state = "claimed"
        p.claimed = time.time()
        p.secret = new_token("ps_")
        self.tokens[p.secret] = Token("secret", p.id)
        self.log_state("claimed", printer_id=p.id)
        return json_response(200, {"printer_id": p.id, "name": p.name})

    async def h_portal_printers(self, req):
        self.portal_auth(req)
        out = []
        for p in self.printers.values():
            self.check_expiry(p)
            out.append({"printer_id": p.id, "name": p.name, "model": p.model, "state": p.state,
                        "created": p.created, "claimed": p.claimed, "deleted": p.deleted,
                        "last_seen": p.last_seen, "streams": len(p.streams)})
        return json_response(200, {"printers": out})

    async def h_portal_submit(self, req):
        self.portal_auth(req)
        p = self.portal_printer(req)
        if p.state == "deleted":
            raise HTTPError(404, "printer_deleted", "printer %s was deleted" % p.id)
        if p.state in ("unregistered", "expired"):
            raise HTTPError(404, "not_found", "printer %s is %s" % (p.id, p.state))
        names = req.query.get("name", ["job"])
        name = names[-1]
        if len(names) > 1 or not name.strip() or len(name.encode()) > MAX_NAME:
            raise HTTPError(400, "invalid_parameter",
                            "query parameter 'name' must be 1..%d bytes" % MAX_NAME)
        if not req.body:
            raise HTTPError(400, "invalid_body", "empty job data")
        if p.state != "claimed":
            raise HTTPError(409, "not_claimed", "printer %s is not claimed yet" % p.id)
        jid = new_id("j_")
        while jid in self.jobs:
            jid = new_id("j_")
        job = Job(jid, p.id, name, req.body)
        self.jobs[jid] = job
        p.jobs.append(jid)
        for s in list(p.streams):
            s.send("job", self.job_json(job))
        self.log_state("job_submitted", printer_id=p.id, job_id=jid, size=job.size)
        return json_response(201, {"job_id": jid, "size": job.size, "sha256": job.sha256})

    async def h_portal_jobs(self, req):
        self.portal_auth(req)
        p = self.portal_printer(req)
        out = []
        for jid in p.jobs:
            j = self.jobs[jid]
            out.append({"job_id": j.id, "name": j.name, "size": j.size, "sha256": j.sha256,
                        "data_crc32": j.data_crc32, "state": j.state, "crc32": j.crc32,
                        "detail": j.detail, "fetches": j.fetches, "created": j.created,
                        "updated": j.updated})
        return json_response(200, {"jobs": out})

    async def h_portal_delete(self, req):
        self.portal_auth(req)
        p = self.portal_printer(req)
        if p.state == "deleted":
            raise HTTPError(404, "printer_deleted", "printer %s is already deleted" % p.id)
        if p.state in ("unregistered", "expired"):
            raise HTTPError(404, "not_found", "printer %s is %s" % (p.id, p.state))
        p.state = "deleted"
        p.deleted = time.time()
        p.deleted_mono = time.monotonic()
        self.claim_codes.pop(p.claim_code, None)
        self.cancel_jobs(p)
        for s in list(p.streams):
            s.send("registration_deleted", {"printer_id": p.id})
            if self.take_fault(("stream_keep_open",), p.id, "events") is None:
                s.close()
        self.log_state("deleted", printer_id=p.id)
        return Response(204)

    # ---- test-only -----------------------------------------------------------

    async def t_health(self, req):
        streams = sum(len(p.streams) for p in self.printers.values())
        return json_response(200, {"ok": True, "printers": len(self.printers), "streams": streams})

    async def t_reset(self, req):
        for p in self.printers.values():
            for s in list(p.streams):
                s.close()
        self.reset_state()
        self.log_state("reset")
        return json_response(200, {})

    async def t_fault_add(self, req):
        spec = self.json_body(req)
        kind = spec.get("kind")
        if kind is None:
            raise HTTPError(400, "missing_field", "missing field 'kind'")
        if kind not in FAULT_KINDS:
            raise HTTPError(400, "invalid_field", "field 'kind' must be one of " + ", ".join(FAULT_KINDS))
        pid = spec.get("printer_id")
        if pid is not None and not isinstance(pid, str):
            raise HTTPError(400, "invalid_field", "field 'printer_id' must be a string")
        ep = spec.get("endpoint")
        if ep is not None and ep != "any" and ep not in ENDPOINT_CLASSES:
            raise HTTPError(400, "invalid_field", "field 'endpoint' must be 'any' or one of "
                            + ", ".join(ENDPOINT_CLASSES))
        count = spec.get("count")
        if count is not None and (not isinstance(count, int) or isinstance(count, bool) or count < 1):
            raise HTTPError(400, "invalid_field", "field 'count' must be a positive integer or null")
        st = spec.get("status", 503)
        if not isinstance(st, int) or isinstance(st, bool) or not 400 <= st <= 599:
            raise HTTPError(400, "invalid_field", "field 'status' must be an integer 400..599")
        for k in ("retry_after", "delay"):
            v = spec.get(k)
            if v is not None and (not isinstance(v, (int, float)) or isinstance(v, bool)
                                  or v < 0 or v > 3600):
                raise HTTPError(400, "invalid_field", "field '%s' must be a number 0..3600" % k)
        self.fault_seq += 1
        f = Fault(self.fault_seq, spec)
        self.faults.append(f)
        return json_response(201, {"fault_id": f.id})

    async def t_drop_streams(self, req):
        body = self.json_body(req)
        pid = body.get("printer_id")
        if pid is not None and not isinstance(pid, str):
            raise HTTPError(400, "invalid_field", "field 'printer_id' must be a string")
        n = 0
        for p in self.printers.values():
            if pid is not None and p.id != pid:
                continue
            for s in list(p.streams):
                s.drop()
                n += 1
        return json_response(200, {"dropped": n})

    async def t_fault_list(self, req):
        return json_response(200, {"faults": [f.as_json() for f in self.faults]})

    async def t_fault_clear(self, req):
        n = len(self.faults)
        self.faults = []
        return json_response(200, {"cleared": n})

    async def t_fault_delete(self, req):
        for f in self.faults:
            if str(f.id) == req.params["fid"]:
                self.faults.remove(f)
                return json_response(200, {"cleared": 1})
        raise HTTPError(404, "not_found", "no such fault")

    async def t_expire(self, req):
        p = self.printers.get(req.params["pid"])
        if p is None:
            raise HTTPError(404, "not_found", "no such printer")
        now = time.monotonic()
        n = 0
        for t in p.access_tokens:
            info = self.tokens[t]
            if info.expires > now:
                info.expires = now
                n += 1
        return json_response(200, {"expired": n})

    async def t_config(self, req):
        body = self.json_body(req)
        for k, v in body.items():
            if k not in self.config:
                raise HTTPError(400, "invalid_field", "unknown setting '%s'" % k)
            if not isinstance(v, (int, float)) or isinstance(v, bool) or v <= 0:
                raise HTTPError(400, "invalid_field", "setting '%s' must be a positive number" % k)
        for k, v in body.items():
            self.config[k] = float(v)
        return json_response(200, self.config)

    async def t_requests(self, req):
        pid = req.query.get("printer_id", [None])[-1]
        if not pid:
            raise HTTPError(400, "invalid_parameter", "query parameter 'printer_id' required")
        only_after = req.query.get("after_deletion", ["0"])[-1] in ("1", "true", "yes")
        recs = self.accounting.get(pid, [])
        p = self.printers.get(pid)
        after = [r for r in recs if r["after_deletion"]]
        return json_response(200, {
            "printer_id": pid,
            "deleted_at": p.deleted_mono if p else None,
            "deleted_at_wall": p.deleted if p else None,
            "count": len(recs), "after_deletion_count": len(after),
            "requests": after if only_after else recs})

    # ---- lifetime ------------------------------------------------------------

    async def shutdown(self):
        for p in self.printers.values():
            for s in list(p.streams):
                s.close()
        await asyncio.sleep(0)
        for t in list(self.conns):
            t.cancel()
        if self.conns:
            await asyncio.wait(list(self.conns), timeout=3)


def parse_args(argv):
    ap = argparse.ArgumentParser(description="Reference cloud print service (docs/protocol.md)")
    ap.add_argument("--cert", required=True, help="server certificate chain (PEM)")
    ap.add_argument("--key", required=True, help="server private key (PEM)")
    ap.add_argument("--port", type=int, default=8443, help="TCP port on 127.0.0.1 (0: any free port)")
    ap.add_argument("--portal-token", default="owner-secret", help="the owner's portal bearer token")
    ap.add_argument("--token-lifetime", type=float, default=3600, help="access token lifetime, s")
    ap.add_argument("--ping-interval", type=float, default=15, help="event stream ping interval, s")
    ap.add_argument("--poll-interval", type=float, default=10, help="poll interval advertised, s")
    ap.add_argument("--heartbeat-interval", type=float, default=60, help="heartbeat interval advertised, s")
    ap.add_argument("--registration-lifetime", type=float, default=900,
                    help="how long a registration may stay unclaimed, s")
    ap.add_argument("--state-log", help="append one JSON line per state change to this file")
    args = ap.parse_args(argv)
    for k in ("token_lifetime", "ping_interval", "poll_interval", "heartbeat_interval",
              "registration_lifetime"):
        if getattr(args, k) <= 0:
            ap.error("--%s must be positive" % k.replace("_", "-"))
    return args


def shrink_ssl_buffers():
    """asyncio's TLS transport (3.11) gives each connection a 256 KiB receive
    buffer; with thousands of mostly idle printer connections that is most of
    the process's memory.  32 KiB is plenty for this protocol."""
    try:
        import asyncio.sslproto as sslproto
        if getattr(sslproto.SSLProtocol, "max_size", 0) > 32 * 1024:
            sslproto.SSLProtocol.max_size = 32 * 1024
    except (ImportError, AttributeError):
        pass


async def main_async(args):
    shrink_ssl_buffers()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(args.cert, args.key)
    except (OSError, ssl.SSLError) as e:
        print("cloudsrv: cannot load certificate/key: %s" % e, file=sys.stderr)
        return 1
    srv = CloudServer(args)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        server = await asyncio.start_server(
            srv.handle_conn, "127.0.0.1", args.port, ssl=ctx, backlog=4096,
            limit=MAX_REQUEST_LINE + MAX_HEADER_BLOCK, ssl_handshake_timeout=10)
    except OSError as e:
        print("cloudsrv: cannot listen on 127.0.0.1:%d: %s" % (args.port, e), file=sys.stderr)
        return 1
    srv.port = server.sockets[0].getsockname()[1]
    print("listening on https://127.0.0.1:%d" % srv.port, flush=True)
    await stop.wait()
    server.close()
    await srv.shutdown()
    return 0


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError):
        pass
    rc = asyncio.run(main_async(args))
    sys.stdout.flush()
    return rc


if __name__ == "__main__":
    sys.exit(main())
