"""Token-bucket rate limits: in-process by default, Redis when nodes share the load.

    limiter = make_limiter(redis_client_or_None)
    if not await limiter.allow("login:acct:alice", rate=10/60, burst=10): refuse()

Both implementations answer the same question for the same key; the Redis
one does it atomically in a Lua script so two nodes never both spend the
last token.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

import redis.exceptions

from orchestrator.errors import ServiceUnavailable


class RateLimiter(Protocol):
    async def allow(self, key: str, *, rate: float, burst: int, cost: float = 1.0) -> bool: ...


class LocalRateLimiter:
    """Buckets in a dict; fine for one process."""

    def __init__(self, max_keys: int = 100_000) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}
        self._max_keys = max_keys

    def allow_now(self, key: str, *, rate: float, burst: int, cost: float = 1.0) -> bool:
        now = time.monotonic()
        tokens, last = self._buckets.get(key, (float(burst), now))
        tokens = min(float(burst), tokens + (now - last) * rate)
        ok = tokens >= cost
        if ok:
            tokens -= cost
        if len(self._buckets) >= self._max_keys and key not in self._buckets:
            self._buckets.clear()  # bounded memory under a key-spraying attack
        self._buckets[key] = (tokens, now)
        return ok

    async def allow(self, key: str, *, rate: float, burst: int, cost: float = 1.0) -> bool:
        return self.allow_now(key, rate=rate, burst=burst, cost=cost)


_LUA = """
local key = KEYS[1]
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local b = redis.call('HMGET', key, 'tokens', 'ts')
local tokens = tonumber(b[1]) or burst
local ts = tonumber(b[2]) or now
tokens = math.min(burst, tokens + (now - ts) * rate)
local ok = 0
if tokens >= cost then tokens = tokens - cost; ok = 1 end
redis.call('HSET', key, 'tokens', tokens, 'ts', now)
redis.call('EXPIRE', key, math.ceil(burst / rate) + 1)
return ok
"""


class RedisRateLimiter:
    """Buckets in Redis hashes, shared by every node."""

    def __init__(self, redis: Any, prefix: str = "aulacast:rl:") -> None:
        self._redis = redis
        self._prefix = prefix
        self._script = redis.register_script(_LUA)

    async def allow(self, key: str, *, rate: float, burst: int, cost: float = 1.0) -> bool:
        try:
            result = await self._script(keys=[self._prefix + key], args=[rate, burst, cost])
        except (redis.exceptions.RedisError, ConnectionError, TimeoutError) as exc:
            raise ServiceUnavailable("rate limits are briefly unavailable (Redis); retry") from exc
        return bool(int(result))


def make_limiter(redis: Any | None) -> RateLimiter:
    return RedisRateLimiter(redis) if redis is not None else LocalRateLimiter()
