"""Webhooks end to end: the real service, a real aiohttp receiver running docs/webhooks.md's example.

The receiver is the documentation's ten-line example, executed as written (only
its secret and ``handle`` come from the test): it checks every request's JWT and
body hash. ``handle`` fails the first time it sees an event (the receiver answers
500), so the service must retry; recording the same event again must not send it
twice; a delivery pending when the service stops is sent by the next one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from orchestrator.api import SERVICES
from orchestrator.app import create_app
from orchestrator.bus import Event
from orchestrator.errors import ConfigError
from orchestrator.store.db import Database
from orchestrator.store.types import utcnow
from orchestrator.webhooks.models import WebhookDelivery
from orchestrator.webhooks.outbox import backoff, claim_due, event_body, finish, record_event
from orchestrator.webhooks.signing import WebhookSignatureError, sign, verify
from tests.helpers.support import REPO, free_port, make_settings

SECRET = "test-webhook-secret-0123456789-abcdef"
DOC = REPO / "docs" / "webhooks.md"


def docs_receiver(handle: Callable[[dict[str, Any]], Any]) -> Callable[[web.Request], Any]:
    """The receiver example of docs/webhooks.md, run as it is written there."""
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    code = next(b for b in blocks if "async def receive" in b)
    assert len([ln for ln in code.splitlines() if ln.strip()]) <= 14  # "in ten lines", give or take the imports
    code = re.sub(r'^SECRET = ".*"$', f"SECRET = {SECRET!r}", code, count=1, flags=re.M)
    namespace: dict[str, Any] = {"handle": handle}
    exec(compile(code, str(DOC), "exec"), namespace)  # noqa: S102 - the documented example, from the repository
    return namespace["receive"]


class Receiver:
    """A real HTTP server on a free port: the docs' receiver; each event fails once with a 500."""

    def __init__(self) -> None:
        self.requests = 0
        self.failed_once: set[str] = set()
        self.events: list[dict[str, Any]] = []
        self.arrived = asyncio.Event()

    async def handle(self, event: dict[str, Any]) -> None:
        if event["id"] not in self.failed_once:
            self.failed_once.add(event["id"])
            raise web.HTTPInternalServerError(text="not now")
        self.events.append(event)
        self.arrived.set()

    async def count(self, request: web.Request) -> web.Response:
        self.requests += 1
        return await self.receive(request)

    async def start(self, port: int) -> web.AppRunner:
        self.receive = docs_receiver(self.handle)
        app = web.Application()
        app.router.add_post("/hooks/aulacast", self.count)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        return runner

    async def wait_for(self, n: int) -> None:
        """Until ``n`` events were accepted; a generous minute on a loaded machine."""
        deadline = time.monotonic() + 60
        while len(self.events) < n:
            assert time.monotonic() < deadline, f"{len(self.events)} of {n} events after a minute"
            self.arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.arrived.wait(), timeout=0.5)


def settings_for(tmp_path: Path, port: int) -> Any:
    return make_settings(tmp_path, webhooks={"urls": [f"http://127.0.0.1:{port}/hooks/aulacast"], "secret": SECRET,
                                             "backoff_seconds": 0.3, "poll_seconds": 1})


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, int]]:
    r = Receiver()
    port = free_port()
    runner = await r.start(port)
    yield r, port
    await runner.cleanup()


async def settled(db: Database, n: int) -> None:
    """Until ``n`` rows are delivered: the receiver's answer is written down just after it is sent."""
    deadline = time.monotonic() + 60
    while sum(r.status == "delivered" for r in rows(db)) < n:
        assert time.monotonic() < deadline, [(r.status, r.attempts, r.last_error) for r in rows(db)]
        await asyncio.sleep(0.1)


def rows(db: Database) -> list[WebhookDelivery]:
    with db.session() as s:
        out = list(s.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))
        s.expunge_all()
        return out


async def test_events_are_signed_retried_after_a_500_and_sent_once(tmp_path: Path, receiver: tuple[Receiver, int]) -> None:
    rec, port = receiver
    settings = settings_for(tmp_path, port)
    db = Database.from_url(settings.effective_database_url)
    db.upgrade()
    async with TestClient(TestServer(create_app(settings), host="127.0.0.1", port=free_port())) as client:
        bus = client.server.app[SERVICES].bus
        archived = await bus.publish("asset.archived", {"asset_id": 7, "kind": "lecture", "page": "/archive/7"})
        await bus.publish("session.opened", {"session_id": 1})  # not a webhook topic
        await rec.wait_for(1)
        assert rec.requests == 2  # a 500 first, then the retry the receiver accepted
        [got] = rec.events
        assert got == {"id": archived.id, "event": "asset.archived", "created_at": archived.at,
                       "data": {"asset_id": 7, "kind": "lecture", "page": "/archive/7"}}
        # the same event again (a second node seeing it over Redis, a retried publish): nothing new is sent
        await bus._deliver(archived)
        packaged = await bus.publish("asset.packaged", {"asset_id": 7, "profile": "hd-720p25"})
        await rec.wait_for(2)
        assert [e["id"] for e in rec.events] == [archived.id, packaged.id] and rec.requests == 4
        await settled(db, 2)
        await asyncio.sleep(1.5)  # a few dispatcher rounds later: still nothing sent again
        assert rec.requests == 4
    done = rows(db)
    assert [(r.topic, r.status, r.attempts, r.last_status) for r in done] == [
        ("asset.archived", "delivered", 2, 200), ("asset.packaged", "delivered", 2, 200)]
    db.engine.dispose()


