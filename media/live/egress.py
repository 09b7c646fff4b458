"""Egress: a room's encoded frames handed to a sink (a recorder) as one more subscriber would get them.

Usage (``LocalMediaServer.start_egress`` does this)::

    tap = EgressTap(room, sink)          # sink: media.live.types.FrameSink, made by the server's factory
    ...                                  # every published track, now and later, flows into the sink
    tap.on_event(event)                  # track-removed / peer-left: the sink ends that track
    tap.detach()                         # no frame reaches the sink after this

The SFU (``sfu.py``) knows only ``Room.add_frame_listener``: it hands each encoded frame of every
published track to its listeners, before fan-out, on the event loop. This module turns that into
the neutral ``FrameSink`` calls (no aiortc object crosses), so a recorder needs neither the SFU
nor aiortc. Audio levels come from the RTP audio-level header extension (RFC 6464) through
``aiortc_hooks.observe_audio_levels``; nothing is decoded.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable
from typing import Any

from media.live import aiortc_hooks
from media.live.sfu import PublishedTrack, Room
from media.live.types import EgressTrack, FrameSink, MediaEvent

log = logging.getLogger(__name__)

_counter = itertools.count(1)


def _codec_name(mime: str) -> str:
    return mime.split("/")[-1].lower()


class EgressTap:
    """Feeds one sink from one room until ``detach``."""

    def __init__(self, room: Room, sink: FrameSink) -> None:
        self.room = room
        self.sink = sink
        self.attached = True
        self._keys: dict[int, str] = {}  # id(PublishedTrack) -> sink key
        self._current: dict[str, tuple[PublishedTrack, str]] = {}  # track_id -> its current publication
        self._undo: list[Callable[[], None]] = []
        room.add_frame_listener(self._on_frame)

    def _on_frame(self, track: PublishedTrack, codec: Any, frame: Any, keyframe: bool) -> None:
        if not self.attached:
            return
        key = self._keys.get(id(track))
        if key is None:
            if not track.active:
                return  # negotiated but not yet announced (track-added): recorded from then on
            key = self._start(track, codec)
        self.sink.frame(key, frame.data, frame.timestamp, keyframe, time.time())

    def _start(self, track: PublishedTrack, codec: Any) -> str:
        key = f"{track.track_id}#{next(_counter)}"
        previous = self._current.get(track.track_id)
        if previous is not None:  # the same source published again (a rejoin): the old one has ended
            self._end(previous[0], previous[1], "republished")
        self._keys[id(track)] = key
        self._current[track.track_id] = (track, key)
        description = EgressTrack(key, track.track_id, track.publisher_id, track.kind, track.source.value,
                                  _codec_name(codec.mimeType), int(codec.clockRate))  # fmt: skip
        self.sink.track_started(description, track.request_keyframe)
        if track.kind == "audio":
            self._undo.append(
                aiortc_hooks.observe_audio_levels(
                    track.receiver, lambda level, voice: self._level(key, level, voice)
                )
            )
        return key

    def _level(self, key: str, level: int, voice: bool) -> None:
        if self.attached:
            self.sink.audio_level(key, level, voice, time.time())

    def _end(self, track: PublishedTrack, key: str, reason: str) -> None:
        self._keys.pop(id(track), None)
        if self._current.get(track.track_id, (None, None))[1] == key:
            del self._current[track.track_id]
        self.sink.track_ended(key, reason)

    def on_event(self, event: MediaEvent) -> None:
        """Room events: a removed track (or a departed peer's tracks) ends in the sink."""
        if not self.attached or event.room_id != self.room.room_id:
            return
        if event.type == "track-removed":
            current = self._current.get(str(event.data.get("track_id")))
            if current is not None:
                self._end(current[0], current[1], str(event.data.get("reason", "unpublished")))
        elif event.type == "peer-left":
            for track, key in list(self._current.values()):
                if track.publisher_id == event.peer_id:
                    self._end(track, key, str(event.data.get("reason", "left")))

    def detach(self) -> None:
        """No frame, level or end reaches the sink after this (its tracks are ended by ``sink.close``)."""
        self.attached = False
        self.room.remove_frame_listener(self._on_frame)
        for undo in self._undo:
            undo()
        self._undo.clear()


def stopped_event(room_id: str, egress_id: str, reason: str, status: str) -> MediaEvent:
    return MediaEvent("egress-stopped", room_id, "", {"egress_id": egress_id, "reason": reason, "status": status})
