"""``aulacast archive list``: GET /api/archive at the command line, only what the --as person may see."""

from __future__ import annotations

from sqlalchemy import select

from orchestrator.config import load_settings
from orchestrator.store.db import Database
from orchestrator.store.models import Discipline, Group, Person
from tests.helpers.archive import add_asset
from tests.orchestrator.cli.conftest import Aulacast


def _items(aulacast: Aulacast, *args: str) -> list[str]:
    return [i["dublin_core"]["title"] for i in aulacast("archive", "list", *args, "--json").json()["items"]]


def test_list_searches_what_each_person_may_see(aulacast: Aulacast) -> None:
    db = Database.from_url(load_settings(str(aulacast.config)).effective_database_url)
    try:
        with db.session() as s:
            ids = {
                "DB201": s.scalar(select(Discipline.id).where(Discipline.code == "DB201")),
                "MICRO101": s.scalar(select(Discipline.id).where(Discipline.code == "MICRO101")),
                "IS-21": s.scalar(select(Group.id).where(Group.code == "IS-21")),
                "EC-22": s.scalar(select(Group.id).where(Group.code == "EC-22")),
                "aigerim": s.scalar(select(Person.id).where(Person.username == "aigerim")),
            }
        add_asset(db, kind="lecture", title="Normal forms in relational design", discipline_id=ids["DB201"],
                  group_id=ids["IS-21"], tutor_id=ids["aigerim"], visibility="restricted")  # fmt: skip
        add_asset(db, kind="lecture", title="Supply and demand", discipline_id=ids["MICRO101"],
                  group_id=ids["EC-22"], tutor_id=ids["aigerim"], visibility="restricted")  # fmt: skip
    finally:
        db.engine.dispose()
    assert sorted(_items(aulacast)) == ["Normal forms in relational design", "Supply and demand"]  # the operator
    assert _items(aulacast, "--as", "dana") == ["Normal forms in relational design"]  # IS-21 only
    assert _items(aulacast, "--as", "madina") == ["Supply and demand"]  # EC-22 only
    assert _items(aulacast, "--as", "dana", "--q", "supply") == []  # found, but not hers to see
    assert _items(aulacast, "--q", "normal forms") == ["Normal forms in relational design"]
    assert _items(aulacast, "--discipline", "MICRO101") == ["Supply and demand"]
    text = aulacast("archive", "list", "--as", "aigerim").ok()
    assert "Normal forms in relational design" in text and text.rstrip().endswith("2 item(s)")
    assert "no person 'ghost'" in aulacast("archive", "list", "--as", "ghost").refused()
    assert "unknown discipline 'NOPE'" in aulacast("archive", "list", "--discipline", "NOPE").refused()
