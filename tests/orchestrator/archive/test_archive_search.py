"""Full-text search by the database's own engine (SQLite FTS5, PostgreSQL tsvector): same answers on both."""

from __future__ import annotations

from datetime import date

from sqlalchemy import text

from orchestrator.archive import search
from orchestrator.store.db import Database
from tests.helpers.archive import World, add_asset


def _ids(db: Database, query: str) -> list[int]:
    with db.session() as s:
        return search.matching_ids(s, query)


def test_words_match_title_description_and_chat(world_db: tuple[Database, World]) -> None:
    db, w = world_db
    a = add_asset(db, kind="lecture", title="Normal forms in relational design", description="Boyce-Codd and 3NF")
    b = add_asset(db, kind="lecture", title="Indexes", transcript="is the B-tree balanced after a delete?")
    c = add_asset(db, kind="lecture", title="Нормальные формы", description="реляционные базы данных")
    assert _ids(db, "normal forms") == [a]
    assert _ids(db, "boyce") == [a]  # description
    assert _ids(db, "balanced") == [b]  # chat transcript
    assert _ids(db, "norm") == [a]  # every word a prefix
    assert _ids(db, "нормальн") == [c]  # Cyrillic
    assert _ids(db, "normal indexes") == []  # every word must match
    assert _ids(db, "") == []


def test_title_ranks_above_transcript(world_db: tuple[Database, World]) -> None:
    db, w = world_db
    chat_only = add_asset(db, kind="lecture", title="Week 3", transcript="someone asked about transactions")
    titled = add_asset(db, kind="lecture", title="Transactions and isolation")
    assert _ids(db, "transactions") == [titled, chat_only]


def test_query_syntax_never_reaches_the_engine(world_db: tuple[Database, World]) -> None:
    db, w = world_db
    a = add_asset(db, kind="lecture", title="SQL injection and quoting")
    for hostile in ('"', "injection\" OR \"x", "NEAR(injection", "inj* AND", "'; DROP TABLE archive_assets; --",
                    "title:injection", "injection & !x | y", "(((", "-quoting", "^injection"):  # fmt: skip
        found = _ids(db, hostile)
        assert found in ([], [a]), (hostile, found)
    assert _ids(db, "injection\" OR \"x") == []  # both words required: "x" matches nothing
    with db.session() as s:
        assert s.execute(text("SELECT count(*) FROM archive_assets")).scalar() == 1


def test_reindex_replaces_and_drop_forgets(world_db: tuple[Database, World]) -> None:
    db, w = world_db
    a = add_asset(db, kind="lecture", title="Old title")
    with db.session() as s:
        search.index_asset(s, a, "New title", "", "")
    assert _ids(db, "old") == [] and _ids(db, "new") == [a]
    with db.session() as s:
        search.drop_asset(s, a)
    assert _ids(db, "new") == []


def test_search_api_filters_and_policy(world_db: tuple[Database, World]) -> None:
    """The filters of GET /api/archive, run as the handler runs them (the HTTP path is in test_archive_http)."""
    from orchestrator.archive.models import Asset

    db, w = world_db
    d1 = add_asset(db, kind="lecture", title="Databases week 1", discipline_id=w.disciplines["D1"],
                   tutor_id=w.people["t1"], group_id=w.groups["G1"], dc_date=date(2026, 9, 7))  # fmt: skip
    d1b = add_asset(db, kind="lecture", title="Databases week 9", discipline_id=w.disciplines["D1"],
                    tutor_id=w.people["t1"], group_id=w.groups["G3"], dc_date=date(2026, 11, 2))  # fmt: skip
    d2 = add_asset(db, kind="lecture", title="Microeconomics week 1", discipline_id=w.disciplines["D2"],
                   tutor_id=w.people["t2"], group_id=w.groups["G2"], dc_date=date(2026, 9, 8))  # fmt: skip
    with db.session() as s:
        def ids(*conds):  # type: ignore[no-untyped-def]
            return sorted(s.scalars(s.query(Asset.id).filter(*conds).statement))

        assert ids(Asset.discipline_id == w.disciplines["D1"]) == [d1, d1b]
        assert ids(Asset.tutor_id == w.people["t2"]) == [d2]
        assert ids(Asset.group_id == w.groups["G3"]) == [d1b]
        assert ids(Asset.dc_date >= date(2026, 10, 1)) == [d1b]
        assert ids(Asset.id.in_(search.matching_ids(s, "week 1"))) == [d1, d2]
