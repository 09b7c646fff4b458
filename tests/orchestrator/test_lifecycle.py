"""Session lifecycle: steps fall due in order, once, across restarts and across two nodes."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from orchestrator.bus import Event
from orchestrator.lifecycle import Lifecycle
from orchestrator.services import Services
from orchestrator.store.db import Database
from orchestrator.store.models import Reminder, SessionRecord, Transition
from schedules.academic.lifecycle import due_state, lifecycle_steps, path_to
from tests.helpers.support import free_port, make_settings, wait_for

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def test_steps_are_ordered() -> None:
    steps = lifecycle_steps(T0, T0 + timedelta(hours=1), lobby=timedelta(minutes=10), reminders=[60, 10])
    assert [s.action for s in steps] == ["remind:60", "remind:10", "open", "live", "closed"]
    assert steps[2].at == T0 - timedelta(minutes=10)


def test_due_state_and_path() -> None:
    lobby = timedelta(minutes=10)
    assert due_state(T0 - timedelta(minutes=11), T0, T0 + lobby, lobby) == "planned"
    assert due_state(T0 - timedelta(minutes=5), T0, T0 + lobby, lobby) == "open"
    assert due_state(T0 + timedelta(minutes=20), T0, T0 + lobby, lobby) == "closed"
    assert path_to("planned", "closed") == ["open", "live", "closed"]
    assert path_to("closed", "open") == []


def add_session(db: Database, start: datetime, end: datetime, key: str = "s1") -> int:
    with db.session() as s:
        row = SessionRecord(key=key, kind="consultation", title="Consultation", start_at=start, end_at=end)
        s.add(row)
        s.flush()
        return row.id


def transitions(db: Database) -> list[str]:
    with db.session() as s:
        return [t.to_status for t in s.query(Transition).order_by(Transition.id)]


async def test_in_process_transitions_and_reminder_once(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path, scheduler_enabled=True, lifecycle={"lobby_minutes": 0.02, "reminder_minutes": [0.03]}
    )
    svc = Services.build(settings)
    svc.db.upgrade()
    seen: list[str] = []

    async def collect(event: Event) -> None:
        seen.append(event.topic)

    svc.bus.subscribe("session.*", collect)
    lc = Lifecycle(svc)
    await lc.start()
    try:
        # planned after start-up, as the API does: every step lies in the future however slow the start was
        now = datetime.now(UTC)
        sid = add_session(svc.db, now + timedelta(seconds=2.5), now + timedelta(seconds=4))
        with svc.db.session() as s:
            row = s.get(SessionRecord, sid)
        assert lc.schedule(row) == 4
        for _ in range(100):
            if "session.closed" in seen:
                break
            await asyncio.sleep(0.1)
        # a replayed job or a second catch-up changes nothing
        assert await lc.take(1, "closed") == []
        assert await lc.catch_up() == 0
    finally:
        await lc.stop()
        await svc.close()
    assert seen == ["session.reminder", "session.opened", "session.live", "session.closed"]
    assert transitions(svc.db) == ["open", "live", "closed"]
    with svc.db.session() as s:
        assert s.query(Reminder).count() == 1


def write_config(tmp_path: Path, port: int, **extra: str) -> Path:
    cfg = tmp_path / f"node{port}.toml"
    lines = [
        f'data_dir = "{tmp_path / "var"}"',
        f"port = {port}",
        'secret_key = "lifecycle-test-key"',
        'log_level = "INFO"',
    ] + [f"{k} = {v}" for k, v in extra.items()] + ["[lifecycle]", "lobby_minutes = 0.05", "reminder_minutes = []"]
    cfg.write_text("\n".join(lines) + "\n")
    return cfg


def start_node(cfg: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "AULACAST_CONFIG": str(cfg)}
    return subprocess.Popen(
        [sys.executable, "-m", "orchestrator.cli", "serve"], env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT
    )


def test_restart_between_transitions_loses_none_repeats_none(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, free_port())
    db = Database.from_url(f"sqlite:///{tmp_path / 'var' / 'aulacast.db'}")
    db.upgrade()
    now = datetime.now(UTC)
    # open at +17 s (lobby 3 s before start), live at +20 s, closed at +23 s: room for a start-up
    # that takes several seconds on a loaded machine (importing the app alone can take 6 s)
    add_session(db, now + timedelta(seconds=20), now + timedelta(seconds=23))
    log = tmp_path / "node.log"
    node = start_node(cfg, log)
    try:
        assert wait_for(lambda: transitions(db) == ["open"], 19), log.read_text()
        node.send_signal(signal.SIGKILL)  # dies between "open" and "live"
        node.wait(10)
        wait_for(lambda: datetime.now(UTC) > now + timedelta(seconds=21), 23)
        assert transitions(db) == ["open"]  # nothing ran while it was down
        node = start_node(cfg, log)
        assert wait_for(lambda: transitions(db) == ["open", "live", "closed"], 25), log.read_text()
        time.sleep(1)
        assert transitions(db) == ["open", "live", "closed"]
    finally:
        node.kill()
        node.wait(10)


def test_two_nodes_take_each_transition_once(tmp_path: Path, private_redis: str) -> None:
    import redis

    db = Database.from_url(f"sqlite:///{tmp_path / 'var' / 'aulacast.db'}")
    db.upgrade()
    now = datetime.now(UTC)
    for i in range(3):
        add_session(db, now + timedelta(seconds=6 + i), now + timedelta(seconds=9 + i), key=f"s{i}")
    client = redis.Redis.from_url(private_redis)
    sub = client.pubsub()
    sub.subscribe("aulacast:events")
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    nodes = [start_node(write_config(tmp_path, free_port(), redis_url=f'"{private_redis}"'), lg) for lg in logs]
    events: list[dict[str, object]] = []
    try:
        # the loop ends at the ninth transition; the limit only turns a hang into a failure (a loaded
        # machine took ~10 s to start the two nodes and missed the last close at 30 s)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and len(transitions(db)) < 9:
            msg = sub.get_message(timeout=0.2)
            if msg and msg["type"] == "message":
                events.append(json.loads(msg["data"]))
        time.sleep(1.5)
        while (msg := sub.get_message(timeout=0.2)) is not None:
            if msg["type"] == "message":
                events.append(json.loads(msg["data"]))
    finally:
        for n in nodes:
            n.terminate()
        for n in nodes:
            n.wait(10)
    got = transitions(db)
    assert sorted(got) == sorted(["open", "live", "closed"] * 3), logs[0].read_text() + logs[1].read_text()
    topics = [e["topic"] for e in events]
    assert topics.count("session.opened") == 3 and topics.count("session.closed") == 3
    with db.session() as s:
        nodes_used = {t.node for t in s.query(Transition)}
    assert len(nodes_used) == 1  # the leader took them all


async def test_revoked_tokens_are_forgotten_a_day_after_they_expire(tmp_path: Path) -> None:
    from orchestrator.store.models import RevokedGrant

    svc = Services.build(make_settings(tmp_path))
    svc.db.upgrade()
    now = datetime.now(UTC)
    with svc.db.session() as s:
        s.add(RevokedGrant(jti="long-gone", expires_at=now - timedelta(days=2)))
        s.add(RevokedGrant(jti="just-expired", expires_at=now - timedelta(hours=1)))
        s.add(RevokedGrant(jti="still-valid", expires_at=now + timedelta(hours=1)))
    lc = Lifecycle(svc)
    try:
        assert await lc.purge_revoked_grants(now) == 1
        assert await lc.purge_revoked_grants(now) == 0
        with svc.db.session() as s:
            assert sorted(r.jti for r in s.query(RevokedGrant)) == ["just-expired", "still-valid"]
    finally:
        await svc.close()
