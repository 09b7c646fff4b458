"""The recorder of one room: a frame sink (``media.live.types.FrameSink``) writing a recording folder.

Usage (the media worker makes it through its egress factory; see ``open_sink``)::

    recorder = open_sink("session-42", "r1", {"folder": "/srv/media/recordings/42/r1"}, stopped)
    recorder.track_started(track, request_keyframe)    # a published track: a file, from its first keyframe
    recorder.frame(track.key, data, rtp_timestamp, keyframe, time.time())
    recorder.audio_level(track.key, 30, True, time.time())   # RFC 6464 level: talk spurts on the timeline
    recorder.track_ended(track.key, "unpublished")
    summary = await recorder.close("stopped")            # manifest "complete"

It runs on the media worker's event loop, called for every frame, so it does little per frame:
one ``av.Packet`` muxed (no decode, no encode), and the manifest rewritten only on state changes
(a track's first frame, its end, the end). The timeline gets ``publish``/``unpublish`` and
``speaking``/``silent`` lines; the orchestrator appends the rest (joins, chat, presenter).

A write that fails (a full disk) stops the whole recording at once: the files are left as they
are (playable to their last whole cluster), the manifest says ``interrupted`` with the reason if
the disk still takes it, and ``stopped(reason)`` tells the media server, which tells signaling.
The room goes on. A recorder closed with any reason but ``stopped``/``room closed`` (the worker
shutting down) finishes its files but leaves the manifest ``recording``: the finalise step at the
next start marks it ``interrupted`` and announces it, as after a crash.
"""

from __future__ import annotations

import errno
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import av

from fileio.message import Messages
from media.errors import MediaError
from media.recording.folder import Manifest, RecordingFolder, Timeline, TrackEntry, check_id, iso_utc
from media.recording.track import CODECS, TrackWriter

log = logging.getLogger(__name__)

NORMAL_ENDS = ("stopped", "room closed")
# why the recorder stopped by itself (the manifest's reason; the room page words room.msg.<code>)
STOP_REASONS = Messages({"rec_disk_full": "disk full", "rec_write_failed": "write failed: {error}"})
SPEECH_LEVEL = 50  # -dBov at or above which (i.e. level <= 50) an audio packet counts as speech
SPEECH_PACKETS = 3  # this many speech packets in a row start a talk spurt (60 ms of 20 ms packets)
SILENCE_SECONDS = 0.8  # a talk spurt ends after this long without a speech packet
KEYFRAME_RETRY = 0.5  # seconds between our own keyframe requests while a video track waits for one
RESERVE = ".reserve"  # kept in the folder while recording, given back when the disk fills up,
RESERVE_BYTES = 64 * 1024  # so the manifest can still say "interrupted: disk full"


class Track(Protocol):
    """What a recorder needs of a published track (``media.live.types.EgressTrack`` has it)."""

    key: str
    track_id: str
    publisher_id: str
    kind: str
    source: str
    codec: str
    clock_rate: int


@dataclass
class _Recorded:
    track: Track
    writer: TrackWriter | None  # None: a codec this recorder does not store
    request_keyframe: Callable[[], None]
    file_id: str = ""
    entry: TrackEntry | None = None
    last_request: float = -1e9


@dataclass
class _Talk:
    """One participant's talk-spurt detector."""

    run: int = 0
    speaking: bool = False
    last_speech: float = 0.0
    loudest: int = 127


