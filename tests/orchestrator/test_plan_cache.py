"""The service keeps its last Planner: a re-plan after a small change is incremental and equals a fresh plan."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from orchestrator.planning import PlanCache, apply, compute, load_inputs
from orchestrator.store.db import Database
from orchestrator.store.models import Person
from tests.helpers.registrar import cli, ok


def test_replan_reuses_the_planner_only_while_the_store_holds_its_plan(institution: Path) -> None:
    db = Database.from_url(f"sqlite:///{institution / 'var' / 'aulacast.db'}")
    cache = PlanCache()
    with db.session() as s:
        inputs = load_inputs(s)
        result, changes = compute(inputs, cache)
        assert cache.reused == 0 and changes.added
        apply(s, inputs, result, changes, actor="test")
    # a tutor's hours change: the planner re-places only what that touches
    with db.session() as s:
        tutor = s.scalar(select(Person).where(Person.username == "aigerim"))
        assert tutor is not None
        tutor.availability = {"start": "14:00", "end": "18:00"}
    with db.session() as s:
        inputs = load_inputs(s)
        result, changes = compute(inputs, cache)
        assert cache.reused == 1
        fresh, fresh_changes = compute(inputs)  # the stateless planner, from the store
        assert sorted(result.sessions, key=lambda p: p.key) == sorted(fresh.sessions, key=lambda p: p.key)
        assert len(changes.moved) == len(fresh_changes.moved) > 0
        # not applied (a dry run): the store no longer holds the planner's plan, so the next plan starts afresh
    with db.session() as s:
        compute(load_inputs(s), cache)
        assert cache.reused == 1
    # a plan applied by someone else (the CLI) is also noticed
    ok(cli(institution, "plan"))
    with db.session() as s:
        inputs = load_inputs(s)
        result, changes = compute(inputs, cache)
        assert not (changes.added or changes.moved or changes.cancelled)
        apply(s, inputs, result, changes, actor="test")
    with db.session() as s:
        compute(load_inputs(s), cache)
        assert cache.reused >= 2
