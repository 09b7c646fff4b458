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
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ROOM_SIZE = 30
SECRET = "bench-signaling-key-not-for-production-use"


# --- client worker (a separate process) ------------------------------------------------------------


async def worker(spec: dict[str, Any]) -> dict[str, Any]:
    import resource

    import socketio

    latencies: list[float] = []
    inbound: list[float] = []  # client send -> server timestamp (sent_at)
    sent = refused = 0
    clients: list[Any] = []
    sem = asyncio.Semaphore(40)  # connect a few at a time: a thundering herd measures nothing useful
    failures = 0

    async def connect(url: str, token: str) -> Any:
        nonlocal failures
        c = socketio.AsyncClient(reconnection=False)
        welcomed = asyncio.Event()

        @c.on("welcome")
        async def _welcome(data: Any) -> None:
            welcomed.set()

        @c.on("chat")
        async def _chat(msg: Any) -> None:
            body = msg.get("body", "")
            if body.startswith("t="):
                now = time.time()
                t_sent = float(body[2:].split(" ", 1)[0])
                latencies.append(now - t_sent)
                if len(inbound) < 20000:
                    inbound.append(datetime.fromisoformat(msg["sent_at"]).timestamp() - t_sent)

        @c.on("error")
        async def _error(err: Any) -> None:
            nonlocal refused
            refused += 1

        async with sem:
            try:
                await c.connect(url, auth={"token": token}, transports=["websocket"], wait_timeout=60)
                await asyncio.wait_for(welcomed.wait(), 60)
            except Exception:
                failures += 1
                return None
        return c

    t0 = time.monotonic()
    done = 0

    async def counted(u: str, t: str) -> Any:
        nonlocal done
        c = await connect(u, t)
        done += 1
        return c

    async def progress() -> None:
        while True:
            await asyncio.sleep(10)
            print(f"  worker {os.getpid()}: {done}/{len(spec['clients'])} connected, {failures} failed, "
                  f"{time.monotonic() - t0:.0f} s", file=sys.stderr, flush=True)

    reporter = asyncio.create_task(progress())
    results = await asyncio.gather(*(counted(u, t) for u, t in spec["clients"]))
    reporter.cancel()
    clients = [c for c in results if c is not None]
    connect_s = time.monotonic() - t0
    print(json.dumps({"ready": len(clients), "failures": failures, "connect_s": connect_s}), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)  # GO

    interval, seconds = spec["interval"], spec["seconds"]
    pad = "x" * 40

    async def talk(c: Any) -> None:
        nonlocal sent
        await asyncio.sleep(random.uniform(0, interval))
        end = time.monotonic() + seconds - interval / 2
        while time.monotonic() < end:
            await c.emit("chat", {"body": f"t={time.time():.6f} {pad}"})
            sent += 1
            await asyncio.sleep(interval)

    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    await asyncio.gather(*(talk(c) for c in clients))
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    client_cpu = (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime)
    await asyncio.sleep(3)  # let the last deliveries land
    for c in clients:
        await c.disconnect()
    return {"latencies": latencies, "inbound": inbound, "sent": sent, "refused": refused, "connected": len(clients),
            "failures": failures, "connect_s": connect_s, "client_cpu_s": client_cpu}  # fmt: skip


def worker_main() -> None:
    import logging

    logging.getLogger("engineio.client").setLevel(logging.CRITICAL)  # "packet queue is empty" per lost client
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


def start_node(tmp: Path, port: int, redis_url: str | None, log: Path, db_url: str) -> subprocess.Popen[bytes]:
    cfg = tmp / f"node{port}.toml"
    lines = [f'data_dir = "{tmp}"', f'database_url = "{db_url}"', f"port = {port}", f'secret_key = "{SECRET}"',
             "scheduler_enabled = false",
             'log_level = "WARNING"', "[chat]", "rate_per_second = 2.0", "burst = 10"]  # fmt: skip
    if redis_url:
        lines.insert(0, f'redis_url = "{redis_url}"')
    cfg.write_text("\n".join(lines) + "\n")
    env = {**os.environ, "AULACAST_CONFIG": str(cfg)}
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


