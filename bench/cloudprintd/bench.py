#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""bench/cloudprintd: the cost of cloudprintd, in the guest (bench/cloudprintd/run).

Expects prengine.ko loaded, the reference cloud on 127.0.0.1:CLOUD_PORT
answering, and bench/cloudprintd/relay.py in front of it.  Prints
RESULT lines (scripts/bench) and "# " diagnostics.  Standard library only.
"""

import json
import os
import random
import select
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request

T = os.environ.get("T", "/tmp/cpd-bench")
B = os.environ.get("CPD_BIN", "build/helper")
CLOUD_PORT = int(os.environ.get("CLOUD_PORT", "8443"))
STATS_PORT = int(os.environ.get("STATS_PORT", "9400"))
RELAY = {"poll10": 9410, "poll1": 9411, "push": 9412, "curl": 9413}
CA = T + "/pki/ca.pem"
PORTAL = "https://127.0.0.1:%d" % CLOUD_PORT
PORTAL_TOKEN = "owner-secret"
IDLE_S = float(os.environ.get("CPD_BENCH_IDLE_S", "300"))
PUSH_RUNS = int(os.environ.get("CPD_BENCH_PUSH_RUNS", "20"))
POLL_RUNS = int(os.environ.get("CPD_BENCH_POLL_RUNS", "5"))
CURL_RUNS = int(os.environ.get("CPD_BENCH_CURL_RUNS", "10"))
STRACE_S = int(os.environ.get("CPD_BENCH_STRACE_S", "10"))
SILENCE_S = float(os.environ.get("CPD_BENCH_SILENCE_S", "30"))
HZ = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")

rng = random.Random(1)
_ssl = None


def diag(msg):
    print("# " + msg, flush=True)


def result(what, figure, compared):
    print("RESULT %s | %s | %s" % (what, figure, compared), flush=True)


def fail(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)
    sys.exit(1)


def wait_for(seconds, fn, step=0.1):
    end = time.monotonic() + seconds
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() >= end:
            return v
        time.sleep(step)


# ---- the portal and the test endpoints ----

def portal(method, path, body=None):
    global _ssl
    if _ssl is None:
        _ssl = ssl.create_default_context(cafile=CA)
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(PORTAL + path, data=data, method=method,
                                 headers={"Authorization": "Bearer " + PORTAL_TOKEN,
                                          "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, context=_ssl, timeout=30) as r:
            raw = r.read()
    except urllib.error.HTTPError as e:
        fail("portal %s %s: HTTP %d %s" % (method, path, e.code, e.read()[:200]))
    return json.loads(raw) if raw else {}


def accounting(pid):
    return portal("GET", "/_test/requests?printer_id=" + pid)


# ---- the relay ----

def relay_stats():
    with socket.create_connection(("127.0.0.1", STATS_PORT), timeout=10) as s:
        buf = b""
        while True:
            d = s.recv(65536)
            if not d:
                break
            buf += d
    return json.loads(buf)


# ---- the process ----

def proc(pid):
    """utime+stime (s), voluntary and nonvoluntary context switches summed
    over the threads, VmHWM (KiB), thread count."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / HZ  # utime, stime: fields 14, 15
    vol = nvol = 0
    tasks = os.listdir("/proc/%d/task" % pid)
    for tid in tasks:
        try:
            with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
                for line in f:
                    if line.startswith("voluntary_ctxt_switches:"):
                        vol += int(line.split()[1])
                    elif line.startswith("nonvoluntary_ctxt_switches:"):
                        nvol += int(line.split()[1])
        except FileNotFoundError:
            pass
    hwm = 0
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                hwm = int(line.split()[1])
    return {"cpu": cpu, "vol": vol, "nvol": nvol, "hwm": hwm, "threads": len(tasks)}


# ---- the daemon ----

