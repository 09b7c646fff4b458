"""Sign-in backoff: slow a guesser down without locking the right person out.

    guard = make_login_guard(redis_or_None)
    wait = await guard.wait_before(account, address)   # > 0: refuse with Retry-After, nothing checked
    ... check the password ...
    await guard.failed(account, address) / await guard.succeeded(account, address)

Failures are counted per (account, client address): after ``free`` failures each further try from
that address must wait 1, 2, 4 ... seconds (at most ``MAX_WAIT``) after the last failure. Someone
guessing from one place slows down exponentially; the account's owner, signing in from elsewhere,
is never refused because of them. Across all addresses the account's failures add a short
server-side pause before the answer (``account_pause``), never a refusal. The per-address token
bucket (``orchestrator.ratelimit``) caps how fast one address may try accounts at all.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

import redis.exceptions

from orchestrator.errors import ServiceUnavailable

MAX_WAIT = 15 * 60.0
ACCOUNT_FREE = 20
ACCOUNT_MAX_PAUSE = 3.0
FORGET_AFTER = 24 * 3600


def backoff(failures: int, free: int) -> float:
    """Seconds to wait after the last failure before the next try counts."""
    if failures < free:
        return 0.0
    return min(MAX_WAIT, 2.0 ** (failures - free))


def account_pause(failures: int) -> float:
    """A server-side pause for an account under wide guessing: 0.1 s doubling, at most 3 s."""
    if failures < ACCOUNT_FREE:
        return 0.0
    return min(ACCOUNT_MAX_PAUSE, 0.1 * 2.0 ** (failures - ACCOUNT_FREE))


class LoginGuard(Protocol):
    async def wait_before(self, account: str, address: str) -> tuple[float, float]: ...
    async def failed(self, account: str, address: str) -> None: ...
    async def succeeded(self, account: str, address: str) -> None: ...


class _Counts:
    def __init__(self, free: int) -> None:
        self.free = free

    def verdict(self, pair: tuple[int, float], acct: tuple[int, float], now: float) -> tuple[float, float]:
        """(seconds this address must still wait, server-side pause for the account)."""
        (f, last), (fa, _) = pair, acct
        return max(0.0, last + backoff(f, self.free) - now) if f else 0.0, account_pause(fa)


class LocalLoginGuard(_Counts):
    """Counts in a dict (one process); bounded under key spraying."""

    def __init__(self, free: int, max_keys: int = 100_000) -> None:
        super().__init__(free)
        self._counts: dict[str, tuple[int, float]] = {}
        self._max_keys = max_keys

    def _get(self, key: str, now: float) -> tuple[int, float]:
        f, last = self._counts.get(key, (0, 0.0))
        return (0, 0.0) if now - last > FORGET_AFTER else (f, last)

    async def wait_before(self, account: str, address: str) -> tuple[float, float]:
        now = time.time()
        return self.verdict(self._get(f"{account}|{address}", now), self._get(account, now), now)

    async def failed(self, account: str, address: str) -> None:
        now = time.time()
        if len(self._counts) >= self._max_keys:
            self._counts.clear()
        for key in (f"{account}|{address}", account):
            f, _ = self._get(key, now)
            self._counts[key] = (f + 1, now)

    async def succeeded(self, account: str, address: str) -> None:
        self._counts.pop(f"{account}|{address}", None)
        self._counts.pop(account, None)


class RedisLoginGuard(_Counts):
    """Counts in Redis hashes, shared by every node; each forgotten a day after its last failure."""

    def __init__(self, redis: Any, free: int, prefix: str = "aulacast:login:") -> None:
        super().__init__(free)
        self._redis = redis
        self._prefix = prefix

    async def _get(self, key: str) -> tuple[int, float]:
        f, last = await self._redis.hmget(self._prefix + key, "f", "t")
        return int(f or 0), float(last or 0.0)

    async def wait_before(self, account: str, address: str) -> tuple[float, float]:
        try:
            pair, acct = await self._get(f"{account}|{address}"), await self._get(account)
        except (redis.exceptions.RedisError, ConnectionError, TimeoutError) as exc:
            raise ServiceUnavailable("sign-in is briefly unavailable (Redis); retry") from exc
        return self.verdict(pair, acct, time.time())

    async def failed(self, account: str, address: str) -> None:
        now = time.time()
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                for key in (f"{account}|{address}", account):
                    pipe.hincrby(self._prefix + key, "f", 1)
                    pipe.hset(self._prefix + key, "t", now)
                    pipe.expire(self._prefix + key, FORGET_AFTER)
                await pipe.execute()
        except (redis.exceptions.RedisError, ConnectionError, TimeoutError) as exc:
            raise ServiceUnavailable("sign-in is briefly unavailable (Redis); retry") from exc

    async def succeeded(self, account: str, address: str) -> None:
        try:
            await self._redis.delete(self._prefix + f"{account}|{address}", self._prefix + account)
        except (redis.exceptions.RedisError, ConnectionError, TimeoutError) as exc:
            raise ServiceUnavailable("sign-in is briefly unavailable (Redis); retry") from exc


def make_login_guard(redis: Any | None, free: int) -> LoginGuard:
    return RedisLoginGuard(redis, free) if redis is not None else LocalLoginGuard(free)
