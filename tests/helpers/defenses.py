"""A defense sitting planted in a real store: committee, secretary, three admitted students, one outsider."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.helpers.support import PASSWORD, free_port, make_settings

SITTING_KEY = "sitting/chr/2026-12-21/1000"
START = datetime(2026, 12, 21, 5, 0, tzinfo=UTC)
PEOPLE = {
    "chr": ["committee"], "mem1": ["committee"], "mem2": ["committee"], "sec": ["committee"],
    "oth": ["committee"], "tut": ["tutor"], "reg": ["registrar"],
    "st1": ["student"], "st2": ["student"], "st3": ["student"], "out": ["student"],
}  # fmt: skip
STUDENTS = ("st1", "st2", "st3")
COMMITTEE = ("chr", "mem1", "mem2")


def plant_sitting(db: Any, *, key: str = SITTING_KEY, start: datetime = START, students: tuple[str, ...] = STUDENTS,
                  people: bool = True, offering: str = "CW300-G1") -> dict[str, int]:
    """People, a group, an offering with one control (passed by every student) and one slot per student."""
    from sqlalchemy import select

    from orchestrator.auth import create_person
    from orchestrator.store.models import (
        ControlResult,
        Discipline,
        Group,
        GroupMember,
        Offering,
        Person,
        SessionParticipant,
        SessionRecord,
    )

    with db.session() as s:
        if people:
            for username, roles in PEOPLE.items():
                create_person(s, username=username, display_name=username.upper(), roles=roles, password=PASSWORD)
        ids = {p.username: p.id for p in s.scalars(select(Person))}
        off = s.scalar(select(Offering).where(Offering.code == offering))
        if off is None:
            d = Discipline(code=offering.split("-")[0], title="Course work " + offering)
            g = Group(code="G-" + offering, name="Group of " + offering)
            s.add_all([d, g])
            s.flush()
            for u in (*STUDENTS, "out"):
                s.add(GroupMember(group_id=g.id, person_id=ids[u]))
            off = Offering(code=offering, discipline_id=d.id, group_id=g.id, period="autumn", tutor_id=ids["tut"],
                           technology="network",
                           rules={"controls": [{"id": "lab", "name": "Lab report"}],
                                  "defense": {"window": "w", "slot_minutes": 20, "committee": list(COMMITTEE)}})
            s.add(off)
            s.flush()
            from orchestrator.defenses.binding import bind

            for u in (*STUDENTS, "out"):
                result = ControlResult(offering_id=off.id, student_id=ids[u], activity="lab", points=80, passed=True)
                s.add(result)
                bind(s, None, "result.enter", result)
        for i, u in enumerate(students):
            at = start + timedelta(minutes=20 * i)
            row = SessionRecord(key=f"{offering}/defense/{u}/{key}", offering_id=off.id, kind="defense",
                                title=f"Defense: {u}", start_at=at, end_at=at + timedelta(minutes=20), status="planned",
                                group_id=off.group_id, sitting=key,
                                detail={"offering": offering, "students": [u], "committee": list(COMMITTEE)})
            row.participants = [SessionParticipant(person_id=ids[c], role="chair" if j == 0 else "committee")
                                for j, c in enumerate(COMMITTEE)] + [SessionParticipant(person_id=ids[u], role="presenter")]
            s.add(row)
        s.flush()
        ids["offering"] = off.id
        return ids


class DefenseClient:
    """The real server with a planted sitting; ``call(method, path, username, json=...)``."""

    def __init__(self, client: Any, ids: dict[str, int], db: Any, settings: Any) -> None:
        self.client, self.ids, self.db, self.settings = client, ids, db, settings
        self._tokens: dict[str, str] = {}

    async def headers(self, username: str | None) -> dict[str, str]:
        if username is None:
            return {}
        if username not in self._tokens:
            r = await self.client.post("/api/auth/login", json={"username": username, "password": PASSWORD, "kind": "api"})
            assert r.status == 200, await r.text()
            self._tokens[username] = (await r.json())["token"]
        return {"Authorization": f"Bearer {self._tokens[username]}"}

    async def call(self, method: str, path: str, username: str | None = None, **kw: Any) -> Any:
        return await self.client.request(method, path, headers=await self.headers(username), **kw)

    async def ok(self, method: str, path: str, username: str | None = None, **kw: Any) -> Any:
        r = await self.call(method, path, username, **kw)
        assert r.status == 200, f"{method} {path} as {username}: {r.status} {await r.text()}"
        return await r.json()

    async def sitting_id(self) -> int:
        body = await self.ok("GET", "/api/sittings", "chr")
        return body["sittings"][0]["id"]


@asynccontextmanager
async def serve_defense(tmp_path: Path, database_url: str | None = None, **over: Any) -> AsyncIterator[DefenseClient]:
    from aiohttp.test_utils import TestClient, TestServer

    from orchestrator.app import create_app
    from orchestrator.store.db import Database

    if database_url:
        over["database_url"] = database_url
    settings = make_settings(tmp_path, **over)
    db = Database.from_url(settings.effective_database_url)
    db.upgrade()
    ids = plant_sitting(db)
    app = create_app(settings)
    async with TestClient(TestServer(app, host="127.0.0.1", port=free_port())) as client:
        yield DefenseClient(client, ids, db, settings)


async def start_sitting_world(tmp_path: Path, *, media: bool = True, **over: Any) -> tuple[Any, Any, int, int]:
    """The real app with an in-process SFU and a planted sitting that is on now; (world, runner, sitting, room)."""
    import aiohttp
    from aiohttp import web
    from sqlalchemy import select

    from orchestrator.app import create_app
    from orchestrator.auth import issue_token
    from orchestrator.defenses.models import Sitting
    from orchestrator.defenses.sittings import room_session, sync_from_plan
    from orchestrator.services import Services
    from orchestrator.store.models import Person, SessionRecord
    from tests.helpers.rooms import World

    cfg = make_settings(tmp_path, **over)
    svc = Services.build(cfg)
    svc.db.upgrade()
    ids = plant_sitting(svc.db, start=datetime.now(UTC) - timedelta(minutes=5))
    with svc.db.session() as s:
        for row in s.scalars(select(SessionRecord)):
            row.status = "open"
        sync_from_plan(s, cfg)
        sitting = s.scalar(select(Sitting))
        sitting_id, room = sitting.id, room_session(s, sitting)
        tokens = {p.username: issue_token(s, p, kind="api", lifetime=timedelta(days=1)) for p in s.scalars(select(Person))}
    if media:
        from media.live.server import LocalMediaServer
        from media.live.types import MediaConfig

        svc.media_server = LocalMediaServer(MediaConfig(host_addresses=["127.0.0.1"], consent_interval=1.0,
                                                        consent_failures=2))
    app = create_app(cfg, services=svc)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    world = World(f"http://127.0.0.1:{port}", aiohttp.ClientSession(), ids, 0, room or 0, svc, _bearer=tokens)
    return world, runner, sitting_id, room or 0


async def run_sitting(dc: DefenseClient) -> tuple[int, dict[str, int]]:
    """A sitting taken through to sign-off: st1 B+, st2 F then changed to D+, st3 absent twice."""
    sid = await dc.sitting_id()
    turns = {t["student"]["username"]: t["id"] for t in (await dc.ok("GET", f"/api/sittings/{sid}", "chr"))["queue"]}
    base = f"/api/sittings/{sid}/turns"
    await dc.ok("PUT", f"/api/sittings/{sid}/secretary", "reg", json={"username": "sec"})
    for who, pts in (("st1", (92, 85, 78)), ("st2", (49, 49, 50))):
        await dc.ok("POST", f"{base}/{turns[who]}/start", "chr")
        await dc.ok("POST", f"{base}/{turns[who]}/questions", "sec", json={"text": f"Why this design, {who}?"})
        for member, p in zip(("chr", "mem1", "mem2"), pts, strict=True):
            await dc.ok("PUT", f"{base}/{turns[who]}/score", member, json={"points": p})
        await dc.ok("POST", f"{base}/{turns[who]}/close", "chr")
    await dc.ok("POST", f"{base}/{turns['st3']}/absent", "chr", json={"to": "end"})
    await dc.ok("POST", f"{base}/{turns['st3']}/absent", "chr", json={"to": "end"})
    await dc.ok("POST", f"/api/sittings/{sid}/sign", "chr")
    await dc.ok("PUT", f"{base}/{turns['st2']}/grade", "chr", json={"points": 55, "reason": "recount of the answers"})
    return sid, turns