async def test_a_pending_delivery_survives_a_restart(tmp_path: Path) -> None:
    """Recorded while the receiver is down and the service stops; the next service start delivers it."""
    port = free_port()
    settings = settings_for(tmp_path, port)
    db = Database.from_url(settings.effective_database_url)
    db.upgrade()
    async with TestClient(TestServer(create_app(settings), host="127.0.0.1", port=free_port())) as client:
        event = await client.server.app[SERVICES].bus.publish("recording.ready", {"session_id": 3})
        deadline = time.monotonic() + 60
        while not (r := rows(db)) or r[0].attempts < 1:  # refused connection: an attempt is spent
            assert time.monotonic() < deadline
            await asyncio.sleep(0.2)
    [row] = rows(db)
    assert row.status == "pending" and row.last_status is None and "Connect" in (row.last_error or "")
    rec = Receiver()
    rec.failed_once.add(event.id)  # accept at once this time
    runner = await rec.start(port)
    try:
        async with TestClient(TestServer(create_app(settings), host="127.0.0.1", port=free_port())):
            await rec.wait_for(1)
            await settled(db, 1)
        assert [e["id"] for e in rec.events] == [event.id] and rec.requests == 1
    finally:
        await runner.cleanup()
    [row] = rows(db)
    assert row.status == "delivered" and row.attempts >= 2
    db.engine.dispose()


async def test_the_documented_receiver_refuses_what_was_not_signed_with_the_secret(
    receiver: tuple[Receiver, int],
) -> None:
    rec, port = receiver
    url = f"http://127.0.0.1:{port}/hooks/aulacast"
    body = event_body(Event("asset.archived", {"asset_id": 1})).encode()
    async with aiohttp.ClientSession() as http:
        async def post(data: bytes, token: str | None) -> int:
            headers = {"Authorization": token} if token is not None else {}
            async with http.post(url, data=data, headers=headers) as r:
                return r.status

        assert await post(body, None) == 401
        assert await post(body, sign(body, "another-secret-of-enough-length-for-hs256")) == 401
        assert await post(body.replace(b'"asset_id":1', b'"asset_id":2'), sign(body, SECRET)) == 401
        assert await post(body, sign(body, SECRET, issuer="someone-else")) == 401
        assert await post(body, sign(body, SECRET, now=time.time() - 3600)) == 401  # expired
        assert await post(body, sign(body, SECRET)) == 500  # signed right: reaches handle (which fails once)
    assert rec.events == []


def test_signing_and_settings() -> None:
    body = b'{"id":"x"}'
    claims = verify(sign(body, SECRET), body, SECRET)
    assert claims["iss"] == "aulacast" and set(claims) >= {"sha256", "iat", "exp"}
    with pytest.raises(WebhookSignatureError, match="does not match"):
        verify(sign(body, SECRET), body + b" ", SECRET)
    with pytest.raises(WebhookSignatureError, match="no Authorization"):
        verify("", body, SECRET)
    s = make_settings(Path("/tmp"), webhooks={"urls": ["https://x.example/h"], "secret": SECRET,
                                              "backoff_seconds": 5, "backoff_max_seconds": 60})
    assert [backoff(s, n) for n in (1, 2, 3, 4, 5, 6)] == [5, 10, 20, 40, 60, 60]


