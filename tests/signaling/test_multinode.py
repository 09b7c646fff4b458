"""Two real ``aulacast serve`` processes sharing one SQLite file and a private Redis started here.

A client on node 1 and one on node 2 share presence, lobby and chat; a room's media stays on
the node that placed it (the other node forwards media calls to it through Redis); a Redis
restart is survived: signaling comes back and no stored chat is lost.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest
import redis

from orchestrator.store.db import Database
from tests.helpers.media_peer import MediaPeer, until
from tests.helpers.multinode import Cluster, Nodes, PrivateRedis, enter, healthy, start_node, write_config
from tests.helpers.rooms import World, free_port, seed
from tests.helpers.support import stop_processes, wait_for


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nodes]:
    tmp_path = tmp_path_factory.mktemp("multinode")
    (tmp_path / "var").mkdir()
    db = Database.from_url(f"sqlite:///{tmp_path / 'var' / 'aulacast.db'}")
    db.upgrade()
    seeded = seed(db)
    db.engine.dispose()
    r = PrivateRedis(free_port(), tmp_path)
    r.start()
    ports = [free_port(), free_port()]
    logs = [tmp_path / "node1.log", tmp_path / "node2.log"]
    procs = [start_node(write_config(tmp_path, p, r.url), lg) for p, lg in zip(ports, logs, strict=True)]
    n = Nodes(ports, procs, r, logs, seeded)
    try:
        for port in ports:
            assert wait_for(lambda p=port: healthy(p), 90), n.log_text()
        yield n
    finally:
        stop_processes(procs)
        if r.proc is not None and r.proc.poll() is None:
            r.proc.terminate()
            r.proc.wait(10)


@pytest.fixture
async def cluster(nodes: Nodes, loopback_only: None) -> AsyncIterator[Cluster]:
    http = aiohttp.ClientSession()
    sd = nodes.seeded
    worlds = [World(f"http://127.0.0.1:{p}", http, sd["ids"], sd["consult"], sd["defense"], _bearer=sd["tokens"])
              for p in nodes.ports]  # fmt: skip
    try:
        yield Cluster(worlds, nodes.procs, nodes.redis, nodes)
    finally:
        for w in worlds:
            await w.close()
        await http.close()


@pytest.mark.slow
async def test_two_nodes_share_presence_lobby_chat_and_media(cluster: Cluster) -> None:
    n1, n2 = cluster.nodes
    sid = n1.consult
    tom = await enter(n1, "tom", sid)
    # lobby across nodes: the student waits on node 2, the host on node 1 sees it and admits
    stu = await n2.socket("stu", sid)
    await stu.wait_for("lobby")
    assert (await tom.wait_for("waiting"))["person_id"] == n1.ids["stu"]
    await tom.call("admit", {"person_id": n1.ids["stu"]})
    welcome = await stu.wait_for("welcome")
    assert {m["person_id"] for m in welcome["members"] if m["online"]} == {n1.ids["tom"], n1.ids["stu"]}
    assert (await tom.wait_for("member-joined"))["person_id"] == n1.ids["stu"]
    # chat both ways
    await stu.call("chat", {"body": "from node 2"})
    assert (await tom.wait_for("chat", lambda m: m["body"] == "from node 2"))["sender_id"] == n1.ids["stu"]
    await tom.call("chat", {"body": "from node 1"})
    await stu.wait_for("chat", lambda m: m["body"] == "from node 1")
    # hands cross too
    await stu.call("hand", {"raised": True})
    assert (await tom.wait_for("hand"))["person_id"] == n1.ids["stu"]

    # media: placed on node 1 by the host's join; node 2's client is served by forwarding
    peers = [MediaPeer(tom), MediaPeer(stu)]
    try:
        assert (await peers[0].join())["ok"] is True
        owner = redis.Redis(port=cluster.redis.port).get(f"aulacast:room:{sid}:media").decode()
        assert owner.endswith(f":{cluster.procs[0].pid}"), owner
        ack = await peers[1].join()
        assert ack["ok"] is True, ack
        await until(lambda: peers[1].video_frames_from(n1.ids["tom"]) >= 10, "node-2 client receives the host")
        await until(lambda: peers[0].video_frames_from(n1.ids["stu"]) >= 10, "host receives the node-2 client")
        assert redis.Redis(port=cluster.redis.port).get(f"aulacast:room:{sid}:media").decode() == owner
    finally:
        for p in peers:
            await p.close()


@pytest.mark.slow
async def test_redis_restart_recovers_and_loses_no_stored_chat(cluster: Cluster) -> None:
    n1, n2 = cluster.nodes
    sid = n1.defense  # auto-admit
    tom = await enter(n1, "tom", sid)
    stu = await enter(n2, "stu", sid)
    for i in range(5):
        assert (await stu.call("chat", {"body": f"before {i}"}))["ok"] is True
    await tom.wait_for("chat", lambda m: m["body"] == "before 4")

    cluster.redis.kill()
    down_acks = [await stu.call("chat", {"body": "while down"}, limit=30)]
    assert down_acks[0]["ok"] is False and down_acks[0]["error"]["code"] == "unavailable", down_acks
    cluster.redis.start()
    restarted = time.monotonic()
    # signaling is back when a message from node 2 reaches node 1 again
    n = 0
    delivered_at = None
    while time.monotonic() - restarted < 60:
        n += 1
        body = f"after {n}"
        ack = await stu.call("chat", {"body": body}, limit=30)
        if ack["ok"]:
            try:
                await tom.wait_for("chat", lambda m, b=body: m["body"] == b, limit=0.5)
                delivered_at = time.monotonic()
                break
            except TimeoutError:
                pass
        await asyncio.sleep(0.2)
    assert delivered_at is not None, cluster.log_text()
    print(f"signaling recovered {delivered_at - restarted:.2f} s after Redis came back ({n} attempts)")
    # presence is refilled by the nodes' heartbeats
    await asyncio.sleep(4)
    state = await tom.call("state", {})
    assert state["state"] == "room"
    welcome = tom.events["welcome"][-1]
    assert {m["person_id"] for m in welcome["members"] if m["online"]} == {n1.ids["tom"], n1.ids["stu"]}
    # every acknowledged message is stored (SQL), whatever Redis did
    history = [m["body"] for m in welcome["history"]]
    assert [f"before {i}" for i in range(5)] == history[:5] and f"after {n}" in history
    assert "while down" not in history
