"""EBU R128 loudness: measure a programme, plan its two-pass normalisation, judge the result.

    before = measure(Path("lecture.mp4"))                    # ebur128: I, LRA, true peak, threshold
    plan = plan_normalisation(before, profile.loudness)       # gain, linear or not, the filter to apply
    report = normalise(Path("lecture.mp4"), Path("out.mp4"), profile.loudness)
    report.before, report.after, report.normalization_type, report.flags

The first pass measures with ``ebur128`` (about 7x faster than a ``loudnorm``
analysis pass here, and the same quantities); the second applies ``loudnorm``
with ``linear=true`` and those ``measured_*`` values, then resamples its
192 kHz output back to 48 kHz. ``loudnorm`` silently switches to dynamic
(compressing, limiting) when the gain would push the true peak above target
or the loudness range exceeds the target range, so the plan predicts it, the
second pass's JSON summary confirms it, and the result is measured again,
independently, rather than assumed. A programme that cannot reach the target
within the true-peak limit is recorded and flagged, never passed quietly.
"""

from __future__ import annotations

import json
import math
import os
import re
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from media.errors import MediaError
from media.transcode.ffmpeg import FFmpeg, ProgressCallback, RunResult
from media.transcode.probe import probe
from media.transcode.profiles import LoudnessTarget

SILENCE_LUFS = -70.0  # ebur128's absolute gate: anything quieter reads as -70

# Flags a report can carry (strings, so they serialise into asset records as they are).
GENERATED_SILENCE = "generated_silence"  # the input had no audio; silence was put in its place
SILENT = "silent"  # the input's audio is silence; nothing to normalise
TRUE_PEAK_LIMITS_GAIN = "true_peak_limits_gain"  # the gain to target would push the true peak over the limit
RANGE_ABOVE_TARGET = "range_above_target"  # loudness range above the target range: loudnorm goes dynamic
DYNAMIC = "dynamic"  # loudnorm fell back from linear gain to dynamic processing
INTEGRATED_OFF_TARGET = "integrated_off_target"  # measured result outside target +- tolerance
TRUE_PEAK_OVER = "true_peak_over"  # measured result's true peak above the limit


class LoudnessError(MediaError):
    """A loudness measurement that could not be made or read."""


@dataclass(frozen=True)
class Loudness:
    """One EBU R128 measurement: integrated (LUFS), range (LU), true peak (dBTP), gating threshold (LUFS)."""

    integrated: float
    range: float
    true_peak: float
    threshold: float

    @property
    def silent(self) -> bool:
        return self.integrated <= SILENCE_LUFS + 0.05 or self.true_peak == -math.inf

    def as_dict(self) -> dict[str, float | None]:
        # JSON has no infinity: a true peak of -inf (digital silence) is written as null.
        return {k: (None if math.isinf(v) else v) for k, v in asdict(self).items()}


SILENCE = Loudness(integrated=SILENCE_LUFS, range=0.0, true_peak=-math.inf, threshold=SILENCE_LUFS)


@dataclass(frozen=True)
class LoudnormSummary:
    """The JSON ``loudnorm`` prints with ``print_format=json`` at the end of a pass."""

    input_i: float
    input_tp: float
    input_lra: float
    input_thresh: float
    output_i: float
    output_tp: float
    output_lra: float
    output_thresh: float
    normalization_type: str
    target_offset: float


@dataclass(frozen=True)
class LoudnessPlan:
    """How to bring a measured programme to target: the gain, whether it stays linear, the filter."""

    target: LoudnessTarget
    measured: Loudness
    gain_db: float
    predicted_true_peak: float
    linear: bool
    flags: tuple[str, ...]
    audio_filter: str  # applied after the channel layout is conformed; ends at 48 kHz

    @property
    def silent(self) -> bool:
        return self.measured.silent


@dataclass(frozen=True)
class LoudnessReport:
    """What happened to a programme's loudness: both measurements, the mode used, and every flag."""

    target: LoudnessTarget
    before: Loudness
    after: Loudness
    gain_db: float
    normalization_type: str  # "linear", "dynamic", or "none" (silence)
    flags: tuple[str, ...] = field(default_factory=tuple)

    @property
    def target_met(self) -> bool:
        """The second measurement is within tolerance of the target and under the true-peak limit."""
        return INTEGRATED_OFF_TARGET not in self.flags and TRUE_PEAK_OVER not in self.flags and not self.after.silent

    def as_dict(self) -> dict[str, object]:
        return {
            "target": asdict(self.target),
            "before": self.before.as_dict(),
            "after": self.after.as_dict(),
            "gain_db": round(self.gain_db, 2),
            "normalization_type": self.normalization_type,
            "flags": list(self.flags),
            "target_met": self.target_met,
        }


