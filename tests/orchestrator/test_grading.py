"""The letter-point scale (§30) at every band boundary, its FX edition, and the scale as configuration."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.config import GradingSettings, load_settings
from orchestrator.errors import ConfigError
from orchestrator.grading import SECTION_30, SECTION_30_FX, Mark, ScaleError, scale_of

E, G, S, U = Mark.EXCELLENT, Mark.GOOD, Mark.SATISFACTORY, Mark.UNSATISFACTORY

# (points, letter, grade point, mark) at both ends of every band of the regulation's table (SEED §30)
SECTION_30_TABLE = [
    (0, "F", 0.0, U), (24, "F", 0.0, U), (25, "F", 0.0, U), (49, "F", 0.0, U),
    (50, "D", 1.0, S), (54, "D", 1.0, S), (55, "D+", 1.33, S), (59, "D+", 1.33, S),
    (60, "C-", 1.67, S), (64, "C-", 1.67, S), (65, "C", 2.0, S), (69, "C", 2.0, S),
    (70, "C+", 2.33, G), (74, "C+", 2.33, G), (75, "B-", 2.67, G), (79, "B-", 2.67, G),
    (80, "B", 3.0, G), (84, "B", 3.0, G), (85, "B+", 3.33, G), (89, "B+", 3.33, G),
    (90, "A-", 3.67, E), (94, "A-", 3.67, E), (95, "A", 4.0, E), (100, "A", 4.0, E),
]  # fmt: skip
FX_TABLE = [(0, "F", 0.0, U), (24, "F", 0.0, U), (25, "FX", 0.5, U), (49, "FX", 0.5, U)] + SECTION_30_TABLE[4:]


@pytest.mark.parametrize(("points", "letter", "grade_point", "mark"), SECTION_30_TABLE)
def test_section_30_at_every_boundary(points: int, letter: str, grade_point: float, mark: Mark) -> None:
    g = SECTION_30.grade(points)
    assert (g.points, g.letter, g.grade_point, g.mark, g.passed) == (points, letter, grade_point, mark, points >= 50)


@pytest.mark.parametrize(("points", "letter", "grade_point", "mark"), FX_TABLE)
def test_fx_edition_at_every_boundary(points: int, letter: str, grade_point: float, mark: Mark) -> None:
    g = SECTION_30_FX.grade(points)
    assert (g.letter, g.grade_point, g.mark, g.passed) == (letter, grade_point, mark, points >= 50)


def test_every_point_has_exactly_one_band() -> None:
    for scale in (SECTION_30, SECTION_30_FX):
        letters = [scale.grade(p).letter for p in range(101)]
        assert [b.letter for b in reversed(scale.bands)] == list(dict.fromkeys(letters))


@pytest.mark.parametrize("points", [-1, 101, True, 50.0, "50"])
def test_points_outside_the_scale_are_refused(points: object) -> None:
    with pytest.raises(ValueError, match="whole number 0–100"):
        SECTION_30.grade(points)  # type: ignore[arg-type]


def test_own_rows_take_the_regulation_mark_of_their_letter() -> None:
    own = scale_of([[90, "A", 4.0], [60, "C", 2.0], [0, "F", 0.0]], pass_points=60)
    assert (own.grade(59).passed, own.grade(60).letter, own.grade(60).mark) == (False, "C", S)
    named = scale_of([[50, "P", 1.0, "satisfactory"], [0, "N", 0.0, "unsatisfactory"]])
    assert named.grade(50).mark is S
    for rows, message in [
        ([[50, "P", 1.0], [0, "F", 0.0]], "letter 'P' is not on the regulation's table"),
        ([[50, "D", 1.0], [10, "F", 0.0]], "down to 0"),
        ([[50, "D", 1.0], [50, "F", 0.0], [0, "F", 0.0]], "distinct"),
        ([[0, "F", 0.0, "awful"]], "mark 'awful'"),
    ]:
        with pytest.raises(ScaleError, match=message):
            scale_of(rows)
    with pytest.raises(ScaleError, match="unknown scale 'ects'.*section30, section30-fx"):
        scale_of("ects")


def test_settings_hold_only_which_scale(tmp_path: Path) -> None:
    cfg = tmp_path / "a.toml"
    cfg.write_text("")
    assert load_settings(cfg).grading.scale == "section30"
    assert not hasattr(GradingSettings, "letter")  # the rules are in orchestrator.grading
    cfg.write_text('[grading]\nscale = "section30-fx"\n')
    g = load_settings(cfg).grading
    assert scale_of(g.scale, g.pass_points).grade(30).letter == "FX"
    cfg.write_text('[grading]\nscale = [[50, "D", 1.0], [0, "F", 0.0]]\n')
    assert scale_of(load_settings(cfg).grading.scale).grade(49).letter == "F"
    cfg.write_text('[grading]\nscale = "ects"\n')
    with pytest.raises(ConfigError, match=r"grading\.scale.*unknown scale 'ects'"):
        load_settings(cfg)
