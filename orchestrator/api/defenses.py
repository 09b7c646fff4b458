"""Course-work defenses over HTTP (§29–31): my sittings, the queue, points, grading, sign-off.

Every route loads the sitting, builds the asker's ``Viewer`` and asks
``orchestrator/defenses/policy.py`` before anything else; the workflow itself is
``orchestrator/defenses/sittings.py`` and ``scoring.py``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import Callable
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator.api import api, services
from orchestrator.auth import Identity
from orchestrator.defenses import scoring, sittings
from orchestrator.defenses.desk import floor_answer, queue_answer
from orchestrator.defenses.models import Sitting
from orchestrator.defenses.policy import (
    Viewer,
    decide,
    grade_access,
    protocol_access,
    sitting_access,
    viewer_of,
)
from orchestrator.defenses.views import sitting_json
from orchestrator.errors import UserError
from orchestrator.grading import scale_of
from orchestrator.http import AUTHENTICATED, PUBLIC, auth_state, identity, parse_body
from orchestrator.session_titles import sitting_titles
from orchestrator.store.models import Offering, Person

log = logging.getLogger("aulacast.defenses")

SID = "/api/sittings/{sitting_id:\\d+}"
TID = SID + "/turns/{turn_id:\\d+}"


class OrderBody(BaseModel):
    students: list[str] = Field(min_length=1, max_length=500, description="usernames in the new order")


class SecretaryBody(BaseModel):
    username: str = Field(min_length=1, max_length=80)


class ScoreBody(BaseModel):
    """Points as sent: checked by orchestrator.grading so a float, a bool or 101 gets its own message."""

    points: Any = Field(None, description="whole points 0-100")
    criteria: Any = Field(None, description="points per rubric criterion, when the sitting has a rubric")


class AbsentBody(BaseModel):
    to: str = Field("end", description="'end' of the queue or 'reserve'")
    reserve: int | None = Field(None, description="the reserve sitting's id")


class NoteBody(BaseModel):
    text: str = Field(min_length=1, max_length=2000)


class ChangeBody(BaseModel):
    points: Any = None
    reason: Any = None


async def _in_sitting(request: web.Request, fn: Callable[[Session, Sitting, Identity | None], Any], *,
                      lock: bool = False, signed_in: bool = True) -> Any:
    svc = services(request)
    ident = identity(request) if signed_in else auth_state(request).identity
    sid = int(request.match_info["sitting_id"])

    def run(s: Session) -> Any:
        return fn(s, sittings.get_sitting(s, sid, lock=lock), ident)

    return await svc.db_call(run)


def _allowed(s: Session, ident: Identity | None, sitting: Sitting, action: str) -> Viewer:
    """The asker as ``sitting`` sees them, refused (403, the policy's reason) unless ``action`` is theirs."""
    v = viewer_of(s, ident, sitting)
    decide(sitting_access(v, action, sitting))
    return v


def _turn(request: web.Request, sitting: Sitting) -> Any:
    return sittings.turn_of(sitting, int(request.match_info["turn_id"]))


@api.route("GET", "/api/sittings", roles=AUTHENTICATED, summary="My defense sittings: those I sit on, host as tutor, or defend in (staff: all)", tags=("defenses",))
async def my_sittings(request: web.Request) -> dict[str, Any]:
    ident = identity(request)
    svc = services(request)

    def load(s: Session) -> dict[str, Any]:
        sittings.sync_from_plan(s, svc.settings)
        rows = s.scalars(select(Sitting).order_by(Sitting.start_at, Sitting.id)).all()
        out = []
        for row in rows:
            v = viewer_of(s, ident, row)
            if sitting_access(v, "view", row):
                off = s.get(Offering, row.offering_id) if row.offering_id else None
                out.append({"id": row.id, "title": row.title, "titles": sitting_titles(s, row), "status": row.status, "start_at": row.start_at.isoformat(),
                            "offering": off.code if off else None, "my_seat": v.seat, "students": len(row.turns)})
        return {"sittings": out}

    return await svc.db_call(load)


@api.route("GET", SID, roles=AUTHENTICATED, summary="One sitting as I may see it: committee, queue, my points (others' once grading closes), grades", tags=("defenses",))
async def get_sitting(request: web.Request) -> dict[str, Any]:
    def load(s: Session, sitting: Sitting, ident: Identity | None) -> dict[str, Any]:
        v = _allowed(s, ident, sitting, "view")
        return sitting_json(s, sitting, v)

    return await _in_sitting(request, load)


@api.route("GET", SID + "/public", roles=PUBLIC, summary="The audience's view of a sitting: order, current turn, letters after sign-off; no points", tags=("defenses",))
async def public_sitting(request: web.Request) -> dict[str, Any]:
    def load(s: Session, sitting: Sitting, ident: Identity | None) -> dict[str, Any]:
        decide(sitting_access(Viewer(None), "view_public", sitting))
        return sitting_json(s, sitting, Viewer(None))

    return await _in_sitting(request, load, signed_in=False)


def _person(s: Session, username: str) -> Person:
    p = s.scalar(select(Person).where(Person.username == username))
    if p is None:
        raise UserError(f"no person {username!r}", code="unknown_person", status=422)
    return p


@api.route("PUT", SID + "/order", roles=AUTHENTICATED, summary="Reorder the queue before the sitting starts (chair or secretary)", body=OrderBody, tags=("defenses",))
async def put_order(request: web.Request) -> dict[str, Any]:
    body: OrderBody = await parse_body(request, OrderBody)

    def save(s: Session, sitting: Sitting, ident: Identity | None) -> dict[str, Any]:
        assert ident is not None
        v = _allowed(s, ident, sitting, "reorder")
        sittings.reorder(s, sitting, [_person(s, u).id for u in body.students], ident.person_id)
        return sitting_json(s, sitting, v)

    return await _in_sitting(request, save, lock=True)


@api.route("PUT", SID + "/secretary", roles=AUTHENTICATED, summary="Name the sitting's secretary (registrar)", body=SecretaryBody, tags=("defenses",))
async def put_secretary(request: web.Request) -> dict[str, Any]:
    body: SecretaryBody = await parse_body(request, SecretaryBody)

    def save(s: Session, sitting: Sitting, ident: Identity | None) -> dict[str, Any]:
        assert ident is not None
        _allowed(s, ident, sitting, "assign")
        sittings.set_secretary(s, sitting, _person(s, body.username).id, ident.person_id)
        return {"ok": True}

    return await _in_sitting(request, save, lock=True)


@api.route("POST", SID + "/start", roles=AUTHENTICATED, summary="Open the sitting (chair)", tags=("defenses",))
async def post_start(request: web.Request) -> dict[str, Any]:
    svc = services(request)

    def save(s: Session, sitting: Sitting, ident: Identity | None) -> Any:
        assert ident is not None
        v = _allowed(s, ident, sitting, "run")
        sittings.start(s, sitting, ident.person_id)
        return sitting_json(s, sitting, v), floor_answer(s, sitting, None, None, svc.settings.grading.defense_warning_seconds)

    out, answer = await _in_sitting(request, save, lock=True)
    await _floor(request, out, answer)  # the room learns the sitting: the first student goes on deck
    return out


@api.route("POST", TID + "/start", roles=AUTHENTICATED, summary="Start a student's turn (chair); §29 is checked again; the presenting turn ends", tags=("defenses",))
async def post_turn_start(request: web.Request) -> dict[str, Any]:
    svc = services(request)

    def save(s: Session, sitting: Sitting, ident: Identity | None) -> Any:
        assert ident is not None
        v = _allowed(s, ident, sitting, "run")
        turn = _turn(request, sitting)
        prev = sittings.start_turn(s, sitting, turn, ident.person_id)
        answer = floor_answer(s, sitting, turn, prev, svc.settings.grading.defense_warning_seconds)
        return sitting_json(s, sitting, v), answer

    try:
        out, answer = await _in_sitting(request, save, lock=True)
        await _floor(request, out, answer)
        return out
    except sittings.NotAdmitted as exc:
        # kept in its own transaction (the turn's start rolled back), then told to the chair
        reason = exc.reason

        def refuse(s: Session, sitting: Sitting, ident: Identity | None) -> tuple[str | None, dict[str, Any]]:
            assert ident is not None
            sittings.refuse(s, sitting, _turn(request, sitting), ident.person_id, reason)
            return sitting_json(s, sitting, viewer_of(s, ident, sitting)).get("room"), queue_answer(sitting)

        room, queue = await _in_sitting(request, refuse, lock=True)
        await _queue(request, room, queue)
        raise


@api.route("POST", SID + "/end-turn", roles=AUTHENTICATED, summary="End the presenting turn (chair)", tags=("defenses",))
async def post_end_turn(request: web.Request) -> dict[str, Any]:
    svc = services(request)

    def save(s: Session, sitting: Sitting, ident: Identity | None) -> Any:
        assert ident is not None
        v = _allowed(s, ident, sitting, "run")
        prev = sittings.end_current(s, sitting, ident.person_id)
        return sitting_json(s, sitting, v), floor_answer(s, sitting, None, prev, svc.settings.grading.defense_warning_seconds)

    out, answer = await _in_sitting(request, save, lock=True)
    await _floor(request, out, answer)
    return out


async def _floor(request: web.Request, sitting: dict[str, Any], answer: dict[str, Any]) -> None:
    """A turn started or ended from the committee page moves the room's floor as the socket event does."""
    server = services(request).signaling
    if server is not None and sitting.get("room"):
        try:
            await server.apply_floor(sitting["room"], answer, identity(request).person_id)
        except Exception:  # the turn is recorded; the room catches up at the chair's next step
            log.exception("moving the floor of session %s failed", sitting["room"])


@api.route("POST", TID + "/absent", roles=AUTHENTICATED, summary="Mark a waiting student absent: to the end of the queue, or to a reserve sitting (chair)", body=AbsentBody, tags=("defenses",))
async def post_absent(request: web.Request) -> dict[str, Any]:
    body: AbsentBody = await parse_body(request, AbsentBody)

    def save(s: Session, sitting: Sitting, ident: Identity | None) -> dict[str, Any]:
        assert ident is not None
        v = _allowed(s, ident, sitting, "run")
        reserve = None
        if body.to == "reserve":
            if body.reserve is None:
                raise UserError("name the reserve sitting", code="bad_reserve", status=422)
            reserve = sittings.get_sitting(s, body.reserve, lock=True)
        sittings.mark_absent(s, sitting, _turn(request, sitting), ident.person_id, to=body.to, reserve=reserve)
        return sitting_json(s, sitting, v), queue_answer(sitting)

    out, answer = await _in_sitting(request, save, lock=True)
    await _queue(request, out.get("room"), answer)
    return out


async def _queue(request: web.Request, room: Any, answer: dict[str, Any]) -> None:
    """Who is on deck may have changed: the room's grants and its queue event, as over the socket."""
    server = services(request).signaling
    if server is not None and room:
        try:
            await server.apply_queue(room, answer, identity(request).person_id)
        except Exception:  # the change is recorded; the room catches up at the chair's next step
            log.exception("updating the queue of session %s failed", room)


@api.route("POST", TID + "/questions", roles=AUTHENTICATED, summary="Note a question asked in a turn (secretary or chair)", body=NoteBody, tags=("defenses",))
async def post_question(request: web.Request) -> dict[str, Any]:
    body: NoteBody = await parse_body(request, NoteBody)

    def save(s: Session, sitting: Sitting, ident: Identity | None) -> dict[str, Any]:
        assert ident is not None
        _allowed(s, ident, sitting, "note")
        sittings.note_question(s, sitting, _turn(request, sitting), ident.person_id, body.text)
        return {"ok": True}

    return await _in_sitting(request, save)


@api.route("PUT", TID + "/score", roles=AUTHENTICATED, summary="Enter my points for a turn (chair or member), 0-100 or per rubric criterion", body=ScoreBody, tags=("defenses",))
async def put_score(request: web.Request) -> dict[str, Any]:
    body: ScoreBody = await parse_body(request, ScoreBody)

    def save(s: Session, sitting: Sitting, ident: Identity | None) -> dict[str, Any]:
        assert ident is not None
        turn = _turn(request, sitting)
        decide(grade_access(viewer_of(s, ident, sitting), "enter", sitting, turn))
        row = scoring.submit(s, sitting, turn, ident.person_id, points=body.points, criteria=body.criteria)
        return {"turn": turn.id, "points": row.points, "criteria": row.criteria}

    return await _in_sitting(request, save)


@api.route("POST", TID + "/close", roles=AUTHENTICATED, summary="Close a turn's grading (chair): the members' points become the grade by the sitting's rule", tags=("defenses",))
async def post_close(request: web.Request) -> dict[str, Any]:
    svc = services(request)

    def save(s: Session, sitting: Sitting, ident: Identity | None) -> dict[str, Any]:
        assert ident is not None
        v = _allowed(s, ident, sitting, "run")
        scale = scale_of(svc.settings.grading.scale, svc.settings.grading.pass_points)
        scoring.close_turn(s, sitting, _turn(request, sitting), ident.person_id, scale)
        return sitting_json(s, sitting, v)

    return await _in_sitting(request, save, lock=True)


@api.route("POST", SID + "/sign", roles=AUTHENTICATED, summary="Sign the sitting off (chair): grades become final and enter the students' progress records", tags=("defenses",))
async def post_sign(request: web.Request) -> dict[str, Any]:
    def save(s: Session, sitting: Sitting, ident: Identity | None) -> dict[str, Any]:
        assert ident is not None
        v = _allowed(s, ident, sitting, "run")
        scoring.sign_off(s, sitting, ident.person_id)
        return sitting_json(s, sitting, v)

    return await _in_sitting(request, save, lock=True)


@api.route("PUT", TID + "/grade", roles=AUTHENTICATED, summary="Change a final grade after sign-off (chair), with a written reason; the history is kept", body=ChangeBody, tags=("defenses",))
async def put_grade(request: web.Request) -> dict[str, Any]:
    svc = services(request)
    body: ChangeBody = await parse_body(request, ChangeBody)

    def save(s: Session, sitting: Sitting, ident: Identity | None) -> dict[str, Any]:
        assert ident is not None
        v = viewer_of(s, ident, sitting)
        turn = _turn(request, sitting)
        decide(grade_access(v, "change", sitting, turn))
        scale = scale_of(svc.settings.grading.scale, svc.settings.grading.pass_points)
        scoring.change_final(s, sitting, turn, ident.person_id, body.points, body.reason, scale)
        return sitting_json(s, sitting, v)

    return await _in_sitting(request, save, lock=True)


@api.route("GET", SID + "/protocol", roles=AUTHENTICATED, summary="The sitting's signed protocol (Ed25519 over its canonical JSON) as JSON, HTML or PDF", query={"format": "json (default), html or pdf"}, produces="application/json", tags=("defenses",))
async def get_protocol(request: web.Request) -> web.StreamResponse:
    from orchestrator.defenses.protocol import signed_protocol, to_html, to_pdf

    svc = services(request)
    fmt = request.query.get("format", "json")
    if fmt not in ("json", "html", "pdf"):
        raise UserError("format is json, html or pdf", code="bad_format", status=422)

    def build(s: Session, sitting: Sitting, ident: Identity | None) -> tuple[bytes, str, str]:
        protocol_access(viewer_of(s, ident, sitting), "read", sitting).enforce()
        env = signed_protocol(s, sitting, svc.settings)  # rendering runs here too: a worker thread, not the loop
        name = f"protocol-sitting-{sitting.id}"
        if fmt == "pdf":
            return to_pdf(env), "application/pdf", name + ".pdf"
        if fmt == "html":
            return to_html(env).encode(), "text/html", name + ".html"
        return json.dumps(env, ensure_ascii=False, indent=1).encode(), "application/json", name + ".json"

    body, ctype, name = await _in_sitting(request, build)
    return web.Response(body=body, content_type=ctype, charset="utf-8" if ctype != "application/pdf" else None,
                        headers={"Content-Disposition": f'attachment; filename="{name}"',
                                 "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"})


@api.route("GET", "/.well-known/aulacast/protocol-key", roles=PUBLIC, summary="The Ed25519 public key that signs defense protocols and audit anchors", tags=("defenses",))
async def protocol_key(request: web.Request) -> dict[str, Any]:
    from orchestrator.defenses.signing import key_id, public_pem, raw_public, signing_key

    pub = (await asyncio.to_thread(signing_key, services(request).settings)).public_key()
    return {"alg": "Ed25519", "key_id": key_id(pub), "public_key": base64.b64encode(raw_public(pub)).decode(),
            "pem": public_pem(pub)}


@api.route("GET", "/api/sessions/{session_id:\\d+}/attendance", roles=AUTHENTICATED, summary="Who was in the session's room and when (join/leave from the room's timeline); CSV for spreadsheets", query={"format": "json (default) or csv"}, produces="application/json", tags=("defenses",))
async def get_attendance(request: web.Request) -> web.StreamResponse:
    from orchestrator.defenses.attendance import attendance_of, to_csv
    from orchestrator.defenses.policy import attendance_access
    from orchestrator.policy import load_or_404
    from orchestrator.store.models import SessionRecord

    ident = identity(request)
    svc = services(request)
    sid = int(request.match_info["session_id"])
    fmt = request.query.get("format", "json")
    if fmt not in ("json", "csv"):
        raise UserError("format is json or csv", code="bad_format", status=422)

    def load(s: Session) -> list[dict[str, Any]]:
        load_or_404(s, SessionRecord, sid, f"no session {sid}", lambda r: attendance_access(s, ident, r))
        return attendance_of(s, sid)

    rows = await svc.db_call(load)
    if fmt == "csv":
        return web.Response(text=to_csv(rows), content_type="text/csv", charset="utf-8",
                            headers={"Content-Disposition": f'attachment; filename="attendance-session-{sid}.csv"'})
    return web.json_response({"session": sid, "attendance": rows})


@api.route("GET", TID + "/written-work", roles=AUTHENTICATED, summary="The turn's student's written work (PDF, §31), shown inline beside the video: the committee, the tutor, staff and the student; never the audience", produces="application/pdf", tags=("defenses",))
async def get_written_work(request: web.Request) -> web.StreamResponse:
    """Two policies in turn: the asker must see the sitting (``sitting_access``), then the archive's
    ``archive_access`` decides the work itself (student work: its owner, tutor, committee, staff)."""
    from orchestrator.archive.catalogue import MASTER_PDF
    from orchestrator.archive.models import Asset
    from orchestrator.archive.policy import archive_access
    from orchestrator.archive.policy import viewer_of as archive_viewer
    from orchestrator.archive.service import archive_of
    from orchestrator.errors import Forbidden, NotFound

    svc = services(request)

    def find(s: Session, sitting: Sitting, ident: Identity | None) -> tuple[str, int]:
        assert ident is not None
        _allowed(s, ident, sitting, "view")
        turn = _turn(request, sitting)
        asset = s.scalar(select(Asset).where(Asset.kind == "written_work", Asset.owner_id == turn.student_id,
                                            Asset.sitting == sitting.key, Asset.status == "active")
                         .order_by(Asset.id.desc()))  # fmt: skip
        if asset is None:
            raise NotFound("this student has not handed in a written work for this sitting", code="no_written_work")
        decision = archive_access(archive_viewer(s, ident), "read", asset)
        if not decision:
            raise Forbidden(decision.reason)
        f = asset.file(MASTER_PDF)
        if f is None:
            raise NotFound("the written work has no PDF file", code="no_written_work")
        return f.sha256, asset.id

    digest, asset_id = await _in_sitting(request, find)
    path = archive_of(svc).blob_path(digest)
    if not path.is_file():
        raise NotFound("this file is missing from storage; the operator has been told by `aulacast archive verify`")
    return web.FileResponse(path, headers={
        "Content-Type": "application/pdf", "Cache-Control": "private, max-age=300",
        "Content-Disposition": f'inline; filename="written-work-{asset_id}.pdf"'})
