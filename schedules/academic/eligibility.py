"""§29 admission to a defense: every control activity of the offering passed."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from schedules.academic.model import ControlResult, Ineligible, Offering


def eligibility(
    offering: Offering, students: Sequence[str], results: Iterable[ControlResult]
) -> tuple[list[str], list[Ineligible]]:
    """Split students into those admitted to the offering's defense (§29) and those not, with reasons.

    A student is admitted only when every control activity of the offering has
    a passed result (a later pass after a failed attempt counts). A failed result's ``reason``
    (e.g. attendance the curriculum requires) is said after "not passed".
    """
    passed: dict[tuple[str, str], bool] = {}
    why: dict[tuple[str, str], str] = {}
    for r in results:
        if r.offering_id == offering.id:
            k = (r.student_id, r.activity_id)
            passed[k] = passed.get(k, False) or r.passed
            if r.reason:
                why[k] = r.reason
    eligible: list[str] = []
    ineligible: list[Ineligible] = []
    for sid in students:
        problems = []
        for act in offering.controls:
            state = passed.get((sid, act.id))
            if state is None:
                problems.append(f"no result for control '{act.name}' ({act.id})")
            elif not state:
                reason = why.get((sid, act.id))
                problems.append(f"control '{act.name}' ({act.id}) not passed" + (f": {reason}" if reason else ""))
        if problems:
            ineligible.append(Ineligible(sid, offering.id, "§29: " + "; ".join(problems)))
        else:
            eligible.append(sid)
    return eligible, ineligible
