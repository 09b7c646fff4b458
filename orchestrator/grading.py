"""Grades on the letter-point rating system (§30): points 0–100 → letter, grade point, traditional mark.

    scale = grading_scale(settings.grading)      # the configured scale
    g = scale.grade(92)                          # Grade(92, "A-", 3.67, Mark.EXCELLENT, passed=True)

The scale is configuration, not code: the regulation's own table (§30, F
0–49) and later editions' table that splits F into FX 25–49 (0.5) and F 0–24
(0) ship here by name, and an institution may give its own bands. Rules that
combine grades (a defense's committee marks, a final grade from control
results) will live here too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum


class Mark(Enum):
    """The traditional five-point mark a letter corresponds to."""

    EXCELLENT = 5
    GOOD = 4
    SATISFACTORY = 3
    UNSATISFACTORY = 2

    @property
    def word(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class Band:
    """Points from ``minimum`` up to the next band's minimum give this letter, grade point and mark."""

    minimum: int
    letter: str
    grade_point: float
    mark: Mark


@dataclass(frozen=True)
class Grade:
    """What a number of points is worth on a scale."""

    points: int
    letter: str
    grade_point: float
    mark: Mark
    passed: bool


class ScaleError(ValueError):
    """A scale that cannot grade every whole number of points from 0 to 100 exactly once."""


@dataclass(frozen=True)
class GradingScale:
    """Bands in descending order of their minimum, the last starting at 0; ``pass_points`` and above pass."""

    name: str
    bands: tuple[Band, ...]
    pass_points: int = 50

    def __post_init__(self) -> None:
        mins = [b.minimum for b in self.bands]
        if not mins or mins != sorted(set(mins), reverse=True) or mins[-1] != 0 or mins[0] > 100:
            raise ScaleError("a scale lists distinct minimum points in descending order, from at most 100 down to 0")
        if not 0 <= self.pass_points <= 100:
            raise ScaleError(f"pass points {self.pass_points} are outside 0..100")

    def band(self, points: int) -> Band:
        """The band ``points`` fall in; points are whole numbers 0–100."""
        if isinstance(points, bool) or not isinstance(points, int) or not 0 <= points <= 100:
            raise ValueError(f"points must be a whole number 0–100, not {points!r}")
        return next(b for b in self.bands if points >= b.minimum)

    def grade(self, points: int) -> Grade:
        """Letter, grade point, traditional mark and pass of ``points``."""
        b = self.band(points)
        return Grade(points, b.letter, b.grade_point, b.mark, points >= self.pass_points)


E, G, S, U = Mark.EXCELLENT, Mark.GOOD, Mark.SATISFACTORY, Mark.UNSATISFACTORY
_PASSING = (
    Band(95, "A", 4.0, E), Band(90, "A-", 3.67, E), Band(85, "B+", 3.33, G), Band(80, "B", 3.0, G),
    Band(75, "B-", 2.67, G), Band(70, "C+", 2.33, G), Band(65, "C", 2.0, S), Band(60, "C-", 1.67, S),
    Band(55, "D+", 1.33, S), Band(50, "D", 1.0, S),
)  # fmt: skip

SECTION_30 = GradingScale("section30", (*_PASSING, Band(0, "F", 0.0, U)))
"""The regulation's table: A 95–100 = 4.0 … D 50–54 = 1.0, F 0–49 = 0."""

SECTION_30_FX = GradingScale("section30-fx", (*_PASSING, Band(25, "FX", 0.5, U), Band(0, "F", 0.0, U)))
"""Later editions: F split into FX 25–49 = 0.5 (may retake) and F 0–24 = 0."""

SCALES = {s.name: s for s in (SECTION_30, SECTION_30_FX)}
del E, G, S, U
_MARK_OF_LETTER = {b.letter: b.mark for s in SCALES.values() for b in s.bands}


def scale_of(scale: str | Sequence[Sequence[object]], pass_points: int = 50) -> GradingScale:
    """A shipped scale by name, or the institution's own rows ``[minimum, letter, grade_point(, mark)]``.

    A row without its mark takes the mark its letter has on the regulation's
    table (A, A- excellent; B+ to C+ good; C to D satisfactory; FX, F
    unsatisfactory). Raises ScaleError saying what is wrong.
    """
    if isinstance(scale, str):
        if scale not in SCALES:
            raise ScaleError(f"unknown scale {scale!r} (shipped: {', '.join(SCALES)}; or give your own rows)")
        found = SCALES[scale]
        return GradingScale(found.name, found.bands, pass_points)
    bands = []
    for row in scale:
        if len(row) not in (3, 4):
            raise ScaleError(f"a scale row is [minimum, letter, grade_point] or with a mark, not {list(row)!r}")
        minimum, letter, grade_point = row[0], str(row[1]), row[2]
        if isinstance(minimum, bool) or not isinstance(minimum, int) or isinstance(grade_point, bool) \
                or not isinstance(grade_point, int | float):
            raise ScaleError(f"a scale row's minimum is a whole number and its grade point a number: {list(row)!r}")
        if len(row) == 4:
            try:
                mark = Mark[str(row[3]).upper()]
            except KeyError:
                words = ", ".join(m.word for m in Mark)
                raise ScaleError(f"mark {row[3]!r} of letter {letter} is not one of: {words}") from None
        elif letter in _MARK_OF_LETTER:
            mark = _MARK_OF_LETTER[letter]
        else:
            raise ScaleError(f"letter {letter!r} is not on the regulation's table: give its mark as a fourth item")
        bands.append(Band(minimum, letter, float(grade_point), mark))
    return GradingScale("own", tuple(bands), pass_points)
