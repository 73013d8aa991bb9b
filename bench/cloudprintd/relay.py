#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""A counting TCP relay for bench/cloudprintd, Python 3 standard library only.

    relay.py UPSTREAM_PORT STATS_PORT NAME=PORT [NAME=PORT...]

Listens on 127.0.0.1:PORT for each NAME and forwards every connection to
127.0.0.1:UPSTREAM_PORT, counting the TCP payload both ways: the TLS records
as they are, handshake included, not the TCP/IP headers.  A connection to
STATS_PORT gets the counters as one JSON object and is closed:

    {"NAME": {"conns": n, "open": n, "up": bytes client->server,
              "down": bytes server->client,
              "log": [{"opened": mono, "closed": mono|null, "up": b, "down": b,
                       "closed_by": "client"|"server"|null}]}}

Prints "relay ready" on stdout once every port listens.
"""

import asyncio
import json
import sys
import time


class Counter:
    def __init__(self):
        self.conns = 0
        self.open = 0
        self.up = 0
        self.down = 0
        self.log = []

    def json(self):
        return {"conns": self.conns, "open": self.open, "up": self.up, "down": self.down,
                "log": self.log}


async def pipe(reader, writer, ctr, rec, key):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            setattr(ctr, key, getattr(ctr, key) + len(data))
            rec[key] += len(data)
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    if rec["closed_by"] is None:
        rec["closed_by"] = "client" if key == "up" else "server"
    try:
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        pass


async def relay(ctr, upstream, creader, cwriter):
    rec = {"opened": time.monotonic(), "closed": None, "up": 0, "down": 0, "closed_by": None}
    ctr.conns += 1
    ctr.open += 1
    ctr.log.append(rec)
    try:
        sreader, swriter = await asyncio.open_connection("127.0.0.1", upstream)
    except OSError:
        cwriter.close()
        ctr.open -= 1
        rec["closed"] = time.monotonic()
        return
    await asyncio.gather(pipe(creader, swriter, ctr, rec, "up"),
                         pipe(sreader, cwriter, ctr, rec, "down"))
    for w in (cwriter, swriter):
        w.close()
    ctr.open -= 1
    rec["closed"] = time.monotonic()


async def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__.strip().splitlines()[2].strip())
    upstream = int(sys.argv[1])
    stats_port = int(sys.argv[2])
    counters = {}
    for arg in sys.argv[3:]:
        name, port = arg.split("=")
        ctr = counters[name] = Counter()
        await asyncio.start_server(lambda r, w, c=ctr: relay(c, upstream, r, w),
                                   "127.0.0.1", int(port))

    async def stats(reader, writer):
        writer.write(json.dumps({k: c.json() for k, c in counters.items()}).encode())
        try:
            await writer.drain()
        except (ConnectionError, OSError):
            pass
        writer.close()

    srv = await asyncio.start_server(stats, "127.0.0.1", stats_port)
    print("relay ready", flush=True)
    await srv.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
