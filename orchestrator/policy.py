"""Who may do what to which object: one function per kind of object, called by every path.

    decision = can_view_student(s, actor, student_id)      # HTTP route, socket event, CLI alike
    decision.enforce()                                     # Forbidden(reason) when refused

Every function takes the open store session ``s``, the ``actor`` (an ``Identity``; the CLI
acts as ``OPERATOR``) and the object, and returns a ``Decision``; none raises for a refusal,
so callers that list or filter can ask without try/except. Route role sets
(``orchestrator.http``) are the first gate; these functions add *ownership*: the group,
offering, defense sitting or session the object belongs to. Rights come from the
curriculum (who teaches which offering, who sits on which defense committee), never from
sessions a person created themselves.

Other packages add their object kinds beside these (``orchestrator.archive.policy`` for
archive items); keep the shape: ``can_<verb>_<kind>(s, actor, obj, ...) -> Decision``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator.auth import Identity
from orchestrator.errors import Forbidden, NotFound
from orchestrator.store.models import GroupMember, Offering, SessionParticipant, SessionRecord
from signaling.room import Member

STAFF = frozenset({"admin", "registrar"})
STUDENT_ONLY = frozenset({"student"})
COMMITTEE_SEATS = frozenset({"chair", "committee", "secretary"})

OPERATOR = Identity(0, "(command line)", "operator at the command line", frozenset({"admin"}), "UTC")
"""The CLI's actor: whoever runs ``aulacast`` on the host holds the database and the key, i.e. an admin."""


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""
    code: str = "forbidden"

    def __bool__(self) -> bool:
        return self.allowed

    def enforce(self) -> None:
        if not self.allowed:
            raise Forbidden(self.reason, code=self.code)


ALLOW = Decision(True)

Row = TypeVar("Row")


def deny(reason: str, code: str = "forbidden") -> Decision:
    return Decision(False, reason, code)


def load_or_404(s: Session, model: type[Row], key: Any, missing: str,
                check: Callable[[Row], Decision] | None = None) -> Row:
    """The row ``key`` of ``model`` or NotFound(``missing``); then ``check(row)`` enforced (Forbidden, its reason).

    The one shape of a route's "load, then ask the policy": a missing object is 404 before
    anyone's rights are asked, so the order of the two answers is the same on every route.
    """
    row = s.get(model, key)
    if row is None:
        raise NotFound(missing)
    if check is not None:
        check(row).enforce()
    return row


def is_staff_account(roles: Iterable[str]) -> bool:
    """A staff account holds any role besides ``student`` (tutors, committee, registrar, engineers...)."""
    return bool(set(roles) - STUDENT_ONLY)


# --- people and roles -------------------------------------------------------------------------


def can_set_roles(actor: Identity, before: Iterable[str] | None, after: Iterable[str]) -> Decision:
    """The one check for role grants. ``before`` None: a new account.

    Only an admin grants ``admin``, and only an admin changes the roles of an existing staff
    account or makes an existing student staff. Registrars create new accounts of any other role.
    """
    after_set = set(after)
    before_set = None if before is None else set(before)
    is_admin = actor.has("admin")
    if "admin" in after_set - (before_set or set()) and not is_admin:
        return deny("only an admin grants the admin role", code="admin_only")
    if before_set is not None and before_set != after_set and not is_admin:
        if is_staff_account(before_set) or is_staff_account(after_set):
            return deny("only an admin changes the roles of a staff account", code="admin_only")
    if not (is_admin or actor.has("registrar")):
        return deny("only the registrar or an admin manage accounts")
    return ALLOW


def can_import_roster_row(actor: Identity, before: Iterable[str] | None, after: Iterable[str]) -> Decision:
    """A roster row: a new account, or an existing one it leaves alone or only enrols as a student.

    A roster never changes a staff member's roles, whoever uploads it: that is a deliberate
    admin act (``PUT /api/people/{id}/roles``), not a side effect of a spreadsheet.
    """
    if before is not None:
        before_set, added = set(before), set(after) - set(before)
        if added and is_staff_account(before_set):
            return deny(f"would add {', '.join(sorted(added))} to the staff account; staff roles change only by an "
                        "admin (PUT /api/people/{id}/roles)", code="admin_only")  # fmt: skip
        if added - STUDENT_ONLY:
            return deny(f"would make an existing account {', '.join(sorted(added))}; staff roles are granted only by "
                        "an admin (PUT /api/people/{id}/roles)", code="admin_only")  # fmt: skip
        return can_set_roles(actor, before_set, before_set | added)
    return can_set_roles(actor, None, after)


def can_set_password(actor: Identity, person_id: int) -> Decision:
    if actor.has("admin"):
        return ALLOW
    return deny("only an admin sets another person's password")


# --- students: plan, results, schedule ----------------------------------------------------------


def groups_of(s: Session, person_id: int) -> set[int]:
    return set(s.scalars(select(GroupMember.group_id).where(GroupMember.person_id == person_id)))


def teaches_group(s: Session, actor: Identity, group_id: int) -> bool:
    q = select(Offering.id).where(Offering.tutor_id == actor.person_id, Offering.group_id == group_id).limit(1)
    return s.scalar(q) is not None


def committee_of_student(s: Session, actor: Identity, student_id: int) -> bool:
    """A seat (chair, committee, secretary) on a planned defense slot where the student presents."""
    mine = select(SessionParticipant.session_id).where(
        SessionParticipant.person_id == actor.person_id, SessionParticipant.role.in_(COMMITTEE_SEATS))
    theirs = select(SessionParticipant.session_id).where(SessionParticipant.person_id == student_id)
    q = select(SessionRecord).where(SessionRecord.kind == "defense", SessionRecord.id.in_(mine),
                                    SessionRecord.id.in_(theirs), SessionRecord.status != "cancelled")  # fmt: skip
    return any(not (row.detail or {}).get("adhoc") and not row.key.startswith("adhoc/") for row in s.scalars(q))


