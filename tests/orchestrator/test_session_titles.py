"""orchestrator/session_titles.py: which titles are the planner's sentence (translated) and which a person wrote."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from orchestrator.session_titles import titles_of
from orchestrator.store.db import Database
from orchestrator.store.models import Discipline, Group, Offering, Person, SessionRecord


def _world(tmp_path: Path) -> tuple[Database, int]:
    db = Database.from_url(f"sqlite:///{tmp_path / 't.db'}")
    db.upgrade()
    with db.session() as s:
        d = Discipline(code="DB201", title="Databases", titles={"kk": "Деректер қоры", "ru": "Базы данных"})
        g = Group(code="G1", name="G1")
        t = Person(username="tt", display_name="T")
        s.add_all([d, g, t])
        s.flush()
        o = Offering(code="DB201-G1", discipline_id=d.id, group_id=g.id, tutor_id=t.id, period="P1", technology="network")
        s.add(o)
        s.flush()
        return db, o.id


def _row(offering: int | None, key: str, kind: str, title: str) -> SessionRecord:
    now = datetime.now(UTC)
    return SessionRecord(key=key, offering_id=offering, kind=kind, title=title, start_at=now, end_at=now + timedelta(hours=1))


def test_the_planners_titles_are_translated_and_a_persons_stay(tmp_path: Path) -> None:
    db, off = _world(tmp_path)
    with db.session() as s:
        consult = titles_of(_row(off, f"{off}/consultation/w07/0", "consultation", "Databases: consultation, week 7"), s)
        assert consult == {"en": "Databases: consultation, week 7", "ru": "Базы данных: консультация, неделя 7",
                           "kk": "Деректер қоры: кеңес, 7-апта"}  # fmt: skip
        defense = titles_of(_row(off, f"{off}/defense/s1", "defense", "Databases: course-work defense"), s)
        assert defense["kk"] == "Деректер қоры: курстық жұмысты қорғау" and defense["ru"].startswith("Базы данных: защита")
        control = titles_of(_row(off, f"{off}/control/midterm", "control", "Databases: Midterm test"), s)
        assert control == {"en": "Databases: Midterm test", "ru": "Базы данных: Midterm test", "kk": "Деректер қоры: Midterm test"}
        renamed = titles_of(_row(off, f"{off}/consultation/w07/1", "consultation", "Databases: extra session on joins"), s)
        assert set(renamed.values()) == {"Databases: extra session on joins"}  # not the planner's sentence
        on_request = titles_of(_row(None, "req/aigerim/x", "consultation", "Help with normal forms"), s)
        assert set(on_request.values()) == {"Help with normal forms"}


def test_a_sittings_name_follows_the_language_and_a_typed_one_stays(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from orchestrator.session_titles import sitting_titles

    db, off = _world(tmp_path)
    at = datetime(2026, 12, 21, 9, 0, tzinfo=UTC)
    with db.session() as s:
        named = sitting_titles(s, SimpleNamespace(offering_id=off, start_at=at, title="Course-work defenses: Databases, 2026-12-21"))
        assert named == {"en": "Course-work defenses: Databases, 2026-12-21",
                         "ru": "Защиты курсовых работ: Базы данных, 2026-12-21",
                         "kk": "Курстық жұмыстарды қорғау: Деректер қоры, 2026-12-21"}  # fmt: skip
        typed = sitting_titles(s, SimpleNamespace(offering_id=off, start_at=at, title="Spring re-sit"))
        assert set(typed.values()) == {"Spring re-sit"}
