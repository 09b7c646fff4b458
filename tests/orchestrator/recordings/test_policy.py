"""Who decides whether a session is recorded: the kind (defense), the offering (lecture), the host (consultation)."""

from __future__ import annotations

from orchestrator.auth import Identity
from orchestrator.recordings import can_toggle_recording, policy_of
from orchestrator.store.models import Offering, SessionParticipant, SessionRecord


def _session(kind: str, detail: dict | None = None) -> SessionRecord:
    row = SessionRecord(id=1, kind=kind, title="t", tutor_id=10, group_id=None, detail=detail or {})
    row.participants = [SessionParticipant(session_id=1, person_id=11, role="participant")]
    return row


def _who(person_id: int, *roles: str) -> Identity:
    return Identity(person_id, f"p{person_id}", f"P{person_id}", frozenset(roles), "UTC")


def test_policy_per_kind() -> None:
    tv = Offering(code="MATH-TV", technology="tv", rules={})
    tv_off = Offering(code="ART-TV", technology="tv", rules={"record": False})
    net = Offering(code="MATH-NET", technology="network", rules={})
    assert policy_of(_session("defense"), None).to_dict() == {"mode": "always", "on": True,
                                                              "why": "defenses are always recorded"}  # fmt: skip
    assert (policy_of(_session("consultation"), tv).mode, policy_of(_session("consultation"), tv).on) == ("offering", True)
    assert policy_of(_session("consultation"), tv_off).on is False
    assert (policy_of(_session("consultation"), net).mode, policy_of(_session("consultation"), net).on) == ("host", False)
    chosen = _session("consultation", {"recording": {"on": True, "by": 10}})
    assert policy_of(chosen, net).on is True


def test_only_a_consultations_host_or_staff_may_switch_it() -> None:
    consult, net = _session("consultation"), Offering(code="N", technology="network", rules={})
    assert can_toggle_recording(None, _who(10, "tutor"), consult, net)  # type: ignore[arg-type]
    assert can_toggle_recording(None, _who(3, "admin"), consult, net)  # type: ignore[arg-type]
    refused = can_toggle_recording(None, _who(11, "tutor"), consult, net)  # type: ignore[arg-type]
    assert not refused and refused.code == "not_host"
    lecture = can_toggle_recording(None, _who(10, "tutor"), consult, Offering(code="T", technology="tv", rules={}))  # type: ignore[arg-type]
    assert not lecture and lecture.code == "recording_by_offering"
    defense = can_toggle_recording(None, _who(3, "admin"), _session("defense"), None)  # type: ignore[arg-type]
    assert not defense and defense.code == "recording_required"
