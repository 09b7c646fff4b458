"""A session's title in each language the portal speaks (issue 13 §4).

The planner names sessions in English ("Databases: consultation, week 3"; schedules/academic/engine.py)
and that title stays the canonical one: in the database, in the API's ``title``, in audit entries.
Beside it the API gives ``titles`` {kk, ru, en}: the same sentence with the discipline's own title in
that language (the curriculum's ``titles``) and the planner's words translated. A title a person
wrote (an on-request consultation, a renamed session) is not the planner's sentence and stays as
written in every language.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.orm import Session, object_session

from orchestrator.store.models import Discipline, Offering, SessionRecord
from schedules.academic.engine import CONSULTATION_TITLE, DEFENSE_TITLE

LANGUAGES = ("kk", "ru", "en")
# the planner's sentences (engine.py consultation_spec / defense_spec), then their translations
PLANNER = {
    "consultation": {"en": CONSULTATION_TITLE, "ru": "{discipline}: консультация, неделя {week}",
                     "kk": "{discipline}: кеңес, {week}-апта"},
    "defense": {"en": DEFENSE_TITLE, "ru": "{discipline}: защита курсовой работы",
                "kk": "{discipline}: курстық жұмысты қорғау"},
}  # fmt: skip
_WEEK = re.compile(r"/consultation/w(\d+)/")
# a defense sitting's name, as orchestrator/defenses/sittings.py makes it, in each language
SITTING = {"en": "Course-work defenses: {discipline}, {day}", "ru": "Защиты курсовых работ: {discipline}, {day}",
           "kk": "Курстық жұмыстарды қорғау: {discipline}, {day}"}  # fmt: skip


def discipline_of(s: Session, row: SessionRecord | Any) -> Discipline | None:
    """The discipline of a session's (or a sitting's) offering; None for one with no offering."""
    if row.offering_id is None:
        return None
    offering = s.get(Offering, row.offering_id)  # the identity map: one query per offering per request
    return s.get(Discipline, offering.discipline_id) if offering is not None else None


def titles_of(row: SessionRecord, s: Session | None = None) -> dict[str, str]:
    """{kk, ru, en} for ``row``; every language gets ``row.title`` where it is not the planner's sentence."""
    same = dict.fromkeys(LANGUAGES, row.title)
    s = s or object_session(row)
    discipline = discipline_of(s, row) if s is not None else None
    if discipline is None:
        return same
    names = {lang: (discipline.titles or {}).get(lang) or discipline.title for lang in LANGUAGES}
    week = _WEEK.search(row.key)
    values = {"week": int(week.group(1))} if week else {}
    templates = PLANNER.get(row.kind)
    if templates and templates["en"].format(discipline=discipline.title, week=values.get("week")) == row.title:
        return {lang: templates[lang].format(discipline=names[lang], **values) for lang in LANGUAGES}
    prefix = f"{discipline.title}: "
    if row.kind == "control" and row.title.startswith(prefix):  # "<discipline>: <the control's own name>"
        rest = row.title.removeprefix(prefix)
        return {lang: f"{names[lang]}: {rest}" for lang in LANGUAGES}
    return same


def sitting_titles(s: Session, sitting: Any) -> dict[str, str]:
    """{kk, ru, en} for a defense sitting (anything with offering_id, title, start_at), as for sessions."""
    same = dict.fromkeys(LANGUAGES, sitting.title)
    discipline = discipline_of(s, sitting)
    if discipline is None:
        return same
    day = sitting.start_at.date().isoformat()
    if SITTING["en"].format(discipline=discipline.title, day=day) != sitting.title:
        return same
    names = {lang: (discipline.titles or {}).get(lang) or discipline.title for lang in LANGUAGES}
    return {lang: SITTING[lang].format(discipline=names[lang], day=day) for lang in LANGUAGES}
