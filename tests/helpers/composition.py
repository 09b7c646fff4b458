"""Recording folders made with ffmpeg (docs/recording-format.md) and independent looks at what the composer made.

    folder = make_recording(tmp, [VideoTrack("ta", "a", "Ana", colour="red", start=0, seconds=8), ...], events)
    rgb = frame_at(Path("lecture.mp4"), 4.0)             # numpy H×W×3 of the frame shown at 4.0 s
    peak_frequency(samples, rate, 1.0, 3.0)

Video tracks are solid colours in VP8 WebM, audio tracks sine tones in Opus WebM, as a
publisher with a fake camera and microphone would send them.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np

from media.transcode.ffmpeg import FFmpeg


@dataclass(frozen=True)
class VideoTrack:
    id: str
    participant_id: str
    display_name: str
    colour: str = "red"
    start: float = 0.0
    seconds: float = 4.0
    source: str = "camera"
    size: str = "320x240"
    rate: int = 15
    flash_at: float | None = None  # seconds into the file: two white frames on black instead of a colour
    pattern: str | None = None  # a lavfi source instead of the colour, e.g. "testsrc2" (moving, as a camera)


@dataclass(frozen=True)
class AudioTrack:
    id: str
    participant_id: str
    display_name: str
    frequency: int = 440
    start: float = 0.0
    seconds: float = 4.0
    beep_at: float | None = None  # seconds into the file: a 100 ms tone in silence instead of a steady tone


def _ff() -> str:
    return FFmpeg.locate().binary


def _run(args: list[str]) -> None:
    subprocess.run([_ff(), "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


def write_video(path: Path, t: VideoTrack) -> None:
    if t.pattern is not None:
        src = f"{t.pattern}=s={t.size}:r={t.rate}:d={t.seconds}"
    elif t.flash_at is None:
        src = f"color=c={t.colour}:s={t.size}:r={t.rate}:d={t.seconds}"
    else:
        src = (f"color=c=black:s={t.size}:r={t.rate}:d={t.seconds},"
               f"drawbox=c=white:t=fill:enable='between(t,{t.flash_at},{t.flash_at + 0.1})'")  # fmt: skip
    _run(["-f", "lavfi", "-i", src, "-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "300k",
          "-g", str(t.rate * 2), "-f", "webm", str(path)])  # fmt: skip


def write_audio(path: Path, t: AudioTrack) -> None:
    if t.beep_at is None:
        src = f"sine=frequency={t.frequency}:sample_rate=48000:duration={t.seconds}"
        filt = ["-af", "volume=0.5"]
    else:
        src = f"sine=frequency={t.frequency}:sample_rate=48000:duration={t.seconds}"
        filt = ["-af", f"volume=4,volume=enable='not(between(t,{t.beep_at},{t.beep_at + 0.1}))':volume=0"]
    _run(
        [
            "-f",
            "lavfi",
            "-i",
            src,
            *filt,
            "-c:a",
            "libopus",
            "-b:a",
            "48k",
            "-ac",
            "1",
            "-f",
            "webm",
            str(path),
        ]
    )


def make_recording(folder: Path, tracks: list[VideoTrack | AudioTrack], events: list[dict[str, Any]], *,
                   session_id: str = "7", recording_id: str = "r1", status: str = "complete") -> Path:  # fmt: skip
    """A recorder's folder: tracks written with ffmpeg, manifest.json and timeline.jsonl as the recorder writes them."""
    (folder / "tracks").mkdir(parents=True, exist_ok=True)
    entries = []
    for t in tracks:
        path = folder / "tracks" / f"{t.id}.webm"
        if isinstance(t, VideoTrack):
            write_video(path, t)
            w, h = (int(x) for x in t.size.split("x"))
            entries.append({"id": t.id, "participant_id": t.participant_id, "display_name": t.display_name,
                            "kind": "video", "source": t.source, "codec": "vp8", "file": f"tracks/{t.id}.webm",
                            "start": t.start, "end": t.start + t.seconds, "width": w, "height": h,
                            "status": "complete"})  # fmt: skip
        else:
            write_audio(path, t)
            entries.append({"id": t.id, "participant_id": t.participant_id, "display_name": t.display_name,
                            "kind": "audio", "source": "microphone", "codec": "opus", "file": f"tracks/{t.id}.webm",
                            "start": t.start, "end": t.start + t.seconds, "status": "complete"})  # fmt: skip
    end = max([t.start + t.seconds for t in tracks] + [e["t"] for e in events])
    manifest = {"format": "aulacast-recording/1", "session_id": session_id, "recording_id": recording_id,
                "status": status, "started_at": "2026-12-02T10:00:00.000Z", "ended_at": "2026-12-02T10:00:08.000Z",
                "reason": None, "tracks": entries}  # fmt: skip
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1))
    lines = [json.dumps({"at": "2026-12-02T10:00:00Z", **e}) for e in sorted(events, key=lambda e: e["t"])]
    (folder / "timeline.jsonl").write_text("\n".join(lines) + "\n")
    assert end > 0
    return folder


