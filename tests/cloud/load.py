#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Load test of the reference cloud (not part of make check).

    tests/cloud/load.py [--streams 1000] [--pollers 1000] [--rate 1] [--duration 30] [--procs 2]

Starts its own cloudsrv.py on 127.0.0.1 (fresh test PKI in a temporary
directory), registers and claims STREAMS + POLLERS printers, then for
DURATION seconds holds STREAMS event streams open (one printer each) while
POLLERS other printers each poll their jobs RATE times a second on their own
keep-alive connection.  Halfway through, one job is submitted to every stream
printer; at the end every stream printer is deleted in the portal and every
stream must receive registration_deleted.  Reports the server's CPU time
and peak RSS (from /proc/PID/stat and /proc/PID/status), poll latencies and
errors.  Traffic goes to 127.0.0.1 only.
"""

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import re
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PORTAL = "owner-secret"


# ---- a minimal asyncio HTTPS/1.1 client -----------------------------------


class Conn:
    def __init__(self, port, ctx):
        self.port = port
        self.ctx = ctx
        self.r = self.w = None

    async def open(self):
        self.r, self.w = await asyncio.open_connection("127.0.0.1", self.port, ssl=self.ctx,
                                                       server_hostname="127.0.0.1", limit=1 << 20)

    async def request(self, method, path, body=b"", token=None, ctype="application/json"):
        if self.w is None:
            await self.open()
        head = "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n" % (method, path)
        if token:
            head += "Authorization: Bearer %s\r\n" % token
        if body:
            head += "Content-Type: %s\r\nContent-Length: %d\r\n" % (ctype, len(body))
        self.w.write(head.encode() + b"\r\n" + body)
        hd = await self.r.readuntil(b"\r\n\r\n")
        status = int(hd[9:12])
        m = re.search(rb"\r\ncontent-length: *(\d+)", hd, re.I)
        data = await self.r.readexactly(int(m.group(1))) if m else b""
        if re.search(rb"\r\nconnection: *close", hd, re.I):
            self.close()
        return status, data

    def close(self):
        if self.w is not None:
            self.w.close()
            self.w = None


def client_ctx(ca):
    return ssl.create_default_context(cafile=ca)


# ---- workers ----------------------------------------------------------------


async def poller(port, ctx, p, rate, t_end, stats):
    c = Conn(port, ctx)
    await asyncio.sleep(random.random() / rate)
    nxt = time.monotonic()
    while time.monotonic() < t_end:
        t0 = time.monotonic()
        try:
            first = c.w is None
            st, _ = await c.request("GET", "/v1/printers/%s/jobs" % p["pid"], token=p["at"])
            stats["connect_lat" if first else "lat"].append(time.monotonic() - t0)
            stats["polls"] += 1
            if st != 200:
                stats["errors"] += 1
        except (OSError, asyncio.IncompleteReadError, ssl.SSLError):
            stats["errors"] += 1
            c.close()
        nxt += 1.0 / rate
        await asyncio.sleep(max(0, nxt - time.monotonic()))
    c.close()


async def streamer(port, ctx, p, t_stop, stats):
    try:
        r, w = await asyncio.open_connection("127.0.0.1", port, ssl=ctx,
                                             server_hostname="127.0.0.1")
        w.write(("GET /v1/printers/%s/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 "Authorization: Bearer %s\r\nAccept: text/event-stream\r\n\r\n"
                 % (p["pid"], p["at"])).encode())
        hd = await r.readuntil(b"\r\n\r\n")
        if hd[9:12] != b"200":
            stats["errors"] += 1
            w.close()
            return
        stats["open"] += 1
        while True:
            line = await asyncio.wait_for(r.readline(), max(1, t_stop - time.monotonic()))
            if not line:
                break
            if line.startswith(b"event: "):
                ev = line[7:].strip().decode()
                stats[ev] = stats.get(ev, 0) + 1
                if ev == "registration_deleted":
                    stats["deleted_at"].append(time.time())
    except (OSError, asyncio.IncompleteReadError, ssl.SSLError, asyncio.TimeoutError):
        stats["stream_errors"] += 1
    try:
        w.close()
    except Exception:
        pass


def worker(port, ca, pollers, streams, rate, t_start_wall, duration, q):
    async def run():
        ctx = client_ctx(ca)
        stats = {"lat": [], "connect_lat": [], "polls": 0, "errors": 0, "open": 0, "stream_errors": 0,
                 "deleted_at": []}
        # the start and end times are wall-clock, shared by all processes
        await asyncio.sleep(max(0, t_start_wall - time.time()))
        t_end = time.monotonic() + duration
        tasks = [asyncio.ensure_future(streamer(port, ctx, p, t_end + 30, stats)) for p in streams]
        tasks += [asyncio.ensure_future(poller(port, ctx, p, rate, t_end, stats)) for p in pollers]
        await asyncio.gather(*tasks)
        return stats
    q.put(asyncio.run(run()))


# ---- server process figures -----------------------------------------------


def proc_cpu(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tck = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / tck   # utime + stime


def proc_mem(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmHWM", "VmRSS"):
                out[k] = int(v.split()[0])
    return out


def pct(xs, p):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100 * len(xs)))]


async def setup(port, ca, n, conns=50):
    ctx = client_ctx(ca)
    out = []

    async def one(c, i):
        st, d = await c.request("POST", "/v1/printers", json.dumps({"name": "load-%d" % i}).encode())
        reg = json.loads(d)
        await c.request("POST", "/v1/portal/claim",
                        json.dumps({"claim_code": reg["claim_code"]}).encode(), token=PORTAL)
        st, d = await c.request("GET", "/v1/printers/%s/registration" % reg["printer_id"],
                                token=reg["registration_token"])
        cred = json.loads(d)
        out.append({"pid": reg["printer_id"], "at": cred["access_token"]})

    async def lane(k):
        c = Conn(port, ctx)
        for i in range(k, n, conns):
            await one(c, i)
        c.close()

    await asyncio.gather(*[lane(k) for k in range(conns)])
    return out


async def portal_all(port, ca, method, paths, body=b"", conns=20):
    ctx = client_ctx(ca)
    bad = 0

    async def lane(k):
        nonlocal bad
        c = Conn(port, ctx)
        for path in paths[k::conns]:
            st, _ = await c.request(method, path, body, token=PORTAL,
                                    ctype="application/octet-stream")
            bad += st not in (201, 204)
        c.close()

    await asyncio.gather(*[lane(k) for k in range(conns)])
    return bad


async def health(port, ca):
    c = Conn(port, client_ctx(ca))
    st, d = await c.request("GET", "/_test/health")
    c.close()
    return json.loads(d)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--streams", type=int, default=1000)
    ap.add_argument("--pollers", type=int, default=1000)
    ap.add_argument("--rate", type=float, default=1.0, help="polls per second per poller")
    ap.add_argument("--duration", type=float, default=30)
    ap.add_argument("--procs", type=int, default=2, help="client processes")
    ap.add_argument("--ping-interval", type=float, default=15)
    a = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="cloudload.")
    srv = None
    try:
        subprocess.run([os.path.join(HERE, "gen-certs.sh"), tmp], check=True)
        ca = os.path.join(tmp, "ca.pem")
        srv = subprocess.Popen([sys.executable, os.path.join(HERE, "cloudsrv.py"),
                                "--cert", os.path.join(tmp, "server.pem"),
                                "--key", os.path.join(tmp, "server.key"), "--port", "0",
                                "--ping-interval", str(a.ping_interval)],
                               stdout=subprocess.PIPE, text=True)
        line = srv.stdout.readline()
        port = int(line.rsplit(":", 1)[1])
        print("server pid %d on port %d" % (srv.pid, port), flush=True)

        t0 = time.monotonic()
        printers = asyncio.run(setup(port, ca, a.streams + a.pollers))
        print("registered and claimed %d printers in %.1f s" % (len(printers), time.monotonic() - t0),
              flush=True)
        sp, pp = printers[:a.streams], printers[a.streams:]

        q = multiprocessing.Queue()
        t_start = time.time() + 1.0
        procs = []
        for k in range(a.procs):
            w = multiprocessing.Process(target=worker, args=(
                port, ca, pp[k::a.procs], sp[k::a.procs], a.rate, t_start, a.duration, q))
            w.start()
            procs.append(w)

        time.sleep(max(0, t_start - time.time()) + 3)   # streams connected
        cpu0, w0 = proc_cpu(srv.pid), time.monotonic()
        h = asyncio.run(health(port, ca))
        print("steady state: %d streams open on the server" % h["streams"], flush=True)
        samples = []
        submitted = False
        while time.time() < t_start + a.duration:
            time.sleep(1)
            samples.append((time.monotonic(), proc_cpu(srv.pid), proc_mem(srv.pid)))
            if not submitted and time.time() > t_start + a.duration / 2:
                submitted = True
                bad = asyncio.run(portal_all(port, ca, "POST", [
                    "/v1/portal/printers/%s/jobs?name=load" % p["pid"] for p in sp], b"x" * 1000))
                print("submitted %d jobs to stream printers (%d failed)" % (len(sp), bad), flush=True)
        cpu1, w1 = proc_cpu(srv.pid), time.monotonic()
        h = asyncio.run(health(port, ca))
        print("end of load phase: %d streams still open" % h["streams"], flush=True)

        td = time.time()
        bad = asyncio.run(portal_all(port, ca, "DELETE", ["/v1/portal/printers/%s" % p["pid"] for p in sp]))
        stats = [q.get() for _ in procs]
        for w in procs:
            w.join()
        mem = proc_mem(srv.pid)
        cpu_total = proc_cpu(srv.pid)

        lat = sum((s["lat"] for s in stats), [])
        polls = sum(s["polls"] for s in stats)
        dele = sum((s["deleted_at"] for s in stats), [])
        print()
        print("load: %d event streams + %d pollers at %.1f/s for %.0f s, %d client processes"
              % (a.streams, a.pollers, a.rate, a.duration, a.procs))
        print("streams opened: %d, stream errors: %d" % (sum(s["open"] for s in stats),
                                                       sum(s["stream_errors"] for s in stats)))
        print("polls: %d (%.0f/s), errors: %d, keep-alive latency p50 %.1f ms, p99 %.1f ms, max %.1f ms"
              % (polls, polls / a.duration, sum(s["errors"] for s in stats), pct(lat, 50) * 1e3,
                 pct(lat, 99) * 1e3, max(lat or [0]) * 1e3))
        cl = sum((s["connect_lat"] for s in stats), [])
        print("first poll of each poller (TLS handshake included, all %d at once): p50 %.0f ms, "
              "max %.0f ms" % (len(cl), pct(cl, 50) * 1e3, max(cl or [0]) * 1e3))
        print("events: job %d, ping %d, registration_deleted %d (portal delete failures %d)"
              % (sum(s.get("job", 0) for s in stats), sum(s.get("ping", 0) for s in stats),
                 len(dele), bad))
        if dele:
            print("registration_deleted reached every stream %.2f s after the first DELETE"
                  % (max(dele) - td))
        print("server CPU during the load phase: %.1f s over %.1f s wall (%.0f%% of one core)"
              % (cpu1 - cpu0, w1 - w0, 100 * (cpu1 - cpu0) / (w1 - w0)))
        print("server CPU total (setup included): %.1f s" % cpu_total)
        print("server peak RSS (VmHWM): %.1f MiB, RSS at end: %.1f MiB"
              % (mem["VmHWM"] / 1024, mem["VmRSS"] / 1024))
        ok = len(dele) == a.streams and sum(s["errors"] for s in stats) == 0
        print("RESULT: %s" % ("PASS" if ok else "FAIL"))
        return 0 if ok else 1
    finally:
        if srv is not None and srv.poll() is None:
            srv.send_signal(signal.SIGTERM)
            try:
                srv.wait(15)
            except subprocess.TimeoutExpired:
                srv.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