def channel_layout(channels: int) -> str:
    return {1: "mono", 2: "stereo", 6: "5.1"}.get(channels, f"{channels}c")


def conform_filter(channels: int, sample_rate: int = 48000) -> str:
    """Bring audio to the delivered layout and rate first, so it is measured as it will be heard.

    Measuring a mono track and then sending it as stereo would land 3 LU loud.
    """
    return f"aresample={sample_rate},aformat=channel_layouts={channel_layout(channels)}"


def measure(
    path: str | os.PathLike[str],
    *,
    ffmpeg: FFmpeg | None = None,
    audio_stream: int = 0,
    pre_filter: str | None = None,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
) -> Loudness:
    """Measure ``path``'s audio with ffmpeg's ``ebur128`` (true peak on); ``pre_filter`` runs before it."""
    return measure_run(path, ffmpeg=ffmpeg, audio_stream=audio_stream, pre_filter=pre_filter,
                       progress=progress, cancel=cancel)[0]


def measure_run(
    path: str | os.PathLike[str],
    *,
    ffmpeg: FFmpeg | None = None,
    audio_stream: int = 0,
    pre_filter: str | None = None,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    start: float = 0.0,
    length: float | None = None,
    nice: int = 0,
) -> tuple[Loudness, RunResult]:
    """``measure`` plus what the ffmpeg run cost; ``start``/``length`` measure only that part."""
    ff = ffmpeg or FFmpeg.locate()
    chain = ",".join(f for f in (pre_filter, "ebur128=peak=true:framelog=verbose") if f)
    window = (["-ss", f"{start:.3f}"] if start > 0 else []) + (["-t", f"{length:.3f}"] if length else [])
    args = [*window, "-i", str(path), "-map", f"0:a:{audio_stream}", "-vn", "-sn", "-dn", "-af", chain, "-f", "null", "-"]
    duration = None
    if progress is not None:
        duration = probe(path).duration - start
        duration = min(duration, length) if length else duration
    result = ff.run(args, subject=path, duration=duration, progress=progress, cancel=cancel, nice=nice)
    return parse_ebur128_summary(result.stderr, source=str(path)), result


_SUMMARY_VALUE = re.compile(r"^\s*(I|Threshold|LRA|Peak):\s*(-?inf|-?nan|-?\d+(?:\.\d+)?)\s", re.MULTILINE)


def parse_ebur128_summary(stderr: str, *, source: str = "input") -> Loudness:
    """Read the last ``Summary:`` block ebur128 printed (integrated, its threshold, LRA, true peak)."""
    start = stderr.rfind("Summary:")
    if start < 0:
        raise LoudnessError(f"{source}: ffmpeg's ebur128 printed no loudness summary")
    values: dict[str, float] = {}
    for name, text in _SUMMARY_VALUE.findall(stderr[start:]):
        value = float(text)
        if name == "Threshold":
            values.setdefault("Threshold", value)  # the first threshold is the integrated one
        else:
            values.setdefault(name, value)
    missing = {"I", "Threshold", "LRA", "Peak"} - values.keys()
    if missing:
        raise LoudnessError(f"{source}: ebur128 summary lacks {', '.join(sorted(missing))}")
    integrated = values["I"]
    return Loudness(
        integrated=integrated,
        range=values["LRA"],
        true_peak=values["Peak"] if not math.isnan(values["Peak"]) else -math.inf,
        threshold=values["Threshold"] if integrated > SILENCE_LUFS else SILENCE_LUFS,
    )


def parse_loudnorm_summary(stderr: str) -> LoudnormSummary | None:
    """The last JSON object loudnorm printed, or None when it printed none."""
    end = stderr.rfind("}")
    if end < 0:
        return None
    start = stderr.rfind("{", 0, end)
    if start < 0:
        return None
    try:
        data = json.loads(stderr[start : end + 1])
    except json.JSONDecodeError:
        return None
    if "normalization_type" not in data:
        return None

    def number(key: str) -> float:
        try:
            return float(data[key])
        except (KeyError, TypeError, ValueError):
            return math.nan

    return LoudnormSummary(
        input_i=number("input_i"),
        input_tp=number("input_tp"),
        input_lra=number("input_lra"),
        input_thresh=number("input_thresh"),
        output_i=number("output_i"),
        output_tp=number("output_tp"),
        output_lra=number("output_lra"),
        output_thresh=number("output_thresh"),
        normalization_type=str(data["normalization_type"]),
        target_offset=number("target_offset"),
    )