def three_party(folder: Path) -> Path:
    """Ana (red camera, 440 Hz) speaks 0.5–3.8 s, Ben (green camera from 1 s, 1000 Hz from 4 s) from 4.2 s;
    Ana shares her screen (blue) from 5 s; chat at 2 s and 6 s; Ana presents, then Ben from 4 s."""
    tracks: list[VideoTrack | AudioTrack] = [
        VideoTrack("va", "a", "Ana", "red", 0.0, 8.0),
        AudioTrack("aa", "a", "Ana", 440, 0.0, 4.0),
        VideoTrack("vb", "b", "Ben", "green", 1.0, 7.0),
        AudioTrack("ab", "b", "Ben", 1000, 4.0, 4.0),
        VideoTrack("vs", "a", "Ana", "blue", 5.0, 3.0, source="screen", size="640x360"),
    ]
    events = [
        {"t": 0.0, "type": "join", "participant_id": "a", "display_name": "Ana", "role": "host"},
        {
            "t": 0.1,
            "type": "publish",
            "participant_id": "a",
            "track_id": "va",
            "kind": "video",
            "source": "camera",
        },
        {"t": 0.2, "type": "presenter", "participant_id": "a"},
        {"t": 0.5, "type": "speaking", "participant_id": "a", "level_dbov": -20},
        {"t": 0.8, "type": "join", "participant_id": "b", "display_name": "Ben", "role": "participant"},
        {
            "t": 2.0,
            "type": "chat",
            "participant_id": "a",
            "display_name": "Ana",
            "text": "hello <all> & welcome",
            "message_id": "m1",
        },
        {"t": 3.8, "type": "silent", "participant_id": "a"},
        {"t": 4.0, "type": "presenter", "participant_id": "b"},
        {"t": 4.2, "type": "speaking", "participant_id": "b", "level_dbov": -20},
        {"t": 5.0, "type": "screenshare", "participant_id": "a", "track_id": "vs", "on": True},
        {
            "t": 6.0,
            "type": "chat",
            "participant_id": "b",
            "display_name": "Ben",
            "text": "a question --> why?",
            "message_id": "m2",
        },
        {"t": 6.5, "type": "future_kind", "whatever": 1},
        {"t": 7.9, "type": "silent", "participant_id": "b"},
    ]
    return make_recording(folder, tracks, events)


def video_frames(path: Path) -> list[tuple[float, np.ndarray]]:
    """Every frame of the first video stream as (time, RGB array), decoded by PyAV."""
    out = []
    with av.open(str(path)) as c:
        for frame in c.decode(video=0):
            out.append((float(frame.time), frame.to_ndarray(format="rgb24")))
    return out


def frame_at(frames: list[tuple[float, np.ndarray]], t: float) -> np.ndarray:
    return min(frames, key=lambda f: abs(f[0] - t))[1]


def colour_of(region: np.ndarray) -> str:
    """The name of a region's mean colour: red, green, blue, black or white (or 'mixed')."""
    r, g, b = (float(x) for x in region.reshape(-1, 3).mean(axis=0))
    if max(r, g, b) < 40:
        return "black"
    if min(r, g, b) > 200:
        return "white"
    for name, (hi, lo1, lo2) in {"red": (r, g, b), "green": (g, r, b), "blue": (b, r, g)}.items():
        if hi > 90 and lo1 < 60 and lo2 < 60:
            return name
    return "mixed"


def audio_samples(path: Path) -> tuple[np.ndarray, int]:
    """The first audio stream as mono float samples and the rate, decoded by PyAV."""
    chunks = []
    rate = 48000
    with av.open(str(path)) as c:
        stream = c.streams.audio[0]
        rate = stream.rate
        resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
        for frame in c.decode(stream):
            for out in resampler.resample(frame):
                chunks.append(out.to_ndarray().reshape(-1))
    return np.concatenate(chunks), rate


def peak_frequency(samples: np.ndarray, rate: int, a: float, b: float) -> tuple[float, float]:
    """The strongest frequency between a and b seconds, and the window's RMS."""
    w = samples[int(a * rate) : int(b * rate)]
    spectrum = np.abs(np.fft.rfft(w * np.hanning(len(w))))
    freqs = np.fft.rfftfreq(len(w), 1 / rate)
    return float(freqs[int(np.argmax(spectrum))]), float(np.sqrt(np.mean(w**2)))


def lecture(folder: Path, seconds: float = 20.0, *, session_id: str = "7") -> Path:
    """A longer three-party session (speaker changes every few seconds, a screen share in the second half)."""
    third = seconds / 3
    tracks: list[VideoTrack | AudioTrack] = [
        VideoTrack("va", "a", "Ana", "red", 0.0, seconds),
        AudioTrack("aa", "a", "Ana", 440, 0.0, seconds),
        VideoTrack("vb", "b", "Ben", "green", 0.5, seconds - 0.5),
        AudioTrack("ab", "b", "Ben", 1000, 0.5, seconds - 0.5),
        VideoTrack("vc", "c", "Cam", "yellow", 1.0, seconds - 1.0),
        AudioTrack("ac", "c", "Cam", 700, 1.0, seconds - 1.0),
        VideoTrack(
            "vs", "a", "Ana", "blue", seconds / 2, seconds / 2, source="screen", size="1280x720", rate=5
        ),
    ]
    events: list[dict[str, Any]] = [
        {"t": 0.1, "type": "presenter", "participant_id": "a"},
        {"t": seconds / 2, "type": "screenshare", "participant_id": "a", "track_id": "vs", "on": True},
    ]
    t, who = 0.5, 0
    while t < seconds:
        events.append({"t": round(t, 3), "type": "speaking", "participant_id": "abc"[who % 3]})
        if who % 7 == 6:
            events.append({"t": round(t, 3), "type": "presenter", "participant_id": "abc"[who % 3]})
        t += min(third, 4.0)
        who += 1
    return make_recording(folder, tracks, events, session_id=session_id)
