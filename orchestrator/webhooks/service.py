"""Webhooks in the running service: bus events into the delivery table, and the dispatcher that sends them.

    attach(app, svc)       # from orchestrator.app's EXTENSIONS; nothing happens without [webhooks] urls

Every node subscribes to the configured topics and records each event it sees
(with Redis every node sees every event: the table's unique (event, URL) pair
keeps one row). Every node runs a dispatcher that claims due rows and POSTs
them, signed (``orchestrator.webhooks.signing``): a 2xx answer marks the row
delivered; anything else (an error status, a refused connection, a timeout) is
retried after 5 s, 10 s, 20 s… up to an hour between attempts, and after
``max_attempts`` the row is marked failed and logged. Rows survive restarts:
a node picks up whatever is due when it starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy import func, select

from orchestrator.bus import Event
from orchestrator.config import Settings
from orchestrator.store.db import Database
from orchestrator.store.types import utcnow
from orchestrator.webhooks.models import WebhookDelivery
from orchestrator.webhooks.outbox import CLAIM_BATCH, Claimed, claim_due, finish, record_event
from orchestrator.webhooks.signing import sign

log = logging.getLogger("aulacast.webhooks")

CONTENT_TYPE = "application/webhook+json"  # as LiveKit sends
MAX_ANSWER_BYTES = 64 * 1024


class Dispatcher:
    """Sends due deliveries of this node's database; ``wake()`` after recording to send at once."""

    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="webhook-dispatcher")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def wake(self) -> None:
        self._wake.set()

    async def _run(self) -> None:
        timeout = aiohttp.ClientTimeout(total=self.settings.webhooks.timeout_seconds)
        async with aiohttp.ClientSession(timeout=timeout, headers={"User-Agent": "aulacast-webhooks"}) as http:
            while True:
                self._wake.clear()
                try:
                    while await self.deliver_due(http) >= CLAIM_BATCH:
                        pass
                    wait = await asyncio.to_thread(self._until_next_due)
                except Exception:
                    log.exception("webhook delivery round failed")
                    wait = self.settings.webhooks.poll_seconds
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=wait)

    def _until_next_due(self) -> float:
        """Seconds to the next pending row's due time, within (0.05, poll_seconds)."""
        poll = self.settings.webhooks.poll_seconds
        with self.db.session() as s:
            first: datetime | None = s.scalar(select(func.min(WebhookDelivery.next_at))
                                              .where(WebhookDelivery.status == "pending"))  # fmt: skip
        if first is None:
            return poll
        return min(poll, max(0.05, (first - utcnow()) / timedelta(seconds=1)))

    async def deliver_due(self, http: aiohttp.ClientSession) -> int:
        """One round: claim what is due and send it all concurrently; how many were attempted."""
        claimed = await asyncio.to_thread(claim_due, self.db, self.settings, utcnow())
        await asyncio.gather(*(self._send(http, c) for c in claimed))
        return len(claimed)

    async def _send(self, http: aiohttp.ClientSession, c: Claimed) -> None:
        hooks = self.settings.webhooks
        assert hooks.secret is not None  # the settings refuse urls without a secret
        body = c.body.encode()
        headers = {"Authorization": sign(body, hooks.secret.get_secret_value(), issuer=hooks.issuer),
                   "Content-Type": CONTENT_TYPE}  # fmt: skip
        status: int | None = None
        error: str | None = None
        try:
            async with http.post(c.url, data=body, headers=headers, allow_redirects=False) as r:
                status = r.status
                answer = await r.content.read(MAX_ANSWER_BYTES)
                if not 200 <= status < 300:
                    error = f"HTTP {status}: {answer[:300].decode('utf-8', 'replace')}"
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        result = await asyncio.to_thread(finish, self.db, self.settings, c, status=status, error=error,
                                         now=utcnow())  # fmt: skip
        if result == "failed":
            log.warning("webhook delivery failed for good", extra={"event": c.event_id, "topic": c.topic,
                                                                   "url": c.url, "attempts": c.attempt, "error": error})
        elif result == "pending":
            log.info("webhook attempt failed; will retry", extra={"event": c.event_id, "url": c.url,
                                                                  "attempt": c.attempt, "error": error})


WEBHOOKS = web.AppKey("webhooks", Dispatcher)


def record_on(svc: Any, recorded: Callable[[], None] | None = None) -> None:
    """Record the configured topics' events seen on ``svc.bus`` in the delivery table (the service, and a
    command-line process whose events the running service then sends); nothing without URLs."""
    settings: Settings = svc.settings
    if not settings.webhooks.urls:
        return

    async def on_event(event: Event) -> None:
        added = await svc.db_call(lambda s: record_event(s, settings, event))
        if added and recorded is not None:
            recorded()

    for topic in settings.webhooks.topics:
        svc.bus.subscribe(topic, on_event)


def attach(app: web.Application, svc: Any) -> None:
    """Record the configured topics' events and run the dispatcher (only when URLs are configured)."""
    settings: Settings = svc.settings
    if not settings.webhooks.urls:
        return
    dispatcher = Dispatcher(settings, svc.db)
    app[WEBHOOKS] = dispatcher
    record_on(svc, dispatcher.wake)

    async def background(app: web.Application) -> AsyncIterator[None]:
        dispatcher.start()
        yield
        await dispatcher.close()

    app.cleanup_ctx.append(background)
