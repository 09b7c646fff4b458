"""Committee points → one grade (§30): each rule, the rounding at every band boundary of both shipped scales."""

from __future__ import annotations

import pytest

from orchestrator.grading import (
    SECTION_30,
    SECTION_30_FX,
    Criterion,
    PointsError,
    ScaleError,
    aggregate,
    check_points,
    check_rubric,
    rubric_points,
)

CHAIR = 1


@pytest.mark.parametrize("scale", [SECTION_30, SECTION_30_FX], ids=lambda s: s.name)
def test_mean_rounds_half_up_onto_each_band_at_its_boundary(scale) -> None:  # type: ignore[no-untyped-def]
    for band in scale.bands:
        m = band.minimum
        if m == 0:
            continue
        # half a point below the minimum rounds up into the band; a whole point below stays in the band under it
        at = scale.grade(aggregate({1: m, 2: m - 1}, chair=CHAIR, rule="mean", scale=scale))
        below = scale.grade(aggregate({1: m - 1, 2: m - 1, 3: m}, chair=CHAIR, rule="mean", scale=scale))
        assert (at.points, at.letter, at.grade_point, at.mark) == (m, band.letter, band.grade_point, band.mark)
        assert below.points == m - 1 and below.letter != band.letter
        assert below.letter == scale.band(m - 1).letter


@pytest.mark.parametrize(("points", "letter", "grade_point", "mark", "passed"), [
    (100, "A", 4.0, 5, True), (95, "A", 4.0, 5, True), (94, "A-", 3.67, 5, True), (90, "A-", 3.67, 5, True),
    (89, "B+", 3.33, 4, True), (85, "B+", 3.33, 4, True), (84, "B", 3.0, 4, True), (80, "B", 3.0, 4, True),
    (79, "B-", 2.67, 4, True), (75, "B-", 2.67, 4, True), (74, "C+", 2.33, 4, True), (70, "C+", 2.33, 4, True),
    (69, "C", 2.0, 3, True), (65, "C", 2.0, 3, True), (64, "C-", 1.67, 3, True), (60, "C-", 1.67, 3, True),
    (59, "D+", 1.33, 3, True), (55, "D+", 1.33, 3, True), (54, "D", 1.0, 3, True), (50, "D", 1.0, 3, True),
    (49, "FX", 0.5, 2, False), (25, "FX", 0.5, 2, False), (24, "F", 0.0, 2, False), (0, "F", 0.0, 2, False),
])  # fmt: skip
def test_chair_rule_every_boundary_on_the_fx_scale(points: int, letter: str, grade_point: float, mark: int,
                                                   passed: bool) -> None:
    got = aggregate({CHAIR: points, 2: 100 - points, 3: 0}, chair=CHAIR, rule="chair", scale=SECTION_30_FX)
    g = SECTION_30_FX.grade(got)
    assert (g.points, g.letter, g.grade_point, g.mark.value, g.passed) == (points, letter, grade_point, mark, passed)
    assert SECTION_30.grade(got).letter == ("F" if letter == "FX" else letter)


def test_mean_of_members_includes_the_chair() -> None:
    assert aggregate({1: 90, 2: 80, 3: 71}, chair=1, rule="mean", scale=SECTION_30) == 80  # 80.33
    assert aggregate({1: 90, 2: 81}, chair=1, rule="mean", scale=SECTION_30) == 86  # 85.5 rounds half up


def test_majority_letter_wins_and_the_chair_decides_ties() -> None:
    # two B+ against one A: B+ wins, its points averaged
    assert aggregate({1: 96, 2: 86, 3: 88}, chair=1, rule="majority", scale=SECTION_30) == 87
    # A against B+ (two members): the chair's letter decides
    assert aggregate({1: 96, 2: 86}, chair=1, rule="majority", scale=SECTION_30) == 96
    assert aggregate({1: 86, 2: 96}, chair=1, rule="majority", scale=SECTION_30) == 86
    # a 2-2 tie between A and B+ while the chair gave a C: the chair's points stand
    assert aggregate({1: 66, 2: 96, 3: 97, 4: 86, 5: 87}, chair=1, rule="majority", scale=SECTION_30) == 66


def test_rules_needing_the_chair_refuse_without_the_chairs_points() -> None:
    with pytest.raises(PointsError, match="chair"):
        aggregate({2: 80}, chair=1, rule="chair", scale=SECTION_30)
    with pytest.raises(PointsError, match="no member"):
        aggregate({}, chair=1, rule="mean", scale=SECTION_30)
    with pytest.raises(ScaleError, match="unknown aggregation rule"):
        aggregate({1: 80}, chair=1, rule="median", scale=SECTION_30)


@pytest.mark.parametrize("bad", [101, -1, 80.0, 79.5, "80", True, False, None, [80]])
def test_points_are_whole_numbers_0_to_100(bad: object) -> None:
    with pytest.raises(PointsError, match="whole number 0–100"):
        check_points(bad)


def test_rubric_points_sum_and_refusals() -> None:
    rubric = [Criterion("content", "Content", 50), Criterion("talk", "Presentation", 30), Criterion("answers", "Answers", 20)]
    check_rubric(rubric)
    assert rubric_points(rubric, {"content": 45, "talk": 30, "answers": 12}) == 87
    with pytest.raises(PointsError, match="criterion 'talk' must be a whole number 0–30"):
        rubric_points(rubric, {"content": 45, "talk": 31, "answers": 12})
    with pytest.raises(PointsError, match="missing for criteria: answers"):
        rubric_points(rubric, {"content": 45, "talk": 30})
    with pytest.raises(PointsError, match="unknown criteria"):
        rubric_points(rubric, {"content": 45, "talk": 30, "answers": 1, "style": 3})
    with pytest.raises(ScaleError, match="sum to 90"):
        check_rubric(rubric[:2] + [Criterion("answers", "Answers", 10)])
