"""Liveness, readiness and the OpenAPI document."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from sqlalchemy import text

from orchestrator import __version__
from orchestrator.api import api, services
from orchestrator.http import PUBLIC, openapi_document


def find_ffmpeg(configured: str | None) -> str | None:
    """The binary ``media.transcode.ffmpeg.FFmpeg.locate`` would use, or None."""
    from media.errors import MediaError
    from media.transcode.ffmpeg import FFmpeg

    try:
        return FFmpeg.locate(configured).binary
    except MediaError:
        return None


@api.route("GET", "/healthz", roles=PUBLIC, summary="The process is up", tags=("ops",))
async def healthz(request: web.Request) -> dict[str, Any]:
    return {"status": "ok"}  # the node's hostname:pid is for logs and operators, not for anyone who asks


@api.route("GET", "/readyz", roles=PUBLIC, summary="Database, Redis (when configured) and ffmpeg are usable", tags=("ops",))
async def readyz(request: web.Request) -> web.Response:
    svc = services(request)
    checks: dict[str, Any] = {}

    def ping(s: Any) -> None:
        s.execute(text("SELECT 1"))

    try:
        await asyncio.wait_for(svc.db_call(ping), timeout=5)
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"failed: {type(exc).__name__}"
    if svc.redis is not None:
        try:
            await asyncio.wait_for(svc.redis.ping(), timeout=2)
            checks["redis"] = "ok"
        except Exception as exc:
            checks["redis"] = f"failed: {type(exc).__name__}"
    ffmpeg = await asyncio.to_thread(find_ffmpeg, svc.settings.ffmpeg_path)
    checks["ffmpeg"] = "ok" if ffmpeg else "failed: not found"
    ready = all(v == "ok" for v in checks.values())
    return web.json_response({"ready": ready, "checks": checks}, status=200 if ready else 503)


@api.route("GET", "/api/openapi.json", roles=PUBLIC, summary="This document", tags=("ops",))
async def openapi(request: web.Request) -> dict[str, Any]:
    svc = services(request)
    return openapi_document(api, title="aulacast", version=__version__, server=svc.settings.effective_public_url)
