"""The curriculum file: disciplines and offerings with their session rules (§14, §26–31).

    cur = load_yaml_model(text, Curriculum, file="curriculum.yaml")
    apply_curriculum(session, cur)       # idempotent: by code

Offerings name people by username and groups by code, as a registrar writes
them; rules are kept as JSON on the offering and turned into the planner's
dataclasses by ``to_planner_offering``.
"""

from __future__ import annotations

import re
from datetime import time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator.errors import UserError
from orchestrator.store.models import Discipline, Group, Offering, Person
from schedules.academic.model import ConsultationRule, ControlActivity, DefenseRule, Technology
from schedules.academic.model import Offering as PlanOffering

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DisciplineIn(_Strict):
    code: str = Field(min_length=1, max_length=40)
    title: str = Field(min_length=1, max_length=300)
    titles: dict[str, str] = Field(default_factory=dict)


class ConsultationsIn(_Strict):
    per_week: int = Field(ge=1, le=14)
    minutes: int = Field(ge=15, le=480)
    weekdays: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = Field(default_factory=list)
    hours: tuple[str, str] | None = None
    strict: bool = False

    @field_validator("hours")
    @classmethod
    def _hours(cls, v: tuple[str, str] | None) -> tuple[str, str] | None:
        if v is not None:
            for h in v:
                if not HHMM.match(h):
                    raise ValueError(f"{h!r} is not a time HH:MM")
            if v[0] >= v[1]:
                raise ValueError("the hours window ends before it starts")
        return v


class AttendanceIn(_Strict):
    """Attendance a control activity requires (§29): ``min_percent`` of the held sessions of these kinds.

    A session counts as attended when the student was in its room for ``presence_percent`` of its
    planned length (stays add up); orchestrator/defenses/admission.py computes it.
    """

    sessions: list[Literal["consultation", "control"]] = Field(default_factory=lambda: ["consultation"], min_length=1)
    min_percent: int = Field(ge=1, le=100)
    presence_percent: int = Field(50, ge=1, le=100)

    @field_validator("sessions")
    @classmethod
    def _distinct(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError("a session kind is named twice")
        return v


class ControlIn(_Strict):
    id: str = Field(min_length=1, max_length=40)
    name: str = Field(min_length=1, max_length=200)
    minutes: int = Field(0, ge=0, le=480)
    week: int | None = Field(None, ge=1, le=60)
    window: str | None = None
    attendance: AttendanceIn | None = None
    graded: bool = True  # false: no points are entered, attendance alone passes the control

    @model_validator(mode="after")
    def _ungraded_needs_attendance(self) -> ControlIn:
        if not self.graded and self.attendance is None:
            raise ValueError("a control with graded: false is passed by attendance alone: give its attendance rule")
        return self


class DefenseIn(_Strict):
    window: str
    slot_minutes: int = Field(ge=5, le=240)
    committee: list[str] = Field(min_length=1)
    max_per_day: int = Field(0, ge=0)


class OfferingIn(_Strict):
    code: str = Field(min_length=1, max_length=80)
    discipline: str
    group: str
    period: str
    tutor: str
    technology: Literal["network", "tv", "case"] = "network"
    consultations: ConsultationsIn | None = None
    controls: list[ControlIn] = Field(default_factory=list)
    defense: DefenseIn | None = None


class Curriculum(_Strict):
    disciplines: list[DisciplineIn] = Field(default_factory=list)
    offerings: list[OfferingIn] = Field(default_factory=list)


class CurriculumRefused(UserError):
    """Offerings naming what does not exist; nothing was written. ``problems``: each with its place, code and values."""

    def __init__(self, message: str, problems: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.problems = problems


def apply_curriculum(s: Session, cur: Curriculum, *, source: str = "curriculum") -> dict[str, int]:
    """Create or update disciplines and offerings by code; refuses unknown people/groups, writes nothing then."""
    people = {p.username: p for p in s.scalars(select(Person))}
    groups = {g.code: g for g in s.scalars(select(Group))}
    disciplines = {d.code: d for d in s.scalars(select(Discipline))}
    problems: list[str] = []
    coded: list[dict[str, Any]] = []

    def bad(code: str, where: str, text: str, **params: Any) -> None:
        problems.append(f"{source}: {where}: {text}")
        coded.append({"where": where, "code": code, "params": params, "message": text})

    for d in cur.disciplines:
        row = disciplines.get(d.code) or Discipline(code=d.code, title=d.title)
        row.title, row.titles = d.title, d.titles or None
        if row.id is None:
            s.add(row)
        disciplines[d.code] = row
    s.flush()
    counts = {"disciplines": len(cur.disciplines), "offerings": 0}
    for i, o in enumerate(cur.offerings):
        where = f"offerings[{i}] ({o.code})"
        if o.discipline not in disciplines:
            bad("curriculum.unknown_discipline", where, f"unknown discipline {o.discipline!r}", value=o.discipline)
        if o.group not in groups:
            bad("curriculum.unknown_group", where, f"unknown group {o.group!r}", value=o.group)
        tutor = people.get(o.tutor)
        if tutor is None or not (tutor.role_names & {"tutor", "teacher"}):
            bad("curriculum.not_tutor", where, f"{o.tutor!r} is not a tutor or teacher", value=o.tutor)
        for member in o.defense.committee if o.defense else []:
            if member not in people:
                bad("curriculum.unknown_committee", where, f"unknown committee member {member!r}", value=member)
    if problems:
        raise CurriculumRefused(
            "; ".join(problems[:5]) + (f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""), coded)
    existing = {o.code: o for o in s.scalars(select(Offering))}
    for o in cur.offerings:
        rules = o.model_dump(include={"consultations", "controls", "defense"}, exclude_none=True)
        row = existing.get(o.code) or Offering(code=o.code)
        row.discipline_id = disciplines[o.discipline].id
        row.group_id = groups[o.group].id
        row.period = o.period
        row.tutor_id = people[o.tutor].id
        row.technology = o.technology
        row.rules = rules
        if row.id is None:
            s.add(row)
        counts["offerings"] += 1
    s.flush()
    return counts


def _hm(text: str) -> time:
    h, m = text.split(":")
    return time(int(h), int(m))


def to_planner_offering(
    row: Offering, *, discipline: str, group_code: str, tutor: str, usernames: dict[int, str]
) -> PlanOffering:
    """The planner's view of a stored offering (people by username, group by code)."""
    rules: dict[str, Any] = row.rules or {}
    c = rules.get("consultations")
    consultation = None
    if c:
        consultation = ConsultationRule(
            per_week=c["per_week"],
            minutes=c["minutes"],
            weekdays=tuple(WEEKDAYS.index(d) for d in c.get("weekdays", [])),
            hours=(_hm(c["hours"][0]), _hm(c["hours"][1])) if c.get("hours") else None,
            strict=c.get("strict", False),
        )
    controls = tuple(
        ControlActivity(a["id"], a["name"], a.get("minutes", 0), a.get("week"), a.get("window"))
        for a in rules.get("controls", [])
    )
    d = rules.get("defense")
    defense = (
        DefenseRule(d["window"], d["slot_minutes"], tuple(d["committee"]), d.get("max_per_day", 0)) if d else None
    )
    return PlanOffering(
        id=row.code,
        discipline=discipline,
        group_id=group_code,
        period_id=row.period,
        tutor_id=tutor,
        technology=Technology(row.technology),
        consultation=consultation,
        controls=controls,
        defense=defense,
    )
