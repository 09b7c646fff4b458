"""Recording of live sessions, composed: the policy, the recorder on the media node, the timeline, the bus.

    attach(app, svc)        # an EXTENSION, after orchestrator.rooms (it needs the router and signaling)

* Policy per session kind (``policy_of``): a defense is always recorded; a lecture (a session of
  an offering whose technology is TV) as its offering says (``rules.record``, default on); a
  consultation (or control) as its host chooses (``POST /api/sessions/{id}/recording``), off
  until they do. The choice is kept in the session row's ``detail["recording"]``.
* Start: when the session opens (``session.opened``) on the node that holds the room's media,
  or when the host turns it on. The recording folder (docs/recording-format.md) is made here
  with its manifest, then the media server's egress (``start_egress``) writes the tracks.
  ``recording.started`` goes on the bus and a ``recording`` event to the room (the indicator).
* Timeline: ``publish``/``unpublish``/``speaking``/``screenshare`` come from the recorder;
  ``join``/``leave``/``presenter``/``chat`` are appended here from what signaling tells the room.
* End: at ``session.closed`` (or the host's end), the egress is stopped, the manifest says
  ``complete``, and ``recording.stopped`` then ``recording.ready`` (``{session_id, recording_id,
  folder, status}``) go on the bus: the composition job listens for it.
* Trouble: a recorder that stops by itself (disk full) -> ``recording.stopped`` with
  ``alert: true``, ``recording.ready`` with status ``interrupted``; the room goes on. A media
  worker that dies -> its recordings are finalised ``interrupted`` at once and, if the policy
  still says so, a new recording starts for the rejoining room. At start-up, recordings of this
  host whose writer is gone (a ``kill -9`` of the service) are finalised the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy.orm import Session

from fileio.message import Message, Messages, message_fields
from media.errors import MediaError
from media.live.fanout import RoomKind
from media.live.types import RoomMediaError
from media.recording.finalise import finalise_interrupted, reason_without_files, unfinished, writing_elsewhere
from media.recording.folder import Manifest, RecordingFolder, Timeline, iso_utc, read_manifest
from media.recording.recorder import STOP_REASONS
from orchestrator.auth import Identity
from orchestrator.bus import Event
from orchestrator.errors import NotFound, UserError
from orchestrator.policy import ALLOW, STAFF, Decision, deny, is_in_session
from orchestrator.services import Services
from orchestrator.store.models import Offering, SessionRecord

log = logging.getLogger("aulacast.recordings")

RECORDINGS = web.AppKey("recordings", object)
HOST_ROLES = ("host", "chair")
FINALISE_RETRY_SECONDS = 30.0
# why a recording stopped though nobody stopped it (beside media's STOP_REASONS): the manifest's reason, the
# bus event's, and the room's ``recording`` event's, which adds reason_code/reason_params (room.msg.<code>)
RECORDING_REASONS = Messages({
    "rec_recorder_stopped": "the recorder stopped",
    "rec_worker_gone": "media worker gone before the recording ended",
    "rec_worker_killed": "media worker killed",
    "rec_service_restarted": "service restarted",
    "rec_media_refused": "the media server refused: {error}",
})  # fmt: skip


def recording_reason(text: str) -> Message | None:
    """The code of a recording's stop reason (made here or by media's recorder), whatever track files it names."""
    base = reason_without_files(text)
    return RECORDING_REASONS.parse(base) or STOP_REASONS.parse(base)
REMOTE_RECHECK_SECONDS = 5.0  # how stale a node's idea of another node's recording may be  # a killed service's workers may take this long to notice and exit


def media_room_id(session_id: int) -> str:
    return f"session-{session_id}"


# --- policy ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordingPolicy:
    """Whether a session is recorded and who decides: ``always`` (defense), ``offering`` (lecture), ``host``."""

    mode: str
    on: bool
    why: str

    def to_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "on": self.on, "why": self.why}


def policy_of(row: SessionRecord, offering: Offering | None) -> RecordingPolicy:
    if row.kind == "defense":
        return RecordingPolicy("always", True, "defenses are always recorded")
    if offering is not None and offering.technology == "tv":
        on = bool((offering.rules or {}).get("record", True))
        return RecordingPolicy("offering", on, f"lectures of {offering.code} are {'' if on else 'not '}recorded")
    chosen = (row.detail or {}).get("recording") or {}
    on = bool(chosen.get("on", False))
    return RecordingPolicy("host", on, "the host turned recording on" if on else "the host has not turned recording on")


def is_host(s: Session, actor: Identity, row: SessionRecord) -> bool:
    if row.tutor_id == actor.person_id:
        return True
    return any(p.person_id == actor.person_id and p.role in HOST_ROLES for p in row.participants)


def can_toggle_recording(s: Session, actor: Identity, row: SessionRecord, offering: Offering | None) -> Decision:
    """Only a consultation's host (or staff) chooses; defenses and lectures are not anyone's choice in the room."""
    policy = policy_of(row, offering)
    if policy.mode == "always":
        return deny("a defense is always recorded; it cannot be turned off", code="recording_required")
    if policy.mode == "offering":
        return deny("a lecture is recorded as its offering says; change the offering instead", code="recording_by_offering")
    if actor.has(*STAFF) or is_host(s, actor, row):
        return ALLOW
    if is_in_session(s, row, actor.person_id):
        return deny("only the session's host chooses whether it is recorded", code="not_host")
    return deny("you are not a participant of this session")


def can_view_recording_state(s: Session, actor: Identity, row: SessionRecord) -> Decision:
    if actor.has(*STAFF) or is_in_session(s, row, actor.person_id):
        return ALLOW
    return deny("you are not a participant of this session")


# --- the running side -------------------------------------------------------------------------


@dataclass
class Active:
    session_id: int
    recording_id: str
    folder: RecordingFolder
    timeline: Timeline
    kind: str
    since: str


def _timeline_line(event: str, data: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """The timeline line (type, fields) for a room event signaling sends, None for the others."""
    if event == "member-joined":
        return "join", {"participant_id": str(data.get("person_id")), "display_name": str(data.get("name", "")),
                        "role": _role_of(data)}  # fmt: skip
    if event == "member-left":
        return "leave", {"participant_id": str(data.get("person_id"))}
    if event == "presenter":
        who = data.get("person_id")
        return "presenter", {"participant_id": None if who is None else str(who)}
    if event == "chat" and not data.get("deleted"):
        return "chat", {"participant_id": str(data.get("sender_id")), "display_name": str(data.get("sender_name", "")),
                        "text": str(data.get("body", "")), "message_id": str(data.get("id"))}  # fmt: skip
    return None


def _role_of(member: dict[str, Any]) -> str:
    if member.get("moderator"):
        return "host"
    return "audience" if member.get("role") == "audience" else "participant"


class Recordings:
    """Starts, stops and finalises the recordings of the sessions whose media this node holds."""

    def __init__(self, svc: Services) -> None:
        self.svc = svc
        self.root = svc.settings.effective_media_root / "recordings"
        self.host = socket.gethostname()
        self.active: dict[int, Active] = {}
        self._locks: dict[int, asyncio.Lock] = {}
        self._names: dict[int, dict[str, str]] = {}  # session -> participant id -> display name
        self._deciding: set[int] = set()
        self._remote: dict[int, tuple[float, Timeline | None]] = {}  # timelines of recordings run elsewhere
        self._tasks: set[asyncio.Task[None]] = set()

    def _lock(self, session_id: int) -> asyncio.Lock:
        return self._locks.setdefault(session_id, asyncio.Lock())

    @property
    def router(self) -> Any:
        return self.svc.media_router

    async def _session(self, session_id: int) -> tuple[SessionRecord, Offering | None] | None:
        def run(s: Session) -> tuple[SessionRecord, Offering | None] | None:
            row = s.get(SessionRecord, session_id)
            if row is None:
                return None
            offering = s.get(Offering, row.offering_id) if row.offering_id is not None else None
            s.expunge_all()
            return row, offering

        return await self.svc.db_call(run)

    async def policy(self, session_id: int) -> RecordingPolicy | None:
        found = await self._session(session_id)
        return None if found is None else policy_of(*found)

    def state(self, session_id: int) -> dict[str, Any]:
        active = self.active.get(session_id)
        if active is None:
            return {"on": False}
        return {"on": True, "recording_id": active.recording_id, "since": active.since}

    # --- start / stop --------------------------------------------------------------------------

    async def start(self, session_id: int, *, by: int | None = None) -> dict[str, Any]:
        """Start recording (idempotent: a running recording is kept). Raises UserError when the media refuses."""
        async with self._lock(session_id):
            if session_id in self.active:
                return self.state(session_id)
            found = await self._session(session_id)
            if found is None:
                raise NotFound(f"session {session_id} does not exist")
            row, _ = found
            kind = RoomKind.DEFENSE if row.kind == "defense" else RoomKind.CONSULTATION
            recording_id = time.strftime("r%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + secrets.token_hex(3)
            folder = RecordingFolder.create(self.root, str(session_id), recording_id)
            manifest = Manifest.start(str(session_id), recording_id)
            manifest.extra["recorder"] = {"host": self.host, "node": self.svc.node}
            manifest.extra["session"] = {"title": row.title, "kind": row.kind}
            folder.write_manifest(manifest)
            timeline = folder.open_timeline(manifest.clock())
            await self._present_members(session_id, timeline)
            names = dict(self._names.get(session_id, {}))
            params = {"folder": str(folder.path), "session_id": str(session_id), "names": names}
            try:
                await self.router.call(media_room_id(session_id), "start_egress",
                                       {"room_id": media_room_id(session_id), "egress_id": recording_id,
                                        "params": params}, kind=kind)  # fmt: skip
            except (RoomMediaError, MediaError) as exc:
                timeline.close()
                refused = RECORDING_REASONS.make("rec_media_refused", error=exc)
                manifest.status, manifest.reason = "failed", refused.text
                manifest.ended_at = iso_utc(time.time())
                folder.write_manifest(manifest)
                log.error("recording of session %s could not start: %s", session_id, exc)
                raise UserError(f"recording could not start: {exc}", code="recording_failed", status=503) from None
            timeline.append("recording", state="started", by=by)
            active = Active(session_id, recording_id, folder, timeline, row.kind, manifest.started_at)
            self.active[session_id] = active
        await self.svc.bus.publish("recording.started", {"session_id": session_id, "recording_id": recording_id,
                                                         "folder": str(folder.path), "by": by})  # fmt: skip
        await self._tell_room(session_id)
        return self.state(session_id)

    async def stop(self, session_id: int, *, reason: str = "stopped", by: int | None = None) -> dict[str, Any] | None:
        """Stop and finish the session's recording; publishes recording.stopped and recording.ready."""
        async with self._lock(session_id):
            active = self.active.pop(session_id, None)
            if active is None:
                return None
            with contextlib.suppress(OSError):
                active.timeline.append("recording", state="stopped", reason=reason, by=by)
            active.timeline.close()
            try:
                await self.router.call(media_room_id(session_id), "stop_egress",
                                       {"room_id": media_room_id(session_id), "egress_id": active.recording_id})
            except (RoomMediaError, MediaError) as exc:  # closed with the room already (complete), or its worker died
                log.info("stopping recording %s: %s", active.recording_id, exc)
            manifest = await asyncio.to_thread(self._settle, active, RECORDING_REASONS.make("rec_worker_gone").text)
        await self._announce(active, manifest, reason)
        return {"recording_id": active.recording_id, "status": manifest.status}

    def _settle(self, active: Active, reason: str) -> Manifest:
        """After the writer is done: finalise if it died, fill display names; runs on a thread."""
        manifest = read_manifest(active.folder.path)
        if manifest.status == "recording":
            manifest = finalise_interrupted(active.folder.path, reason)
        names = self._names.get(active.session_id, {})
        if any(not t.display_name and t.participant_id in names for t in manifest.tracks):
            for track in manifest.tracks:
                track.display_name = track.display_name or names.get(track.participant_id, "")
            active.folder.write_manifest(manifest)
        return manifest

    async def _announce(self, active: Active, manifest: Manifest, reason: str, alert: bool = False) -> None:
        payload = {"session_id": active.session_id, "recording_id": active.recording_id,
                   "folder": str(active.folder.path), "status": manifest.status}  # fmt: skip
        await self.svc.bus.publish("recording.stopped", {**payload, "reason": manifest.reason or reason, "alert": alert})
        await self.svc.bus.publish("recording.ready", payload)
        await self._tell_room(active.session_id, reason=None if reason == "stopped" else manifest.reason or reason)

    async def _lost(self, session_id: int, reason: str, *, alert: bool) -> None:
        """The recorder is gone (disk full, worker died): finalise what it wrote, announce it."""
        async with self._lock(session_id):
            active = self.active.pop(session_id, None)
            if active is None:
                return
            with contextlib.suppress(OSError):
                active.timeline.append("recording", state="stopped", reason=reason)
            active.timeline.close()
            manifest = await asyncio.to_thread(self._settle, active, reason)
        log.error("recording %s of session %s stopped: %s", active.recording_id, session_id, reason)
        await self._announce(active, manifest, reason, alert=alert)

    # --- events ----------------------------------------------------------------------------------

    async def on_opened(self, event: Event) -> None:
        session_id = int(event.payload["session_id"])
        policy = await self.policy(session_id)
        if policy is None or not policy.on or self.router is None:
            return
        kind = RoomKind.DEFENSE if event.payload.get("kind") == "defense" else RoomKind.CONSULTATION
        try:
            owner = await self.router.place(media_room_id(session_id), kind)
        except (RoomMediaError, MediaError) as exc:
            log.warning("session %s: no media for its recording: %s", session_id, exc)
            return
        if owner != self.svc.node:
            return  # the node holding the room's media records it
        with contextlib.suppress(UserError):
            await self.start(session_id)

    async def on_closed(self, event: Event) -> None:
        await self.stop(int(event.payload["session_id"]), reason="stopped")

    async def on_control(self, event: Event) -> None:
        p = event.payload
        if p.get("action") == "end":
            await self.stop(int(p.get("session_id", 0)), reason="stopped", by=p.get("by"))
        elif p.get("action") == "recording":
            session_id = int(p.get("session_id", 0))
            owns = self.router is not None and media_room_id(session_id) in self.router.owned
            if p.get("on") and (owns or session_id in self.active or not self._media_elsewhere()):
                with contextlib.suppress(UserError):
                    await self.start(session_id, by=p.get("by"))
            elif not p.get("on"):
                await self.stop(session_id, reason="stopped", by=p.get("by"))

    def _media_elsewhere(self) -> bool:
        return self.svc.redis is not None

    def on_media_event(self, event: Any) -> Any:
        room = str(event.room_id)
        if not room.startswith("session-") or not room[8:].isdigit():
            return None
        session_id = int(room[8:])
        if event.type == "egress-stopped":
            active = self.active.get(session_id)
            if active is not None and active.recording_id == event.data.get("egress_id"):
                why = str(event.data.get("reason") or RECORDING_REASONS.make("rec_recorder_stopped").text)
                return self._lost(session_id, why, alert=True)
        elif event.type == "room-lost" and session_id in self.active:
            return self._restart_after_loss(session_id)
        elif event.type == "track-added" and session_id not in self.active:
            return self._start_if_due(session_id)
        return None

    async def _start_if_due(self, session_id: int) -> None:
        """Media arrived in a room whose policy says record but no recording runs here (a session that opened
        before this process started, e.g. after a restart): start one now."""
        if session_id in self._deciding:
            return
        self._deciding.add(session_id)
        try:
            policy = await self.policy(session_id)
            if policy is not None and policy.on and session_id not in self.active:
                with contextlib.suppress(UserError):
                    await self.start(session_id)
        finally:
            self._deciding.discard(session_id)

    async def _restart_after_loss(self, session_id: int) -> None:
        await self._lost(session_id, RECORDING_REASONS.make("rec_worker_killed").text, alert=True)
        policy = await self.policy(session_id)
        if policy is not None and policy.on:
            with contextlib.suppress(UserError):
                await self.start(session_id)  # the rejoining room is recorded on, in a new recording

    def observe(self, event: str, data: Any, session_id: int) -> None:
        """What signaling tells a room, as timeline lines (called for every emit to a room).

        The recording may run on another node (the one holding the room's media) while this node
        holds the socket that caused the event: the line then goes to that recording's timeline
        in the shared media root, found by its manifest (``_elsewhere``).
        """
        if not isinstance(data, dict):
            return
        if event == "member-joined" and "person_id" in data:
            self._names.setdefault(session_id, {})[str(data["person_id"])] = str(data.get("name", ""))
        line = _timeline_line(event, data)
        if line is None:
            return
        active = self.active.get(session_id)
        if active is not None:
            self._append(active.timeline, line, None)
        else:
            cached = self._remote.get(session_id)
            if cached is not None and cached[1] is None and time.monotonic() - cached[0] <= REMOTE_RECHECK_SECONDS:
                return  # looked a moment ago: no recording of this session anywhere
            task = asyncio.ensure_future(self._elsewhere(session_id, line, time.time()))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    @staticmethod
    def _append(timeline: Timeline, line: tuple[str, dict[str, Any]], moment: float | None) -> None:
        try:
            timeline.append(line[0], moment=moment, **line[1])
        except OSError as exc:
            log.warning("recording timeline %s: line lost (%s)", timeline.path, exc)

    async def _elsewhere(self, session_id: int, line: tuple[str, dict[str, Any]], moment: float) -> None:
        """Append to the timeline of a recording another node runs (checked again at most every few seconds)."""
        now = time.monotonic()
        cached = self._remote.get(session_id)
        if cached is None or now - cached[0] > REMOTE_RECHECK_SECONDS:
            folder = await asyncio.to_thread(self._recording_folder, session_id)
            if cached is not None and cached[1] is not None and (folder is None or cached[1].path != folder.timeline_path):
                cached[1].close()
                cached = None
            timeline = cached[1] if cached is not None else None
            if folder is not None and timeline is None:
                manifest = await asyncio.to_thread(folder.read_manifest)
                timeline = folder.open_timeline(manifest.clock())
            cached = (now, timeline)
            self._remote[session_id] = cached
        if cached[1] is not None and session_id not in self.active:
            self._append(cached[1], line, moment)

    async def on_recording_event(self, event: Event) -> None:
        """recording.started/stopped from any node: what this node knows of other nodes' recordings is stale."""
        session_id = event.payload.get("session_id")
        cached = self._remote.pop(session_id, None) if isinstance(session_id, int) else None
        if cached is not None and cached[1] is not None:
            cached[1].close()

    def _recording_folder(self, session_id: int) -> RecordingFolder | None:
        """The session's recording still being written (the newest), if any; runs on a thread."""
        found = []
        for path in self.root.joinpath(str(session_id)).glob("*/manifest.json"):
            with contextlib.suppress(Exception):
                manifest = read_manifest(path.parent)
                if manifest.status == "recording":
                    found.append((manifest.started_at, path.parent))
        return RecordingFolder(max(found)[1]) if found else None

    async def _present_members(self, session_id: int, timeline: Timeline) -> None:
        """Who is already in the room when the recording starts: a ``join`` line each at t=0."""
        server = self.svc.signaling
        if server is None:
            return
        try:
            members = await server.b.rooms.members(session_id)
            online = await server.b.rooms.online(session_id)
        except Exception as exc:  # noqa: BLE001 - room state unavailable: the timeline starts without them
            log.warning("session %s: members unknown at recording start (%s)", session_id, exc)
            return
        names = self._names.setdefault(session_id, {})
        for person_id, member in sorted(members.items()):
            names[str(person_id)] = member.name
            if person_id in online and member.admitted:
                timeline.append("join", participant_id=str(person_id), display_name=member.name,
                                role=_role_of(member.public(True)))  # fmt: skip

    async def _tell_room(self, session_id: int, reason: str | None = None) -> None:
        server = self.svc.signaling
        if server is None:
            return
        data = {**self.state(session_id), "session_id": session_id}
        if reason:
            data["reason"] = reason
            data |= message_fields(recording_reason(reason))
        with contextlib.suppress(Exception):
            await server.sio.emit("recording", data, room=f"s{session_id}")

    # --- start-up and shutdown ------------------------------------------------------------------

    async def finalise_leftovers(self) -> int:
        """Finalise this host's recordings whose writer is gone (a killed service); retried while writers exit."""
        done = 0
        deadline = time.monotonic() + FINALISE_RETRY_SECONDS
        while True:
            for path in await asyncio.to_thread(unfinished, self.root, self.host):
                restarted = RECORDING_REASONS.make("rec_service_restarted").text
                manifest = await asyncio.to_thread(finalise_interrupted, path, restarted)
                if manifest.status == "interrupted":
                    done += 1
                    await self.svc.bus.publish("recording.ready", {
                        "session_id": _int(manifest.session_id), "recording_id": manifest.recording_id,
                        "folder": str(path), "status": manifest.status})  # fmt: skip
            still = [p for p in await asyncio.to_thread(self._ours_running)]
            if not still or time.monotonic() > deadline:
                return done
            await asyncio.sleep(1.0)

    def _ours_running(self) -> list[Path]:
        """Recordings of this host still 'recording' that this process does not run (their writer is alive)."""
        mine = {a.folder.path for a in self.active.values()}
        return writing_elsewhere(self.root, self.host, mine)

    async def close(self) -> None:
        for _, timeline in self._remote.values():
            if timeline is not None:
                timeline.close()
        self._remote.clear()
        for session_id in list(self.active):
            active = self.active.pop(session_id)
            active.timeline.close()  # the media worker's shutdown finishes the files; the next start finalises


