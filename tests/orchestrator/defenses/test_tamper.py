"""§28: a grade edited straight in the database, and a whole audit chain rewritten to match, are both caught.

Each test takes a real sitting to sign-off through the HTTP API, anchors the chain, then plays the
part of someone with write access to the database (SQLite and PostgreSQL): raw SQL, no application.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from orchestrator.audit import GENESIS, digest_of
from orchestrator.defenses.tamper import anchor, anchor_path, verify
from orchestrator.store.models import AuditEntry
from tests.helpers.defenses import run_sitting, serve_defense
from tests.helpers.registrar import cli


@pytest.fixture
async def sat(tmp_path: Path, db_url: str) -> Any:
    async with serve_defense(tmp_path, database_url=db_url) as dc:
        sid, turns = await run_sitting(dc)
        with dc.db.session() as s:
            anchor(s, dc.settings)
            report = verify(s, dc.settings)
        assert report.ok, report.to_dict()
        assert report.rows_checked >= 12 and report.anchors_checked == 1
        yield dc, sid, turns


def _grade_id(dc: Any, turn_id: int) -> int:
    with dc.db.engine.connect() as c:
        return c.execute(text("SELECT id FROM defense_grades WHERE turn_id = :t"), {"t": turn_id}).scalar_one()


def _report(dc: Any) -> Any:
    with dc.db.session() as s:
        return verify(s, dc.settings)


async def test_a_grade_edited_in_the_database_is_named(sat: Any) -> None:
    dc, _sid, turns = sat
    gid = _grade_id(dc, turns["st1"])
    with dc.db.engine.begin() as c:  # bypassing the application: plain SQL
        c.execute(text("UPDATE defense_grades SET points = 95, letter = 'A', grade_point = 4.0 WHERE id = :g"), {"g": gid})
        c.execute(text("UPDATE control_results SET points = 95 WHERE activity = 'defense' AND student_id = :p"),
                  {"p": dc.ids["st1"]})
    report = _report(dc)
    assert not report.ok and report.broken is None  # the chain itself is untouched
    bad = {(r["table"], r["id"]): r for r in report.rows}
    grade = bad[("defense_grades", gid)]
    assert grade["differs"] == {"grade_point": [3.33, 4.0], "letter": ["B+", "A"], "points": [85, 95]}
    assert any(t == "control_results" and r["differs"] == {"points": [85, 95]} for (t, _i), r in bad.items())
    assert len(report.rows) == 2


async def test_a_whole_chain_rewritten_consistently_is_caught_by_the_anchor(sat: Any) -> None:
    dc, _sid, turns = sat
    gid = _grade_id(dc, turns["st1"])
    with dc.db.session() as s:  # the forger: new value, entries rewritten, every hash recomputed, rows re-pointed
        s.execute(text("UPDATE defense_grades SET points = 95, letter = 'A', grade_point = 4.0 WHERE id = :g"), {"g": gid})
        renamed: dict[str, str] = {}
        prev = GENESIS
        for e in s.scalars(select(AuditEntry).order_by(AuditEntry.id)):
            if e.target == f"defense_grades:{gid}":
                e.detail = {**e.detail, "row": {**e.detail["row"], "points": 95, "letter": "A", "grade_point": 4.0}}
            new = digest_of(e, prev)
            renamed[e.hash] = new
            e.prev_hash, e.hash = prev, new
            prev = new
        s.flush()
        for table in ("defense_scores", "defense_grades", "defense_sittings", "control_results"):
            for old, new in renamed.items():
                s.execute(text(f"UPDATE {table} SET audit_hash = :n WHERE audit_hash = :o"), {"n": new, "o": old})
    report = _report(dc)
    assert report.broken is None and report.rows == []  # a consistent rewrite fools the chain and the rows...
    assert not report.ok and len(report.anchor_problems) == 1  # ...not the signed anchor outside the database
    assert "the chain was rewritten" in report.anchor_problems[0]


async def test_chain_edits_deletions_unbound_rows_and_stale_bindings(sat: Any) -> None:
    dc, _sid, turns = sat
    with dc.db.engine.begin() as c:
        entry = c.execute(text("SELECT id, detail FROM audit_log WHERE action = 'defense.score' ORDER BY id LIMIT 1")).one()
        detail = json.loads(entry.detail) if isinstance(entry.detail, str) else entry.detail
        detail["row"]["points"] = 1
        c.execute(text("UPDATE audit_log SET detail = :d WHERE id = :i"), {"d": json.dumps(detail), "i": entry.id})
        score = c.execute(text("SELECT id FROM defense_scores ORDER BY id DESC LIMIT 1")).scalar_one()
        c.execute(text("DELETE FROM defense_scores WHERE id = :i"), {"i": score})
        c.execute(text("INSERT INTO control_results (offering_id, student_id, activity, points, passed, recorded_at) "
                       "VALUES (:o, :p, 'essay', 99, :t, CURRENT_TIMESTAMP)"),
                  {"o": dc.ids["offering"], "p": dc.ids["out"], "t": True})
        # st2's grade was changed with a reason (F -> D+); put the old F back with its old entry's hash
        gid = c.execute(text("SELECT id FROM defense_grades WHERE turn_id = :t"), {"t": turns["st2"]}).scalar_one()
        old = c.execute(text("SELECT hash FROM audit_log WHERE target = :t AND action = 'defense.grade.final'"),
                        {"t": f"defense_grades:{gid}"}).scalar_one()
        c.execute(text("UPDATE defense_grades SET points = 49, letter = 'F', grade_point = 0.0, mark = 2, "
                       "passed = :f, audit_hash = :h WHERE id = :g"), {"h": old, "g": gid, "f": False})
    report = _report(dc)
    assert report.broken is not None and report.broken["id"] == entry.id and "edited" in report.broken["reason"]
    problems = {(r["table"], r["id"]): r["problem"] for r in report.rows}
    assert "gone" in problems[("defense_scores", score)]
    assert any(t == "control_results" and "no audit entry vouches" in p for (t, _), p in problems.items())
    assert "an old value was put back" in problems[("defense_grades", gid)]


async def test_cli_audit_verify_names_what_differs(tmp_path: Path) -> None:
    import sqlite3

    async with serve_defense(tmp_path) as dc:
        _sid, turns = await run_sitting(dc)
        gid = _grade_id(dc, turns["st1"])
    dc.db.engine.dispose()  # the CLI is another process: this one keeps no connection open meanwhile
    assert cli(tmp_path, "audit", "anchor").returncode == 0
    assert anchor_path(dc.settings).read_text().count("\n") == 1
    res = cli(tmp_path, "audit", "verify")
    assert res.returncode == 0 and "OK" in res.stdout, res.stdout + res.stderr
    raw = sqlite3.connect(str(dc.settings.data_dir / "aulacast.db"))  # plain SQLite, no application
    with raw:
        raw.execute("UPDATE defense_grades SET points = 95 WHERE id = ?", (gid,))
    raw.close()
    res = cli(tmp_path, "audit", "verify")
    assert res.returncode == 1 and "Traceback" not in res.stderr, res.stdout + res.stderr
    assert f"ROW defense_grades:{gid}: the row's value differs" in res.stdout and "points: 85 -> 95" in res.stdout
    # an anchor line edited by hand no longer verifies
    path = anchor_path(dc.settings)
    line = json.loads(path.read_text())
    line["anchor"]["entries"] += 1  # the file edited by hand: the signature no longer matches
    path.write_text(json.dumps(line) + "\n")
    res = cli(tmp_path, "audit", "verify", "--json")
    body = json.loads(res.stdout)
    assert res.returncode == 1 and body["anchor_problems"]
