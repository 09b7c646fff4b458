"""Schedules, feeds, study plans, results and on-request sessions over the real HTTP API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from icalendar import Calendar
from openapi_spec_validator import validate

from tests.helpers.support import DemoClient


async def json_of(r) -> dict:  # type: ignore[no-untyped-def]
    assert r.status == 200, await r.text()
    return await r.json()


async def person_id(demo: DemoClient, username: str) -> int:
    people = (await json_of(await demo.call("GET", "/api/people", "reg")))["people"]
    return next(p["id"] for p in people if p["username"] == username)


async def test_my_schedule_follows_my_time_zone(demo: DemoClient) -> None:
    q = "?from=2026-12-01T00:00:00%2B00:00&to=2026-12-08T00:00:00%2B00:00"
    dana = await json_of(await demo.call("GET", "/api/me/schedule" + q, "dana"))
    timur = await json_of(await demo.call("GET", "/api/me/schedule" + q, "timur"))
    assert dana["timezone"] == "Asia/Almaty" and timur["timezone"] == "Europe/Berlin"
    same = {s["key"]: s for s in dana["sessions"]}
    shared = [s for s in timur["sessions"] if s["key"] in same]
    assert shared, "students of one group share consultations"
    s = shared[0]
    assert s["start"] == same[s["key"]]["start"]
    assert s["local_start"].endswith("+01:00") and same[s["key"]]["local_start"].endswith("+05:00")


async def test_feed_token_rotate_and_revoke(demo: DemoClient) -> None:
    r = await json_of(await demo.call("POST", "/api/me/feed-token", "dana"))
    path = r["feed_url"].removeprefix("https://portal.example.edu")
    feed = await demo.client.get(path)
    assert feed.status == 200 and feed.headers["Content-Type"].startswith("text/calendar")
    cal = Calendar.from_ical(await feed.read())
    assert len(cal.walk("VEVENT")) > 10
    again = await json_of(await demo.call("POST", "/api/me/feed-token", "dana"))
    assert (await demo.client.get(path)).status == 404
    new_path = again["feed_url"].removeprefix("https://portal.example.edu")
    assert (await demo.client.get(new_path)).status == 200
    assert (await demo.call("DELETE", "/api/me/feed-token", "dana")).status == 200
    gone = await demo.client.get(new_path)
    assert gone.status == 404 and (await gone.json())["error"]["code"] == "feed_revoked"


async def test_individual_plan_visibility(demo: DemoClient) -> None:
    dana = await person_id(demo, "dana")
    for who, status in (("dana", 200), ("aigerim", 200), ("reg", 200), ("timur", 403), ("madina", 403), ("eng", 403)):
        r = await demo.call("GET", f"/api/students/{dana}/plan", who)
        assert r.status == status, (who, r.status)
    plan = await json_of(await demo.call("GET", f"/api/students/{dana}/plan", "dana"))
    db = next(o for o in plan["offerings"] if o["offering"] == "DB201-IS21-A")
    assert db["admitted_to_defense"] is True
    timur = await person_id(demo, "timur")
    plan = await json_of(await demo.call("GET", f"/api/students/{timur}/plan", "timur"))
    assert next(o for o in plan["offerings"] if o["offering"] == "DB201-IS21-A")["admitted_to_defense"] is False
    r = await demo.call("GET", f"/api/people/{dana}/schedule.ics", "timur")
    assert r.status == 403


async def test_results_letter_scale_and_tutor_only(demo: DemoClient) -> None:
    body = {"offering": "DB201-IS21-A", "student": "timur", "activity": "midterm", "points": 92}
    r = await json_of(await demo.call("POST", "/api/results", "aigerim", json=body))
    assert (r["letter"], r["grade_point"], r["passed"]) == ("A-", 3.67, True)
    assert (await demo.call("POST", "/api/results", "saule", json=body)).status == 403
    bad = await demo.call("POST", "/api/results", "aigerim", json={**body, "activity": "nope"})
    assert bad.status == 422 and "has no control activity" in (await bad.json())["error"]["message"]
    out = await demo.call("POST", "/api/results", "aigerim", json={**body, "points": 101})
    assert out.status == 422
    # timur now passed everything: a re-plan admits him to the defense (§29)
    plan = await json_of(await demo.call("POST", "/api/plan?dry_run=1", "reg"))
    assert "DB201-IS21-A/defense/timur" in plan["added"]
    assert not any(i["student"] == "timur" for i in plan["ineligible"])
    audit = await json_of(await demo.call("GET", "/api/audit", "ada"))
    assert audit["intact"] and any(e["action"] == "result.enter" for e in audit["entries"])


async def test_on_request_session_is_idempotent(demo: DemoClient) -> None:
    start = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0).isoformat()
    body = {"title": "Extra help on normal forms", "start": start, "minutes": 30, "key": "nf-help"}
    a = await json_of(await demo.call("POST", "/api/sessions", "aigerim", json=body))
    b = await json_of(await demo.call("POST", "/api/sessions", "aigerim", json=body))
    assert a["id"] == b["id"]
    naive = await demo.call("POST", "/api/sessions", "aigerim", json={**body, "start": start[:19], "key": "x"})
    assert naive.status == 422


async def test_openapi_is_valid_openapi_31(demo: DemoClient) -> None:
    doc = await json_of(await demo.client.get("/api/openapi.json"))
    validate(doc)
    assert "/api/results" in doc["paths"] and "/feeds/{token}.ics" in doc["paths"]


async def test_session_titles_come_in_each_language_and_a_persons_feed_speaks_theirs(demo: DemoClient) -> None:
    """Issue 13 §4: the planner's English title stays the canonical ``title``; ``titles`` gives it in kk/ru/en
    with the discipline's own name (the demo's Databases is 'Деректер қоры' / 'Базы данных')."""
    q = "?from=2026-09-01T00:00:00%2B00:00&to=2027-06-30T00:00:00%2B00:00"
    sessions = (await json_of(await demo.call("GET", "/api/me/schedule" + q, "dana")))["sessions"]
    consult = next(s for s in sessions if s["kind"] == "consultation" and s["title"].startswith("Databases: consultation, week "))
    week = consult["title"].rsplit(" ", 1)[1]
    assert consult["titles"] == {"en": consult["title"], "ru": f"Базы данных: консультация, неделя {week}",
                                 "kk": f"Деректер қоры: кеңес, {week}-апта"}  # fmt: skip
    for s in sessions:
        assert set(s["titles"]) == {"kk", "ru", "en"} and s["titles"]["en"] == s["title"], s
    # a title a person wrote is the same in every language
    start = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0).isoformat()
    body = {"title": "Normal forms, once more", "start": start, "minutes": 30, "key": "nf-again"}
    made = await json_of(await demo.call("POST", "/api/sessions", "aigerim", json=body))
    assert set(made["titles"].values()) == {"Normal forms, once more"}
    # dana's own feed, read by an independent iCalendar parser, in her profile's language
    assert (await demo.call("PUT", "/api/me/language", "dana", json={"language": "kk"})).status == 200
    path = (await json_of(await demo.call("POST", "/api/me/feed-token", "dana")))["feed_url"].removeprefix("https://portal.example.edu")
    cal = Calendar.from_ical(await (await demo.client.get(path)).read())
    summaries = {str(e["SUMMARY"]) for e in cal.walk("VEVENT")}
    assert f"Деректер қоры: кеңес, {week}-апта" in summaries
    assert not any(x.startswith("Databases: consultation") for x in summaries)
