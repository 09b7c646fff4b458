"""Who may do what with an archive asset: one function, ``archive_access``, decides every read and write.

    viewer = viewer_of(s, ident)                   # what the asker is, loaded once per request
    decision = archive_access(viewer, "read", asset)
    if not decision: raise Forbidden(decision.reason)

Reads, by asset kind (staff ``admin``/``registrar`` read everything; a tombstone only they see):

- lecture: its tutor, the session's participants, every group that studies its discipline,
  the producers and broadcast engineers who put lectures on air, anyone when made public;
- consultation: its tutor, the session's participants and group (students appear in it), public if made so;
- control, defense: its tutor, the session's participants, the committee of its sitting, public if made so;
- presentation, written_work (§31): the student who handed it in, its tutor, the committee of the
  defense (session or sitting); never public — it is a student's own work.

Writes: the tutor and staff edit the record; staff set and lift legal holds; only an admin deletes,
and nobody deletes a held asset (that guard is in ``catalogue.delete_asset`` as well).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator.archive.models import Asset
from orchestrator.auth import Identity
from orchestrator.policy import Decision  # the one decision type: allowed, reason, enforce()
from orchestrator.store.models import GroupMember, Offering, SessionParticipant, SessionRecord

Action = Literal["read", "edit", "hold", "delete"]

ARCHIVE_STAFF = frozenset({"admin", "registrar"})
BROADCAST_STAFF = frozenset({"producer", "engineer"})
COMMITTEE_ROLES = frozenset({"chair", "committee", "secretary"})
STUDENT_WORK = frozenset({"presentation", "written_work"})
PUBLISHABLE = frozenset({"lecture", "consultation", "control", "defense"})


@dataclass(frozen=True)
class Viewer:
    """The asker as the policy sees them: roles, groups, the sessions they are named in, their sittings."""

    person_id: int | None = None
    roles: frozenset[str] = frozenset()
    group_ids: frozenset[int] = frozenset()
    discipline_ids: frozenset[int] = frozenset()  # disciplines some group of theirs studies
    sessions: Mapping[int, str] = field(default_factory=dict)  # session id -> their role in it
    committee_sittings: frozenset[str] = frozenset()

    @property
    def anonymous(self) -> bool:
        return self.person_id is None


ANONYMOUS = Viewer()


def viewer_of(s: Session, ident: Identity | None) -> Viewer:
    """Load what the policy needs to know about ``ident`` (None: an anonymous visitor)."""
    if ident is None:
        return ANONYMOUS
    pid = ident.person_id
    groups = frozenset(s.scalars(select(GroupMember.group_id).where(GroupMember.person_id == pid)))
    disciplines = frozenset(s.scalars(select(Offering.discipline_id).where(Offering.group_id.in_(groups)))) if groups else frozenset()
    sessions: dict[int, str] = {
        sid: "host" for sid in s.scalars(select(SessionRecord.id).where(SessionRecord.tutor_id == pid))
    }
    for sid, role in s.execute(
        select(SessionParticipant.session_id, SessionParticipant.role).where(SessionParticipant.person_id == pid)
    ):
        sessions.setdefault(sid, role)
    sittings = frozenset(
        s.scalars(
            select(SessionRecord.sitting)
            .join(SessionParticipant, SessionParticipant.session_id == SessionRecord.id)
            .where(SessionParticipant.person_id == pid, SessionParticipant.role.in_(COMMITTEE_ROLES),
                   SessionRecord.sitting.is_not(None))
        )
    )  # fmt: skip
    return Viewer(pid, ident.roles, groups, disciplines, sessions, sittings)


def archive_access(viewer: Viewer, action: Action, asset: Asset) -> Decision:
    """Whether ``viewer`` may ``action`` the ``asset``, and why (the reason is shown when refused)."""
    staff = bool(viewer.roles & ARCHIVE_STAFF)
    if action == "read":
        return _read(viewer, asset, staff)
    if asset.status != "active":
        return Decision(False, f"archive item {asset.id} was deleted")
    if action == "edit":
        if staff or (viewer.person_id is not None and viewer.person_id == asset.tutor_id):
            return Decision(True, "the tutor or staff")
        return Decision(False, "only the item's tutor or the registrar may edit its record")
    if action == "hold":
        return Decision(staff, "staff" if staff else "only the registrar or an admin sets or lifts a legal hold")
    if action == "delete":
        if "admin" not in viewer.roles:
            return Decision(False, "only an admin deletes archive items")
        if asset.legal_hold:
            return Decision(False, f"archive item {asset.id} is under legal hold ({asset.hold_reason}); it cannot be deleted")
        return Decision(True, "admin")
    return Decision(False, f"unknown action {action!r}")


def _read(v: Viewer, a: Asset, staff: bool) -> Decision:
    if a.status != "active":
        return Decision(staff, "staff see deleted items' records" if staff else f"archive item {a.id} was deleted")
    if staff:
        return Decision(True, "staff")
    if a.visibility == "public" and a.kind in PUBLISHABLE:
        return Decision(True, "public")
    if v.anonymous:
        return Decision(False, "sign in to see this recording")
    if v.person_id in (a.tutor_id, a.owner_id):
        return Decision(True, "tutor" if v.person_id == a.tutor_id else "owner")
    role = v.sessions.get(a.session_id) if a.session_id is not None else None
    committee = role in COMMITTEE_ROLES or (a.sitting is not None and a.sitting in v.committee_sittings)
    if a.kind in STUDENT_WORK:
        if committee or role == "host":
            return Decision(True, "the defense's committee")
        return Decision(False, "a student's presentation or written work is seen only by them, their tutor and their committee")
    if role is not None:
        return Decision(True, "a participant of the session")
    if a.kind in ("control", "defense"):
        if committee:
            return Decision(True, "the committee of the sitting")
    elif a.group_id is not None and a.group_id in v.group_ids:
        return Decision(True, "the session's group")
    elif a.kind == "lecture":
        if a.discipline_id is not None and a.discipline_id in v.discipline_ids:
            return Decision(True, "a group studying the discipline")
        if v.roles & BROADCAST_STAFF:
            return Decision(True, "broadcast staff")
    return Decision(False, "this recording belongs to another group or tutor; you have no access to it")


def handin_access(viewer: Viewer, session: SessionRecord) -> Decision:
    """Whether ``viewer`` may hand in a recorded presentation or written work for this defense (§31).

    The student the plan names as the defense's presenter, and nobody else; only while the
    defense is not cancelled.
    """
    if session.kind != "defense":
        return Decision(False, f"session {session.id} is not a defense; presentations are handed in for defenses")
    if session.status == "cancelled":
        return Decision(False, f"the defense {session.id} was cancelled")
    if viewer.sessions.get(session.id) != "presenter":
        return Decision(False, "only the student defending in this session hands in its presentation")
    return Decision(True, "the presenter")
