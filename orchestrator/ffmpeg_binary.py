"""The one ffmpeg this node uses, found from the settings: ``ffmpeg_path``, else PATH, else the wheel's."""

from __future__ import annotations

from typing import TYPE_CHECKING

from orchestrator.errors import UserError

if TYPE_CHECKING:
    from media.transcode.ffmpeg import FFmpeg


def ffmpeg_from_settings(config_path: str | None) -> FFmpeg:
    """``media.transcode.ffmpeg.FFmpeg.locate`` with the configured path; a missing binary is a ``UserError``."""
    from media.errors import MediaError
    from media.transcode.ffmpeg import FFmpeg
    from orchestrator.config import load_settings

    try:
        return FFmpeg.locate(load_settings(config_path).ffmpeg_path)
    except MediaError as exc:
        raise UserError(str(exc)) from exc