def can_view_student(s: Session, actor: Identity, student_id: int) -> Decision:
    """A student's plan, results and schedule (§13): the student, the tutors of offerings of their
    groups, the committee of their defense slot, the registrar and the admin."""
    if actor.person_id == student_id or actor.has(*STAFF):
        return ALLOW
    if any(teaches_group(s, actor, g) for g in groups_of(s, student_id)):
        return ALLOW
    if committee_of_student(s, actor, student_id):
        return ALLOW
    return deny("only the student, the tutors of their offerings, their defense committee and the registrar see this")


can_view_results = can_view_plan = can_view_schedule = can_view_student


def can_enter_result(s: Session, actor: Identity, offering: Offering) -> Decision:
    if actor.has(*STAFF) or offering.tutor_id == actor.person_id:
        return ALLOW
    return deny("only the offering's tutor or the registrar enters its results")


# --- groups -------------------------------------------------------------------------------------


def can_view_group(s: Session, actor: Identity, group_id: int) -> Decision:
    """A group's schedule: staff, and the tutors of the group's offerings."""
    if actor.has(*STAFF) or teaches_group(s, actor, group_id):
        return ALLOW
    return deny("only the group's tutors and the registrar see its schedule")


def visible_groups(s: Session, actor: Identity) -> set[int] | None:
    """Groups whose member lists the actor may read: all for staff (None), else those they teach."""
    if actor.has(*STAFF):
        return None
    return set(s.scalars(select(Offering.group_id).where(Offering.tutor_id == actor.person_id)))


def visible_people(s: Session, actor: Identity) -> set[int] | None:
    """Whose whole row (e-mail included) a people listing shows the actor: everyone's for staff
    (None); for a tutor, themselves and the students of the groups they teach. Colleagues are
    listed without their address; students of other groups not at all (api/people.py)."""
    if actor.has(*STAFF):
        return None
    groups = visible_groups(s, actor) or set()
    mine = set(s.scalars(select(GroupMember.person_id).where(GroupMember.group_id.in_(groups)))) if groups else set()
    return mine | {actor.person_id}


# --- sessions -----------------------------------------------------------------------------------


def can_create_consultation(s: Session, actor: Identity, group_id: int | None, student_ids: Iterable[int]) -> Decision:
    """An on-request consultation (§19): a tutor only for the groups and students of offerings they teach."""
    if actor.has(*STAFF):
        return ALLOW
    if group_id is not None and not teaches_group(s, actor, group_id):
        return deny(f"you teach no offering of group {group_id}", code="not_your_group")
    taught = set(s.scalars(select(Offering.group_id).where(Offering.tutor_id == actor.person_id)))
    for sid in student_ids:
        if sid != actor.person_id and not (groups_of(s, sid) & taught):
            return deny(f"person {sid} is not a student of an offering you teach", code="not_your_student")
    return ALLOW


def is_in_session(s: Session, row: SessionRecord, person_id: int) -> bool:
    if row.tutor_id == person_id or any(p.person_id == person_id for p in row.participants):
        return True
    return row.group_id is not None and row.group_id in groups_of(s, person_id)


def can_view_session(s: Session, actor: Identity, row: SessionRecord) -> Decision:
    if actor.has(*STAFF) or is_in_session(s, row, actor.person_id):
        return ALLOW
    return deny("you are not a participant of this session")


# --- a session's chat thread over HTTP ------------------------------------------------------------

LIVE_STATES = frozenset({"open", "live"})


def can_use_chat(status: str, member: Member | None, *, moderator: bool, write: bool, grant_chat: bool) -> Decision:
    """The thread over HTTP obeys the room: during open/live time only people the room admitted
    read or write it (the lobby, removal and denial hold); a removed person is refused at any time."""
    if write and not grant_chat:
        return deny("your role in this session does not allow writing to its thread")
    if moderator:
        return ALLOW
    if member is not None and member.removed:
        return deny("the host removed you from this session's room", code="removed")
    if status in LIVE_STATES and (member is None or not member.admitted):
        return deny("the session is live: join its room and wait to be let in", code="not_admitted")
    return ALLOW


# --- the portal's staff pages (issue 13 §3) ------------------------------------------------------


def can_view_offering(s: Session, actor: Identity, offering: Offering) -> Decision:
    """An offering's gradebook: its tutor, and the registrar/admin (the same rule as entering results)."""
    if actor.has(*STAFF) or offering.tutor_id == actor.person_id:
        return ALLOW
    return deny("only the offering's tutor or the registrar sees its gradebook")


def can_view_operations(actor: Identity) -> Decision:
    """Nodes, rooms, workers, Redis/database state and /metrics: the operator (an admin account)."""
    if actor.has("admin"):
        return ALLOW
    return deny("only an administrator (the operator) sees the service's state")


BROADCAST = frozenset({"engineer", "admin"})
"""Who runs the TV channel: the broadcast engineer, and the admin (who runs everything)."""


def can_view_channel(actor: Identity) -> Decision:
    """The channel's days, exports, playout status and as-run log: the broadcast engineer and the admin."""
    if actor.has(*BROADCAST):
        return ALLOW
    return deny("only a broadcast engineer or an administrator sees the channel's schedule and playout")
