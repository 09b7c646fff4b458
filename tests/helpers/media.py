"""Small media made on the fly and an independent look at the TS we write (imported explicitly by tests).

The TS reader here is deliberately tiny and separate from ``media.broadcast.dvb.mpegts`` so
packaging tests do not check our output with our own parser only.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from media.transcode.ffmpeg import FFmpeg

# Speech-like: a tone whose level jumps every half second, over a little pink noise.
SPEECH = (
    "aevalsrc='0.05*sin(2*PI*220*t)*(0.25+0.75*gt(mod(t,0.9),0.45))"
    "+0.02*sin(2*PI*523*t)*gt(mod(t,1.3),0.6)':s={rate}:d={seconds}"
)
# Quiet programme with one near-full-scale click: reaching -23 LUFS would push the true peak far over -1.
PEAKY = (
    "aevalsrc='0.03*sin(2*PI*300*t)*(0.3+0.7*gt(mod(t,1),0.5))+0.99*between(t,1.0,1.0001)':s={rate}:d={seconds}"
)


def ffmpeg() -> FFmpeg:
    return FFmpeg.locate()


def ffprobe() -> str | None:
    return shutil.which("ffprobe")


def make_clip(
    path: Path,
    *,
    seconds: float = 2.0,
    size: str = "320x240",
    rate: int = 25,
    audio: str | None = "speech",
    sample_rate: int = 44100,
    video: bool = True,
) -> Path:
    """A tiny lecture-like clip: testsrc2 picture and speech-like (or peaky, or no) sound."""
    args: list[str] = []
    maps: list[str] = []
    if video:
        args += ["-f", "lavfi", "-i", f"testsrc2=s={size}:r={rate}:d={seconds}"]
        maps += ["-map", "0:v"]
    if audio is not None:
        source = {"speech": SPEECH, "peaky": PEAKY}[audio].format(rate=sample_rate, seconds=seconds)
        args += ["-f", "lavfi", "-i", source]
        maps += ["-map", f"{1 if video else 0}:a"]
    codecs = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"] if video else []
    if audio is not None:
        codecs += ["-c:a", "pcm_s16le" if path.suffix == ".mkv" else "aac"]
    ffmpeg().run([*args, *maps, *codecs], output=path)
    return path


def other_ffmpeg() -> str:
    """An ffmpeg build other than the one the code under test uses, when there is one (wheel vs Debian)."""
    import imageio_ffmpeg

    used = ffmpeg().binary
    for candidate in (imageio_ffmpeg.get_ffmpeg_exe(), shutil.which("ffmpeg")):
        if candidate and candidate != used:
            return candidate
    return used


def ebur128(path: Path, binary: str | None = None) -> tuple[float, float]:
    """Integrated loudness and true peak by a separate ebur128 run, by another ffmpeg build where possible."""
    exe = binary or other_ffmpeg()
    out = subprocess.run(
        [exe, "-hide_banner", "-nostats", "-i", str(path), "-map", "0:a:0", "-af", "ebur128=peak=true",
         "-f", "null", "-"],
        capture_output=True, text=True, check=True,
    ).stderr
    summary = out[out.rindex("Summary:"):]
    integrated = float(summary.split("I:")[1].split("LUFS")[0])
    peak = float(summary.split("Peak:")[1].split("dBFS")[0])
    return integrated, peak


@dataclass
class TsTiming:
    """Per-PID counts, CC errors and the clock-derived facts a CBR DVB stream must show."""

    packets: int = 0
    pids: dict[int, int] = field(default_factory=dict)
    cc_errors: int = 0
    pcr_pid: int | None = None
    max_pcr_interval_ms: float = 0.0
    max_pat_interval_ms: float = 0.0
    max_pmt_interval_ms: float = 0.0
    bitrate_per_second: list[float] = field(default_factory=list)
    pcr_bitrates: list[float] = field(default_factory=list)


def ts_timing(path: Path, *, pcr_pid: int, pmt_pid: int) -> TsTiming:
    """Walk the TS: CCs, PCR spacing, PAT/PMT spacing (by PCR-interpolated time) and 1-second bitrates."""
    data = path.read_bytes()
    assert len(data) % 188 == 0 and data[0] == 0x47
    timing = TsTiming(pcr_pid=pcr_pid)
    last_cc: dict[int, int] = {}
    pcrs: list[tuple[int, int]] = []  # (packet index, pcr 27 MHz)
    pat_at: list[int] = []
    pmt_at: list[int] = []
    for index in range(len(data) // 188):
        p = data[index * 188 : index * 188 + 188]
        assert p[0] == 0x47, f"lost sync at packet {index}"
        pid = ((p[1] & 0x1F) << 8) | p[2]
        timing.pids[pid] = timing.pids.get(pid, 0) + 1
        afc = (p[3] >> 4) & 3
        cc = p[3] & 0x0F
        if pid != 0x1FFF and afc & 1:
            if pid in last_cc and cc != (last_cc[pid] + 1) % 16:
                timing.cc_errors += 1
            last_cc[pid] = cc
        if pid == 0:
            pat_at.append(index)
        if pid == pmt_pid:
            pmt_at.append(index)
        if pid == pcr_pid and afc & 2 and p[4] > 0 and p[5] & 0x10:
            base = (p[6] << 25) | (p[7] << 17) | (p[8] << 9) | (p[9] << 1) | (p[10] >> 7)
            ext = ((p[10] & 1) << 8) | p[11]
            pcrs.append((index, base * 300 + ext))
    timing.packets = len(data) // 188
    assert len(pcrs) >= 2, "fewer than two PCRs"
    for (i0, c0), (i1, c1) in zip(pcrs, pcrs[1:], strict=False):
        seconds = (c1 - c0) / 27e6
        timing.max_pcr_interval_ms = max(timing.max_pcr_interval_ms, seconds * 1000)
        timing.pcr_bitrates.append((i1 - i0) * 188 * 8 / seconds)
    # Packet index -> time, by the PCRs (linear between them).
    rate = sum(timing.pcr_bitrates) / len(timing.pcr_bitrates)
    per_packet = 188 * 8 / rate

    def interval(positions: list[int]) -> float:
        # only between the first and the last PCR: the ends carry no clock to time them against
        inside = [i for i in positions if pcrs[0][0] <= i <= pcrs[-1][0]]
        return max(((b - a) * per_packet * 1000 for a, b in zip(inside, inside[1:], strict=False)), default=0.0)

    timing.max_pat_interval_ms = interval(pat_at)
    timing.max_pmt_interval_ms = interval(pmt_at)
    # 1-second windows by the clock: each packet's time interpolated between the PCRs around it.
    times: list[float] = []
    for (i0, c0), (i1, c1) in zip(pcrs, pcrs[1:], strict=False):
        step = (c1 - c0) / 27e6 / (i1 - i0)
        times.extend((c0 - pcrs[0][1]) / 27e6 + (i - i0) * step for i in range(i0, i1))
    whole = int(times[-1])
    counts = [0] * whole
    for t in times:
        if int(t) < whole:
            counts[int(t)] += 1
    timing.bitrate_per_second = [count * 188 * 8 for count in counts]
    return timing
