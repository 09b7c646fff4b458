"""EBU R128: the plan is pure and tested as such; normalisation is checked by a second, separate measurement."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from media.transcode.loudness import (
    DYNAMIC,
    GENERATED_SILENCE,
    INTEGRATED_OFF_TARGET,
    RANGE_ABOVE_TARGET,
    SILENCE,
    TRUE_PEAK_LIMITS_GAIN,
    TRUE_PEAK_OVER,
    Loudness,
    LoudnessError,
    assess,
    measure,
    normalise,
    parse_ebur128_summary,
    parse_loudnorm_summary,
    plan_normalisation,
)
from media.transcode.profiles import LoudnessTarget
from tests.helpers.media import ebur128, make_clip

R128 = LoudnessTarget(integrated=-23.0, true_peak=-1.0, range=20.0)

EBUR128_TAIL = """
[Parsed_ebur128_0 @ 0x557656a40d80] Summary:

  Integrated loudness:
    I:         -25.3 LUFS
    Threshold: -37.2 LUFS

  Loudness range:
    LRA:         8.2 LU
    Threshold: -47.2 LUFS
    LRA low:   -33.1 LUFS
    LRA high:  -25.0 LUFS

  True peak:
    Peak:      -21.4 dBFS
"""

LOUDNORM_TAIL = """[Parsed_loudnorm_1 @ 0x556ca3bd2f40]
{
\t"input_i" : "-24.97",
\t"input_tp" : "-21.42",
\t"input_lra" : "0.00",
\t"input_thresh" : "-34.97",
\t"output_i" : "-23.01",
\t"output_tp" : "-19.45",
\t"output_lra" : "0.10",
\t"output_thresh" : "-33.01",
\t"normalization_type" : "dynamic",
\t"target_offset" : "0.01"
}
[out#0/null @ 0x5599c76455c0] video:0KiB audio:3750KiB
"""


def test_parse_ebur128_summary() -> None:
    assert parse_ebur128_summary("frame lines\n" + EBUR128_TAIL) == Loudness(-25.3, 8.2, -21.4, -37.2)
    silent = EBUR128_TAIL.replace("-25.3", "-70.0").replace("-21.4", "-inf")
    value = parse_ebur128_summary(silent)
    assert value.silent and value.true_peak == -math.inf and value.threshold == -70.0
    with pytest.raises(LoudnessError, match="no loudness summary"):
        parse_ebur128_summary("nothing here")


def test_parse_loudnorm_summary() -> None:
    summary = parse_loudnorm_summary(LOUDNORM_TAIL)
    assert summary is not None
    assert summary.normalization_type == "dynamic"
    assert (summary.input_i, summary.output_i, summary.target_offset) == (-24.97, -23.01, 0.01)
    assert parse_loudnorm_summary("no json") is None


def test_plan_linear_gain_when_peak_allows() -> None:
    plan = plan_normalisation(Loudness(-30.0, 6.0, -12.0, -40.0), R128)
    assert plan.linear and plan.flags == ()
    assert plan.gain_db == pytest.approx(7.0)
    assert plan.predicted_true_peak == pytest.approx(-5.0)
    f = plan.audio_filter
    assert f.startswith("loudnorm=I=-23:TP=-1:LRA=20:measured_I=-30.00:measured_TP=-12.00:measured_LRA=6.00")
    assert "linear=true" in f and "print_format=json" in f and f.endswith(",aresample=48000")


def test_plan_flags_a_target_the_true_peak_forbids() -> None:
    plan = plan_normalisation(Loudness(-36.0, 3.0, -2.2, -46.0), R128)
    assert not plan.linear
    assert plan.flags == (TRUE_PEAK_LIMITS_GAIN,)
    assert plan.predicted_true_peak == pytest.approx(10.8)


def test_plan_flags_a_range_above_target_and_steady_tones_stay_linear() -> None:
    assert plan_normalisation(Loudness(-25.0, 22.0, -15.0, -35.0), R128).flags == (RANGE_ABOVE_TARGET,)
    steady = plan_normalisation(Loudness(-25.0, 0.0, -15.0, -35.0), R128)
    assert steady.linear and "measured_LRA=0.10" in steady.audio_filter


def test_assess_collects_every_flag() -> None:
    plan = plan_normalisation(Loudness(-36.0, 3.0, -2.2, -46.0), R128)
    report = assess(plan, Loudness(-24.0, 0.1, -0.9, -34.0), summary=parse_loudnorm_summary(LOUDNORM_TAIL))
    assert report.normalization_type == "dynamic"
    assert report.flags == (TRUE_PEAK_LIMITS_GAIN, DYNAMIC, INTEGRATED_OFF_TARGET, TRUE_PEAK_OVER)
    assert not report.target_met
    good = assess(plan_normalisation(Loudness(-30, 6, -12, -40), R128), Loudness(-23.1, 6, -5.2, -33))
    assert good.target_met and good.flags == () and good.normalization_type == "linear"
    silence = assess(plan_normalisation(SILENCE, R128), SILENCE, generated_silence=True)
    assert silence.flags == (GENERATED_SILENCE,) and silence.normalization_type == "none"
    assert silence.as_dict()["after"]["true_peak"] is None  # JSON has no -inf


def test_normalise_lands_on_target_by_an_independent_measurement(tmp_path: Path) -> None:
    source = make_clip(tmp_path / "talk.mp4", seconds=4, size="160x120")
    out = tmp_path / "talk-r128.mp4"
    report = normalise(source, out, R128)
    assert report.before.integrated < -27  # the test clip is quiet: gain must be applied
    assert report.normalization_type == "linear" and report.flags == () and report.target_met
    integrated, peak = ebur128(out)
    assert integrated == pytest.approx(-23.0, abs=0.5)
    assert peak <= -1.0
    assert report.after.integrated == pytest.approx(integrated, abs=0.2)
    # the report's "after" is a real measurement of the file, not the target echoed back
    assert report.after == measure(out)


def test_clip_without_audio_gets_silence(tmp_path: Path) -> None:
    source = make_clip(tmp_path / "mute.mp4", seconds=2, size="160x120", audio=None)
    out = tmp_path / "mute-r128.mp4"
    report = normalise(source, out, R128)
    assert report.flags == (GENERATED_SILENCE,)
    assert report.after.silent and not report.target_met
    assert measure(out).integrated == -70.0


def test_quiet_clip_with_a_big_peak_is_flagged_not_passed(tmp_path: Path) -> None:
    source = make_clip(tmp_path / "peaky.mkv", seconds=3, size="160x120", audio="peaky", sample_rate=48000)
    out = tmp_path / "peaky-r128.mkv"
    report = normalise(source, out, R128, audio_codec_args=("-c:a", "pcm_s16le"))
    assert TRUE_PEAK_LIMITS_GAIN in report.flags
    assert report.normalization_type == "dynamic" and DYNAMIC in report.flags
    # whatever loudnorm managed, the record says it from a measurement of the output
    integrated, peak = ebur128(out)
    assert report.after.integrated == pytest.approx(integrated, abs=0.2)
    assert (INTEGRATED_OFF_TARGET in report.flags) == (abs(report.after.integrated + 23.0) > 0.5)
    assert (TRUE_PEAK_OVER in report.flags) == (report.after.true_peak > -1.0)
