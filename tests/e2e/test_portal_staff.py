"""Issue 13 §3 in Chromium: every role signs in to a home page listing its pages, and each page works."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.test_portal_defects import seen

pytestmark = [pytest.mark.slow, pytest.mark.timeout(360)]


def test_each_role_lands_on_a_page_for_its_work(portal_run: dict[str, Any]) -> None:
    staff = seen(portal_run, "staff")
    for user, want in {"reg": "Registrar desk", "ada": "Administration", "aigerim": "Tutor desk",
                       "dana": "Hand in"}.items():  # fmt: skip
        assert staff[user]["landed"] == "/home", staff[user]
        assert want in staff[user]["tiles"], (user, staff[user]["tiles"])
    assert "Operations" in staff["ada"]["tiles"]
    assert "Registrar desk" not in staff["dana"]["tiles"] and "Administration" not in staff["aigerim"]["tiles"]


def test_registrar_sees_the_plans_dry_run_and_gradebooks(portal_run: dict[str, Any]) -> None:
    reg = seen(portal_run, "staff")["reg"]["pages"]["/staff/registrar"]
    assert reg["sections"][:4] == ["Academic calendar", "Roster", "Curriculum", "Plan"], reg
    assert reg["plan"] and "error" not in reg["plan"].lower(), reg["plan"]
    assert any("DB201-IS21-A" in c for c in reg["gradebooks"]), reg["gradebooks"]


def test_tutor_sees_own_gradebook_only(portal_run: dict[str, Any]) -> None:
    tutor = seen(portal_run, "staff")["aigerim"]["pages"]["/staff/tutor"]
    # the demo's aigerim teaches DB201-IS21-A and MICRO101-EC22-A; nurlan's and saule's are not hers
    codes = {c.split(" — ")[1].split(" ")[0] for c in tutor["gradebooks"]}
    assert codes == {"DB201-IS21-A", "MICRO101-EC22-A"}, tutor["gradebooks"]
    assert "Consultation on request (§19)" in tutor["sections"]


def test_admin_sees_the_audit_chain_and_the_operator_view(portal_run: dict[str, Any]) -> None:
    ada = seen(portal_run, "staff")["ada"]["pages"]
    assert "intact" in ada["/staff/admin"]["chain"]
    assert "Database\tup" in ada["/staff/operator"]["services"] or "Database up" in ada["/staff/operator"]["services"], ada["/staff/operator"]


def test_staff_pages_raise_no_console_errors(portal_run: dict[str, Any]) -> None:
    """Issue 13 §1.8: no 401 from /api/me on the way to sign in, no missing favicon, on any page."""
    staff = dict(seen(portal_run, "staff"))
    assert staff.pop("signed_out_console_errors") == []
    for user, s in staff.items():
        assert s["console_errors"] == [], (user, s["console_errors"])