class RoomRecorder:
    """Writes every published track of one room into ``folder`` (see module docstring)."""

    def __init__(self, folder: RecordingFolder, manifest: Manifest, stopped: Callable[[str], None],
                 names: Mapping[str, str] | None = None, cluster_ms: int = 1000) -> None:  # fmt: skip
        self.folder = folder
        self.manifest = manifest
        self.clock = manifest.clock()
        self.names = dict(names or {})
        self.cluster_ms = cluster_ms
        self._stopped_cb = stopped
        self._tracks: dict[str, _Recorded] = {}
        self._talk: dict[str, _Talk] = {}
        self._numbers = len(manifest.tracks)
        self.stopped: str | None = None  # the reason, once stopped
        # who writes this folder: the finaliser touches only recordings whose writer is gone
        manifest.extra["recorder"] = {**manifest.extra.get("recorder", {}), "pid": os.getpid()}
        self.timeline: Timeline = folder.open_timeline(self.clock)
        self._reserve = folder.path / RESERVE
        try:
            with open(self._reserve, "wb") as fh:
                fh.write(b"\0" * RESERVE_BYTES)
                fh.flush()
                os.fsync(fh.fileno())
        except OSError:
            self._reserve.unlink(missing_ok=True)
        self._save()

    # --- FrameSink -----------------------------------------------------------------------------

    def track_started(self, track: Track, request_keyframe: Callable[[], None]) -> None:
        if self.stopped is not None:
            return
        writer = None
        file_id = ""
        if track.codec in CODECS:
            self._numbers += 1
            file_id = f"t{self._numbers}"
            path = self.folder.path / self.folder.track_file(file_id, track.codec)
            writer = TrackWriter(path, track.codec, track.clock_rate, self.cluster_ms)
        else:
            log.warning("recording %s: %s track %s is %s, which is not stored; skipped",
                        self.manifest.recording_id, track.kind, track.track_id, track.codec)  # fmt: skip
        self._tracks[track.key] = _Recorded(track, writer, request_keyframe, file_id=file_id)
        if track.kind == "video":
            request_keyframe()  # the file starts at a keyframe: ask for one now rather than wait for the next

    def frame(self, key: str, data: bytes, timestamp: int, keyframe: bool, arrival: float) -> None:
        rec = self._tracks.get(key)
        if rec is None or rec.writer is None or self.stopped is not None:
            return
        try:
            written = rec.writer.write(data, timestamp, keyframe, arrival)
        except (OSError, av.FFmpegError) as exc:
            if getattr(exc, "errno", None) in (errno.ENOSPC, errno.EDQUOT):
                self._fail(exc)  # the disk: nothing more can be written, stop everything cleanly
            else:
                self._drop(rec, exc)  # this track's data: the others go on
            return
        if not written:
            if arrival - rec.last_request >= KEYFRAME_RETRY:
                rec.last_request = arrival
                rec.request_keyframe()
            return
        if rec.entry is None:
            self._begin(rec, arrival)

    def audio_level(self, key: str, level: int, voice: bool, arrival: float) -> None:
        rec = self._tracks.get(key)
        if rec is None or rec.track.source != "microphone" or self.stopped is not None:
            return
        who = rec.track.publisher_id
        talk = self._talk.setdefault(who, _Talk())
        if level <= SPEECH_LEVEL:
            talk.run += 1
            talk.last_speech = arrival
            talk.loudest = min(talk.loudest, level)
            if not talk.speaking and talk.run >= SPEECH_PACKETS:
                talk.speaking = True
                self._line("speaking", arrival, participant_id=who, level_dbov=-talk.loudest)
        else:
            talk.run = 0
            talk.loudest = 127
            if talk.speaking and arrival - talk.last_speech >= SILENCE_SECONDS:
                talk.speaking = False
                self._line("silent", arrival, participant_id=who)

    def track_ended(self, key: str, reason: str) -> None:
        rec = self._tracks.pop(key, None)
        if rec is None or self.stopped is not None:
            return
        if rec.writer is None:
            return  # never stored, or dropped after a write error (its unpublish line is written)
        self._finish(rec, "complete")
        if rec.entry is not None:
            self._line("unpublish", rec.writer.last_arrival if rec.writer else None,
                       participant_id=rec.track.publisher_id, track_id=rec.entry.id)  # fmt: skip
            self._save()
        talk = self._talk.get(rec.track.publisher_id)
        if rec.track.source == "microphone" and talk is not None and talk.speaking:
            talk.speaking = False
            self._line("silent", None, participant_id=rec.track.publisher_id)

    async def close(self, reason: str) -> dict[str, Any]:
        """Finish every file. ``stopped``/``room closed``: the manifest says complete; else it stays for the finaliser."""
        if self.stopped is None:
            normal = reason in NORMAL_ENDS
            for key in list(self._tracks):
                rec = self._tracks.pop(key)
                if rec.writer is None:
                    continue
                self._finish(rec, "complete" if normal else "interrupted")
                if rec.entry is not None and normal:
                    self._line("unpublish", rec.writer.last_arrival if rec.writer else None,
                               participant_id=rec.track.publisher_id, track_id=rec.entry.id)  # fmt: skip
            for who, talk in self._talk.items():
                if talk.speaking:
                    self._line("silent", None, participant_id=who)
            self.stopped = reason
            if normal:
                self.manifest.status = "complete"
                self.manifest.ended_at = _iso_now()
            self._save()
        self._give_back_reserve()
        self.timeline.close()
        return self.summary()

    def _give_back_reserve(self) -> None:
        try:
            self._reserve.unlink(missing_ok=True)
        except OSError as exc:
            log.warning("recording %s: reserve file not removed (%s)", self.manifest.recording_id, exc)

    def summary(self) -> dict[str, Any]:
        return {
            "recording_id": self.manifest.recording_id,
            "folder": str(self.folder.path),
            "status": self.manifest.status,
            "reason": self.manifest.reason,
            "tracks": [t.to_dict() for t in self.manifest.tracks],
        }

    # --- internals -----------------------------------------------------------------------------

    def _begin(self, rec: _Recorded, arrival: float) -> None:
        writer = rec.writer
        assert writer is not None
        t = rec.track
        rec.entry = TrackEntry(
            id=rec.file_id,
            participant_id=t.publisher_id,
            display_name=self.names.get(t.publisher_id, ""),
            kind=t.kind,
            source=t.source,
            codec=t.codec,
            file=self.folder.track_file(rec.file_id, t.codec),
            start=self.clock.now(arrival),
            width=writer.width,
            height=writer.height,
        )
        self.manifest.tracks.append(rec.entry)
        self._save()
        self._line("publish", arrival, participant_id=t.publisher_id, track_id=rec.entry.id, kind=t.kind,
                   source=t.source)  # fmt: skip
        if t.source == "screen":
            self._line("screenshare", arrival, participant_id=t.publisher_id, track_id=rec.entry.id, on=True)

    def _finish(self, rec: _Recorded, status: str) -> None:
        writer = rec.writer
        if writer is None:
            return
        try:
            writer.close()
        except (OSError, av.FFmpegError) as exc:
            log.warning("recording %s: finishing %s failed: %s", self.manifest.recording_id, writer.path, exc)
            status = "interrupted"
        if rec.entry is not None:
            rec.entry.end = round(rec.entry.start + writer.duration, 3)
            rec.entry.status = status
            if rec.track.source == "screen" and status == "complete":
                self._line("screenshare", writer.last_arrival, participant_id=rec.track.publisher_id,
                           track_id=rec.entry.id, on=False)  # fmt: skip

    def _drop(self, rec: _Recorded, exc: BaseException) -> None:
        """One track cannot be written (its data, not the disk): stop it alone, keep what it has."""
        writer = rec.writer
        assert writer is not None
        log.error("recording %s: track %s stopped: %s", self.manifest.recording_id, rec.track.track_id, exc)
        writer.abandon()
        rec.writer = None
        if rec.entry is not None:
            rec.entry.end = round(rec.entry.start + writer.duration, 3)
            rec.entry.status = "interrupted"
            rec.entry.extra["error"] = str(exc)
            self._line("unpublish", writer.last_arrival, participant_id=rec.track.publisher_id, track_id=rec.entry.id,
                       reason=f"write failed: {exc}")  # fmt: skip
            self._save()

    def _fail(self, exc: BaseException) -> None:
        """A write failed: stop everything now, keep what is written, say why."""
        full = getattr(exc, "errno", None) in (errno.ENOSPC, errno.EDQUOT)
        reason = (STOP_REASONS.make("rec_disk_full") if full else STOP_REASONS.make("rec_write_failed", error=exc)).text
        log.error("recording %s stopped: %s", self.manifest.recording_id, reason)
        self.stopped = reason
        self._give_back_reserve()
        for rec in self._tracks.values():
            if rec.writer is not None:
                rec.writer.abandon()
            if rec.entry is not None and rec.writer is not None:
                rec.entry.end = round(rec.entry.start + rec.writer.duration, 3)
                rec.entry.status = "interrupted"
        self._tracks.clear()
        self.manifest.status = "interrupted"
        self.manifest.reason = reason
        self.manifest.ended_at = _iso_now()
        self._line("recording", None, state="stopped", reason=reason)
        self._save()
        self._stopped_cb(reason)

    def _line(self, type: str, moment: float | None, **data: Any) -> None:
        try:
            self.timeline.append(type, moment=moment, **data)
        except OSError as exc:
            log.warning("recording %s: timeline line lost (%s)", self.manifest.recording_id, exc)

    def _save(self) -> None:
        try:
            self.folder.write_manifest(self.manifest)
        except OSError as exc:  # a full disk: the previous manifest stays whole; the finaliser fixes it later
            log.warning("recording %s: manifest not rewritten (%s)", self.manifest.recording_id, exc)


def _iso_now() -> str:
    return iso_utc(time.time())


def open_sink(room_id: str, egress_id: str, params: Mapping[str, Any], stopped: Callable[[str], None]) -> RoomRecorder:
    """The media server's egress factory: a recorder writing ``params["folder"]``.

    The folder's manifest is made by whoever starts the recording (it knows the session); a
    missing one is made here from ``session_id`` (default: the room id) and ``egress_id``.
    """
    folder_path = params.get("folder")
    if not isinstance(folder_path, str) or not folder_path:
        raise MediaError("a recording needs params['folder'], the recording folder to write")
    folder = RecordingFolder(Path(folder_path))
    (folder.path / "tracks").mkdir(parents=True, exist_ok=True)
    if folder.manifest_path.exists():
        manifest = folder.read_manifest()
    else:
        session_id = check_id(str(params.get("session_id") or room_id), "session id")
        manifest = Manifest.start(session_id, check_id(egress_id, "recording id"))
    return RoomRecorder(folder, manifest, stopped, names=params.get("names") or {},
                        cluster_ms=int(params.get("cluster_ms", 1000)))  # fmt: skip
