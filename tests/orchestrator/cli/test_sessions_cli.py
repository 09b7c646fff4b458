"""``aulacast sessions list|create``: GET and POST /api/sessions at the command line (§19 consultations)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from tests.orchestrator.cli.conftest import Aulacast

ALMATY = timezone(timedelta(hours=5))


def _next_week() -> datetime:
    """A bookable start a week ahead, on the hour, at +05:00 (the bookable range is relative to now)."""
    return (datetime.now(UTC) + timedelta(days=7)).astimezone(ALMATY).replace(hour=15, minute=0, second=0, microsecond=0)


def test_a_tutor_creates_a_consultation_for_their_students(aulacast: Aulacast) -> None:
    start = _next_week()
    out = aulacast("sessions", "create", "--as", "aigerim", "--title", "Midterm questions", "--start", start.isoformat(),
                   "--minutes", "45", "--group", "IS-21", "--student", "dana", "--key", "midterm-q", "--json").json()  # fmt: skip
    assert out["kind"] == "consultation" and out["status"] == "planned" and out["key"] == "adhoc/aigerim/midterm-q"
    assert datetime.fromisoformat(out["start"]) == start and datetime.fromisoformat(out["end"]) == start + timedelta(minutes=45)
    again = aulacast("sessions", "create", "--as", "aigerim", "--title", "Midterm questions", "--start", start.isoformat(),
                     "--key", "midterm-q", "--json").json()  # fmt: skip
    assert again["id"] == out["id"]  # idempotent by key, as the API
    (entry,) = [e for e in aulacast.audit() if e["action"] == "session.create"]
    assert (entry["actor"], entry["target"], entry["detail"]["via"]) == ("aigerim", f"session:{out['id']}", "cli")

    day = start.date()
    listed = aulacast("sessions", "list", "--from", (day - timedelta(days=1)).isoformat(), "--to",
                      (day + timedelta(days=1)).isoformat(), "--json").json()["sessions"]  # fmt: skip
    assert [(r["id"], r["title"]) for r in listed] == [(out["id"], "Midterm questions")]
    window = ["--from", (day - timedelta(days=1)).isoformat(), "--to", (day + timedelta(days=1)).isoformat()]
    assert "Midterm questions" in aulacast("sessions", "list", "--as", "reg", "--kind", "consultation", *window).ok()
    assert aulacast("sessions", "list", "--kind", "lecture", "--json", *window).json()["sessions"] == []
    assert aulacast("sessions", "list", "--status", "cancelled", "--json", *window).json()["sessions"] == []


def test_refused_for_others_groups_and_students(aulacast: Aulacast) -> None:
    start = _next_week().isoformat()
    # nurlan teaches NET210 of IS-21 only: EC-22 and its student madina are not his
    assert "you teach no offering of group" in aulacast(
        "sessions", "create", "--as", "nurlan", "--title", "x", "--start", start, "--group", "EC-22").refused()
    assert "is not a student of an offering you teach" in aulacast(
        "sessions", "create", "--as", "nurlan", "--title", "x", "--start", start, "--student", "madina").refused()
    assert "POST /api/sessions needs one of the roles" in aulacast(
        "sessions", "create", "--as", "dana", "--title", "x", "--start", start).refused()
    assert "give a time zone offset" in aulacast(
        "sessions", "create", "--as", "aigerim", "--title", "x", "--start", "2026-12-20T15:00").refused()
    assert "no group 'XX-99'" in aulacast(
        "sessions", "create", "--as", "aigerim", "--title", "x", "--start", start, "--group", "XX-99").refused()
    assert "GET /api/sessions needs one of the roles" in aulacast("sessions", "list", "--as", "aigerim").refused()
    assert "is not an ISO date" in aulacast("sessions", "list", "--from", "soon").refused()
    assert aulacast("sessions", "create", "--title", "x", "--start", start).code == 2  # --as is required
    assert not [e for e in aulacast.audit() if e["action"] == "session.create"]
