"""Issue 13 §3: the staff pages' routes — a tutor's gradebook, the operator's view, /metrics — and who may use them."""

from __future__ import annotations

from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from tests.helpers.rooms import World


def _offering(world: World, tutor: str) -> Any:
    from orchestrator.store.models import Discipline, Group, Offering

    def run(s: Any) -> int:
        g1 = next(g for g in s.query(Group).all() if g.code == "G1")
        d = Discipline(code="DB201", title="Databases")
        s.add(d)
        s.flush()
        o = Offering(code="DB201-G1", discipline_id=d.id, group_id=g1.id, period="2026-F", tutor_id=world.ids[tutor],
                     technology="network", rules={"controls": [{"id": "midterm", "name": "Midterm"}]})  # fmt: skip
        s.add(o)
        s.flush()
        return o.id

    return run


async def test_gradebook_is_the_tutors_own(world: World) -> None:
    await world.svc.db_call(_offering(world, "tom"))
    r = await world.request("GET", "/api/me/offerings", "tom")
    body = await r.json()
    assert r.status == 200, body
    [o] = body["offerings"]
    assert o["code"] == "DB201-G1" and {s["username"] for s in o["students"]} == {"stu", "sam", "sue"}
    assert o["controls"] == [{"id": "midterm", "name": "Midterm", "graded": True, "attendance": None}]
    # the registrar sees every offering; a tutor who teaches none sees none; a student is refused by role
    assert len((await (await world.request("GET", "/api/me/offerings", "reg")).json())["offerings"]) == 1
    r = await world.request("GET", "/api/me/offerings", "stu")
    assert r.status == 403
    # entering a result shows up in the gradebook
    r = await world.request("POST", "/api/results", "tom", json={"offering": "DB201-G1", "student": "stu",
                                                                  "activity": "midterm", "points": 77})  # fmt: skip
    assert r.status == 200, await r.text()
    o = (await (await world.request("GET", "/api/me/offerings", "tom")).json())["offerings"][0]
    stu = next(s for s in o["students"] if s["username"] == "stu")
    assert stu["results"]["midterm"]["points"] == 77


async def test_operator_view_and_metrics_are_admin_only(world: World) -> None:
    tom = await world.socket("tom", world.consult)
    await tom.wait_for("welcome")
    await tom.call("chat", {"body": "counted"})
    for who in ("tom", "reg", "stu"):
        assert (await world.request("GET", "/api/ops/status", who)).status == 403
        assert (await world.request("GET", "/metrics", who)).status == 403
    assert (await world.request("GET", "/metrics", None)).status == 401

    r = await world.request("GET", "/api/ops/status", "ada")
    status = await r.json()
    assert r.status == 200, status
    assert status["database"]["ok"] is True, status["database"]
    assert status["database"]["sessions_by_status"]["open"] == 2
    assert status["rooms"] == [{"session_id": world.consult, "people": 1, "waiting": 0}]
    assert status["redis"]["ok"] is None  # this world runs without Redis: said so, not hidden

    r = await world.request("GET", "/metrics", "ada")
    assert r.status == 200 and r.headers["Content-Type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(await r.text())}
    assert families["aulacast_rooms_live"].samples[0].value == 1
    assert families["aulacast_peers"].samples[0].value == 1
    chat = {s.labels["path"]: s.value for s in families["aulacast_chat_messages"].samples if s.name.endswith("_total")}
    assert chat["live"] >= 1
    http = [s for s in families["aulacast_http_requests"].samples if s.name.endswith("_total")]
    assert any(s.labels["route"] == "/api/ops/status" and s.labels["status"] == "403" for s in http)
    assert all("/api/sessions/" not in s.labels["route"] or "{" in s.labels["route"] for s in http)  # patterns, not ids


def test_the_grafana_dashboard_asks_only_for_metrics_we_export() -> None:
    """infra/grafana-aulacast.json: every metric its queries name is one /metrics exports."""
    import json
    import re

    from tests.helpers.support import REPO

    dash = json.loads((REPO / "infra" / "grafana-aulacast.json").read_text())
    exported = {"aulacast_rooms_live", "aulacast_peers", "aulacast_jobs", "aulacast_media_worker_rooms",
                "aulacast_media_worker_peers", "aulacast_http_requests_total", "aulacast_http_request_seconds_bucket",
                "aulacast_chat_messages_total", "aulacast_job_runs_total", "aulacast_job_seconds_bucket"}  # fmt: skip
    from media.live import worker_metrics

    exported |= {f"{name}_total" if m._type == "counter" else f"{name}_bucket" if m._type == "histogram" else name
                 for m in worker_metrics.METRICS for name in [m._name]}  # fmt: skip
    named = {m for p in dash["panels"] for t in p["targets"] for m in re.findall(r"aulacast_[a-z_]+", t["expr"])}
    assert named and named <= exported, named - exported
    assert len({p["id"] for p in dash["panels"]}) == len(dash["panels"])
