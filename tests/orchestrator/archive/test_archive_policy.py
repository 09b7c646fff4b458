"""One policy function decides every archive read: walked over asset kind x role x ownership, on both backends."""

from __future__ import annotations

import pytest

from orchestrator.archive.models import Asset
from orchestrator.archive.policy import ANONYMOUS, archive_access, handin_access, viewer_of
from orchestrator.auth import identity_of
from orchestrator.store.db import Database
from orchestrator.store.models import Person, SessionRecord
from tests.helpers.archive import World, add_asset

EVERYONE = ("t1", "t2", "s1", "s2", "s3", "s4", "c1", "c2", "adm", "reg", "pro", "eng")


def _assets(db: Database, w: World) -> dict[str, int]:
    d1, g1, t1 = w.disciplines["D1"], w.groups["G1"], w.people["t1"]
    common = dict(discipline_id=d1, tutor_id=t1)
    return {
        # D1 lecture of G1's offering: t1, group G1, and G3 (studies D1 too); broadcast staff.
        "lecture": add_asset(db, kind="lecture", title="lecture", session_id=w.sessions["consultation"], group_id=g1, **common),
        # G1's consultation: t1 and G1 only (students appear in it), not G3.
        "consultation": add_asset(db, kind="consultation", title="consultation", session_id=w.sessions["consultation"],
                                  group_id=g1, **common),
        "defense": add_asset(db, kind="defense", title="defense", session_id=w.sessions["defense-s1"], sitting="SIT-1", **common),
        "presentation": add_asset(db, kind="presentation", title="presentation", session_id=w.sessions["defense-s1"],
                                  sitting="SIT-1", owner_id=w.people["s1"], group_id=g1, **common),
        "written_work": add_asset(db, kind="written_work", title="work", session_id=w.sessions["defense-s1"],
                                  sitting="SIT-1", owner_id=w.people["s1"], group_id=g1, **common),
        # Another tutor's lecture of another discipline and group.
        "other_lecture": add_asset(db, kind="lecture", title="other", session_id=w.sessions["consultation-g2"],
                                   group_id=w.groups["G2"], discipline_id=w.disciplines["D2"], tutor_id=w.people["t2"]),
    }  # fmt: skip


# Who reads what. Own group: s1/s4 in G1. Other group: s2 (G2, other discipline). Same discipline's
# other group: s3 (G3). Other tutor: t2. Committee of the sitting: c1; a committee member elsewhere: c2.
READERS = {
    "lecture": {"t1", "s1", "s4", "s3", "adm", "reg", "pro", "eng"},
    "consultation": {"t1", "s1", "s4", "adm", "reg"},
    "defense": {"t1", "s1", "c1", "adm", "reg"},
    "presentation": {"t1", "s1", "c1", "adm", "reg"},
    "written_work": {"t1", "s1", "c1", "adm", "reg"},
    "other_lecture": {"t2", "s2", "adm", "reg", "pro", "eng"},
}


def _viewer(db: Database, username: str):  # type: ignore[no-untyped-def]
    with db.session() as s:
        person = s.query(Person).filter_by(username=username).one()
        return viewer_of(s, identity_of(person))


def test_asset_x_role_x_ownership(world_db: tuple[Database, World]) -> None:
    db, w = world_db
    ids = _assets(db, w)
    viewers = {u: _viewer(db, u) for u in EVERYONE}
    wrong = []
    with db.session() as s:
        for name, asset_id in ids.items():
            asset = s.get(Asset, asset_id)
            for user, viewer in viewers.items():
                allowed = bool(archive_access(viewer, "read", asset))
                if allowed != (user in READERS[name]):
                    wrong.append(f"{user} {'reads' if allowed else 'cannot read'} {name}")
            assert not archive_access(ANONYMOUS, "read", asset), f"anonymous reads {name}"
    assert not wrong, wrong


def test_refusals_say_why(sqlite_world: tuple[Database, World]) -> None:
    db, w = sqlite_world
    ids = _assets(db, w)
    s2, s4 = _viewer(db, "s2"), _viewer(db, "s4")
    with db.session() as s:
        d = archive_access(s2, "read", s.get(Asset, ids["consultation"]))
        assert not d and "another group" in d.reason
        d = archive_access(s4, "read", s.get(Asset, ids["presentation"]))
        assert not d and "student's presentation" in d.reason


def test_public_items_are_read_by_anyone_but_student_work_never_is(sqlite_world: tuple[Database, World]) -> None:
    db, w = sqlite_world
    ids = _assets(db, w)
    with db.session() as s:
        for name in ("lecture", "defense", "presentation"):
            s.get(Asset, ids[name]).visibility = "public"
    s2 = _viewer(db, "s2")
    with db.session() as s:
        assert archive_access(ANONYMOUS, "read", s.get(Asset, ids["lecture"]))
        assert archive_access(s2, "read", s.get(Asset, ids["defense"]))
        assert not archive_access(ANONYMOUS, "read", s.get(Asset, ids["presentation"]))


@pytest.mark.parametrize(("user", "action", "allowed"), [
    ("t1", "edit", True), ("t2", "edit", False), ("s1", "edit", False), ("reg", "edit", True),
    ("reg", "hold", True), ("t1", "hold", False), ("adm", "delete", True), ("reg", "delete", False),
])  # fmt: skip
def test_writes(sqlite_world: tuple[Database, World], user: str, action: str, allowed: bool) -> None:
    db, w = sqlite_world
    ids = _assets(db, w)
    viewer = _viewer(db, user)
    with db.session() as s:
        assert bool(archive_access(viewer, action, s.get(Asset, ids["lecture"]))) is allowed  # type: ignore[arg-type]


def test_a_held_item_cannot_be_deleted_even_by_an_admin(sqlite_world: tuple[Database, World]) -> None:
    db, w = sqlite_world
    ids = _assets(db, w)
    adm = _viewer(db, "adm")
    with db.session() as s:
        a = s.get(Asset, ids["defense"])
        a.legal_hold, a.hold_reason = True, "appeal 2026-17"
        d = archive_access(adm, "delete", a)
    assert not d and "legal hold" in d.reason and "appeal 2026-17" in d.reason


def test_deleted_items_are_seen_by_staff_only(sqlite_world: tuple[Database, World]) -> None:
    db, w = sqlite_world
    ids = _assets(db, w)
    t1, reg = _viewer(db, "t1"), _viewer(db, "reg")
    with db.session() as s:
        a = s.get(Asset, ids["lecture"])
        a.status = "deleted"
        assert not archive_access(t1, "read", a)
        assert archive_access(reg, "read", a)


def test_only_the_presenter_hands_in_for_a_defense(sqlite_world: tuple[Database, World]) -> None:
    db, w = sqlite_world
    viewers = {u: _viewer(db, u) for u in ("s1", "s4", "s2", "c1", "t1")}
    with db.session() as s:
        defense = s.get(SessionRecord, w.sessions["defense-s1"])
        consultation = s.get(SessionRecord, w.sessions["consultation"])
        assert handin_access(viewers["s1"], defense)
        for other in ("s4", "s2", "c1", "t1"):
            assert not handin_access(viewers[other], defense), other
        assert not handin_access(viewers["s1"], consultation)