@pytest.mark.parametrize(("webhooks", "message"), [
    ({"urls": ["https://x.example/h"]}, "needs webhooks.secret"),
    ({"urls": ["https://x.example/h"], "secret": "short"}, "at least 32 characters"),
    ({"urls": ["ftp://x.example/h"], "secret": SECRET}, "is not an http:// or https:// URL"),
    ({"urls": ["https://x.example/h", "https://x.example/h"], "secret": SECRET}, "listed twice"),
])
def test_bad_webhook_settings_are_one_clear_line(tmp_path: Path, webhooks: dict[str, Any], message: str) -> None:
    from orchestrator.config import load_settings

    lines = ["[webhooks]"] + [f"{k} = {json.dumps(v)}" for k, v in webhooks.items()]
    cfg = tmp_path / "aulacast.toml"
    cfg.write_text("\n".join(lines) + "\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(cfg)
    assert message in str(caught.value) and "webhooks" in str(caught.value)


def test_recording_an_event_twice_adds_one_row_per_url(db_url: str, tmp_path: Path) -> None:
    """On both database engines: the unique (event, URL) pair is what makes delivery once-only."""
    settings = make_settings(tmp_path, webhooks={"urls": ["http://a.example/h", "http://b.example/h"],
                                                 "secret": SECRET})
    db = Database.from_url(db_url)
    db.upgrade()
    event = Event("asset.archived", {"asset_id": 1})
    with db.session() as s:
        assert record_event(s, settings, event) == 2
    with db.session() as s:
        assert record_event(s, settings, event) == 0
        assert record_event(s, settings, Event("chat.message", {})) == 0
    assert sorted(r.url for r in rows(db)) == ["http://a.example/h", "http://b.example/h"]
    # one claim per due row: a second node (or round) claiming at the same moment gets nothing
    now = utcnow()
    first = claim_due(db, settings, now)
    assert sorted(c.url for c in first) == ["http://a.example/h", "http://b.example/h"] and {c.attempt for c in first} == {1}
    assert claim_due(db, settings, now) == []
    assert finish(db, settings, first[0], status=204, error=None, now=now) == "delivered"
    assert finish(db, settings, first[1], status=503, error=None, now=now) == "pending"
    assert claim_due(db, settings, now) == []  # not due before its backoff
    [again] = claim_due(db, settings, now + timedelta(seconds=backoff(settings, 1) + 1))
    assert again.id == first[1].id and again.attempt == 2
    db.engine.dispose()


def test_the_operator_lists_deliveries_and_sends_a_failed_one_again(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    from orchestrator.cli import main

    cfg = tmp_path / "aulacast.toml"
    cfg.write_text(f'data_dir = "{tmp_path / "var"}"\n[webhooks]\nurls = ["http://127.0.0.1:9/h"]\nsecret = "{SECRET}"\n')
    from orchestrator.config import load_settings

    settings = load_settings(cfg)
    db = Database.from_url(settings.effective_database_url)
    db.upgrade()
    with db.session() as s:
        record_event(s, settings, Event("asset.archived", {"asset_id": 1}))
        row = s.scalars(select(WebhookDelivery)).one()
        row.status, row.attempts, row.last_error = "failed", 12, "ClientConnectorError: refused"
        row_id = row.id
    assert main(["--config", str(cfg), "webhooks", "list", "--status", "failed"]) == 0
    out = capsys.readouterr().out
    assert f"{row_id:>6}  failed" in out and "asset.archived" in out and "refused" in out
    assert main(["--config", str(cfg), "webhooks", "retry", str(row_id)]) == 0
    [row] = rows(db)
    assert (row.status, row.attempts) == ("pending", 0)
    assert main(["--config", str(cfg), "webhooks", "retry", "999"]) == 2
    assert "no webhook delivery 999" in capsys.readouterr().err
    db.engine.dispose()


@pytest.mark.slow
async def test_the_archive_publishing_asset_archived_reaches_the_receiver(tmp_path: Path,
                                                                         receiver: tuple[Receiver, int]) -> None:
    """Not a hand-made event: the archive's own ``archive_recording`` (what the compose job calls) publishes
    ``asset.archived`` on the service's bus, and the receiver gets the new item's id."""
    from orchestrator.archive.service import archive_recording
    from tests.helpers.archive import build_world
    from tests.helpers.media import make_clip

    rec, port = receiver
    settings = settings_for(tmp_path, port)
    db = Database.from_url(settings.effective_database_url)
    db.upgrade()
    world = build_world(db)
    video = make_clip(tmp_path / "lecture.mp4", seconds=2, size="320x240")
    async with TestClient(TestServer(create_app(settings), host="127.0.0.1", port=free_port())) as client:
        svc = client.server.app[SERVICES]
        result = await archive_recording(svc, world.sessions["consultation"], video)
        assert result.created
        await rec.wait_for(1)
        await settled(db, 1)
    [got] = rec.events
    assert got["event"] == "asset.archived" and got["data"]["asset_id"] == result.asset_id
    assert got["data"]["session_id"] == world.sessions["consultation"] and rec.requests == 2
    db.engine.dispose()


def test_webhook_bodies_carry_no_server_paths() -> None:
    """recording.ready and asset.composed name folders on the server's disk; a receiver gets everything else."""
    event = Event("asset.composed", {"session_id": 7, "folder": "/srv/aulacast/media/compositions/ab12",
                                     "key": "ab12", "duration": 61.5})  # fmt: skip
    data = json.loads(event_body(event))["data"]
    assert data == {"session_id": 7, "key": "ab12", "duration": 61.5}
    assert "/srv/" not in event_body(Event("recording.ready", {"session_id": 7, "folder": "/srv/x", "status": "complete"}))
