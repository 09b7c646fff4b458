"""A crashed node's presence is cleared by the surviving nodes; a Redis restart clears nobody alive;
a node that was only cut off from Redis announces its swept people again when it is back.

The store tests drive ``RedisRoomStore`` against a private ``redis-server`` (so it can be killed
and restarted); the end-to-end test runs two real ``aulacast serve`` processes with a short room
heartbeat (``AULACAST_SIGNALING__HEARTBEAT_SECONDS``), SIGKILLs one (or SIGSTOPs it past the grace and
resumes it), and watches the other announce it.
"""

from __future__ import annotations

import asyncio
import contextlib
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

from orchestrator.rooms import ALIVE_BEATS
from orchestrator.store.db import Database
from signaling.room import SWEPT_TTL, RedisRoomStore
from tests.helpers.multinode import PrivateRedis, enter, healthy, write_config
from tests.helpers.rooms import RoomClient, World, free_port, seed
from tests.helpers.support import stop_processes, wait_for

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


async def test_a_cut_off_nodes_swept_people_are_claimed_back_once(client: aioredis.Redis) -> None:
    """B loses Redis past the grace: A sweeps B's people and leaves tombstones naming B; B, back,
    re-asserts and claims exactly those people, once."""
    a, b = RedisRoomStore(client), RedisRoomStore(client)
    await a.mark_alive("A", 60)
    await b.mark_alive("B", 0.2)  # B is cut off: its mark is not renewed
    await a.add_socket(3, "a1", 1, "A")
    await b.add_socket(3, "b1", 2, "B")
    await b.add_socket(3, "b2", 5, "B")
    await a.add_socket(3, "a5", 5, "A")  # person 5 has a tab on A too: never announced, no tombstone
    await b.add_socket(4, "b3", 6, "B")
    await _until(lambda: client.exists("aulacast:node:B:alive"), 0)

    grace = 0.2
    assert await a.prune_dead_nodes({3, 4}, "A", grace) == {}
    await asyncio.sleep(grace + 0.1)
    assert await a.prune_dead_nodes({3, 4}, "A", grace) == {3: {2}, 4: {6}}
    assert await client.hgetall("aulacast:room:3:swept") == {b"2|B": b"1"}
    assert await client.hgetall("aulacast:room:4:swept") == {b"6|B": b"1"}
    assert 0 < await client.ttl("aulacast:room:3:swept") <= SWEPT_TTL

    # B is back: its mark had lapsed, it re-asserts its sockets, then claims
    assert await b.mark_alive("B", 60) is True
    await b.reassert("B", {3: {"b1": 2, "b2": 5}, 4: {"b3": 6}}, {}, {})
    assert await a.online(3) == {1, 2, 5}
    assert await a.claim_swept("A", {3: {1, 2, 5}}) == {}  # the tombstone names B: nobody else takes it
    people = {3: {2, 5}, 4: {6}}
    assert await b.claim_swept("B", people) == {3: {2}, 4: {6}}
    assert await b.claim_swept("B", people) == {}  # once
    assert await client.exists("aulacast:room:3:swept", "aulacast:room:4:swept") == 0


async def test_concurrent_claims_take_each_tombstone_once(client: aioredis.Redis) -> None:
    a = RedisRoomStore(client)
    await a.mark_alive("A", 60)
    for person in range(1, 21):
        await a.add_socket(8, f"b{person}", person, "B")  # B never had a mark: dead from the start
    assert await a.prune_dead_nodes({8}, "A", 0.1) == {}
    await asyncio.sleep(0.2)
    assert await a.prune_dead_nodes({8}, "A", 0.1) == {8: set(range(1, 21))}
    people = {8: set(range(1, 21))}
    results = await asyncio.gather(*(RedisRoomStore(client).claim_swept("B", people) for _ in range(4)))
    claimed = [p for r in results for p in r.get(8, set())]
    assert sorted(claimed) == list(range(1, 21))  # every person by exactly one claim


async def test_nothing_to_claim_after_a_redis_restart(private_redis: PrivateRedis, client: aioredis.Redis) -> None:
    """A plain Redis restart sweeps nobody, so nobody was announced as gone and nobody comes back."""
    a, b = RedisRoomStore(client), RedisRoomStore(client)
    await a.mark_alive("A", 60)
    await b.mark_alive("B", 60)
    await a.add_socket(9, "a1", 1, "A")
    await b.add_socket(9, "b1", 2, "B")
    private_redis.kill()
    private_redis.start()  # empty: no marks, no entries, no tombstones
    await client.connection_pool.disconnect()  # drop the dead connections (the nodes' retries do this)
    assert await b.mark_alive("B", 60) is True
    await b.reassert("B", {9: {"b1": 2}}, {}, {})
    assert await a.mark_alive("A", 60) is True
    await a.reassert("A", {9: {"a1": 1}}, {}, {})
    assert await a.prune_dead_nodes({9}, "A", 0.1) == {}
    assert await b.claim_swept("B", {9: {2}}) == {}
    assert await client.exists("aulacast:room:9:swept") == 0
    assert await a.online(9) == {1, 2}


# --- two real nodes, one SIGKILLed ----------------------------------------------------------------


