"""Resumable uploads (tus 1.0: core, creation, expiration, termination) for §31 hand-ins.

    OPTIONS /api/uploads                 -> Tus-Version, Tus-Max-Size, Tus-Extension
    POST    /api/uploads                 Upload-Length, Upload-Metadata (session, kind, filename) -> 201 Location
    HEAD    /api/uploads/{id}            -> Upload-Offset, Upload-Length, Upload-Expires
    PATCH   /api/uploads/{id}            Upload-Offset + application/offset+octet-stream body -> 204 Upload-Offset
    DELETE  /api/uploads/{id}            termination
    GET     /api/uploads/{id}            (ours, JSON) what became of it: receiving, processing, archived, refused

Any standard tus client works (tus-js-client, tuspy, Uppy). The bytes of a PATCH are
written as they arrive, and whatever arrived before a dropped connection is kept and
offered back by HEAD, so the client resumes where it stopped. ``Upload-Length`` over the
kind's limit is refused at creation (413), more bytes than declared too. When the last
byte arrives the file is read whole (PyAV for video, pypdf for PDF); a refusal answers
that last PATCH with 422 and a sentence for the student, an acceptance with 204 while the
file is normalised and archived in the background.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import errno
import os
import re
import secrets
import shutil
from datetime import datetime
from email.utils import format_datetime
from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator import audit
from orchestrator.api import STAFF, api, services
from orchestrator.archive.models import Upload
from orchestrator.archive.policy import handin_access, viewer_of
from orchestrator.archive.presentations import HANDIN_KINDS, HandinRefused, check_handin, upload_message
from orchestrator.archive.service import (
    archive_of,
    expires_from_now,
    handins,
    refuse,
    upload_dir,
    upload_path,
)
from orchestrator.errors import Forbidden, NotFound, UserError
from orchestrator.http import AUTHENTICATED, PUBLIC, identity
from orchestrator.session_titles import titles_of
from orchestrator.store.models import SessionRecord
from orchestrator.store.types import utcnow

TUS_VERSION = "1.0.0"
TUS_EXTENSIONS = "creation,expiration,termination"
OCTET = "application/offset+octet-stream"
READ_CHUNK = 256 * 1024
DISK_MARGIN = 64 * 1024 * 1024  # keep this much free beyond a new upload's declared length
LOCK_TTL = 6 * 3600  # a slow PATCH of a large file may take hours
_ID = "{upload_id:[0-9a-f]{1,64}}"
_KEY = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def _tus(**extra: Any) -> dict[str, str]:
    return {"Tus-Resumable": TUS_VERSION, **{k.replace("_", "-"): str(v) for k, v in extra.items()}}


def _http_date(at: datetime) -> str:
    return format_datetime(at, usegmt=True)


def _version_ok(request: web.Request) -> web.Response | None:
    if request.headers.get("Tus-Resumable") != TUS_VERSION:
        return web.json_response(
            {"error": {"code": "tus_version", "message": f"this server speaks tus {TUS_VERSION} (Tus-Resumable header)"}},
            status=412, headers={"Tus-Version": TUS_VERSION},
        )  # fmt: skip
    return None


def parse_metadata(header: str) -> dict[str, str]:
    """tus ``Upload-Metadata``: comma-separated ``key base64value`` pairs (a key alone means empty)."""
    out: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in header.split(","))):
        key, _, value = part.partition(" ")
        if not _KEY.match(key) or key in out:
            raise UserError(f"Upload-Metadata: bad or repeated key {key[:64]!r}", code="bad_metadata")
        try:
            out[key] = base64.b64decode(value.strip(), validate=True).decode("utf-8") if value.strip() else ""
        except (binascii.Error, UnicodeDecodeError):
            raise UserError(f"Upload-Metadata: the value of {key!r} is not base64 of UTF-8 text", code="bad_metadata") from None
    return out


def _limit(svc: Any, kind: str) -> int:
    cfg = svc.settings.archive
    return cfg.upload_pdf_max_bytes if kind == "written_work" else cfg.upload_max_bytes


def _size(n: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


@api.route("OPTIONS", "/api/uploads", roles=PUBLIC, summary="tus discovery: version, extensions, largest upload", tags=("uploads",))
async def tus_options(request: web.Request) -> web.Response:
    svc = services(request)
    return web.Response(status=204, headers={
        "Tus-Resumable": TUS_VERSION, "Tus-Version": TUS_VERSION, "Tus-Extension": TUS_EXTENSIONS,
        "Tus-Max-Size": str(max(svc.settings.archive.upload_max_bytes, svc.settings.archive.upload_pdf_max_bytes)),
    })  # fmt: skip


@api.route("POST", "/api/uploads", roles=AUTHENTICATED, summary="tus creation: start handing in a presentation video or written work (§31)", tags=("uploads",))
async def tus_create(request: web.Request) -> web.Response:
    if (bad := _version_ok(request)) is not None:
        return bad
    ident = identity(request)
    svc = services(request)
    if "Upload-Defer-Length" in request.headers:
        raise UserError("Upload-Defer-Length is not supported: send Upload-Length", code="defer_length")
    raw_length = request.headers.get("Upload-Length", "")
    if not raw_length.isdigit():
        raise UserError("Upload-Length must be given as a whole number of bytes", code="upload_length")
    length = int(raw_length)
    meta = parse_metadata(request.headers.get("Upload-Metadata", ""))
    kind = meta.get("kind", "presentation")
    if kind not in HANDIN_KINDS:
        raise UserError(f"metadata 'kind' must be one of {', '.join(HANDIN_KINDS)}", code="bad_metadata")
    if not meta.get("session", "").isdigit() or len(meta["session"]) > 18:
        raise UserError("metadata 'session' must name the defense's session id", code="bad_metadata")
    session_id = int(meta["session"])
    filename = os.path.basename(meta.get("filename") or meta.get("name") or f"{kind}.bin")[:300] or kind
    limit = _limit(svc, kind)
    if length > limit:
        what = "a written work" if kind == "written_work" else "a presentation video"
        raise UserError(f"{filename} is {_size(length)}; {what} may be at most {_size(limit)}",
                        code="too_large", status=413)  # fmt: skip
    if length == 0:
        raise UserError(f"{filename} is empty", code="empty_upload", status=422)
    folder = upload_dir(svc.settings)
    folder.mkdir(parents=True, exist_ok=True)
    if shutil.disk_usage(folder).free < length + DISK_MARGIN:
        raise UserError("the server has no room for this file now; try again later", code="no_space", status=507)

    def create(s: Session) -> Upload:
        row = s.get(SessionRecord, session_id)
        if row is None:
            raise NotFound(f"session {session_id} does not exist")
        decision = handin_access(viewer_of(s, ident), row)
        if not decision:
            raise Forbidden(decision.reason, code="not_presenter")
        now = utcnow()
        up = Upload(id=secrets.token_hex(16), owner_id=ident.person_id, session_id=session_id, kind=kind,
                    filename=filename, length=length, received=0, meta=meta, status="receiving",
                    created_at=now, updated_at=now, expires_at=now + expires_from_now(svc.settings))  # fmt: skip
        s.add(up)
        upload_path(svc.settings, up.id).touch()
        audit.record(s, ident.person_id, "archive.upload_started", f"upload:{up.id}", session_id=session_id,
                     kind=kind, filename=filename, length=length)  # fmt: skip
        return up

    up = await svc.db_call(create)
    return web.Response(status=201, headers=_tus(Location=f"/api/uploads/{up.id}",
                                                 Upload_Expires=_http_date(up.expires_at)))  # fmt: skip


def _own_upload(s: Session, upload_id: str, person_id: int) -> Upload:
    up = s.get(Upload, upload_id)
    if up is None or up.owner_id != person_id:  # someone else's upload does not exist for you
        raise NotFound("no such upload")
    return up


def _gone(up: Upload) -> None:
    if up.status == "receiving" and up.expires_at < utcnow():
        raise UserError("this upload expired before it was finished; start it again", code="expired", status=410)
    if up.status in ("expired", "cancelled"):
        raise UserError(f"this upload was {up.status}; start it again", code=up.status, status=410)
    if up.status == "refused":
        raise UserError(up.message or "this file was refused", code="refused_upload", status=410)


@api.route("HEAD", f"/api/uploads/{_ID}", roles=AUTHENTICATED, summary="tus: how many bytes of the upload the server has", tags=("uploads",))
async def tus_head(request: web.Request) -> web.Response:
    if (bad := _version_ok(request)) is not None:
        return bad
    ident = identity(request)
    svc = services(request)
    upload_id = request.match_info["upload_id"]

    def look(s: Session) -> Upload:
        up = _own_upload(s, upload_id, ident.person_id)
        _gone(up)
        return up

    up = await svc.db_call(look)
    headers = _tus(Upload_Offset=up.received, Upload_Length=up.length, Cache_Control="no-store")
    if up.status == "receiving":
        headers["Upload-Expires"] = _http_date(up.expires_at)
    return web.Response(status=200, headers=headers)


def _reconcile(svc: Any, up: Upload) -> None:
    """Bytes past the recorded offset were not confirmed on disk before a crash: cut them off.

    Called only under the upload's lock (a PATCH in progress writes past the recorded offset).
    """
    path = upload_path(svc.settings, up.id)
    if up.status == "receiving" and path.exists() and path.stat().st_size != up.received:
        os.truncate(path, up.received)


@api.route("PATCH", f"/api/uploads/{_ID}", roles=AUTHENTICATED, summary="tus: append bytes at Upload-Offset", tags=("uploads",))
async def tus_patch(request: web.Request) -> web.Response:
    if (bad := _version_ok(request)) is not None:
        return bad
    ident = identity(request)
    svc = services(request)
    upload_id = request.match_info["upload_id"]
    if request.content_type != OCTET:
        raise UserError(f"PATCH bodies must be sent as {OCTET}", code="content_type", status=415)
    raw_offset = request.headers.get("Upload-Offset", "")
    if not raw_offset.isdigit():
        raise UserError("Upload-Offset must be given as a whole number", code="upload_offset")
    offset = int(raw_offset)
    async with svc.locks.hold(f"upload:{upload_id}", ttl=LOCK_TTL, wait=0) as got:
        if not got:
            raise UserError("another request is writing this upload now", code="locked", status=423)
        up = await svc.db_call(lambda s: _own_upload(s, upload_id, ident.person_id))
        _gone(up)
        if up.status != "receiving":
            raise UserError("this upload is complete already", code="complete", status=409)
        _reconcile(svc, up)
        if offset != up.received:
            raise UserError(f"Upload-Offset {offset} does not match the server's {up.received}; ask with HEAD",
                            code="offset_mismatch", status=409)  # fmt: skip
        received, problem = await _receive(request, svc, up)
        up.received = received
        if problem is not None:
            raise problem
        if received < up.length:
            return web.Response(status=204, headers=_tus(Upload_Offset=received, Upload_Expires=_http_date(up.expires_at)))
        return await _complete(svc, up, ident.person_id)


async def _receive(request: web.Request, svc: Any, up: Upload) -> tuple[int, UserError | None]:
    """Append the body to the upload's file; the new offset (persisted) and any refusal to answer with.

    Each piece is written as soon as it is read, and what was written is confirmed on disk
    before the offset is recorded, also when the client drops the connection or the request
    is cancelled half-way. (Bytes still in flight when a connection drops are lost by nature;
    the client learns the offset from HEAD and sends them again.)
    """
    path = upload_path(svc.settings, up.id)
    start = up.received
    written = 0
    problem: UserError | None = None
    f = await asyncio.to_thread(open, path, "r+b")
    try:
        await asyncio.to_thread(f.seek, start)
        try:
            async for chunk in request.content.iter_chunked(READ_CHUNK):
                if start + written + len(chunk) > up.length:
                    problem = UserError(f"more bytes than the declared Upload-Length {up.length}",
                                        code="too_large", status=413)  # fmt: skip
                    written = 0  # a body that overruns its declared length is dropped whole
                    break
                await asyncio.to_thread(f.write, chunk)
                written += len(chunk)
        except (ConnectionError, asyncio.IncompleteReadError, web.HTTPException) as exc:
            problem = UserError(f"the connection dropped ({type(exc).__name__}); resume from the offset HEAD gives",
                                code="interrupted")  # fmt: skip
        except OSError as exc:
            problem = _disk_problem(exc)
    finally:
        recorded = await asyncio.shield(asyncio.to_thread(_close_and_record, svc, f, path, up.id, start, written))
    if recorded < start + written and problem is None:
        problem = _disk_problem(OSError(errno.ENOSPC, "flush failed"))
    return recorded, problem


def _disk_problem(exc: OSError) -> UserError:
    if exc.errno == errno.ENOSPC:
        return UserError("the server ran out of disk space; what arrived is kept — resume later",
                         code="no_space", status=507)  # fmt: skip
    raise exc


def _close_and_record(svc: Any, f: Any, path: Any, upload_id: str, start: int, written: int) -> int:
    """Flush and fsync, then record the new offset; the offset recorded (``start`` if the disk failed us)."""
    end = start + written
    try:
        f.flush()
        os.fsync(f.fileno())
    except OSError:
        end = start  # not confirmed on disk: this request's bytes do not count; the client sends them again
    finally:
        try:
            f.close()
        except OSError:
            end = start
    os.truncate(path, end)  # nothing past what is counted
    with svc.db.session() as s:
        up = s.get(Upload, upload_id)
        if up is not None and up.status == "receiving":
            now = utcnow()
            up.received, up.updated_at, up.expires_at = end, now, now + expires_from_now(svc.settings)
    return end


async def _complete(svc: Any, up: Upload, person_id: int) -> web.Response:
    """The last byte arrived: read the file whole; refuse now with a reason, or archive in the background."""
    archive = archive_of(svc)

    def mark(s: Session) -> None:
        row = s.get(Upload, up.id)
        if row is not None:
            row.status, row.updated_at = "processing", utcnow()

    await svc.db_call(mark)
    path = upload_path(svc.settings, up.id)
    try:
        checked = await asyncio.to_thread(check_handin, svc.settings, path, kind=up.kind, filename=up.filename)
    except HandinRefused as exc:
        await asyncio.to_thread(refuse, archive, up.id, str(exc), actor_id=person_id)
        raise
    handins(svc).submit(up.id, checked)
    return web.Response(status=204, headers=_tus(Upload_Offset=up.length))


@api.route("DELETE", f"/api/uploads/{_ID}", roles=AUTHENTICATED, summary="tus termination: abandon an unfinished upload", tags=("uploads",))
async def tus_delete(request: web.Request) -> web.Response:
    if (bad := _version_ok(request)) is not None:
        return bad
    ident = identity(request)
    svc = services(request)
    upload_id = request.match_info["upload_id"]
    async with svc.locks.hold(f"upload:{upload_id}", ttl=60, wait=0) as got:
        if not got:
            raise UserError("another request is writing this upload now", code="locked", status=423)

        def cancel(s: Session) -> None:
            up = _own_upload(s, upload_id, ident.person_id)
            if up.status != "receiving":
                raise UserError(f"this upload is {up.status}; only an unfinished upload can be abandoned",
                                code="not_receiving", status=409)  # fmt: skip
            up.status, up.updated_at, up.message = "cancelled", utcnow(), "abandoned by the student"
            audit.record(s, ident.person_id, "archive.upload_cancelled", f"upload:{upload_id}")

        await svc.db_call(cancel)
    upload_path(svc.settings, upload_id).unlink(missing_ok=True)
    return web.Response(status=204, headers=_tus())


def _coded(message: str | None) -> dict[str, Any]:
    """``message_code`` and ``message_params`` beside an upload's English ``message`` (null and {}: no code)."""
    found = upload_message(message)
    return {"message_code": found.code if found else None, "message_params": dict(found.params) if found else {}}


