"""``aulacast portal result``: POST /api/results at the command line, same function, same policy, audited."""

from __future__ import annotations

from tests.orchestrator.cli.conftest import Aulacast


def test_the_offerings_tutor_enters_and_changes_a_result(aulacast: Aulacast) -> None:
    out = aulacast("portal", "result", "--as", "aigerim", "DB201-IS21-A", "dana", "midterm", "85").ok()
    assert "DB201-IS21-A dana midterm: 85 (B+" in out and "entered by aigerim" in out
    changed = aulacast("portal", "result", "--as", "reg", "DB201-IS21-A", "dana", "midterm", "92", "--json").json()
    assert changed["points"] == 92 and changed["before"] == 85 and changed["passed"] is True
    book = aulacast("portal", "gradebook", "--as", "aigerim", "--json").json()["offerings"]
    (db201,) = [o for o in book if o["code"] == "DB201-IS21-A"]
    (dana,) = [st for st in db201["students"] if st["name"] == "Dana Akhmetova"]
    assert dana["results"]["midterm"]["points"] == 92
    entries = [e for e in aulacast.audit() if e["action"] == "result.enter"]
    assert [(e["actor"], e["detail"]["before"], e["detail"]["via"]) for e in entries] == [("reg", 85, "cli"), ("aigerim", None, "cli")]
    assert entries[0]["detail"]["row"]["points"] == 92  # bound to its row (§28): `audit verify` checks it
    assert aulacast("audit", "verify").code == 0


def test_refusals_are_the_policys_one_line(aulacast: Aulacast) -> None:
    # nurlan tutors NET210, not DB201: the policy's reason, exit status 2
    line = aulacast("portal", "result", "--as", "nurlan", "DB201-IS21-A", "dana", "midterm", "85").refused()
    assert line == "aulacast: error: only the offering's tutor or the registrar enters its results"
    # a student has no role the route admits
    assert "POST /api/results needs one of the roles" in aulacast(
        "portal", "result", "--as", "dana", "DB201-IS21-A", "dana", "midterm", "100").refused()
    assert "points" in aulacast("portal", "result", "--as", "aigerim", "DB201-IS21-A", "dana", "midterm", "101").refused()
    assert "no control activity 'exam'" in aulacast(
        "portal", "result", "--as", "aigerim", "DB201-IS21-A", "dana", "exam", "50").refused()
    assert "not a student of the offering's group" in aulacast(
        "portal", "result", "--as", "aigerim", "DB201-IS21-A", "madina", "midterm", "50").refused()
    assert "no person 'nobody'" in aulacast("portal", "result", "--as", "nobody", "DB201-IS21-A", "dana", "midterm", "50").refused()
    # a write names a person: without --as argparse refuses (status 2), and nothing was written
    assert aulacast("portal", "result", "DB201-IS21-A", "dana", "midterm", "50").code == 2
    assert not [e for e in aulacast.audit() if e["action"] == "result.enter"]