def run_mode(mode: str, args: argparse.Namespace) -> dict[str, Any]:
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
    ports = [free_port() for _ in range(2 if mode == "two" else 1)]
    nodes = [start_node(tmp, p, redis_url, tmp / f"node{p}.log", db_url) for p in ports]
    workers: list[subprocess.Popen[str]] = []
    try:
        for p in ports:
            wait_healthy(p)
        urls = [f"http://127.0.0.1:{p}" for p in ports]
        # client i of a room goes to node i % nodes: every room spans the nodes
        assigned = [(urls[i % len(urls)], tok) for i, (_, tok) in enumerate(tokens)]
        per = (len(assigned) + args.procs - 1) // args.procs
        for k in range(args.procs):
            chunk = assigned[k * per : (k + 1) * per]
            if not chunk:
                continue
            w = subprocess.Popen([sys.executable, __file__, "--worker"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 text=True, cwd=ROOT)  # fmt: skip
            assert w.stdin is not None
            w.stdin.write(json.dumps({"clients": chunk, "interval": args.interval, "seconds": args.seconds}) + "\n")
            w.stdin.flush()
            workers.append(w)
        ready = [json.loads(w.stdout.readline()) for w in workers if w.stdout is not None]
        connected = sum(r["ready"] for r in ready)
        connect_s = max(r["connect_s"] for r in ready)
        rss_before = sum(rss_mib(n.pid) for n in nodes)
        cpu0, t0 = sum(cpu_seconds(n.pid) for n in nodes), time.monotonic()
        load0 = os.getloadavg()[0]
        for w in workers:
            assert w.stdin is not None
            w.stdin.write("GO\n")
            w.stdin.flush()
        time.sleep(args.seconds)
        cpu1, t1 = sum(cpu_seconds(n.pid) for n in nodes), time.monotonic()
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
    sent = sum(r["sent"] for r in results)
    return {
        "mode": mode,
        "clients": args.clients,
        "connected": connected,
        "connect_s": round(connect_s, 1),
        "server_cpu_pct": round(100 * (cpu1 - cpu0) / (t1 - t0), 1),
        # steadier than wall-clock latency on a shared machine: server CPU per delivered message
        "server_cpu_us_per_delivery": round(1e6 * (cpu1 - cpu0) / max(1, len(lat)), 1),
        "server_rss_mib": round(rss, 1),
        "rss_per_client_kib": round((rss - 0) * 1024 / max(1, connected), 1),
        "rss_before_mib": round(rss_before, 1),
        "sent": sent,
        "delivered": len(lat),
        "expected": sent * ROOM_SIZE if args.clients >= ROOM_SIZE else sent * args.clients,
        "refused": sum(r["refused"] for r in results),
        "p50_ms": round(pct(lat, 0.50) * 1000, 1),
        "p99_ms": round(pct(lat, 0.99) * 1000, 1),
        "max_ms": round(max(lat) * 1000, 1) if lat else float("nan"),
        "mean_ms": round(statistics.fmean(lat) * 1000, 1) if lat else float("nan"),
        "inbound_p50_ms": round(pct(inb, 0.50) * 1000, 1),
        "inbound_p99_ms": round(pct(inb, 0.99) * 1000, 1),
        "client_cpu_pct": round(100 * sum(r["client_cpu_s"] for r in results) / args.seconds, 1),
        "load_avg": f"{load0:.1f}->{load1:.1f}",
    }


def main() -> None:
    if "--worker" in sys.argv:
        worker_main()
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=5000)
    ap.add_argument("--seconds", type=float, default=30.0, help="measured window")
    ap.add_argument("--interval", type=float, default=10.0, help="seconds between one client's messages")
    ap.add_argument("--procs", type=int, default=4, help="client processes")
    ap.add_argument("--modes", default="one,two", help="one = single node; two = two nodes through Redis")
    ap.add_argument("--pg", default="", help="PostgreSQL URL (a fresh schema per mode) instead of SQLite, e.g. "
                    "postgresql+psycopg://postgres@127.0.0.1:5432/test")  # fmt: skip
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    print(f"database: {'PostgreSQL' if args.pg else 'SQLite'}")
    print(f"signaling load: {args.clients} clients, rooms of {ROOM_SIZE}, 1 msg/{args.interval:g}s each, "
          f"{args.seconds:g}s window, {args.procs} client processes, {os.cpu_count()} cores, "
          f"load {os.getloadavg()[0]:.1f}")  # fmt: skip
    for mode in args.modes.split(","):
        r = run_mode(mode.strip(), args)
        print(json.dumps(r), flush=True)
        print(f"  {mode:>3} node(s): {r['connected']}/{r['clients']} connected in {r['connect_s']} s; server CPU "
              f"{r['server_cpu_pct']} % ({r['server_cpu_us_per_delivery']} us/delivery), RSS {r['server_rss_mib']} MiB; delivered {r['delivered']}/{r['expected']}; "
              f"p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms (goal <= 100; send->stored p50 {r['inbound_p50_ms']}, "
              f"p99 {r['inbound_p99_ms']} ms); refused {r['refused']}; client CPU {r['client_cpu_pct']} %; "
              f"load {r['load_avg']}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