class Daemon:
    def __init__(self, name, engine, mode, interval):
        self.name = name
        self.engine = engine
        self.mode = mode
        self.interval = interval
        self.dir = "%s/%s" % (T, name)
        os.makedirs(self.dir, exist_ok=True)
        self.cfg = self.dir + "/cfg.json"
        self.sock = self.dir + "/cpd.sock"
        self.p = None
        self.pid = None   # the printer id
        self.write_cfg(interval)

    def write_cfg(self, interval):
        # The defaults of docs/helper.md but for the interval, the mode, the
        # engine and where things are; log at info (one line per poll at
        # debug would be part of the cost).
        cfg = {"server": "https://127.0.0.1:%d" % RELAY[self.name], "ca_file": CA,
               "state_dir": self.dir + "/state", "control_socket": self.sock,
               "engine": self.engine, "mode": self.mode, "poll_interval": interval,
               "policy": "delete", "log_level": "info"}
        tmp = self.cfg + ".tmp"
        with open(tmp, "w") as f:
            json.dump(cfg, f)
        os.rename(tmp, self.cfg)

    def set_interval(self, interval):
        self.write_cfg(interval)
        self.p.send_signal(signal.SIGHUP)

    def start(self):
        log = open(self.dir + "/cpd.log", "ab")
        self.p = subprocess.Popen([B + "/cloudprintd", "-k", "-c", self.cfg], stderr=log)
        if not wait_for(30, lambda: os.path.exists(self.sock)):
            fail("%s: cloudprintd did not start" % self.name)

    def stop(self):
        if self.p:
            self.p.terminate()
            self.p.wait()
            self.p = None

    def ctl(self, cmd):
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(30)
            s.connect(self.sock)
            s.sendall(cmd.encode() + b"\n")
            buf = b""
            while not buf.endswith(b"\n"):
                d = s.recv(4096)
                if not d:
                    break
                buf += d
        return json.loads(buf)

    def status(self):
        return self.ctl("status")

    def state_is(self, state):
        return self.status().get("state") == state

    def register(self):
        r = self.ctl("register")
        if not r.get("ok"):
            fail("%s: register: %s" % (self.name, r))
        portal("POST", "/v1/portal/claim", {"claim_code": r["claim_code"]})
        if not wait_for(30, lambda: self.state_is("registered")):
            fail("%s: not registered after the claim" % self.name)
        self.pid = r["printer_id"]
        if self.mode == "push" and not wait_for(
                30, lambda: self.status().get("stream", {}).get("state") == "open"):
            fail("%s: the event stream did not open" % self.name)

    def token(self):
        with open(self.dir + "/state/credentials.json") as f:
            return json.load(f)["access_token"]

    def sysfs(self, attr):
        return "/sys/class/prengine/prengine%d/%s" % (self.engine, attr)

    def delete_and_time(self, timeout=30):
        """Delete the printer in the portal; the latency from the server's
        deletion time to the driver's cloud_locked turning 1 (seen by
        poll() on the sysfs file), in seconds."""
        f = open(self.sysfs("cloud_locked"))
        if f.read().strip() != "0":
            fail("%s: cloud already locked" % self.name)
        pl = select.poll()
        pl.register(f, select.POLLPRI | select.POLLERR)
        portal("DELETE", "/v1/portal/printers/" + self.pid)
        end = time.monotonic() + timeout
        locked = None
        while time.monotonic() < end:
            pl.poll(max(1, int((end - time.monotonic()) * 1000)))
            f.seek(0)
            if f.read().strip() == "1":
                locked = time.time()
                break
        f.close()
        if locked is None:
            fail("%s: the driver was not locked within %d s of the deletion" % (self.name, timeout))
        return locked - accounting(self.pid)["deleted_at_wall"]


def snapshot(daemons):
    rs = relay_stats()
    snap = {}
    for d in daemons:
        st = d.status()
        snap[d.name] = {"proc": proc(d.p.pid), "relay": rs[d.name], "status": st,
                        "mono": time.monotonic(),
                        "requests": accounting(d.pid)["count"]}
    return snap


def curl_poll(pid, token, n):
    """The same jobs poll made by the curl tool, a new process and so a new
    connection and a full TLS handshake each time; the relay's bytes per
    request and the HTTP statuses."""
    before = relay_stats()["curl"]
    codes = []
    for _ in range(n):
        out = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}",
                              "--cacert", CA, "-H", "Authorization: Bearer " + token,
                              "https://127.0.0.1:%d/v1/printers/%s/jobs" % (RELAY["curl"], pid)],
                             capture_output=True, text=True, timeout=60)
        codes.append(out.stdout.strip())
    wait_for(5, lambda: relay_stats()["curl"]["open"] == 0)
    after = relay_stats()["curl"]
    total = (after["up"] - before["up"]) + (after["down"] - before["down"])
    return total / n, after["conns"] - before["conns"], sorted(set(codes))


