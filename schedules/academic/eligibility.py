"""§29 admission to a defense: every control activity of the offering passed."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from schedules.academic.model import ControlResult, Ineligible, Offering


def eligibility(
    offering: Offering, students: Sequence[str], results: Iterable[ControlResult]
) -> tuple[list[str], list[Ineligible]]:
    """Split students into those admitted to the offering's defense (§29) and those not, with reasons.

    A student is admitted only when every control activity of the offering has
    a passed result (a later pass after a failed attempt counts).
    """
    passed: dict[tuple[str, str], bool] = {}
    for r in results:
        if r.offering_id == offering.id:
            k = (r.student_id, r.activity_id)
            passed[k] = passed.get(k, False) or r.passed
    eligible: list[str] = []
    ineligible: list[Ineligible] = []
    for sid in students:
        problems = []
        for act in offering.controls:
            state = passed.get((sid, act.id))
            if state is None:
                problems.append(f"no result for control '{act.name}' ({act.id})")
            elif not state:
                problems.append(f"control '{act.name}' ({act.id}) not passed")
        if problems:
            ineligible.append(Ineligible(sid, offering.id, "§29: " + "; ".join(problems)))
        else:
            eligible.append(sid)
    return eligible, ineligible
