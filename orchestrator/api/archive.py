"""The archive over HTTP: search, records (Dublin Core, editable by the tutor), holds, signed playback.

Every read goes through ``orchestrator.archive.policy.archive_access``; media bytes are served
only under a signed, expiring URL handed out by ``/api/archive/{id}/playback`` after that check.
Routes are public so that a public recording plays without an account; the policy refuses
everything else to an anonymous visitor.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator.api import api, services
from orchestrator.archive import search
from orchestrator.archive.models import Asset
from orchestrator.archive.policy import ARCHIVE_STAFF, Viewer, archive_access, viewer_of
from orchestrator.archive.presentations import presentations
from orchestrator.archive.record import asset_json, dublin_core_xml
from orchestrator.archive.service import archive_of
from orchestrator.archive.signing import UrlSigner
from orchestrator.auth import Identity
from orchestrator.errors import Forbidden, NotFound, Unauthenticated, UserError
from orchestrator.http import PUBLIC, auth_state, parse_body
from orchestrator.policy import load_or_404
from orchestrator.store.models import Discipline, Group, Person

MAX_RESULTS = 100
CANDIDATES = 2000  # rows read before the policy filters them


def _asker(request: web.Request) -> Identity | None:
    """The signed-in person, None for an anonymous visitor; a bad token is an error, not anonymity."""
    state = auth_state(request)
    if state.identity is None and state.error:
        raise Unauthenticated(state.error, code=state.code or "invalid_token")
    return state.identity


def _load(s: Session, asset_id: int) -> Asset:
    return load_or_404(s, Asset, asset_id, f"archive item {asset_id} does not exist")


def _readable(s: Session, viewer: Viewer, asset_id: int) -> Asset:
    asset = _load(s, asset_id)
    decision = archive_access(viewer, "read", asset)
    if not decision:
        if viewer.anonymous:
            raise Unauthenticated(decision.reason)
        raise Forbidden(decision.reason, code="not_yours")
    return asset


def _id_or_code(s: Session, model: Any, value: str, column: Any) -> int:
    if value.isdigit():
        return int(value)
    found = s.scalar(select(model.id).where(column == value))
    if found is None:
        raise UserError(f"unknown {model.__tablename__[:-1]} {value!r}", status=422)
    return found


def _day(value: str | None, name: str) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise UserError(f"{name} must be a date YYYY-MM-DD", status=422) from None


@api.route("GET", "/api/archive", roles=PUBLIC,
           summary="Search the archive (full text over title, description, chat) with filters; only what you may see",
           query={"q": "words (each must match, as a prefix)", "discipline": "code or id", "tutor": "username or id",
                  "group": "code or id", "from": "YYYY-MM-DD", "to": "YYYY-MM-DD", "kind": "asset kind",
                  "limit": "at most 100"}, tags=("archive",))  # fmt: skip
async def search_archive(request: web.Request) -> dict[str, Any]:
    ident = _asker(request)
    svc = services(request)
    qs = request.query
    try:
        limit = max(1, min(MAX_RESULTS, int(qs.get("limit", "50"))))
    except ValueError:
        raise UserError("limit must be a number", status=422) from None
    since, until = _day(qs.get("from"), "from"), _day(qs.get("to"), "to")

    filters = {k: qs.get(k) for k in ("q", "discipline", "tutor", "group", "kind")}
    return await svc.db_call(lambda s: search_assets(s, ident, since=since, until=until, limit=limit, **filters))


def search_assets(s: Session, ident: Identity | None, *, q: str | None = None, discipline: str | None = None,
                  tutor: str | None = None, group: str | None = None, kind: str | None = None,
                  since: dt.date | None = None, until: dt.date | None = None, limit: int = 50) -> dict[str, Any]:
    """The archive items ``ident`` may read (None: an anonymous visitor), best match first for words ``q``,
    else newest first: ``GET /api/archive`` and ``aulacast archive list``. ``discipline``, ``tutor`` and
    ``group`` are codes/usernames or ids."""
    viewer = viewer_of(s, ident)
    query = select(Asset).where(Asset.status == "active")
    ranked: list[int] | None = None
    if q and q.strip():
        ranked = search.matching_ids(s, q, limit=CANDIDATES)
        query = query.where(Asset.id.in_(ranked))
    if discipline:
        query = query.where(Asset.discipline_id == _id_or_code(s, Discipline, discipline, Discipline.code))
    if tutor:
        query = query.where(Asset.tutor_id == _id_or_code(s, Person, tutor, Person.username))
    if group:
        query = query.where(Asset.group_id == _id_or_code(s, Group, group, Group.code))
    if kind:
        query = query.where(Asset.kind == kind)
    if since:
        query = query.where(Asset.dc_date >= since)
    if until:
        query = query.where(Asset.dc_date <= until)
    rows = list(s.scalars(query.order_by(Asset.dc_date.desc(), Asset.id.desc()).limit(CANDIDATES)))
    if ranked is not None:
        order = {aid: n for n, aid in enumerate(ranked)}
        rows.sort(key=lambda a: order.get(a.id, len(order)))
    staff = bool(viewer.roles & ARCHIVE_STAFF)
    items = [asset_json(a, staff=staff) for a in rows if archive_access(viewer, "read", a)][:limit]
    return {"items": items, "count": len(items)}


@api.route("GET", "/api/archive/{asset_id:\\d+}", roles=PUBLIC, summary="One archive item's record (Dublin Core) and what you may do with it", tags=("archive",))
async def get_asset(request: web.Request) -> dict[str, Any]:
    ident = _asker(request)
    svc = services(request)
    asset_id = int(request.match_info["asset_id"])

    def run(s: Session) -> dict[str, Any]:
        viewer = viewer_of(s, ident)
        asset = _readable(s, viewer, asset_id)
        out = asset_json(asset, staff=bool(viewer.roles & ARCHIVE_STAFF))
        out["may"] = {a: bool(archive_access(viewer, a, asset)) for a in ("edit", "hold", "delete")}  # type: ignore[arg-type]
        return out

    return await svc.db_call(run)


@api.route("GET", "/api/archive/{asset_id:\\d+}/dublincore.xml", roles=PUBLIC, summary="The item's Dublin Core record as XML", produces="application/xml", tags=("archive",))
async def get_dublin_core(request: web.Request) -> web.Response:
    ident = _asker(request)
    svc = services(request)
    asset_id = int(request.match_info["asset_id"])
    xml = await svc.db_call(lambda s: dublin_core_xml(_readable(s, viewer_of(s, ident), asset_id)))
    return web.Response(text=xml, content_type="application/xml")


class ChapterBody(BaseModel):
    start: float = Field(ge=0)
    title: str = Field(min_length=1, max_length=200)


class RecordEdit(BaseModel):
    """Dublin Core fields a tutor edits; absent fields stay as they are."""

    model_config = {"extra": "forbid"}

    title: str | None = Field(None, min_length=1, max_length=300)
    creator: str | None = Field(None, max_length=300)
    date: dt.date | None = None
    subject: str | None = Field(None, max_length=300)
    description: str | None = Field(None, max_length=20000)
    language: str | None = Field(None, max_length=20, pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
    rights: str | None = Field(None, max_length=500)
    visibility: str | None = Field(None, pattern="^(restricted|public)$")
    chapters: list[ChapterBody] | None = Field(None, max_length=500)

    @field_validator("chapters")
    @classmethod
    def _ordered(cls, v: list[ChapterBody] | None) -> list[ChapterBody] | None:
        if v is not None and [c.start for c in v] != sorted(c.start for c in v):
            raise ValueError("chapters must be in time order")
        return v


@api.route("PATCH", "/api/archive/{asset_id:\\d+}", roles=PUBLIC, summary="Edit an item's Dublin Core record (its tutor or the registrar)", body=RecordEdit, tags=("archive",))
async def edit_asset(request: web.Request) -> dict[str, Any]:
    ident = _asker(request)
    if ident is None:
        raise Unauthenticated("sign in first")
    svc = services(request)
    asset_id = int(request.match_info["asset_id"])
    body: RecordEdit = await parse_body(request, RecordEdit)
    changes = body.model_dump(exclude_unset=True)
    if "chapters" in changes:
        changes["chapters"] = [{"start": c["start"], "title": c["title"]} for c in changes["chapters"] or []]
    archive = archive_of(svc)

    def run(s: Session) -> dict[str, Any]:
        viewer = viewer_of(s, ident)
        asset = _readable(s, viewer, asset_id)
        decision = archive_access(viewer, "edit", asset)
        if not decision:
            raise Forbidden(decision.reason)
        archive.update_record(s, asset, changes, actor_id=ident.person_id)
        s.flush()
        return asset_json(asset, staff=bool(viewer.roles & ARCHIVE_STAFF))

    return await svc.db_call(run)


class HoldBody(BaseModel):
    reason: str = Field(min_length=3, max_length=500)


@api.route("PUT", "/api/archive/{asset_id:\\d+}/hold", roles=PUBLIC, summary="Put an item under legal hold (e.g. a defense under appeal): it is never deleted while held", body=HoldBody, tags=("archive",))
async def put_hold(request: web.Request) -> dict[str, Any]:
    return await _hold(request, True)


@api.route("DELETE", "/api/archive/{asset_id:\\d+}/hold", roles=PUBLIC, summary="Lift a legal hold", tags=("archive",))
async def delete_hold(request: web.Request) -> dict[str, Any]:
    return await _hold(request, False)


async def _hold(request: web.Request, hold: bool) -> dict[str, Any]:
    ident = _asker(request)
    if ident is None:
        raise Unauthenticated("sign in first")
    svc = services(request)
    asset_id = int(request.match_info["asset_id"])
    reason = (await parse_body(request, HoldBody)).reason if hold else request.query.get("reason", "hold lifted")
    archive = archive_of(svc)

    def run(s: Session) -> dict[str, Any]:
        viewer = viewer_of(s, ident)
        asset = _load(s, asset_id)
        decision = archive_access(viewer, "hold", asset)
        if not decision:
            raise Forbidden(decision.reason)
        archive.set_hold(s, asset, hold=hold, reason=reason, actor_id=ident.person_id)
        return asset_json(asset, staff=True)

    return await svc.db_call(run)


@api.route("DELETE", "/api/archive/{asset_id:\\d+}", roles=PUBLIC, summary="Delete an item's files (admin; refused under legal hold); the record stays, audited", query={"reason": "why (kept on the audit log)"}, tags=("archive",))
async def delete_asset(request: web.Request) -> dict[str, Any]:
    ident = _asker(request)
    if ident is None:
        raise Unauthenticated("sign in first")
    svc = services(request)
    asset_id = int(request.match_info["asset_id"])
    reason = request.query.get("reason", "").strip()
    if len(reason) < 3:
        raise UserError("say why (?reason=...): the reason is kept on the audit log", status=422)
    archive = archive_of(svc)

    def check(s: Session) -> None:
        decision = archive_access(viewer_of(s, ident), "delete", _load(s, asset_id))
        if not decision:
            raise Forbidden(decision.reason, code="held" if "legal hold" in decision.reason else "forbidden")

    await svc.db_call(check)
    removed = await asyncio.to_thread(archive.delete_asset, asset_id, actor_id=ident.person_id, reason=reason)
    return {"id": asset_id, "status": "deleted", "blobs_removed": len(removed)}


@api.route("GET", "/api/archive/{asset_id:\\d+}/playback", roles=PUBLIC, summary="Signed, expiring URLs to play (HLS) and download an item, its chapters and chat", tags=("archive",))
async def playback(request: web.Request) -> dict[str, Any]:
    ident = _asker(request)
    svc = services(request)
    asset_id = int(request.match_info["asset_id"])
    ttl = svc.settings.archive.url_ttl_seconds

    def run(s: Session) -> dict[str, Any]:
        asset = _readable(s, viewer_of(s, ident), asset_id)
        if asset.status != "active":
            raise UserError(f"archive item {asset_id} was deleted", code="deleted", status=410)
        expires = int(time.time()) + ttl
        signer = UrlSigner(svc.settings.signing_key())
        viewer = ident.person_id if ident else None

        def url(scope: str, name: str) -> str | None:
            if asset.file(name) is None:
                return None
            return signer.url(scope, asset.id, viewer=viewer, expires=expires, file=name)

        master = next((f.name for f in asset.files if f.role == "master"), None)
        return {
            "id": asset.id,
            "title": asset.title,
            "kind": asset.kind,
            "duration": asset.duration,
            "hls": url("play", "hls/index.m3u8"),
            "poster": url("play", "poster.jpg"),
            "chat_vtt": url("play", "chat.vtt"),
            "download": url("download", master) if master else None,
            "chapters": asset.chapters,
            "chat": asset.chat,
            "expires_at": expires,
        }

    return await svc.db_call(run)


@api.route("GET", "/api/archive/presentations", roles=PUBLIC, summary="Presentations and written works handed in for a defense or by a student (§31); what you may see",
           query={"session": "defense session id", "student": "student username or id"}, tags=("archive",))  # fmt: skip
async def list_presentations(request: web.Request) -> dict[str, Any]:
    ident = _asker(request)
    if ident is None:
        raise Unauthenticated("sign in first")
    svc = services(request)
    session = request.query.get("session", "")
    student = request.query.get("student", "")
    if not session and not student:
        raise UserError("name a session (?session=ID) or a student (?student=USERNAME)", status=422)
    if session and not session.isdigit():
        raise UserError("session must be a session id", status=422)

    def run(s: Session) -> dict[str, Any]:
        viewer = viewer_of(s, ident)
        student_id = _id_or_code(s, Person, student, Person.username) if student else None
        rows = presentations(s, session_id=int(session) if session else None, student_id=student_id)
        items = [asset_json(a) for a in rows if archive_access(viewer, "read", a)]
        return {"items": items, "count": len(items)}

    return await svc.db_call(run)


# ---------------------------------------------------------------- media bytes under signed URLs

_SIGNED = "/archive/{scope:play|download}/{asset_id:\\d+}/{token:[0-9]{1,12}\\.[0-9]{1,12}\\.[A-Za-z0-9_-]{43}}/{name:[A-Za-z0-9_./-]{1,120}}"


@api.route("GET", _SIGNED, roles=PUBLIC, summary="An archived file under a signed, expiring URL (HLS playlist/segments, poster, chat, download)", produces="application/octet-stream", tags=("archive",))
async def signed_file(request: web.Request) -> web.StreamResponse:
    svc = services(request)
    scope = request.match_info["scope"]
    asset_id = int(request.match_info["asset_id"])
    name = request.match_info["name"]
    UrlSigner(svc.settings.signing_key()).check(scope, asset_id, request.match_info["token"], now=time.time())

    def find(s: Session) -> tuple[str, str, str] | None:
        asset = s.get(Asset, asset_id)
        if asset is None or asset.status != "active":
            return None
        f = asset.file(name)
        if f is None or (scope == "download") != (f.role == "master"):
            return None
        return f.sha256, f.media_type, asset.title

    found = await svc.db_call(find)
    if found is None:
        raise NotFound("no such file in this archive item")
    digest, media_type, title = found
    path = archive_of(svc).blob_path(digest)
    if not path.is_file():
        raise NotFound("this file is missing from storage; the operator has been told by `aulacast archive verify`")
    response = web.FileResponse(path, headers={"Content-Type": media_type, "Cache-Control": "private, max-age=3600"})
    if scope == "download":
        safe = "".join(c if c.isalnum() or c in " -_." else "_" for c in title)[:80].strip() or "recording"
        response.headers["Content-Disposition"] = f'attachment; filename="{safe}{_suffix(name)}"'
    return response


def _suffix(name: str) -> str:
    return name[name.rfind("."):] if "." in name else ""

