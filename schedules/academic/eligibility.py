"""§29 admission to a defense: every control activity of the offering passed."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from schedules.academic.model import ControlResult, Ineligible, Offering
from schedules.academic.said import Said


def eligibility(
    offering: Offering, students: Sequence[str], results: Iterable[ControlResult]
) -> tuple[list[str], list[Ineligible]]:
    """Split students into those admitted to the offering's defense (§29) and those not, with reasons.

    A student is admitted only when every control activity of the offering has
    a passed result (a later pass after a failed attempt counts). A failed result's ``reason``
    (e.g. attendance the curriculum requires) is said after "not passed".
    """
    passed: dict[tuple[str, str], bool] = {}
    why: dict[tuple[str, str], str | Said] = {}
    for r in results:
        if r.offering_id == offering.id:
            k = (r.student_id, r.activity_id)
            passed[k] = passed.get(k, False) or r.passed
            if r.reason:
                why[k] = r.reason
    eligible: list[str] = []
    ineligible: list[Ineligible] = []
    for sid in students:
        problems: list[Said] = []
        for act in offering.controls:
            state = passed.get((sid, act.id))
            label = f"control '{act.name}' ({act.id})"
            if state is None:
                problems.append(Said.of("plan.no_result", f"no result for {label}", control=act.name, id=act.id))
            elif not state:
                reason = why.get((sid, act.id))
                if reason:
                    problems.append(Said.of("plan.not_passed.because", f"{label} not passed: {reason}",
                                            control=act.name, id=act.id, reason=reason))
                else:
                    problems.append(Said.of("plan.not_passed", f"{label} not passed", control=act.name, id=act.id))
        if problems:
            said = Said.of("plan.ineligible", "§29: " + "; ".join(p.text for p in problems), problems=tuple(problems))
            ineligible.append(Ineligible(sid, offering.id, said.text, said))
        else:
            eligible.append(sid)
    return eligible, ineligible
