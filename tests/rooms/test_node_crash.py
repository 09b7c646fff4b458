"""A crashed node's presence is cleared by the surviving nodes; a Redis restart clears nobody alive.

The store tests drive ``RedisRoomStore`` against a private ``redis-server`` (so it can be killed
and restarted); the end-to-end test runs two real ``aulacast serve`` processes with a short room
heartbeat (``AULACAST_ROOM_HEARTBEAT_SECONDS``), SIGKILLs one, and watches the other announce it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis
import redis.asyncio as aioredis
from room_fixtures import World, free_port, seed
from support import stop_processes, wait_for
from test_multinode import PrivateRedis, _healthy, enter, write_config

from orchestrator.rooms import ALIVE_BEATS, HEARTBEAT_ENV
from orchestrator.store.db import Database
from signaling.room import RedisRoomStore

BEAT = 0.5  # the nodes' heartbeat in these tests (3 s in production)
LIMIT = 60.0  # generous: only turns a hang into a failure


# --- the store against a real Redis ---------------------------------------------------------------


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    r = PrivateRedis(free_port(), tmp_path)
    r.start()
    try:
        yield r
    finally:
        if r.proc is not None and r.proc.poll() is None:
            r.proc.terminate()
            r.proc.wait(10)


@pytest.fixture
async def client(private_redis: PrivateRedis) -> AsyncIterator[aioredis.Redis]:
    r = aioredis.from_url(private_redis.url)
    try:
        yield r
    finally:
        await r.aclose()


async def _until(probe: Callable[[], Awaitable[Any]], expected: Any, limit: float = LIMIT) -> None:
    """Poll ``probe`` until it returns ``expected`` (the limit only turns a hang into a failure)."""
    async with asyncio.timeout(limit):
        while True:
            if await probe() == expected:
                return
            await asyncio.sleep(0.05)


async def _online_entries(r: aioredis.Redis, session_id: int) -> dict[str, str]:
    raw = await r.hgetall(f"aulacast:room:{session_id}:online")
    return {k.decode(): v.decode() for k, v in raw.items()}


async def test_mark_alive_reports_a_lapsed_mark(client: aioredis.Redis) -> None:
    store = RedisRoomStore(client)
    assert await store.mark_alive("a", 60) is True  # never set: the caller re-asserts in full
    assert await store.mark_alive("a", 60) is False
    await client.delete("aulacast:node:a:alive")  # what a Redis restart (or a long outage) leaves
    assert await store.mark_alive("a", 60) is True
    assert 0 < await client.pttl("aulacast:node:a:alive") <= 60_000


async def test_dead_nodes_entries_are_ignored_then_pruned_once(client: aioredis.Redis) -> None:
    a, b = RedisRoomStore(client), RedisRoomStore(client)  # two surviving nodes sweeping the same rooms
    await a.mark_alive("A", 60)
    await b.mark_alive("B", 60)
    await a.mark_alive("D", 0.2)  # D crashes: its mark is never renewed
    await a.add_socket(1, "a1", 1, "A")
    await b.add_socket(1, "b1", 2, "B")
    await a.add_socket(1, "d1", 3, "D")
    await a.add_socket(1, "d2", 2, "D")  # person 2 was on D too, and is still on B
    await a.add_socket(2, "d3", 4, "D")
    await _until(lambda: client.exists("aulacast:node:D:alive"), 0)

    # not counted even before any sweep
    assert await a.online(1) == {1, 2}
    assert await a.online(2) == set()
    await a.add_socket(1, "a2", 3, "A")
    assert await a.remove_socket(1, "a2", 3) == 0  # D's leftover does not keep person 3 in

    grace = 0.3
    assert await a.prune_dead_nodes({1, 2}, "A", grace) == {}  # first seen missing: not yet
    assert await b.prune_dead_nodes({1}, "B", grace) == {}
    assert (await _online_entries(client, 1)).keys() == {"a1", "b1", "d1", "d2"}
    await asyncio.sleep(grace + 0.1)
    results = await asyncio.gather(a.prune_dead_nodes({1, 2}, "A", grace), b.prune_dead_nodes({1}, "B", grace))
    announced = [(sid, p) for r in results for sid, people in r.items() for p in people]
    assert sorted(announced) == [(1, 3), (2, 4)]  # each once, across both sweepers; person 2 stays (on B)
    assert await _online_entries(client, 1) == {"a1": "1|A", "b1": "2|B"}
    assert await _online_entries(client, 2) == {}
    assert await a.prune_dead_nodes({1, 2}, "A", grace) == {}
    assert await a.online(1) == {1, 2}


async def test_a_node_that_beats_again_is_spared(client: aioredis.Redis) -> None:
    a = RedisRoomStore(client)
    await a.mark_alive("A", 60)
    await a.add_socket(7, "b1", 2, "B")  # B's mark is missing (slow beat, or just restarted)
    assert await a.prune_dead_nodes({7}, "A", 0.2) == {}
    await asyncio.sleep(0.3)
    await client.set("aulacast:node:B:alive", "1", ex=60)  # B beats before the next sweep
    assert await a.prune_dead_nodes({7}, "A", 0.2) == {}
    assert await a.online(7) == {2}
    await client.delete("aulacast:node:B:alive")
    assert await a.prune_dead_nodes({7}, "A", 0.2) == {}  # missing again: the grace starts over
    assert await _online_entries(client, 7) == {"b1": "2|B"}


async def test_redis_restart_prunes_no_live_node(private_redis: PrivateRedis, client: aioredis.Redis) -> None:
    """Redis comes back from a snapshot: old entries are there before any node's mark. Live nodes
    (A sweeps, B beats a little later) keep theirs; D, which never beats again, is pruned."""
    grace = 1.0
    a = RedisRoomStore(client)
    assert await a.mark_alive("A", 2)
    await client.set("aulacast:node:B:alive", "1", ex=2)
    await client.set("aulacast:node:D:alive", "1", ex=2)
    await a.add_socket(5, "a1", 1, "A")
    await a.add_socket(5, "b1", 2, "B")
    await a.add_socket(5, "d1", 3, "D")
    assert await a.prune_dead_nodes({5}, "A", grace) == {}
    redis.Redis(port=private_redis.port).save()  # the snapshot the restarted Redis loads
    private_redis.kill()
    await asyncio.sleep(2.5)  # down longer than the marks' TTL: every mark is gone when it returns
    private_redis.start()
    assert (await _online_entries(client, 5)).keys() == {"a1", "b1", "d1"}
    assert await client.exists("aulacast:node:A:alive", "aulacast:node:B:alive") == 0

    # A's beat: its own mark had lapsed, so everything it saw missing before is forgotten
    assert await a.mark_alive("A", 2) is True
    assert await a.prune_dead_nodes({5}, "A", grace) == {}
    # B's beat comes within the grace (mark first, then its refill)
    assert await RedisRoomStore(client).mark_alive("B", 2) is True
    await a.add_socket(5, "b1", 2, "B")
    await asyncio.sleep(grace + 0.2)
    await a.mark_alive("A", 2)
    await client.set("aulacast:node:B:alive", "1", ex=2)
    assert await a.prune_dead_nodes({5}, "A", grace) == {5: {3}}
    assert await _online_entries(client, 5) == {"a1": "1|A", "b1": "2|B"}
    assert await a.online(5) == {1, 2}


# --- two real nodes, one SIGKILLed ----------------------------------------------------------------


def _start(cfg: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "AULACAST_CONFIG": str(cfg), "AULACAST_MEDIA_HOST_ADDRESSES": "127.0.0.1",
           HEARTBEAT_ENV: str(BEAT)}  # fmt: skip
    return subprocess.Popen([sys.executable, "-m", "orchestrator.cli", "serve"], env=env, stdout=log.open("ab"),
                            stderr=subprocess.STDOUT)  # fmt: skip


@pytest.mark.slow
async def test_a_killed_nodes_people_leave_the_room(tmp_path: Path, private_redis: PrivateRedis) -> None:
    (tmp_path / "var").mkdir()
    db = Database.from_url(f"sqlite:///{tmp_path / 'var' / 'aulacast.db'}")
    db.upgrade()
    sd = seed(db)
    db.engine.dispose()
    ports = [free_port(), free_port()]
    logs = [tmp_path / "node1.log", tmp_path / "node2.log"]
    procs = [_start(write_config(tmp_path, p, private_redis.url), lg) for p, lg in zip(ports, logs, strict=True)]

    def log_text() -> str:
        return "\n".join(p.read_text(errors="replace")[-3000:] for p in logs)

    http = aiohttp.ClientSession()
    n1, n2 = (World(f"http://127.0.0.1:{p}", http, sd["ids"], sd["consult"], sd["defense"], _bearer=sd["tokens"])
              for p in ports)  # fmt: skip
    r = aioredis.from_url(private_redis.url)
    try:
        for port in ports:
            assert wait_for(lambda p=port: _healthy(p), 90), log_text()
        sid = n1.defense  # auto-admit: everybody goes straight into the room
        stu_id, sam_id = n1.ids["stu"], n1.ids["sam"]
        tom = await enter(n1, "tom", sid)
        stu = await enter(n2, "stu", sid)
        sam = await enter(n2, "sam", sid)
        await enter(n1, "sam", sid)  # sam has a second tab, on the node that survives
        await tom.wait_for("member-joined", lambda d: d["person_id"] == sam_id, LIMIT)
        store = RedisRoomStore(r)
        assert await store.online(sid) == {n1.ids["tom"], stu_id, sam_id}
        dead = f"{socket.gethostname()}:{procs[1].pid}"
        assert any(v.endswith(f"|{dead}") for v in (await _online_entries(r, sid)).values())

        procs[1].send_signal(signal.SIGKILL)
        procs[1].wait(10)
        await asyncio.wait_for(stu.disconnected.wait(), LIMIT)
        await asyncio.wait_for(sam.disconnected.wait(), LIMIT)

        left = await tom.wait_for("member-left", lambda d: d["person_id"] == stu_id, LIMIT)
        assert left == {"person_id": stu_id}  # the very message a disconnect produces
        assert await store.online(sid) == {n1.ids["tom"], sam_id}
        assert not any(v.endswith(f"|{dead}") for v in (await _online_entries(r, sid)).values())
        assert all(d["person_id"] != sam_id for d in tom.events["member-left"])  # still here in the other tab
        first = tom.events["welcome"][0]
        assert (await tom.call("state", {}))["state"] == "room"
        welcome = await tom.wait_for("welcome", lambda d: d is not first, LIMIT)
        assert {m["person_id"] for m in welcome["members"] if m["online"]} == {n1.ids["tom"], sam_id}
        # the heartbeat knob reached the node: its mark lives ALIVE_BEATS beats
        assert 0 < await r.pttl(f"aulacast:node:{socket.gethostname()}:{procs[0].pid}:alive") <= (
            BEAT * ALIVE_BEATS * 1000)  # fmt: skip
    finally:
        await n1.close()
        await n2.close()
        await http.close()
        await r.aclose()
        stop_processes(procs)
