"""Once-only execution across nodes: a lock in-process by default, in Redis when shared.

    async with locks.hold("transition:7:open", ttl=30) as got:
        if got: ...   # only one holder across all nodes

The SQL unique constraint on transitions stays the final guard; the lock
keeps two nodes from even trying at once.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end
"""


class LocalLocks:
    def __init__(self) -> None:
        self._held: set[str] = set()

    @asynccontextmanager
    async def hold(self, name: str, ttl: float = 30.0) -> AsyncIterator[bool]:
        if name in self._held:
            yield False
            return
        self._held.add(name)
        try:
            yield True
        finally:
            self._held.discard(name)


class RedisLocks:
    def __init__(self, redis: Any, prefix: str = "aulacast:lock:") -> None:
        self._redis = redis
        self._prefix = prefix
        self._release = redis.register_script(_RELEASE)

    @asynccontextmanager
    async def hold(self, name: str, ttl: float = 30.0) -> AsyncIterator[bool]:
        key, token = self._prefix + name, secrets.token_hex(16)
        got = bool(await self._redis.set(key, token, nx=True, px=int(ttl * 1000)))
        try:
            yield got
        finally:
            if got:
                try:
                    await asyncio.shield(self._release(keys=[key], args=[token]))
                except Exception:  # expires by itself after ttl
                    pass


def make_locks(redis: Any | None) -> LocalLocks | RedisLocks:
    return RedisLocks(redis) if redis is not None else LocalLocks()
