"""Jobs inside the running service: the node's ``Jobs`` front, and a recording that ends becomes an archived lecture.

    attach(app, svc)       # from orchestrator.app's EXTENSIONS: svc.jobs, and the recording.ready subscriber

``recording.ready`` (docs/recording-format.md) -> a ``compose`` job keyed by the recording,
so the event arriving on several nodes, or twice, makes one job -> on success the job
archives the composition and the bus carries ``asset.composed`` then ``asset.archived``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from orchestrator.jobs.queue import Jobs

log = logging.getLogger("aulacast.jobs")


def jobs_of(svc: Any) -> Jobs:
    if svc.jobs is None:
        svc.jobs = Jobs(svc)
    return svc.jobs


async def on_recording_ready(svc: Any, payload: dict[str, Any]) -> dict[str, Any] | None:
    """Submit the compose job for a finished recording; None when there is nothing to compose."""
    if not svc.settings.jobs.compose_on_recording:
        return None
    session_id, recording_id, folder = (
        payload.get("session_id"),
        payload.get("recording_id"),
        payload.get("folder"),
    )
    if not (session_id and recording_id and folder):
        log.warning(
            "recording.ready without session_id, recording_id and folder: ignored", extra={"payload": payload}
        )
        return None
    if payload.get("status") == "failed":
        log.info(
            "recording failed, nothing to compose", extra={"session": session_id, "recording": recording_id}
        )
        return None
    sid = int(session_id) if str(session_id).isdigit() else None
    args = {"folder": str(folder), "session_id": str(session_id), "recording_id": str(recording_id)}
    return await jobs_of(svc).submit(
        "compose", args, key=f"compose:{session_id}:{recording_id}", session_id=sid
    )


def attach(app: web.Application, svc: Any) -> None:
    jobs = jobs_of(svc)

    async def ready(event: Any) -> None:
        await on_recording_ready(svc, event.payload)

    svc.bus.subscribe("recording.ready", ready)

    async def background(app: web.Application) -> AsyncIterator[None]:
        await jobs.start()
        yield
        await jobs.close()

    app.cleanup_ctx.append(background)
