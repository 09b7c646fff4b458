"""The defenses' part of the running service: anchoring the audit chain head at intervals (§28)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from orchestrator.services import Services

log = logging.getLogger("aulacast.defenses")


def attach(app: web.Application, svc: Services) -> None:
    if not svc.settings.scheduler_enabled:
        return  # the node that runs the timetable anchors; others only serve

    async def anchoring(_app: web.Application) -> AsyncIterator[None]:
        from orchestrator.defenses.tamper import anchor

        async def loop() -> None:
            while True:
                try:
                    await svc.db_call(lambda s: anchor(s, svc.settings, only_if_moved=True))
                except Exception:
                    log.exception("anchoring the audit chain failed; retrying at the next interval")
                await asyncio.sleep(svc.settings.audit_anchor_minutes * 60)

        task = asyncio.ensure_future(loop())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    app.cleanup_ctx.append(anchoring)
