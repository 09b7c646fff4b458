"""Medium 7: session dates are range-checked, and feeds survive any stored value."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.helpers.support import ApiClient, make_settings


async def test_out_of_range_dates_are_refused(api: ApiClient) -> None:
    for start in ("0001-01-02T10:00:00+00:00", "9999-12-31T10:00:00+00:00", "2400-01-01T10:00:00+00:00"):
        r = await api.call("POST", "/api/sessions", "tutor", json={"title": "x", "start": start, "minutes": 60})
        assert r.status == 422, (start, await r.text())
    for query in ("from=9999-12-31", "from=0001-01-01", "from=2026-01-01&to=9999-12-31"):
        r = await api.call("GET", f"/api/me/schedule?{query}", "tutor")
        assert r.status == 400, (query, await r.text())


async def test_feeds_survive_a_stored_extreme_date(api: ApiClient, tmp_path: Path) -> None:
    from orchestrator.store.db import Database
    from orchestrator.store.models import SessionParticipant, SessionRecord

    # setup through the store: data written before the bounds existed
    db = Database.from_url(make_settings(tmp_path).effective_database_url)
    with db.session() as s:
        for key, start in (("old", datetime(1, 1, 2, tzinfo=UTC)), ("far", datetime(9999, 12, 30, tzinfo=UTC))):
            row = SessionRecord(key=key, kind="consultation", title=key, start_at=start, end_at=start + timedelta(hours=1),
                                tutor_id=api.ids["tutor"])  # fmt: skip
            row.participants = [SessionParticipant(person_id=api.ids["student"], role="participant")]
            s.add(row)
    db.engine.dispose()
    r = await api.call("POST", "/api/me/feed-token", "student")
    feed = (await r.json())["feed_url"].split("/feeds/", 1)[1]
    for path, who in ((f"/feeds/{feed}", None), (f"/api/people/{api.ids['student']}/schedule.ics", "student"),
                      (f"/api/people/{api.ids['tutor']}/schedule.ics", "tutor"), ("/api/me/schedule", "student")):
        r = await api.call("GET", path, who)
        assert r.status == 200, (path, await r.text())
    r = await api.call("GET", "/api/sessions?from=2026-01-01", "registrar")
    assert r.status == 200
