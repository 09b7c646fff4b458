"""Errors a registrar or planner caller can cause, worded for that person."""

from __future__ import annotations

from collections.abc import Sequence

from fileio import FileFormatError


class ScheduleError(Exception):
    """Base of the errors of the ``schedules`` package."""


class CalendarError(FileFormatError, ScheduleError):
    """A calendar file is wrong at one place: ``str()`` is ``FILE:LINE: KEY: message``.

    ``file``, ``line`` (1-based, or None when unknown) and ``key`` (a path such as
    ``periods[1].end``) let a CLI or HTTP layer point at the exact spot.
    """

    def __init__(
        self, message: str, *, file: str = "<calendar>", line: int | None = None, key: str | None = None
    ) -> None:
        super().__init__(message, file=file, line=line, key=key)


class PlanError(ScheduleError):
    """The planner's inputs contradict each other (unknown ids, duplicates), so no plan is made.

    A requirement that merely cannot be placed is not an error: it is reported in
    ``PlanResult.unplaced``.
    """

    def __init__(self, problems: Sequence[object]) -> None:
        self.problems = [str(p) for p in problems]
        # the problems that carry a code and values (schedules.academic.said.Said), for pages
        self.coded = [p for p in problems if hasattr(p, "code")]
        shown = "; ".join(self.problems[:5])
        more = f" (and {len(self.problems) - 5} more)" if len(self.problems) > 5 else ""
        super().__init__(f"cannot plan: {shown}{more}")