def plan_normalisation(measured: Loudness, target: LoudnessTarget, *, sample_rate: int = 48000) -> LoudnessPlan:
    """The second pass for ``measured``: pure, so the decision is testable without audio.

    loudnorm keeps linear gain only when ``measured TP + gain <= target TP`` and
    ``measured LRA <= target LRA``; this predicts the same, so the flags say why
    before the encode runs.
    """
    if measured.silent:
        return LoudnessPlan(target, measured, 0.0, measured.true_peak, False, (SILENT,), f"aresample={sample_rate}")
    gain = target.integrated - measured.integrated
    predicted_tp = measured.true_peak + gain
    flags: list[str] = []
    if predicted_tp > target.true_peak:
        flags.append(TRUE_PEAK_LIMITS_GAIN)
    if measured.range > target.range:
        flags.append(RANGE_ABOVE_TARGET)
    # loudnorm treats measured_LRA=0 as "not given" and refuses linear mode; ebur128 rounds a
    # steady tone's range to 0.0, so pass the smallest step it could have rounded from.
    lra = max(measured.range, 0.1)
    thresh = max(min(measured.threshold, 0.0), -99.0)
    loudnorm = (
        f"loudnorm=I={target.integrated:g}:TP={target.true_peak:g}:LRA={target.range:g}"
        f":measured_I={measured.integrated:.2f}:measured_TP={max(min(measured.true_peak, 99.0), -99.0):.2f}"
        f":measured_LRA={lra:.2f}:measured_thresh={thresh:.2f}:offset=0"
        f":linear=true:print_format=json"
    )
    return LoudnessPlan(target, measured, gain, predicted_tp, not flags, tuple(flags),
                        f"{loudnorm},aresample={sample_rate}")


def assess(plan: LoudnessPlan, after: Loudness, *, summary: LoudnormSummary | None = None,
           generated_silence: bool = False) -> LoudnessReport:
    """Judge the second measurement against the target and collect every flag."""
    flags = list(plan.flags)
    if generated_silence:
        flags.insert(0, GENERATED_SILENCE)
        if SILENT in flags:
            flags.remove(SILENT)
    if plan.silent:
        mode = "none"
    else:
        mode = summary.normalization_type if summary is not None else ("linear" if plan.linear else "dynamic")
        if mode == "dynamic":
            flags.append(DYNAMIC)
    target = plan.target
    if not after.silent or not plan.silent:
        if abs(after.integrated - target.integrated) > target.tolerance:
            flags.append(INTEGRATED_OFF_TARGET)
        if after.true_peak > target.true_peak:
            flags.append(TRUE_PEAK_OVER)
    return LoudnessReport(target, plan.measured, after, plan.gain_db, mode, tuple(dict.fromkeys(flags)))


def normalise(
    source: str | os.PathLike[str],
    output: str | os.PathLike[str],
    target: LoudnessTarget,
    *,
    channels: int = 2,
    sample_rate: int = 48000,
    audio_codec_args: Sequence[str] = ("-c:a", "aac", "-b:a", "192k"),
    ffmpeg: FFmpeg | None = None,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
) -> LoudnessReport:
    """Write ``output`` with ``source``'s video copied and its audio normalised to ``target``.

    A source without audio gets silence of its own duration. The result's audio
    is measured again (a separate ebur128 pass over ``output``) for the report.
    """
    ff = ffmpeg or FFmpeg.locate()
    info = probe(source)
    conform = conform_filter(channels, sample_rate)
    if info.has_audio:
        before = measure(source, ffmpeg=ff, pre_filter=conform, cancel=cancel)
        inputs = ["-i", str(source)]
        audio_map = "0:a:0"
    else:
        before = SILENCE
        inputs = ["-i", str(source), "-f", "lavfi", "-t", f"{info.duration:.3f}",
                  "-i", f"anullsrc=r={sample_rate}:cl={channel_layout(channels)}"]
        audio_map = "1:a:0"
    plan = plan_normalisation(before, target, sample_rate=sample_rate)
    chain = f"{conform},{plan.audio_filter}" if info.has_audio else plan.audio_filter
    if info.has_video:
        chain += ",apad"  # a short soundtrack is padded with silence to the picture's length
    args = [
        *inputs,
        "-filter_complex", f"[{audio_map}]{chain}[aout]",
        "-map", "0:v?", "-map", "[aout]",
        "-c:v", "copy", *audio_codec_args, "-ar", str(sample_rate), "-ac", str(channels),
    ]
    if info.has_video:
        args += ["-t", f"{info.duration:.3f}"]  # audio padded/trimmed to the programme
    run = ff.run(args, output=Path(output), subject=source, duration=info.duration, progress=progress, cancel=cancel)
    after = measure(output, ffmpeg=ff, cancel=cancel)
    return assess(plan, after, summary=parse_loudnorm_summary(run.stderr), generated_silence=not info.has_audio)
