"""Grades on the letter-point rating system (§30): points 0–100 → letter, grade point, traditional mark.

    scale = grading_scale(settings.grading)      # the configured scale
    g = scale.grade(92)                          # Grade(92, "A-", 3.67, Mark.EXCELLENT, passed=True)

The scale is configuration, not code: the regulation's own table (§30, F
0–49) and later editions' table that splits F into FX 25–49 (0.5) and F 0–24
(0) ship here by name, and an institution may give its own bands. Rules that
combine grades live here too: a defense committee's points become one grade
by a configured rule (``aggregate``), each member's points checked by
``check_points`` first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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


# --- Committee grading (defenses, §30-31) ---------------------------------------------------------

AGGREGATION_RULES = ("mean", "chair", "majority")
"""How a committee's points become one grade:

- ``mean``: the mean of every member's points (the chair's included), rounded half up to whole points;
- ``chair``: the chair's points;
- ``majority``: the letter most members gave wins and the grade is the mean (half up) of their points;
  when letters tie, the chair's letter decides; when the chair's letter is not among the tied ones,
  the chair's points stand.
"""


class PointsError(ValueError):
    """Points a member entered that cannot be a grade, with the reason."""


def check_points(value: object, *, maximum: int = 100, what: str = "points") -> int:
    """``value`` as whole points 0..maximum, or PointsError saying what is wrong (bools are not points)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise PointsError(f"{what} must be a whole number 0–{maximum}, not {value!r}")
    if not 0 <= value <= maximum:
        raise PointsError(f"{what} must be a whole number 0–{maximum}, not {value}")
    return value


@dataclass(frozen=True)
class Criterion:
    """One rubric criterion: a member gives it 0..``maximum`` points; the maxima of a rubric sum to 100."""

    id: str
    name: str
    maximum: int


def check_rubric(rubric: Sequence[Criterion]) -> None:
    if rubric and sum(c.maximum for c in rubric) != 100:
        raise ScaleError(f"the rubric's maxima sum to {sum(c.maximum for c in rubric)}, not 100")
    if len({c.id for c in rubric}) != len(rubric):
        raise ScaleError("rubric criteria need distinct ids")


def rubric_points(rubric: Sequence[Criterion], given: Mapping[str, object]) -> int:
    """A member's points from their points per criterion: every criterion given, nothing else, each in range."""
    ids = [c.id for c in rubric]
    if not rubric:
        raise PointsError("this sitting grades without a rubric: give points, not criteria")
    unknown = sorted(set(given) - set(ids))
    if unknown:
        raise PointsError(f"unknown criteria {unknown}; the rubric has: {', '.join(ids)}")
    missing = [i for i in ids if i not in given]
    if missing:
        raise PointsError(f"points missing for criteria: {', '.join(missing)}")
    return sum(check_points(given[c.id], maximum=c.maximum, what=f"criterion {c.id!r}") for c in rubric)


def _mean_half_up(values: Sequence[int]) -> int:
    n = len(values)
    return (2 * sum(values) + n) // (2 * n)


def aggregate(points: Mapping[int, int], *, chair: int, rule: str, scale: GradingScale) -> int:
    """The committee's points for one student under ``rule`` (see AGGREGATION_RULES); keys are member ids."""
    if rule not in AGGREGATION_RULES:
        raise ScaleError(f"unknown aggregation rule {rule!r} (known: {', '.join(AGGREGATION_RULES)})")
    if not points:
        raise PointsError("no member has entered points")
    for v in points.values():
        check_points(v)
    if rule == "mean":
        return _mean_half_up(list(points.values()))
    if chair not in points:
        raise PointsError(f"the rule {rule!r} needs the chair's points, and the chair has not entered them")
    if rule == "chair":
        return points[chair]
    by_letter: dict[str, list[int]] = {}
    for v in points.values():
        by_letter.setdefault(scale.band(v).letter, []).append(v)
    most = max(len(v) for v in by_letter.values())
    tied = [letter for letter, v in by_letter.items() if len(v) == most]
    if len(tied) == 1:
        return _mean_half_up(by_letter[tied[0]])
    chair_letter = scale.band(points[chair]).letter
    if chair_letter in tied:
        return _mean_half_up(by_letter[chair_letter])
    return points[chair]
