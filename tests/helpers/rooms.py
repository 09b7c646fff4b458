"""Helpers for the room tests: a seeded institution, join tokens over HTTP, Socket.IO clients that record.

    world = await build_world(tmp_path)          # people, two groups, a consultation and a defense
    token = (await world.join("stu", world.consult))["token"]
    alice = await world.socket("stu", world.consult)    # RoomClient, connected
    welcome = await alice.next("welcome")
"""

from __future__ import annotations

import asyncio
import socket
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import socketio

from tests.helpers import support as root

PASSWORD = root.PASSWORD
make_settings = root.make_settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# username -> (roles, group)
PEOPLE = {
    "tom": (["tutor"], None),  # tutor of G1, hosts the consultation, chairs the defense
    "com": (["committee"], None),
    "stu": (["student"], "G1"),
    "sam": (["student"], "G1"),
    "sue": (["student"], "G1"),
    "zed": (["student"], "G2"),  # another group: refused
    "reg": (["registrar"], None),
    "ada": (["admin"], None),
}


def seed(db: Any, *, start: datetime | None = None, end: datetime | None = None) -> dict[str, Any]:
    """People, groups, one consultation (G1, tutor tom) and one defense (sam presents) — both open."""
    from orchestrator.auth import create_person, issue_token
    from orchestrator.store.models import Group, GroupMember, SessionParticipant, SessionRecord

    now = datetime.now(UTC)
    start = start or now - timedelta(minutes=5)
    end = end or now + timedelta(hours=1)
    out: dict[str, Any] = {"ids": {}, "tokens": {}}
    with db.session() as s:
        groups = {code: Group(code=code, name=f"Group {code}") for code in ("G1", "G2")}
        s.add_all(groups.values())
        s.flush()
        for username, (roles, group) in PEOPLE.items():
            # no password: argon2 is slow on busy cores; tests use API tokens issued directly
            p = create_person(s, username=username, display_name=username.title(), roles=roles)
            out["ids"][username] = p.id
            out["tokens"][username] = issue_token(s, p, kind="api", lifetime=timedelta(days=1))
            if group:
                s.add(GroupMember(group_id=groups[group].id, person_id=p.id))
        consult = SessionRecord(key="c1", kind="consultation", title="Consultation", start_at=start, end_at=end,
                                status="open", tutor_id=out["ids"]["tom"], group_id=groups["G1"].id)  # fmt: skip
        defense = SessionRecord(key="d1", kind="defense", title="Defense", start_at=start, end_at=end,
                                status="open", tutor_id=out["ids"]["tom"], group_id=groups["G1"].id)  # fmt: skip
        s.add_all([consult, defense])
        s.flush()
        s.add_all([
            SessionParticipant(session_id=defense.id, person_id=out["ids"]["tom"], role="chair"),
            SessionParticipant(session_id=defense.id, person_id=out["ids"]["com"], role="committee"),
            SessionParticipant(session_id=defense.id, person_id=out["ids"]["sam"], role="presenter"),
        ])  # fmt: skip
        out["consult"], out["defense"] = consult.id, defense.id
    return out


class RoomClient:
    """A python-socketio client that keeps every event it receives, in order, per name."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.sio = socketio.AsyncClient(reconnection=False)
        self.events: dict[str, list[Any]] = defaultdict(list)
        self.log: list[tuple[str, Any, float]] = []
        self._cond = asyncio.Condition()
        self.connect_error: Any = None
        self.disconnected = asyncio.Event()
        self.listeners: list[Callable[[str, Any], Awaitable[None] | None]] = []

        @self.sio.on("*")
        async def any_event(event: str, data: Any = None) -> None:
            await self._record(event, data)

        @self.sio.event
        async def connect_error(data: Any) -> None:
            self.connect_error = data

        @self.sio.event
        async def disconnect(*args: Any) -> None:
            self.disconnected.set()

    async def _record(self, event: str, data: Any) -> None:
        loop = asyncio.get_running_loop()
        async with self._cond:
            self.events[event].append(data)
            self.log.append((event, data, loop.time()))
            self._cond.notify_all()
        for listener in self.listeners:
            result = listener(event, data)
            if asyncio.iscoroutine(result):
                await result

    async def connect(self, url: str, token: str) -> None:
        await self.sio.connect(url, auth={"token": token}, transports=["websocket"], socketio_path="socket.io",
                               wait_timeout=20)  # fmt: skip

    async def wait_for(self, event: str, pred: Callable[[Any], bool] = lambda d: True, limit: float = 20) -> Any:
        """The first recorded ``event`` payload matching ``pred`` (waits; the timeout only turns a hang into a failure)."""

        def found() -> Any:
            for d in self.events.get(event, []):
                if pred(d):
                    return d
            return None

        async with self._cond:
            await asyncio.wait_for(self._cond.wait_for(lambda: found() is not None), limit)
            return found()

    async def call(self, event: str, data: Any = None, limit: float = 20) -> Any:
        return await self.sio.call(event, data if data is not None else {}, timeout=limit)

    async def emit(self, event: str, data: Any = None) -> None:
        await self.sio.emit(event, data if data is not None else {})

    async def close(self) -> None:
        if self.sio.connected:
            await self.sio.disconnect()


@dataclass
class World:
    url: str
    http: Any  # aiohttp ClientSession
    ids: dict[str, int]
    consult: int
    defense: int
    svc: Any = None
    clients: list[RoomClient] = field(default_factory=list)
    _bearer: dict[str, str] = field(default_factory=dict)

    async def bearer(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._bearer[username]}"}

    async def request(self, method: str, path: str, username: str | None, **kw: Any) -> Any:
        headers = await self.bearer(username) if username else {}
        return await self.http.request(method, f"{self.url}{path}", headers=headers, **kw)

    async def join(self, username: str, session_id: int) -> dict[str, Any]:
        r = await self.request("POST", f"/api/sessions/{session_id}/join", username)
        assert r.status == 200, await r.text()
        return await r.json()

    async def socket(self, username: str, session_id: int, token: str | None = None) -> RoomClient:
        token = token or (await self.join(username, session_id))["token"]
        client = RoomClient(username)
        self.clients.append(client)
        await client.connect(self.url, token)
        return client

    async def give_floor(self, session_id: int, username: str) -> None:
        """The room's state says ``username``'s turn runs, so that student may present (in-process worlds only).

        A student in a defense publishes only with a sitting's floor; the desk's workflow that sets it is
        tested in tests/orchestrator/defenses, so tests about what else happens in the room set it directly.
        """
        person = self.ids[username]
        await self.svc.signaling.b.rooms.set_meta(session_id, sitting=1, floor=person, presenter=person)

    async def close(self) -> None:
        for c in self.clients:
            await c.close()


async def start_world(tmp_path: Path, *, media: bool = True, **settings: Any) -> tuple[World, Any]:
    from aiohttp import web

    from orchestrator.app import create_app
    from orchestrator.services import Services

    cfg = make_settings(tmp_path, **settings)
    svc = Services.build(cfg)
    svc.db.upgrade()
    seeded = seed(svc.db)
    if media:
        from media.live.server import LocalMediaServer
        from media.live.types import MediaConfig

        svc.media_server = LocalMediaServer(
            MediaConfig(host_addresses=["127.0.0.1"], consent_interval=1.0, consent_failures=2)
        )
    app = create_app(cfg, services=svc)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    http = aiohttp.ClientSession()
    world = World(f"http://127.0.0.1:{port}", http, seeded["ids"], seeded["consult"], seeded["defense"], svc,
                  _bearer=seeded["tokens"])  # fmt: skip
    return world, runner