def _int(value: str) -> int | str:
    return int(value) if value.isdigit() else value


# --- wiring ------------------------------------------------------------------------------------


def observe_room_emits(sio: Any, rec: Recordings) -> None:
    """Wrap ``sio.emit`` so every event signaling sends a room also reaches the timeline (signaling is unchanged)."""
    original = sio.emit

    async def emit(event: str, data: Any = None, *args: Any, **kwargs: Any) -> Any:
        room = kwargs.get("room")
        if isinstance(room, str) and room.startswith("s") and room[1:].isdigit():
            try:
                rec.observe(event, data, int(room[1:]))
            except Exception:  # noqa: BLE001 - the room's own message must go out whatever the timeline does
                log.exception("timeline observer failed for %s", event)
        return await original(event, data, *args, **kwargs)

    sio.emit = emit


def attach(app: web.Application, svc: Services) -> None:
    """Wire recordings to the rooms ``orchestrator.rooms.attach`` built (no-op without them)."""
    server, router = svc.signaling, svc.media_router
    if server is None or router is None:
        return
    rec = Recordings(svc)
    app[RECORDINGS] = rec
    observe_room_emits(server.sio, rec)
    router.on_event(rec.on_media_event)
    svc.bus.subscribe("session.opened", rec.on_opened)
    svc.bus.subscribe("session.closed", rec.on_closed)
    svc.bus.subscribe("room.control", rec.on_control)
    svc.bus.subscribe("recording.started", rec.on_recording_event)
    svc.bus.subscribe("recording.stopped", rec.on_recording_event)

    async def lifespan(_app: web.Application) -> Any:
        task = asyncio.create_task(rec.finalise_leftovers(), name="recordings-finalise")
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        await rec.close()

    app.cleanup_ctx.append(lifespan)
