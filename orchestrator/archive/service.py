"""The archive inside the running service: one ``Archive`` per process, hand-in processing, upload expiry.

    attach(app, svc)                  # from orchestrator.app's EXTENSIONS
    archive = archive_of(svc)         # the node's Archive (catalogue + storage + ffmpeg)
    result = await archive_recording(svc, session_id, Path("lecture.mp4"), chat_vtt=..., poster=...)
    handins(svc).submit(upload_id, checked)   # archive a checked upload in the background

Processing a hand-in (normalise, HLS cut) is batch work: one at a time per node, ffmpeg at
lower priority, so live rooms keep the CPU. An upload left ``processing`` by a crash is taken
up again when the service starts; archiving is idempotent per upload. Until the job queue
lands (orchestrator/jobs) this runs in-process; ``process_upload`` is the job body.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, TypeVar
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator import audit
from orchestrator.archive.catalogue import Archive, IngestResult
from orchestrator.archive.models import Asset, Upload
from orchestrator.archive.presentations import (
    HANDIN_REFUSALS,
    Checked,
    HandinRefused,
    archive_handin,
    check_handin,
)
from orchestrator.config import Settings
from orchestrator.errors import UserError
from orchestrator.store.db import Database
from orchestrator.store.types import utcnow

log = logging.getLogger("aulacast.archive")

T = TypeVar("T")
SWEEP_SECONDS = 300
RETENTION_EVERY = timedelta(days=1)


async def archive_recording(svc: Services, session_id: int, video: Path, **kw: Any) -> IngestResult:
    """``Archive.ingest_recording`` off the event loop; publishes ``asset.archived`` when a new item was made.

    Keyword arguments are ``ingest_recording``'s (chat_vtt, poster, chapters, recording_started_at,
    kind, description, actor_id).
    """
    result = await asyncio.to_thread(archive_of(svc).ingest_recording, session_id, video, **kw)
    if result.created:
        await svc.bus.publish("asset.archived", _event(result, session_id))
    return result


async def archive_composition(svc: Services, session_id: int, folder: Path, **kw: Any) -> IngestResult:
    """``Archive.ingest_composition`` off the event loop; publishes ``asset.archived`` when a new item was made."""
    result = await asyncio.to_thread(archive_of(svc).ingest_composition, session_id, folder, **kw)
    if result.created:
        await svc.bus.publish("asset.archived", _event(result, session_id))
    return result


def _event(result: IngestResult, session_id: int | None) -> dict[str, Any]:
    return {"asset_id": result.asset_id, "kind": result.kind, "sha256": result.sha256, "session_id": session_id,
            "page": f"/archive/{result.asset_id}"}


class Services(Protocol):
    """What this module uses of ``orchestrator.services.Services`` (named here, not imported: that module
    names the archive's types, and the import contracts forbid a cycle)."""

    settings: Settings
    db: Database
    bus: Any
    locks: Any
    archive: Archive | None
    handins: Handins | None

    async def db_call(self, fn: Callable[[Session], T]) -> T: ...


def archive_of(svc: Services) -> Archive:
    """The node's Archive (made on first use)."""
    if svc.archive is None:
        svc.archive = Archive(svc.settings, svc.db)
    return svc.archive


def upload_dir(settings: Settings) -> Path:
    return settings.effective_media_root / "uploads"


def upload_path(settings: Settings, upload_id: str) -> Path:
    return upload_dir(settings) / f"{upload_id}.part"


def process_upload(archive: Archive, upload_id: str, checked: Checked | None = None) -> int | None:
    """Check (unless ``checked``) and archive one complete upload; marks it archived or refused.

    The job body for a hand-in: safe to run again after a crash (archiving is idempotent
    per upload). Returns the asset id, or None when the file was refused.
    """
    path = upload_path(archive.settings, upload_id)
    with archive.db.session() as s:
        up = s.get(Upload, upload_id)
        if up is None or up.status not in ("processing",):
            return up.asset_id if up is not None else None
        kind, filename, owner = up.kind, up.filename, up.owner_id
    try:
        checked = checked or check_handin(archive.settings, path, kind=kind, filename=filename)
        return archive_handin(archive, upload_id, checked, path)
    except UserError as exc:  # HandinRefused, or media that would not normalise
        refuse(archive, upload_id, str(exc), actor_id=owner)
        return None
    except Exception:
        # Not the student's fault, but retrying at every start would fail the same way: say so and stop.
        log.exception("hand-in processing failed", extra={"upload": upload_id})
        refuse(archive, upload_id, HANDIN_REFUSALS.make("handin_server_error").text, actor_id=owner)
        return None


def refuse(archive: Archive, upload_id: str, message: str, *, actor_id: int | None) -> None:
    """Mark an upload refused with the reason shown to the student; its bytes go."""
    with archive.db.session() as s:
        up = s.get(Upload, upload_id)
        if up is not None:
            up.status, up.message, up.updated_at = "refused", message, utcnow()
            audit.record(s, actor_id, "archive.handin_refused", f"upload:{upload_id}", reason=message,
                         filename=up.filename, session_id=up.session_id)  # fmt: skip
    upload_path(archive.settings, upload_id).unlink(missing_ok=True)


def expire_uploads(archive: Archive) -> list[str]:
    """Drop unfinished uploads past their expiry (tus expiration); the ids dropped."""
    now = utcnow()
    with archive.db.session() as s:
        rows = list(s.scalars(select(Upload).where(Upload.status == "receiving", Upload.expires_at < now)))
        for up in rows:
            up.status, up.message, up.updated_at = "expired", "the upload was not finished in time", now
        ids = [up.id for up in rows]
    for upload_id in ids:
        upload_path(archive.settings, upload_id).unlink(missing_ok=True)
    return ids


class Handins:
    """Background archiving of checked uploads, one at a time per node."""

    def __init__(self, archive: Archive, bus: Any | None = None) -> None:
        self.archive = archive
        self.bus = bus
        self._gate = asyncio.Semaphore(1)
        self._tasks: set[asyncio.Task[None]] = set()

    def submit(self, upload_id: str, checked: Checked | None = None) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(self._run(upload_id, checked), name=f"handin:{upload_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _run(self, upload_id: str, checked: Checked | None) -> None:
        async with self._gate:
            try:
                asset_id = await asyncio.to_thread(process_upload, self.archive, upload_id, checked)
            except Exception:
                log.exception("hand-in processing failed", extra={"upload": upload_id})
                return
        if asset_id is not None and self.bus is not None:
            def facts() -> tuple[IngestResult, int | None]:
                with self.archive.db.session() as s:
                    a = s.get(Asset, asset_id)
                    return IngestResult(a.id, a.sha256, True, a.kind), a.session_id

            result, session_id = await asyncio.to_thread(facts)
            await self.bus.publish("asset.archived", _event(result, session_id))

    async def idle(self) -> None:
        """Wait until every submitted hand-in is processed (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)


def handins(svc: Services) -> Handins:
    if svc.handins is None:
        svc.handins = Handins(archive_of(svc), svc.bus)
    return svc.handins


async def _on_prepare(request: web.Request, response: web.StreamResponse) -> None:
    # tus: every response of the upload endpoint but OPTIONS carries the protocol version.
    if request.path.startswith("/api/uploads"):
        response.headers.setdefault("Tus-Resumable", "1.0.0")


def attach(app: web.Application, svc: Services) -> None:
    archive_of(svc)
    app.on_response_prepare.append(_on_prepare)

    async def background(app: web.Application) -> AsyncIterator[None]:
        h = handins(svc)
        sweeper = asyncio.get_running_loop().create_task(_sweep(svc), name="archive-upload-sweeper")
        yield
        sweeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sweeper
        await h.close()

    app.cleanup_ctx.append(background)


async def _sweep(svc: Services) -> None:
    archive = archive_of(svc)
    try:  # hand-ins a crash left half-processed are taken up again (after start-up's revision check)
        pending = await svc.db_call(lambda s: list(s.scalars(select(Upload.id).where(Upload.status == "processing"))))
        for upload_id in pending:
            handins(svc).submit(upload_id)
    except Exception:
        log.exception("could not resume hand-ins")
    last_retention: datetime | None = None
    while True:
        try:
            dropped = await asyncio.to_thread(expire_uploads, archive)
            if dropped:
                log.info("expired uploads", extra={"uploads": dropped})
        except Exception:
            log.exception("upload sweep failed")
        now = utcnow()
        if svc.settings.archive.retention_auto and (last_retention is None or now - last_retention >= RETENTION_EVERY):
            last_retention = now
            await _retention(svc, archive)
        await asyncio.sleep(SWEEP_SECONDS)


async def _retention(svc: Services, archive: Archive) -> None:
    """Once a day: retention on one node at a time (the lock), each deletion audited."""
    from orchestrator.archive.retention import apply_retention

    async with svc.locks.hold("archive:retention", ttl=3600, wait=0) as got:
        if not got:
            return
        try:
            today = datetime.now(ZoneInfo(svc.settings.timezone)).date()
            report = await asyncio.to_thread(apply_retention, archive, today=today)
            if report.deleted or report.orphans_removed:
                log.info("retention", extra={"deleted": report.deleted, "held": report.held,
                                             "orphans": report.orphans_removed})  # fmt: skip
        except Exception:
            log.exception("retention failed")


def expires_from_now(settings: Settings) -> timedelta:
    return timedelta(hours=settings.archive.upload_expire_hours)


__all__ = ["HandinRefused", "Handins", "archive_composition", "archive_of", "archive_recording", "attach", "expire_uploads", "handins",
           "process_upload"]
