"""When each lifecycle step of a session falls due: pure, so the job runner stays thin.

    steps = lifecycle_steps(start, end, lobby=timedelta(minutes=10), reminders=[60, 10])
    state = due_state(now, start, end, lobby)   # what the session should be by now

Steps run in order planned → open → live → closed; reminders are side steps
that never change the state.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

ORDER = ("planned", "open", "live", "closed")
LATER = ("recorded", "composed", "archived", "packaged")
TERMINAL = ("cancelled",)


@dataclass(frozen=True)
class Step:
    at: datetime
    action: str  # "open" | "live" | "closed" | "remind:<minutes>"


def lifecycle_steps(
    start: datetime, end: datetime, *, lobby: timedelta, reminders: Iterable[float] = ()
) -> list[Step]:
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("session times must be aware")
    steps = [
        Step(start - timedelta(minutes=m), f"remind:{m:g}") for m in sorted(set(reminders), reverse=True) if m > 0
    ]
    steps += [Step(start - lobby, "open"), Step(start, "live"), Step(end, "closed")]
    return sorted(steps, key=lambda s: (s.at, s.action.startswith("remind") is False))


def due_state(now: datetime, start: datetime, end: datetime, lobby: timedelta) -> str:
    if now >= end:
        return "closed"
    if now >= start:
        return "live"
    if now >= start - lobby:
        return "open"
    return "planned"


def path_to(current: str, target: str) -> list[str]:
    """The states to pass through from ``current`` to ``target``; empty if already there or past it."""
    if current not in ORDER or target not in ORDER:
        return []
    i, j = ORDER.index(current), ORDER.index(target)
    return list(ORDER[i + 1 : j + 1]) if j > i else []
