"""Signaling under load: N Socket.IO clients in rooms of 30, one chat message per client per 10 s.

    .venv/bin/python bench/signaling_load.py --clients 5000            # one node, then two nodes + Redis
    .venv/bin/python bench/signaling_load.py --clients 300 --seconds 20 --modes one

Each mode starts real ``aulacast serve`` processes (SQLite in a temp dir; two nodes share a
private ``redis-server`` on a free loopback port), seeds the people and defense sessions (auto-
admit, audience grants), and spreads the clients over ``--procs`` client processes (the
machine has 2 cores; the clients' own CPU competes with the server's, so note the load).
Clients of one room alternate between the nodes, so every room crosses Redis in the two-node
mode. Printed per mode: connect time, server CPU % (sum over node processes, from /proc) and
RSS during the measured window, chat delivery latency p50/p99 (send -> each receiver, same
clock), deliveries received / expected, and refusals. The goal: p99 <= 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gc
import json
import os
import random
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import zlib
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ROOM_SIZE = 30
SECRET = "bench-signaling-key-not-for-production-use"


# --- client worker (a separate process) ------------------------------------------------------------
#
# 5,000 python-socketio AsyncClient objects cost more CPU than the server they measure (each owns
# tasks, an aiohttp session, a JSON decode per event...). These clients speak the wire protocol
# directly: an RFC 6455 websocket on a plain asyncio Protocol, Engine.IO v4 (open "0", ping "2" ->
# pong "3", message "4") and Socket.IO v5 ("40" connect with the auth object, "42" events). No task
# per client: frames are parsed in data_received, sends are loop.call_at timers.


class Counters:
    """What one worker process measures."""

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.inbound: list[float] = []  # client send -> server timestamp (sent_at), sampled
        self.connect_ms: list[float] = []
        self.sent = 0
        self.refused = 0
        self.lost = 0
        self.failures = 0
        self.other_events = 0


BODY_KEY = b'"body":"t='
SENT_AT_KEY = b'"sent_at":"'


class WsClient(asyncio.Protocol):
    """One Socket.IO client over a raw websocket; records chat latency for messages it receives."""

    def __init__(self, counters: Counters, host: str, port: int, token: str, deflate: bool = False) -> None:
        self.c = counters
        self.deflate = deflate  # offer permessage-deflate, as browsers do
        self.inflate: Any = None
        self.host, self.port, self.token = host, port, token
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.upgraded = False
        self.welcomed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.t0 = time.monotonic()
        self.closed = False

    # websocket ----------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        key = base64.b64encode(os.urandom(16)).decode()
        transport.write((f"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                         f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                         + ("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
                            if self.deflate else "")
                         + "Sec-WebSocket-Version: 13\r\n\r\n").encode())  # fmt: skip

    def send_text(self, payload: bytes) -> None:
        # client frames must be masked; an all-zero key is a valid mask and leaves the payload as is
        n = len(payload)
        if n < 126:
            head = bytes((0x81, 0x80 | n))
        elif n < 65536:
            head = bytes((0x81, 0x80 | 126)) + n.to_bytes(2, "big")
        else:
            head = bytes((0x81, 0x80 | 127)) + n.to_bytes(8, "big")
        if self.transport is not None and not self.closed:
            self.transport.write(head + b"\0\0\0\0" + payload)

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        if not self.upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            if b" 101 " not in buf[:end]:
                self._fail()
                return
            if b"permessage-deflate" in buf[:end].lower():
                self.inflate = zlib.decompressobj(-15)
            del buf[: end + 4]
            self.upgraded = True
        while len(buf) >= 2:
            op, rsv1, n = buf[0] & 0x0F, buf[0] & 0x40, buf[1] & 0x7F
            start = 2
            if n == 126:
                if len(buf) < 4:
                    return
                n, start = int.from_bytes(buf[2:4], "big"), 4
            elif n == 127:
                if len(buf) < 10:
                    return
                n, start = int.from_bytes(buf[2:10], "big"), 10
            if len(buf) < start + n:
                return
            payload = bytes(buf[start : start + n])
            del buf[: start + n]
            if rsv1 and self.inflate is not None:
                payload = self.inflate.decompress(payload + b"\0\0\xff\xff")
            if op == 1:
                self.on_packet(payload)
            elif op == 8:
                self._fail()
                return
            elif op == 9:  # websocket ping (aiohttp does not send them by default): pong
                self.transport and self.transport.write(bytes((0x8A, 0x80 | len(payload))) + b"\0\0\0\0" + payload)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed and self.welcomed.done():
            self.c.lost += 1
        self._fail()

    def _fail(self) -> None:
        self.closed = True
        if not self.welcomed.done():
            self.welcomed.set_exception(ConnectionError("refused or closed before welcome"))
        if self.transport is not None:
            self.transport.close()

    # Engine.IO / Socket.IO ------------------------------------------------------------------------

    def on_packet(self, p: bytes) -> None:
        kind = p[:1]
        if kind == b"4":  # engine.io message carrying a socket.io packet
            if p.startswith(b'42["chat",'):
                i = p.find(BODY_KEY)
                if i >= 0:
                    i += len(BODY_KEY)
                    t_sent = float(p[i : p.index(b" ", i)])
                    now = time.time()
                    c = self.c
                    c.latencies.append(now - t_sent)
                    if len(c.latencies) % 16 == 0:  # sample the server timestamp (parsing it costs)
                        j = p.find(SENT_AT_KEY) + len(SENT_AT_KEY)
                        sent_at = datetime.fromisoformat(p[j : p.index(b'"', j)].decode()).timestamp()
                        c.inbound.append(sent_at - t_sent)
            elif p.startswith(b'42["welcome"'):
                if not self.welcomed.done():
                    self.c.connect_ms.append(1000 * (time.monotonic() - self.t0))
                    self.welcomed.set_result(None)
            elif p.startswith(b'42["error"'):
                self.c.refused += 1
            elif p.startswith(b"44"):  # connect refused
                self._fail()
            else:
                self.c.other_events += 1
        elif kind == b"2":  # engine.io ping -> pong
            self.send_text(b"3")
        elif kind == b"0":  # engine.io open -> socket.io connect with the token
            self.send_text(b"40" + json.dumps({"token": self.token}).encode())

    def send_chat(self, pad: str) -> None:
        self.send_text(b'42["chat",{"body":"t=%.6f %s"}]' % (time.time(), pad.encode()))
        self.c.sent += 1


async def worker(spec: dict[str, Any]) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    c = Counters()
    sem = asyncio.Semaphore(spec.get("concurrency", 40))  # a thundering herd measures nothing useful
    done = 0

    async def connect(url: str, token: str) -> WsClient | None:
        nonlocal done
        host, port = url.removeprefix("http://").split(":")
        async with sem:
            client = WsClient(c, host, int(port), token, spec.get("deflate", False))
            try:
                await loop.create_connection(lambda: client, host, int(port))
                await asyncio.wait_for(client.welcomed, 120)
            except (OSError, ConnectionError, TimeoutError):
                c.failures += 1
                client._fail()
                return None
            finally:
                done += 1
        return client

    t0 = time.monotonic()

    async def progress() -> None:
        while True:
            await asyncio.sleep(10)
            print(f"  worker {os.getpid()}: {done}/{len(spec['clients'])} connected, {c.failures} failed, "
                  f"{time.monotonic() - t0:.0f} s", file=sys.stderr, flush=True)

    reporter = asyncio.create_task(progress())
    results = await asyncio.gather(*(connect(u, t) for u, t in spec["clients"]))
    reporter.cancel()
    clients = [x for x in results if x is not None]
    connect_s = time.monotonic() - t0
    # The load generator must not add its own pauses to what it measures: it holds thousands of
    # sockets too, so freeze them and leave full collections out (as signaling.gcpolicy does).
    gc.collect()
    gc.freeze()
    gc.set_threshold(700, 10, 1_000_000_000)
    print(json.dumps({"ready": len(clients), "failures": c.failures, "connect_s": connect_s}), flush=True)
    await loop.run_in_executor(None, sys.stdin.readline)  # GO

    interval, seconds = spec["interval"], spec["seconds"]
    pad = "x" * 40
    start = loop.time()
    stop = start + seconds

    def tick(client: WsClient) -> None:
        if client.closed:
            return
        client.send_chat(pad)
        if loop.time() + interval < stop:
            loop.call_later(interval, tick, client)

    rng = random.Random(os.getpid())
    for client in clients:
        loop.call_at(start + rng.uniform(0, interval), tick, client)
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    await asyncio.sleep(seconds)
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    client_cpu = (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime)
    await asyncio.sleep(3)  # let the last deliveries land
    for client in clients:
        client.closed = True
        if client.transport is not None:
            client.transport.close()
    return {"latencies": c.latencies, "inbound": c.inbound, "sent": c.sent, "refused": c.refused,
            "connected": len(clients), "failures": c.failures, "lost": c.lost, "connect_s": connect_s,
            "connect_ms": c.connect_ms, "client_cpu_s": client_cpu}  # fmt: skip


def worker_main() -> None:
    spec = json.loads(sys.stdin.readline())
    result = asyncio.run(worker(spec))
    print(json.dumps(result), flush=True)


# --- orchestration -----------------------------------------------------------------------------------


def seed(db_url: str, clients: int) -> list[tuple[int, str]]:
    """People, one defense session per 30 clients; returns (session id, join token) per client."""
    from datetime import UTC, datetime, timedelta

    from orchestrator.store.db import Database
    from orchestrator.store.models import Person, SessionRecord
    from signaling.grants import JoinClaims, grant_for, issue

    db = Database.from_url(db_url)
    db.upgrade()
    now = datetime.now(UTC)
    grant = grant_for("defense", "audience")
    out: list[tuple[int, str]] = []
    with db.session() as s:
        rooms = [SessionRecord(key=f"bench-{i}", kind="defense", title=f"Room {i}", start_at=now - timedelta(minutes=1),
                               end_at=now + timedelta(hours=2), status="open")
                 for i in range((clients + ROOM_SIZE - 1) // ROOM_SIZE)]  # fmt: skip
        s.add_all(rooms)
        people = [Person(username=f"u{i}", display_name=f"User {i}") for i in range(clients)]
        s.add_all(people)
        s.flush()
        for i, p in enumerate(people):
            room = rooms[i // ROOM_SIZE]
            claims = JoinClaims(p.id, room.id, p.display_name, grant, now.timestamp() - 60,
                                now.timestamp() + 7200, room_kind="defense")  # fmt: skip
            out.append((room.id, issue(SECRET, claims)))
    db.engine.dispose()
    return out


def start_node(tmp: Path, port: int, redis_url: str | None, log: Path, db_url: str,
               variant: str = "fast", accel: str = "") -> subprocess.Popen[bytes]:  # fmt: skip
    cfg = tmp / f"node{port}.toml"
    lines = [f'data_dir = "{tmp}"', f'database_url = "{db_url}"', f"port = {port}", f'secret_key = "{SECRET}"',
             "scheduler_enabled = false",
             'log_level = "WARNING"', "[chat]", "rate_per_second = 2.0", "burst = 10"]  # fmt: skip
    if redis_url:
        lines.insert(0, f'redis_url = "{redis_url}"')
    cfg.write_text("\n".join(lines) + "\n")
    env = {**os.environ, "AULACAST_CONFIG": str(cfg)}
    env.pop("AULACAST_SIGNALING__STOCK_FANOUT", None)
    env.pop("AULACAST_SIGNALING__GC_FREEZE", None)
    if variant == "stock":  # python-socketio's own manager: a task per recipient (the baseline)
        env["AULACAST_SIGNALING__STOCK_FANOUT"] = "1"
    if variant == "nofreeze":  # the fast path without signaling.gcpolicy (full GC pauses of ~1 s)
        env["AULACAST_SIGNALING__GC_FREEZE"] = "0"
    if variant == "accel":  # the fast path on uvloop, redis-py with hiredis (both from --accel DIR)
        site = tmp / "accel-site"
        site.mkdir(exist_ok=True)
        (site / "sitecustomize.py").write_text("import asyncio, uvloop\n"
                                               "asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())\n")
        env["PYTHONPATH"] = os.pathsep.join([str(site), accel, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return subprocess.Popen([sys.executable, "-m", "orchestrator.cli", "serve"], env=env, cwd=ROOT,
                            stdout=log.open("ab"), stderr=subprocess.STDOUT)  # fmt: skip


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(port: int, limit: float = 120) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"node on port {port} did not come up")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def run_mode(mode: str, args: argparse.Namespace, fanout: str = "fast") -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix=f"sigload-{mode}-"))
    redis_proc = None
    redis_url = None
    if mode == "two":
        rport = free_port()
        redis_proc = subprocess.Popen(["redis-server", "--port", str(rport), "--bind", "127.0.0.1", "--save", "",
                                       "--appendonly", "no", "--dir", str(tmp)], stdout=subprocess.DEVNULL)  # fmt: skip
        redis_url = f"redis://127.0.0.1:{rport}/0"
        time.sleep(0.5)
    db_url = f"sqlite:///{tmp / 'aulacast.db'}"
    if args.pg:
        from sqlalchemy import create_engine, text

        schema = f"sigload_{os.getpid()}_{mode}"
        admin = create_engine(args.pg, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            c.execute(text(f'CREATE SCHEMA "{schema}"'))
        admin.dispose()
        db_url = f"{args.pg}?options=-csearch_path%3D{schema}"
    tokens = seed(db_url, args.clients)
    room_sizes = Counter(sid for sid, _ in tokens)
    ports = [free_port() for _ in range(2 if mode == "two" else 1)]
    nodes = [start_node(tmp, p, redis_url, tmp / f"node{p}.log", db_url, fanout, args.accel) for p in ports]
    workers: list[subprocess.Popen[str]] = []
    try:
        for p in ports:
            wait_healthy(p)
        print(f"  {mode}: node pids {[n.pid for n in nodes]} (e.g. for py-spy)", file=sys.stderr, flush=True)
        urls = [f"http://127.0.0.1:{p}" for p in ports]
        # client i of a room goes to node i % nodes: every room spans the nodes
        assigned = [(urls[i % len(urls)], tok) for i, (_, tok) in enumerate(tokens)]
        per = (len(assigned) + args.procs - 1) // args.procs
        rss_idle = sum(rss_mib(n.pid) for n in nodes)
        cpu_c0 = sum(cpu_seconds(n.pid) for n in nodes)
        for k in range(args.procs):
            chunk = assigned[k * per : (k + 1) * per]
            if not chunk:
                continue
            w = subprocess.Popen([sys.executable, __file__, "--worker"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 text=True, cwd=ROOT)  # fmt: skip
            assert w.stdin is not None
            w.stdin.write(json.dumps({"clients": chunk, "interval": args.interval, "seconds": args.seconds,
                                      "concurrency": args.concurrency, "deflate": args.deflate}) + "\n")  # fmt: skip
            w.stdin.flush()
            workers.append(w)
        ready = [json.loads(w.stdout.readline()) for w in workers if w.stdout is not None]
        connected = sum(r["ready"] for r in ready)
        connect_s = max(r["connect_s"] for r in ready)
        connect_cpu = sum(cpu_seconds(n.pid) for n in nodes) - cpu_c0
        print(f"  {mode}: {connected} connected in {connect_s:.1f} s; measuring {args.seconds:g} s from "
              f"{time.time() + 2:.1f} (epoch)",
              file=sys.stderr, flush=True)  # fmt: skip
        time.sleep(2)  # arrivals settle (welcome sent, presence written)
        cpu0, t0 = sum(cpu_seconds(n.pid) for n in nodes), time.monotonic()
        rcpu0 = cpu_seconds(redis_proc.pid) if redis_proc is not None else 0.0
        load0 = os.getloadavg()[0]
        for w in workers:
            assert w.stdin is not None
            w.stdin.write("GO\n")
            w.stdin.flush()
        time.sleep(args.seconds)
        cpu1, t1 = sum(cpu_seconds(n.pid) for n in nodes), time.monotonic()
        rcpu1 = cpu_seconds(redis_proc.pid) if redis_proc is not None else 0.0
        rss = sum(rss_mib(n.pid) for n in nodes)
        results = [json.loads(w.stdout.readline()) for w in workers if w.stdout is not None]
        load1 = os.getloadavg()[0]
    finally:
        for w in workers:
            w.kill()
        for n in nodes:
            n.send_signal(signal.SIGTERM)
        for n in nodes:
            try:
                n.wait(20)
            except subprocess.TimeoutExpired:
                n.kill()
        if redis_proc is not None:
            redis_proc.terminate()
    lat = [x for r in results for x in r["latencies"]]
    inb = [x for r in results for x in r["inbound"]]
    conn_ms = [x for r in results for x in r["connect_ms"]]
    sent = sum(r["sent"] for r in results)
    # every message goes to each member of the sender's room (sender included); rooms are full but the last
    expected = round(sent * sum(n * n for n in room_sizes.values()) / max(1, args.clients))
    server_cpu = cpu1 - cpu0
    return {
        "mode": mode,
        "fanout": fanout,
        "db": ("PostgreSQL" if args.pg else "SQLite") + (", deflate" if args.deflate else ""),
        "clients": args.clients,
        "connected": connected,
        "connect_s": round(connect_s, 1),
        "connect_p50_ms": round(pct(conn_ms, 0.50), 1),
        "connect_p99_ms": round(pct(conn_ms, 0.99), 1),
        "server_cpu_ms_per_connect": round(1000 * connect_cpu / max(1, connected), 2),
        "server_cpu_pct": round(100 * server_cpu / (t1 - t0), 1),
        # steadier than wall-clock latency on a shared machine: server CPU per delivered message
        "server_cpu_us_per_delivery": round(1e6 * server_cpu / max(1, len(lat)), 1),
        "redis_cpu_pct": round(100 * (rcpu1 - rcpu0) / (t1 - t0), 1) if redis_proc is not None else None,
        "server_rss_mib": round(rss, 1),
        "rss_idle_mib": round(rss_idle, 1),
        "rss_per_client_kib": round((rss - rss_idle) * 1024 / max(1, connected), 1),
        "sent": sent,
        "delivered": len(lat),
        "expected": expected,
        "refused": sum(r["refused"] for r in results),
        "lost": sum(r["lost"] for r in results),
        "p50_ms": round(pct(lat, 0.50) * 1000, 1),
        "p99_ms": round(pct(lat, 0.99) * 1000, 1),
        "max_ms": round(max(lat) * 1000, 1) if lat else float("nan"),
        "mean_ms": round(statistics.fmean(lat) * 1000, 1) if lat else float("nan"),
        "inbound_p50_ms": round(pct(inb, 0.50) * 1000, 1),
        "inbound_p99_ms": round(pct(inb, 0.99) * 1000, 1),
        "client_cpu_pct": round(100 * sum(r["client_cpu_s"] for r in results) / args.seconds, 1),
        "client_cpu_us_per_delivery": round(1e6 * sum(r["client_cpu_s"] for r in results) / max(1, len(lat)), 1),
        "load_avg": f"{load0:.1f}->{load1:.1f}",
    }


MD_HEAD = ("| clients | DB | nodes | connected (time, p50/p99 per client) | server CPU ms/connect | server CPU | "
           "**CPU / delivery** | Redis CPU | RSS (all nodes; per client) | delivered / expected | p50 | **p99** | "
           "send → stored p50 / p99 | client CPU | load |\n|" + "---|" * 15)  # fmt: skip


def md_row(r: dict[str, Any]) -> str:
    nodes = ("1" if r["mode"] == "one" else "2 + Redis") + f", {r['fanout']} fan-out"
    redis = "—" if r["redis_cpu_pct"] is None else f"{r['redis_cpu_pct']} %"
    return (f"| {r['clients']:,} | {r['db']} | {nodes} | {r['connected']:,} ({r['connect_s']} s; "
            f"{r['connect_p50_ms']:.0f}/{r['connect_p99_ms']:.0f} ms) | {r['server_cpu_ms_per_connect']} | "
            f"{r['server_cpu_pct']} % | **{r['server_cpu_us_per_delivery']} µs** | {redis} | "
            f"{r['server_rss_mib']} MiB; {r['rss_per_client_kib']} KiB | {r['delivered']:,} / {r['expected']:,} | "
            f"{r['p50_ms']} ms | **{r['p99_ms']} ms** | {r['inbound_p50_ms']} / {r['inbound_p99_ms']} ms | "
            f"{r['client_cpu_pct']} % | {r['load_avg']} |")  # fmt: skip


def main() -> None:
    if "--worker" in sys.argv:
        worker_main()
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=5000)
    ap.add_argument("--seconds", type=float, default=30.0, help="measured window")
    ap.add_argument("--interval", type=float, default=10.0, help="seconds between one client's messages")
    ap.add_argument("--procs", type=int, default=2, help="client processes")
    ap.add_argument("--concurrency", type=int, default=40, help="connects in flight per client process")
    ap.add_argument("--fanout", default="fast", help="comma list of variants run side by side per mode: "
                    "fast (signaling.fanout), stock (python-socketio's manager), nofreeze (fast without "
                    "signaling.gcpolicy), accel (fast on uvloop + hiredis, needs --accel); 'both' = stock,fast")  # fmt: skip
    ap.add_argument("--accel", default="", help="a directory holding uvloop and hiredis "
                    "(pip install --target DIR uvloop hiredis), for the accel variant")  # fmt: skip
    ap.add_argument("--deflate", action="store_true", help="clients offer permessage-deflate (browsers do)")
    ap.add_argument("--markdown", default="", help="append the results as a Markdown table to this file")
    ap.add_argument("--modes", default="one,two", help="one = single node; two = two nodes through Redis")
    ap.add_argument("--pg", default="", help="PostgreSQL URL (a fresh schema per mode) instead of SQLite, e.g. "
                    "postgresql+psycopg://postgres@127.0.0.1:5432/test")  # fmt: skip
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    print(f"database: {'PostgreSQL' if args.pg else 'SQLite'}")
    print(f"signaling load: {args.clients} clients, rooms of {ROOM_SIZE}, 1 msg/{args.interval:g}s each, "
          f"{args.seconds:g}s window, {args.procs} client processes, {os.cpu_count()} cores, "
          f"load {os.getloadavg()[0]:.1f}")  # fmt: skip
    # 5,000 sockets per node plus the clients' own: raise the soft descriptor limit (children inherit it)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4 * args.clients + 1024)), hard))
    rows = []
    fanouts = ["stock", "fast"] if args.fanout == "both" else args.fanout.split(",")
    if "accel" in fanouts and not args.accel:
        raise SystemExit("the accel variant needs --accel DIR (pip install --target DIR uvloop hiredis)")
    for mode in args.modes.split(","):
        for fanout in fanouts:
            r = run_mode(mode.strip(), args, fanout)
            rows.append(r)
            print(json.dumps(r), flush=True)
            print(f"  {mode:>3} node(s), {fanout} fan-out: {r['connected']}/{r['clients']} connected in {r['connect_s']} s "
                  f"(per client p50 {r['connect_p50_ms']} / p99 {r['connect_p99_ms']} ms, "
                  f"{r['server_cpu_ms_per_connect']} ms server CPU each); server CPU {r['server_cpu_pct']} % "
                  f"({r['server_cpu_us_per_delivery']} us/delivery), Redis CPU {r['redis_cpu_pct']} %, "
                  f"RSS {r['server_rss_mib']} MiB ({r['rss_per_client_kib']} KiB/client); "
                  f"delivered {r['delivered']}/{r['expected']}; p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms "
                  f"(goal <= 100; send->stored p50 {r['inbound_p50_ms']}, p99 {r['inbound_p99_ms']} ms); "
                  f"refused {r['refused']}, lost {r['lost']}; client CPU {r['client_cpu_pct']} % "
                  f"({r['client_cpu_us_per_delivery']} us/delivery); load {r['load_avg']}", flush=True)  # fmt: skip
    if args.markdown:
        with open(args.markdown, "a") as f:
            f.write(f"\n{datetime.now().astimezone():%Y-%m-%d %H:%M %Z}, {os.cpu_count()} cores, "
                    f"{args.seconds:g} s window, {args.procs} client processes:\n\n{MD_HEAD}\n")  # fmt: skip
            f.write("\n".join(md_row(r) for r in rows) + "\n")

if __name__ == "__main__":
    main()
