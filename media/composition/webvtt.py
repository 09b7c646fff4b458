"""Chat as WebVTT cues (``<v Speaker>text``), the form the archive's player and reader expect."""

from __future__ import annotations

from collections.abc import Sequence

from media.composition.layout import ChatCue


def timestamp(seconds: float) -> str:
    ms = max(0, round(seconds * 1000))
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def escape(text: str) -> str:
    # "&", "<" and ">" are escaped so "-->" cannot appear; a blank line would end the cue, so none is kept.
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return "\n".join(line for line in text.splitlines() if line.strip()) or " "


def to_webvtt(cues: Sequence[ChatCue], note: str = "chat of the session, on the video's clock") -> str:
    out = ["WEBVTT", "", f"NOTE {escape(note)}", ""]
    for n, cue in enumerate(cues, 1):
        out += [
            str(n),
            f"{timestamp(cue.start)} --> {timestamp(cue.end)}",
            f"<v {escape(cue.speaker)}>{escape(cue.text)}",
            "",
        ]
    return "\n".join(out)
