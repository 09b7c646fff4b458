"""Composing a recorder's per-track folder into one lecture video (docs/recording-format.md).

    result = compose(recording_folder, out_root, ffmpeg=FFmpeg.locate(), progress=print)
    result.folder / "lecture.mp4", "chat.vtt", "poster.jpg", "chapters.json", "composition.json"

Uses ``media.transcode`` (the ffmpeg runner) and ``fileio``; knows nothing of the orchestrator.
"""

from media.composition.compose import Composition, compose, composition_key, output_folder
from media.composition.recording import CompositionError, Recording, read_recording

__all__ = [
    "Composition",
    "CompositionError",
    "Recording",
    "compose",
    "composition_key",
    "output_folder",
    "read_recording",
]
