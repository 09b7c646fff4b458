"""Shared by the recording tests: decode a recorded track with PyAV (an independent reader of WebM/Matroska)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av


@dataclass
class Decoded:
    codec: str
    frames: int
    keyframe_first: bool
    last_time: float  # seconds, the last decoded frame's timestamp
    width: int | None = None
    height: int | None = None
    errors: int = 0


def decode_track(path: Path) -> Decoded:
    """Decode every frame of a track file (the whole file must decode; a broken frame counts as an error)."""
    with av.open(str(path)) as container:
        stream = container.streams[0]
        frames = errors = 0
        first_key = False
        last = 0.0
        width = height = None
        packets = container.demux(stream)
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                break
            except av.FFmpegError:  # a file cut short mid-cluster (kill, full disk): it ends there
                break
            if packet.size == 0:
                continue
            try:
                decoded = packet.decode()
            except av.FFmpegError:
                errors += 1
                continue
            for frame in decoded:
                if frames == 0:
                    first_key = bool(getattr(frame, "key_frame", True))
                frames += 1
                if frame.pts is not None:
                    last = float(frame.pts * frame.time_base)
                if stream.type == "video":
                    width, height = frame.width, frame.height
        return Decoded(stream.codec_context.name, frames, first_key, last, width, height, errors)
