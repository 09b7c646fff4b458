"""The demo institution behind ``aulacast serve --demo``: calendar, people, offerings, a plan.

Loading is idempotent: a second ``--demo`` start reuses what is there. Demo
passwords are random per data directory, kept in ``demo-logins.json`` (mode
0600) beside the database, and printed at start-up.
"""

from __future__ import annotations

import json
import os
import secrets
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select

from fileio import write_text_atomic
from orchestrator import audit
from orchestrator.auth import create_person, hash_password
from orchestrator.calendar_import import current_calendar_row, import_calendar, read_calendar_files
from orchestrator.channel.day_view import broadcast_date
from orchestrator.config import Settings
from orchestrator.curriculum import Curriculum, apply_curriculum
from orchestrator.defenses.binding import bind
from orchestrator.planning import apply, compute, load_inputs
from orchestrator.policy import OPERATOR
from orchestrator.roster import apply_roster, parse_roster
from orchestrator.store.db import Database
from orchestrator.store.models import (
    ControlResult,
    GroupMember,
    Offering,
    Person,
    SessionParticipant,
    SessionRecord,
)
from orchestrator.yamlfile import load_yaml_model

DATA = Path(__file__).resolve().parent / "demo_data"
CALENDAR = Path(__file__).resolve().parent.parent / "examples" / "calendar-kz-2026-2027.yaml"
SHOWN = ("ada", "reg", "aigerim", "nurlan", "dana", "timur", "madina", "eng")


def _logins(settings: Settings) -> dict[str, str]:
    path = settings.data_dir / "demo-logins.json"
    if path.exists():
        return json.loads(path.read_text())
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    logins = {u: f"demo-{secrets.token_urlsafe(9)}" for u in SHOWN}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(logins))
    os.chmod(tmp, 0o600)
    tmp.replace(path)
    return logins


def load_demo(settings: Settings, db: Database) -> list[tuple[str, str, str]]:
    """Fill an empty database with the demo institution; returns (username, password, role) to print."""
    logins = _logins(settings)
    _demo_channel(settings)
    with db.session() as s:
        if s.scalar(select(Person).where(Person.username == "ada")) is None:
            create_person(s, username="ada", display_name="Ada Admin", roles=["admin"], password=logins["ada"])
            report = parse_roster((DATA / "roster.csv").read_text(encoding="utf-8"), source="demo roster.csv")
            assert report.ok, report.errors
            apply_roster(s, report.rows, actor=OPERATOR)
            for p in s.scalars(select(Person)):
                if p.username in logins:
                    p.password_hash = hash_password(logins[p.username])
            audit.record(s, None, "demo.load", "demo")
        if current_calendar_row(s) is None:
            import_calendar(s, read_calendar_files(CALENDAR), actor_id=None)
        cur = load_yaml_model((DATA / "curriculum.yaml").read_text(encoding="utf-8"), Curriculum, file="demo curriculum.yaml")
        apply_curriculum(s, cur, source="demo curriculum.yaml")
        _demo_results(s)
    with db.session() as s:
        inputs = load_inputs(s)
        result, changes = compute(inputs)
        apply(s, inputs, result, changes, actor="demo")
    with db.session() as s:
        _demo_now_session(s)
        roles = {p.username: "+".join(sorted(p.role_names)) for p in s.scalars(select(Person))}
    return [(u, logins[u], roles.get(u, "?")) for u in SHOWN]


def _demo_channel(settings: Settings) -> None:
    """The demo's TV channel, its lectures dated today: written beside the database, and configured
    (``tv.*`` settings left unset) so the engineer's page has a day, an as-run log and a state file."""
    tv = settings.tv
    if tv.channel_file is None:
        today = broadcast_date(ZoneInfo("Asia/Almaty"), time(6))  # the demo channel's day starts at 06:00
        text = (DATA / "channel.yaml").read_text(encoding="utf-8")
        text = text.replace("YESTERDAY", (today - timedelta(days=1)).isoformat()).replace("TODAY", today.isoformat())
        tv.channel_file = settings.data_dir / "demo-channel.yaml"
        write_text_atomic(tv.channel_file, text)
    tv.as_run_log = tv.as_run_log or settings.data_dir / "tv" / "asrun.jsonl"
    tv.playout_state = tv.playout_state or settings.data_dir / "tv" / "playout.json"


def _demo_results(s) -> None:  # type: ignore[no-untyped-def]
    """Dana and Aruzhan passed every control (admitted to defense, §29); Timur failed the midterm."""
    people = {p.username: p.id for p in s.scalars(select(Person))}
    offerings = {o.code: o for o in s.scalars(select(Offering))}
    rows = [
        ("dana", "DB201-IS21-A", "midterm", 88, True), ("dana", "DB201-IS21-A", "er-model", 91, True),
        ("aruzhan", "DB201-IS21-A", "midterm", 76, True), ("aruzhan", "DB201-IS21-A", "er-model", 80, True),
        ("timur", "DB201-IS21-A", "midterm", 41, False), ("timur", "DB201-IS21-A", "er-model", 70, True),
        ("yerlan", "MICRO101-EC22-A", "quiz", 67, True), ("madina", "MICRO101-EC22-A", "quiz", 95, True),
    ]
    for user, code, act, points, passed in rows:
        o = offerings[code]
        exists = s.scalar(select(ControlResult).where(
            ControlResult.offering_id == o.id, ControlResult.student_id == people[user], ControlResult.activity == act))
        if exists is None:
            row = ControlResult(offering_id=o.id, student_id=people[user], activity=act, points=points,
                                passed=passed, recorded_by=o.tutor_id)
            s.add(row)
            bind(s, None, "result.enter", row, source="demo")  # every result is bound to its audit entry (§28)
    s.flush()


def _demo_now_session(s) -> None:  # type: ignore[no-untyped-def]
    """An on-request consultation starting a few minutes from now, so a room can be tried at once."""
    people = {p.username: p.id for p in s.scalars(select(Person))}
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    key = f"adhoc/aigerim/demo-{now:%Y%m%d}"
    if s.scalar(select(SessionRecord).where(SessionRecord.key == key)) is not None:
        return
    is21 = s.scalar(select(GroupMember.group_id).where(GroupMember.person_id == people["dana"]))
    row = SessionRecord(key=key, kind="consultation", title="Databases: open consultation (demo)",
                        start_at=now + timedelta(minutes=5), end_at=now + timedelta(hours=3), tutor_id=people["aigerim"],
                        group_id=is21, detail={"adhoc": True})
    row.participants = [SessionParticipant(person_id=people["aigerim"], role="host")]
    s.add(row)