def _start(cfg: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "AULACAST_CONFIG": str(cfg), "AULACAST_ICE__HOST_ADDRESSES": '["127.0.0.1"]',
           "AULACAST_SIGNALING__HEARTBEAT_SECONDS": str(BEAT)}  # fmt: skip
    return subprocess.Popen([sys.executable, "-m", "orchestrator.cli", "serve"], env=env, stdout=log.open("ab"),
                            stderr=subprocess.STDOUT)  # fmt: skip


@contextlib.asynccontextmanager
async def _two_nodes(tmp_path: Path, redis_url: str) -> AsyncIterator[tuple[list[subprocess.Popen[bytes]], World, World]]:
    """Two ``aulacast serve`` processes on one seeded database and the given Redis, healthy; stopped after."""
    (tmp_path / "var").mkdir()
    db = Database.from_url(f"sqlite:///{tmp_path / 'var' / 'aulacast.db'}")
    db.upgrade()
    sd = seed(db)
    db.engine.dispose()
    ports = [free_port(), free_port()]
    logs = [tmp_path / "node1.log", tmp_path / "node2.log"]
    procs = [_start(write_config(tmp_path, p, redis_url), lg) for p, lg in zip(ports, logs, strict=True)]
    http = aiohttp.ClientSession()
    n1, n2 = (World(f"http://127.0.0.1:{p}", http, sd["ids"], sd["consult"], sd["defense"], _bearer=sd["tokens"])
              for p in ports)  # fmt: skip
    try:
        for port in ports:
            assert wait_for(lambda p=port: healthy(p), 90), "\n".join(
                lg.read_text(errors="replace")[-3000:] for lg in logs)  # fmt: skip
        yield procs, n1, n2
    finally:
        for p in procs:
            if p.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    p.send_signal(signal.SIGCONT)  # a paused node cannot terminate
        await n1.close()
        await n2.close()
        await http.close()
        stop_processes(procs)


@pytest.mark.slow
async def test_a_killed_nodes_people_leave_the_room(tmp_path: Path, private_redis: PrivateRedis) -> None:
    r = aioredis.from_url(private_redis.url)
    try:
        async with _two_nodes(tmp_path, private_redis.url) as (procs, n1, n2):
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
        await r.aclose()


async def _next(client: RoomClient, event: str, person_id: int, start: int) -> int:
    """Index in ``client.log`` of the first ``event`` about ``person_id`` at or after ``start`` (waits)."""
    async with asyncio.timeout(LIMIT):  # only turns a hang into a failure
        while True:
            for i, (name, data, _) in enumerate(client.log[start:], start):
                if name == event and isinstance(data, dict) and data.get("person_id") == person_id:
                    return i
            await asyncio.sleep(0.05)


@pytest.mark.slow
async def test_a_cut_off_nodes_people_come_back_when_it_does(tmp_path: Path, private_redis: PrivateRedis) -> None:
    """Node 2 paused past the grace (as if cut off from Redis): node 1 sweeps its people; resumed,
    node 2 announces them again with the messages of a normal arrival."""
    r = aioredis.from_url(private_redis.url)
    try:
        async with _two_nodes(tmp_path, private_redis.url) as (procs, n1, n2):
            defense, consult = n1.defense, n1.consult
            sam_id, stu_id = n1.ids["sam"], n1.ids["stu"]
            tom = await enter(n1, "tom", defense)  # auto-admit room
            host = await enter(n1, "tom", consult)  # the consultation's moderator
            sam = await enter(n2, "sam", defense)
            stu = await n2.socket("stu", consult)
            await stu.wait_for("lobby", limit=LIMIT)
            start_room = await _next(tom, "member-joined", sam_id, 0) + 1
            start_lobby = await _next(host, "waiting", stu_id, 0) + 1

            procs[1].send_signal(signal.SIGSTOP)
            try:
                left = await _next(tom, "member-left", sam_id, start_room)
                gone = await _next(host, "waiting-left", stu_id, start_lobby)
                assert tom.log[left][1] == {"person_id": sam_id}
                assert host.log[gone][1] == {"person_id": stu_id, "admitted": False}
                assert await RedisRoomStore(r).online(defense) == {n1.ids["tom"]}
                assert await r.hexists(f"aulacast:room:{defense}:swept", f"{sam_id}|{socket.gethostname()}:"
                                       f"{procs[1].pid}")  # fmt: skip
            finally:
                procs[1].send_signal(signal.SIGCONT)

            back = await _next(tom, "member-joined", sam_id, left + 1)
            assert tom.log[back][1]["online"] is True and tom.log[back][1]["name"]
            again = await _next(host, "waiting", stu_id, gone + 1)
            assert host.log[again][1]["person_id"] == stu_id
            assert await RedisRoomStore(r).online(defense) == {n1.ids["tom"], sam_id}
            await _until(lambda: r.exists(f"aulacast:room:{defense}:swept", f"aulacast:room:{consult}:swept"), 0)
            assert not sam.disconnected.is_set() and not stu.disconnected.is_set()  # only Redis was out of reach
            # announced once: the node's later beats claim nothing more
            await asyncio.sleep(BEAT * 4)
            assert sum(1 for name, d, _ in tom.log[left:] if name == "member-joined" and d["person_id"] == sam_id) == 1
    finally:
        await r.aclose()
