"""Response shapes of the registrar's and operator's routes whose sentences the staff pages say by code.

Every server-made sentence a staff page shows (a plan's unplaced and §29 reasons, the calendar
check, a database or Redis failure, the audit chain) carries a stable ``code`` and the ``params``
it quotes beside its English words; the pages look up ``staff.msg.<code>`` in their catalogue
(web/static/i18n/staff) and fall back to the English. A param may itself be such a sentence
(``{"code", "params", "message"}``) or a list of them. Extra fields are allowed, as in schemas.py.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

CODE = "stable code of the sentence; a page says it by its catalogue key staff.msg.<code>"
PARAMS = "the values the sentence quotes, by name; a value may be a nested {code, params, message} or a list of them"


class SaidOut(BaseModel):
    code: str = Field(description=CODE)
    params: dict[str, Any] = Field(description=PARAMS)
    message: str = Field(description="the sentence in English, for API and CLI users")


class UnplacedOut(BaseModel):
    key: str
    reason: str = Field(description="why it could not be placed, in English")
    code: str = Field(description=CODE)
    params: dict[str, Any] = Field(description=PARAMS)


class IneligibleOut(BaseModel):
    student: str
    offering: str
    reason: str = Field(description="why §29 keeps the student from the defense, in English")
    code: str = Field(description=CODE)
    params: dict[str, Any] = Field(description=PARAMS)


class MovedOut(BaseModel):
    key: str
    from_: str = Field(alias="from")
    to: str


class PlanOut(BaseModel):
    dry_run: bool
    added: list[str]
    moved: list[MovedOut]
    updated: list[str]
    cancelled: list[str]
    unchanged: int
    unplaced: list[UnplacedOut]
    ineligible: list[IneligibleOut]
    summary: str = Field(description="the counts in English (the page says them itself)")


class PeriodWeeksOut(BaseModel):
    id: str
    name: str
    start: str
    end: str
    teaching_weeks: int
    teaching_days: int


class CalendarCheckOut(BaseModel):
    dry_run: bool
    name: str
    id: int | None = Field(None, description="the stored calendar (not on a dry run)")
    description: str | None = Field(None, description="the whole check in English, as `aulacast calendar check` prints it (dry run)")
    periods: list[PeriodWeeksOut] = Field(description="teaching weeks and days per period")
    notes: list[SaidOut] = Field(description="what the check says (time zone, year, teaching days, windows, estimated holidays)")


class AuditEntryOut(BaseModel):
    id: int
    at: str
    actor_id: int | None
    action: str
    target: str
    detail: dict[str, Any] | None = None


class AuditOut(BaseModel):
    intact: bool
    chain: SaidOut = Field(description="the chain's state as a sentence (audit.intact, or audit.broken with the entry)")
    entries: list[AuditEntryOut]


class ServiceStateOut(BaseModel):
    ok: bool | None = Field(description="null: not configured (a single node has no Redis)")
    error: str | None = Field(None, description="the driver's own words when it failed (not translated)")
    code: str | None = Field(None, description=CODE + " (a failure)")
    params: dict[str, Any] | None = Field(None, description=PARAMS)
    message: str | None = Field(None, description="the failure in English")


class OpsStatusOut(BaseModel):
    node: str
    database: ServiceStateOut
    redis: ServiceStateOut
    nodes: list[str]
    rooms: list[dict[str, Any]]
    media: dict[str, Any] | None
