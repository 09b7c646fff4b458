"""Mutual exclusion across tasks and nodes: in-process by default, in Redis when shared.

    async with locks.hold("session:7", ttl=30, wait=10) as got:
        if got: ...   # we hold it; nobody else on any node does

``wait`` is how long to queue for the lock before giving up (``got`` is then
False). The SQL unique constraint on transitions stays the final guard; the
lock keeps two steps of one session from interleaving.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end
"""


class LocalLocks:
    def __init__(self) -> None:
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    @asynccontextmanager
    async def hold(self, name: str, ttl: float = 30.0, wait: float = 0.0) -> AsyncIterator[bool]:
        lock = self._locks.get(name)
        if lock is None:
            lock = self._locks[name] = asyncio.Lock()
        if wait > 0:
            try:
                await asyncio.wait_for(lock.acquire(), timeout=wait)
            except TimeoutError:
                yield False
                return
        elif lock.locked():
            yield False
            return
        else:
            await lock.acquire()
        try:
            yield True
        finally:
            lock.release()


class RedisLocks:
    def __init__(self, redis: Any, prefix: str = "aulacast:lock:") -> None:
        self._redis = redis
        self._prefix = prefix
        self._release = redis.register_script(_RELEASE)

    @asynccontextmanager
    async def hold(self, name: str, ttl: float = 30.0, wait: float = 0.0) -> AsyncIterator[bool]:
        key, token = self._prefix + name, secrets.token_hex(16)
        deadline = time.monotonic() + wait
        while True:
            got = bool(await self._redis.set(key, token, nx=True, px=int(ttl * 1000)))
            if got or time.monotonic() >= deadline:
                break
            await asyncio.sleep(0.05)
        try:
            yield got
        finally:
            if got:
                with contextlib.suppress(Exception):  # it expires by itself after ttl
                    await asyncio.shield(self._release(keys=[key], args=[token]))


def make_locks(redis: Any | None) -> LocalLocks | RedisLocks:
    return RedisLocks(redis) if redis is not None else LocalLocks()