def naive_requests(hours=1.0, start=0.5, factor=1.5, cap=60.0):
    """Requests of a client that retries forever with the Go cloud-print
    connector's backoff, counted from its schedule: the first retry 0.5 s
    after the failed request, each wait x1.5, capped at 1 min."""
    t, wait, n = 0.0, start, 1       # the request the deletion answered
    while True:
        t += wait
        if t > hours * 3600:
            return n
        n += 1
        wait = min(wait * factor, cap)


def ms(x):
    return "%.0f ms" % (x * 1000)


def main():
    n_engines = len([e for e in os.listdir("/sys/class/prengine") if e.startswith("prengine")])
    if n_engines < 3:
        fail("needs 3 engines (prengine.ko engines=3), found %d" % n_engines)

    # ---- the idle windows, side by side: three daemons, three engines ----
    poll10 = Daemon("poll10", 0, "poll", 10)
    poll1 = Daemon("poll1", 1, "poll", 1)
    push = Daemon("push", 2, "push", 1)  # push: the interval only paces the registration
    daemons = [poll10, poll1, push]
    for d in daemons:
        d.start()
    for d in daemons:
        if d.name == "poll10":
            d.write_cfg(1)   # register fast, then the 10 s interval
            d.p.send_signal(signal.SIGHUP)
        d.register()
        diag("%s: printer %s, %s mode" % (d.name, d.pid, d.mode))
    poll10.set_interval(10)
    time.sleep(3)
    diag("idle window: %.0f s, the three daemons side by side (one engine each, "
         "one relay port each); no jobs" % IDLE_S)
    s0 = snapshot(daemons)
    time.sleep(IDLE_S)
    s1 = snapshot(daemons)

    def delta(name):
        a, b = s0[name], s1[name]
        ra, rb = a["relay"], b["relay"]
        new_conns = [c for c in rb["log"] if c["opened"] > a["mono"]]
        closed_by_server = [c for c in rb["log"] if c["closed"] and a["mono"] < c["closed"]
                            and c["closed_by"] == "server"]
        sa, sb = a["status"], b["status"]
        return {
            "secs": b["mono"] - a["mono"],
            "wakeups": (b["proc"]["vol"] - a["proc"]["vol"]) + (b["proc"]["nvol"] - a["proc"]["nvol"]),
            "vol": b["proc"]["vol"] - a["proc"]["vol"],
            "nvol": b["proc"]["nvol"] - a["proc"]["nvol"],
            "cpu": b["proc"]["cpu"] - a["proc"]["cpu"],
            "hwm": b["proc"]["hwm"],
            "threads": b["proc"]["threads"],
            "bytes": (rb["up"] - ra["up"]) + (rb["down"] - ra["down"]),
            "up": rb["up"] - ra["up"], "down": rb["down"] - ra["down"],
            "new_conns": new_conns, "server_closed": closed_by_server,
            "polls": sb["polls"] - sa["polls"],
            "requests": b["requests"] - a["requests"],
            "heartbeats": sb.get("stream", {}).get("heartbeats", 0) -
            sa.get("stream", {}).get("heartbeats", 0),
            "events": sb.get("stream", {}).get("events", 0) - sa.get("stream", {}).get("events", 0),
            "reconnects": sb.get("stream", {}).get("reconnects", 0) -
            sa.get("stream", {}).get("reconnects", 0),
        }

    dp10, dp1, dpu = delta("poll10"), delta("poll1"), delta("push")
    for name, d in (("poll10", dp10), ("poll1", dp1), ("push", dpu)):
        diag("%s: %.0f s: %d polls, %d requests at the cloud, %d heartbeats, %d stream events, "
             "%d+%d ctxt switches (vol+nonvol), cpu %.2f s, VmHWM %d KiB, %d thread(s), "
             "%d B up + %d B down, %d new connection(s), %d closed by the server"
             % (name, d["secs"], d["polls"], d["requests"], d["heartbeats"], d["events"],
                d["vol"], d["nvol"], d["cpu"], d["hwm"], d["threads"], d["up"], d["down"],
                len(d["new_conns"]), len(d["server_closed"])))
        for c in d["new_conns"]:
            diag("  %s new connection at +%.1f s: %d B up, %d B down, %s"
                 % (name, c["opened"] - s0[name]["mono"], c["up"], c["down"],
                    "closed by the %s %.1f s later" % (c["closed_by"], c["closed"] - c["opened"])
                    if c["closed"] else "open at the end of the window"))

    # a. idle polling at 10 s
    polls = max(dp10["requests"], 1)
    tag = "poll 10 s, idle %.0f s" % dp10["secs"]
    result("%s: wakeups (voluntary+nonvoluntary context switches, /proc/PID/task/*/status)" % tag,
           "%d = %.2f per poll (%d polls)" % (dp10["wakeups"], dp10["wakeups"] / polls, polls),
           "ideal 1-2 per poll (the poll timer; the answer)")
    result("%s: CPU time (utime+stime, /proc/PID/stat)" % tag,
           "%.0f ms = %.2f ms per poll" % (dp10["cpu"] * 1000, dp10["cpu"] * 1000 / polls),
           "%.3f %% of one CPU" % (dp10["cpu"] / dp10["secs"] * 100))
    result("%s: peak RSS (VmHWM)" % tag, "%d KiB" % dp10["hwm"], "-")

    # b. bytes per idle poll: ours against curl, a new connection each time
    ours = dp10["bytes"] / polls
    curl_b, curl_conns, codes = curl_poll(poll10.pid, poll10.token(), CURL_RUNS)
    diag("curl: %d requests, %d connections, HTTP %s, %.0f B each"
         % (CURL_RUNS, curl_conns, ",".join(codes), curl_b))
    result("bytes on the wire per idle jobs poll, ours (TCP payload both ways = TLS records "
           "incl. handshakes, relay; %d new connections in %d polls)" % (len(dp10["new_conns"]), polls),
           "%.0f B" % ours,
           "curl CLI, new connection + full TLS handshake each: %.0f B = %.1fx ours" % (curl_b, curl_b / ours))

    # c. requests after a portal deletion, polling at 10 s
    token = poll10.token()   # policy delete forgets it
    lat = poll10.delete_and_time()
    diag("poll10: portal deletion -> cloud_locked %s" % ms(lat))
    time.sleep(SILENCE_S)
    acc = accounting(poll10.pid)
    after = [q for q in acc["requests"] if q["after_deletion"]]
    last = max([q["mono"] for q in after], default=acc["deleted_at"]) - acc["deleted_at"]
    ours_after = len(after)
    naive = naive_requests()
    curl404, _, codes404 = curl_poll(poll10.pid, token, 3)
    diag("requests after the deletion, ours: %s; the last %.1f s after it; then %.0f s of silence "
         "(%d polls at the cloud over the window)"
         % ([q["endpoint"] + " " + str(q["status"]) for q in after], last, SILENCE_S,
            ours_after))
    diag("naive client: %d requests in the first hour (0.5 s x1.5: the wait reaches the 60 s cap "
         "after %.0f s and %d requests, then one a minute); a curl request to the deleted printer: "
         "%.0f B (HTTP %s)" % (naive, naive_cap_time(), naive_requests(hours=naive_cap_time() / 3600),
                               curl404, ",".join(codes404)))
    result("requests to the cloud after a portal deletion, first hour, ours (poll 10 s, policy "
           "delete; request accounting over %.0f s, then silent)" % (lat + SILENCE_S),
           "%d" % ours_after,
           "naive retry-forever, Go connector backoff 0.5 s x1.5 cap 60 s, computed from the "
           "schedule: %d = %dx ours (about %.0f kB at curl's %.0f B per new-connection request)"
           % (naive, naive / max(ours_after, 1), naive * curl404 / 1000, curl404))

    # e. idle push against polling at 1 s
    tag = "idle %.0f s, push (ping 15 s, heartbeat 60 s)" % dpu["secs"]
    cmp = "poll 1 s: %s; push/poll = %.3f"
    result("%s: wakeups (context switches)" % tag, "%d" % dpu["wakeups"],
           cmp % ("%d (%.2f per poll, %d polls)" % (dp1["wakeups"], dp1["wakeups"] / max(dp1["requests"], 1),
                                                  dp1["requests"]), dpu["wakeups"] / max(dp1["wakeups"], 1)))
    result("%s: CPU time (utime+stime)" % tag, "%.0f ms" % (dpu["cpu"] * 1000),
           cmp % ("%.0f ms" % (dp1["cpu"] * 1000), dpu["cpu"] / max(dp1["cpu"], 1 / HZ)))
    result("%s: bytes on the wire (TLS records both ways, relay)" % tag,
           "%d B (%d new connections for %d heartbeats)" % (dpu["bytes"], len(dpu["new_conns"]),
                                                            dpu["heartbeats"]),
           cmp % ("%d B (%d new connections)" % (dp1["bytes"], len(dp1["new_conns"])),
                  dpu["bytes"] / max(dp1["bytes"], 1)))
    result("%s: peak RSS (VmHWM)" % tag, "%d KiB" % dpu["hwm"], "poll 1 s: %d KiB" % dp1["hwm"])
    hb = dpu["new_conns"]
    result("push idle: new TCP + TLS connections per heartbeat (the cloud closes a connection "
           "idle for 60 s; the heartbeat comes every 60 s)",
           "%d for %d heartbeats, %d of the previous ones closed by the server; %.0f B each"
           % (len(hb), dpu["heartbeats"], len(dpu["server_closed"]),
              statistics.mean(c["up"] + c["down"] for c in hb) if hb else 0),
           "a request on a kept connection: %.0f B (poll 10 s)" % ours)

    # Wakeups per poll, counted the other way: epoll_wait returns under strace.
    if shutil.which("strace"):
        n0 = poll1.status()["polls"]
        subprocess.run(["timeout", "-s", "INT", "%d" % STRACE_S, "strace", "-qq", "-e",
                        "trace=epoll_wait", "-o", T + "/poll1.strace", "-p", str(poll1.p.pid)],
                       capture_output=True)
        n = poll1.status()["polls"] - n0
        with open(T + "/poll1.strace") as f:
            rets = sum(1 for line in f if "epoll_wait(" in line and "= 1" in line)
        result("poll 1 s, idle: epoll_wait returns per poll (strace, %d s)" % STRACE_S,
               "%.2f (%d returns, %d polls)" % (rets / max(n, 1), rets, n),
               "ideal 1-2 per poll (the poll timer; the answer)")
    poll1.stop()

    # d. detection latency: push, then polling at 10 s
    lats = []
    for i in range(PUSH_RUNS):
        if not push.state_is("registered"):
            push.register()
        time.sleep(rng.uniform(0.2, 1.0))
        lats.append(push.delete_and_time())
    diag("push: portal deletion -> cloud_locked (ms): %s" % " ".join("%.0f" % (x * 1000) for x in lats))
    plats = [lat]
    for i in range(POLL_RUNS):
        poll10.set_interval(1)
        poll10.register()
        poll10.set_interval(10)
        # Delete at a random phase of the 10 s cycle (the poll armed at 1 s
        # comes first, then one every 10 s +-10 %).
        time.sleep(rng.uniform(1.5, 11.5))
        plats.append(poll10.delete_and_time())
    diag("poll 10 s: portal deletion -> cloud_locked (ms): %s"
         % " ".join("%.0f" % (x * 1000) for x in plats))
    result("detection latency, portal deletion -> driver cloud_locked (server clock -> sysfs poll()), "
           "push, %d runs" % len(lats),
           "median %s, max %s" % (ms(statistics.median(lats)), ms(max(lats))),
           "poll 10 s, %d runs: median %s, max %s (%.0fx the push median)"
           % (len(plats), ms(statistics.median(plats)), ms(max(plats)),
              statistics.median(plats) / max(statistics.median(lats), 1e-4)))
    for d in daemons:
        d.stop()


def naive_cap_time(start=0.5, factor=1.5, cap=60.0):
    """When the naive backoff reaches its cap, s after the first request."""
    t, wait = 0.0, start
    while wait < cap:
        t += wait
        wait *= factor
    return t


if __name__ == "__main__":
    main()