@api.route("GET", f"/api/uploads/{_ID}", roles=AUTHENTICATED, summary="What became of an upload: receiving, processing, archived or refused (with the reason)", tags=("uploads",))
async def upload_status(request: web.Request) -> dict[str, Any]:
    ident = identity(request)
    svc = services(request)
    upload_id = request.match_info["upload_id"]

    def look(s: Session) -> dict[str, Any]:
        up = s.get(Upload, upload_id)
        if up is None or (up.owner_id != ident.person_id and not ident.has(*STAFF)):
            raise NotFound("no such upload")
        return {"id": up.id, "status": up.status, "message": up.message, **_coded(up.message), "kind": up.kind,
                "filename": up.filename,
                "length": up.length, "received": up.received, "session_id": up.session_id, "asset_id": up.asset_id,
                "expires_at": up.expires_at.isoformat() if up.status == "receiving" else None}  # fmt: skip

    return await svc.db_call(look)


@api.route("GET", "/api/uploads", roles=AUTHENTICATED, summary="My defenses I may hand in for (§31), with what I handed in and what became of it", tags=("uploads",))
async def my_handins(request: web.Request) -> dict[str, Any]:
    ident = identity(request)
    svc = services(request)

    def look(s: Session) -> dict[str, Any]:
        viewer = viewer_of(s, ident)
        ids = [sid for sid, role in viewer.sessions.items() if role == "presenter"]
        rows = s.scalars(select(SessionRecord).where(SessionRecord.id.in_(ids)).order_by(SessionRecord.start_at)) if ids else []
        out = []
        for row in rows:
            if not handin_access(viewer, row):
                continue
            ups = s.scalars(select(Upload).where(Upload.session_id == row.id, Upload.owner_id == ident.person_id)
                            .order_by(Upload.created_at))  # fmt: skip
            out.append({"session_id": row.id, "title": row.title, "titles": titles_of(row, s), "start": row.start_at.isoformat(),
                        "uploads": [{"id": u.id, "kind": u.kind, "filename": u.filename, "status": u.status,
                                     "message": u.message, **_coded(u.message), "asset_id": u.asset_id}
                                    for u in ups]})  # fmt: skip
        return {"defenses": out, "limits": {"presentation": svc.settings.archive.upload_max_bytes,
                                            "written_work": svc.settings.archive.upload_pdf_max_bytes}}  # fmt: skip

    return await svc.db_call(look)
