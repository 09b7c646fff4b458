"""The event bus: in-process delivery, and Redis pub/sub across two nodes (real Redis)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
import redis.asyncio as aioredis

from orchestrator.bus import Event, LocalBus, RedisBus
from orchestrator.ratelimit import LocalRateLimiter, RedisRateLimiter


async def test_redis_bus_reaches_every_node_once(private_redis: str) -> None:
    a_client, b_client = aioredis.from_url(private_redis), aioredis.from_url(private_redis)
    a, b = RedisBus(a_client, "a"), RedisBus(b_client, "b")
    seen: dict[str, list[dict[str, object]]] = {"a": [], "b": []}

    def collector(name: str):  # type: ignore[no-untyped-def]
        async def collect(event: Event) -> None:
            seen[name].append(event.payload)

        return collect

    a.subscribe("session.*", collector("a"))
    b.subscribe("session.*", collector("b"))
    await a.start()
    await b.start()
    try:
        await a.publish("session.opened", {"session_id": 7})
        for _ in range(100):
            if seen["a"] and seen["b"]:
                break
            await asyncio.sleep(0.02)
        assert seen == {"a": [{"session_id": 7}], "b": [{"session_id": 7}]}
    finally:
        await a.close()
        await b.close()
        await a_client.aclose()
        await b_client.aclose()


async def test_rate_limiters_agree(private_redis: str) -> None:
    client = aioredis.from_url(private_redis)
    try:
        limiters = [LocalRateLimiter(), RedisRateLimiter(client)]
        for lim in limiters:
            results = [await lim.allow("k", rate=0.001, burst=3) for _ in range(5)]
            assert results == [True, True, True, False, False]
            assert await lim.allow("other", rate=0.001, burst=3)
    finally:
        await client.aclose()


@pytest.fixture(params=["local", "redis"])
async def bus(request: pytest.FixtureRequest) -> AsyncIterator[LocalBus]:
    """Both event buses behind one contract (the Redis one on a private redis-server)."""
    if request.param == "local":
        yield LocalBus("n1")
        return
    client = aioredis.from_url(request.getfixturevalue("private_redis"))
    redis_bus = RedisBus(client, "n1")
    await redis_bus.start()
    try:
        yield redis_bus
    finally:
        await redis_bus.close()
        await client.aclose()


async def _until(check: Callable[[], bool]) -> None:
    for _ in range(250):
        if check():
            return
        await asyncio.sleep(0.02)


async def test_bus_contract_patterns_order_and_a_failing_subscriber(bus: LocalBus) -> None:
    got: list[tuple[str, dict[str, object]]] = []

    async def boom(event: Event) -> None:
        raise RuntimeError("subscriber bug")

    async def keep(event: Event) -> None:
        got.append((event.topic, event.payload))

    bus.subscribe("session.*", boom)
    bus.subscribe("session.*", keep)
    bus.subscribe("recording.ready", keep)
    sent = [await bus.publish(t, {"n": i}) for i, t in enumerate(["session.opened", "chat.message",
                                                                   "recording.ready", "session.closed"])]
    await _until(lambda: len(got) >= 3)
    await asyncio.sleep(0.1)  # nothing more arrives
    assert got == [("session.opened", {"n": 0}), ("recording.ready", {"n": 2}), ("session.closed", {"n": 3})]
    assert all(e.node == "n1" and e.id for e in sent)
    assert len({e.id for e in sent}) == 4


async def test_redis_bus_drops_a_malformed_message_and_keeps_listening(private_redis: str) -> None:
    client = aioredis.from_url(private_redis)
    redis_bus = RedisBus(client, "n1")
    got: list[str] = []

    async def keep(event: Event) -> None:
        got.append(event.topic)

    redis_bus.subscribe("*", keep)
    await redis_bus.start()
    try:
        await client.publish("aulacast:events", b"not json")
        await client.publish("aulacast:events", b'{"no": "topic"}')
        await redis_bus.publish("session.opened", {})
        await _until(lambda: bool(got))
        assert got == ["session.opened"]
    finally:
        await redis_bus.close()
        await client.aclose()
