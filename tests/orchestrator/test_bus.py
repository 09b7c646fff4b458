"""The event bus: in-process delivery, and Redis pub/sub across two nodes (real Redis)."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis

from orchestrator.bus import Event, LocalBus, RedisBus
from orchestrator.ratelimit import LocalRateLimiter, RedisRateLimiter


async def test_local_bus_patterns_and_failing_subscriber() -> None:
    bus = LocalBus("n1")
    got: list[str] = []

    async def boom(event: Event) -> None:
        raise RuntimeError("subscriber bug")

    async def keep(event: Event) -> None:
        got.append(event.topic)

    bus.subscribe("session.*", boom)
    bus.subscribe("session.*", keep)
    bus.subscribe("chat.*", keep)
    await bus.publish("session.opened", {"session_id": 1})
    await bus.publish("recording.ready", {})
    assert got == ["session.opened"]


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
