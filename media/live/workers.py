"""Media worker processes: rooms spread over cores, a supervisor that restarts the ones that die.

Usage::

    pool = WorkerPool(MediaConfig(...), workers=0)     # 0: one per core
    await pool.start()
    pool.on_event(forward_to_socket)                  # includes "room-lost" after a worker died
    await pool.open_room("s42", RoomKind.DEFENSE, expected_peers=40)   # placed when the session opens
    answer = await pool.join("s42", "alice", grant, offer_sdp, sources)  # same API as LocalMediaServer

One Python process holds about one core of packet work, so each worker is a
separate process (``python -m media.live.workers``) running a
:class:`~media.live.server.LocalMediaServer`. The supervisor talks to it with one
JSON object per line over its stdin/stdout in the media plane's one envelope
(:mod:`media.live.rpc`), plus pushed events ``{"event": {...}}``. A room stays on the
worker it was placed on (least expected load first) for its whole life.

When a worker dies, the supervisor starts a new one in its slot, re-opens the
rooms it held (empty), fails the calls in flight with ``worker_restarted`` and
emits one ``room-lost`` event per room, naming the peers that must rejoin. A worker
that refuses to start (aiortc's internals moved: ``aiortc_hooks.require_internals``)
exits with ``EXIT_REFUSED`` and is not restarted; calls then fail with ``media_unavailable``.

Logging is set up by whoever starts the process: the service starts workers through
``python -m orchestrator.worker`` (``launcher``), which configures the one JSON log format
of every aulacast process before it calls :func:`main`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import sys
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from media.live import rpc, worker_metrics
from media.live.aiortc_hooks import AiortcHookError
from media.live.fanout import RoomKind
from media.live.server import EventHub, LocalMediaServer
from media.live.types import (
    EgressFactory,
    EventCallback,
    IceServer,
    MediaConfig,
    MediaEvent,
    MediaGrant,
    RoomMediaError,
)
from media.live.worker_metrics import WorkerMetrics

log = logging.getLogger(__name__)

REFUSED_MESSAGE = "media is unavailable on this server: its media worker refused to start (the service log says why)"
EXIT_REFUSED = 78  # sysexits EX_CONFIG: this worker cannot run with what is installed; never restarted


def config_to_json(config: MediaConfig) -> str:
    return json.dumps(asdict(config))


def config_from_json(text: str) -> MediaConfig:
    data = json.loads(text)
    data["ice_servers"] = [IceServer(**s) for s in data.get("ice_servers", [])]
    return MediaConfig(**data)


# --- worker side ------------------------------------------------------------------------------


class LoopLag:
    """How late a short timer fires on this event loop: the lag every packet in the process sees."""

    def __init__(self, interval: float = 0.01) -> None:
        self.interval = interval
        self.samples: deque[float] = deque(maxlen=200_000)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            start = loop.time()
            await asyncio.sleep(self.interval)
            self.samples.append(loop.time() - start - self.interval)

    def summary(self, reset: bool) -> dict[str, float]:
        ordered = sorted(self.samples)
        if reset:
            self.samples.clear()
        if not ordered:
            return {"count": 0, "p50_ms": 0.0, "p99_ms": 0.0, "max_ms": 0.0}

        def pick(q: float) -> float:
            return round(1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)

        return {"count": len(ordered), "p50_ms": pick(0.5), "p99_ms": pick(0.99), "max_ms": pick(1.0)}


class WorkerServer:
    """The loop inside a worker process: requests in on stdin, replies and events out on stdout."""

    def __init__(self, config: MediaConfig, egress: EgressFactory | None = None, worker: str = "0") -> None:
        self.media = LocalMediaServer(config, egress)
        self.media.on_event(lambda event: self._write({"event": event.to_dict()}))
        self._out = sys.stdout
        self.lag = LoopLag()
        self.metrics: WorkerMetrics | None = None
        if worker_metrics.enabled():  # the service gave us a directory for our Prometheus figures
            try:
                self.metrics = WorkerMetrics(worker)
            except OSError as exc:  # figures are worth less than the rooms: run without them
                log.error("media worker %s writes no metrics: %s", worker, exc)

    def _write(self, message: dict[str, Any]) -> None:
        self._out.write(json.dumps(message) + "\n")
        self._out.flush()

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=1 << 22)
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        tasks: set[asyncio.Task[None]] = set()
        lag_task = asyncio.ensure_future(self.lag.run())
        sampler = asyncio.ensure_future(self._sample()) if self.metrics is not None else None
        while line := await reader.readline():
            task = asyncio.ensure_future(self._handle(rpc.decode(line)))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        lag_task.cancel()
        if sampler is not None:
            sampler.cancel()
        await self.media.close()

    async def _sample(self, every: float = 1.0) -> None:
        """Refresh this worker's Prometheus figures about once a second (``worker_metrics``)."""
        assert self.metrics is not None
        while True:
            try:
                self.metrics.sample(self.media)
            except Exception:  # a figure must never take the worker down
                log.exception("sampling the media worker's metrics failed")
            await asyncio.sleep(every)

    async def _handle(self, request: dict[str, Any]) -> None:
        self._write(await rpc.serve(self._run, request))

    async def _run(self, method: str, params: dict[str, Any]) -> Any:
        if method == "stats":
            return await self._stats(params)
        if self.metrics is None:
            return await rpc.call_method(self.media, method, params)
        with self.metrics.timed(method if method in rpc.METHODS else "other"):
            return await rpc.call_method(self.media, method, params)

    async def _stats(self, p: dict[str, Any]) -> dict[str, Any]:
        rooms = {rid: room.stats() for rid, room in self.media.rooms.items()}
        return {"pid": os.getpid(), "rooms": rooms, "loop_lag": self.lag.summary(bool(p.get("reset_lag")))}


def main(argv: list[str] | None = None, egress: EgressFactory | None = None) -> None:
    """Run a worker; ``egress`` is the recorder's sink factory (``orchestrator.worker`` passes it)."""
    parser = argparse.ArgumentParser(description="aulacast media worker (spawned by media.live.workers.WorkerPool)")
    parser.add_argument("--config", default="{}", help="MediaConfig as JSON")
    parser.add_argument("--worker", default="0", help="the supervisor's slot index (labels this worker's metrics)")
    args = parser.parse_args(argv)
    try:
        server = WorkerServer(config_from_json(args.config), egress, args.worker)
    except AiortcHookError as exc:
        log.critical("media worker refuses to start: %s", exc)
        sys.exit(EXIT_REFUSED)
    log.info("media worker %d started", os.getpid())
    asyncio.run(server.serve())


# --- supervisor side --------------------------------------------------------------------------


@dataclass
class WorkerSlot:
    """One worker process and what the supervisor knows of it."""

    index: int
    process: asyncio.subprocess.Process | None = None
    rooms: dict[str, RoomKind] = field(default_factory=dict)
    expected: dict[str, int] = field(default_factory=dict)  # room -> expected peers (placement weight)
    peers: dict[str, set[str]] = field(default_factory=dict)  # room -> joined peers
    pending: dict[int, asyncio.Future[Any]] = field(default_factory=dict)
    reader: asyncio.Task[None] | None = None
    restarts: int = 0
    refused: bool = False  # the worker exited with EXIT_REFUSED: not restarted

    @property
    def load(self) -> int:
        return sum(max(1, n) for n in self.expected.values())


class WorkerPool:
    """A MediaServer whose rooms live in worker processes; same methods as LocalMediaServer."""

    def __init__(
        self,
        config: MediaConfig | None = None,
        workers: int = 0,
        python: str = sys.executable,
        launcher: Sequence[str] = ("-m", "media.live.workers"),
        env: Mapping[str, str] | None = None,
        on_exit: Callable[[int], None] | None = None,
    ) -> None:
        """``launcher``: the arguments after ``python`` that run :func:`main` (``--config`` is appended);
        ``env``: added to the workers' environment (``PROMETHEUS_MULTIPROC_DIR``); ``on_exit(pid)``: called
        once for each worker process that ended, killed or closed (the service drops its live metrics)."""
        self.config = config or MediaConfig()
        self.size = workers if workers > 0 else (os.cpu_count() or 1)
        self._python = python
        self.launcher = tuple(launcher)
        self._slots = [WorkerSlot(i) for i in range(self.size)]
        self._placement: dict[str, int] = {}
        self._events = EventHub()
        self._next_id = 0
        self._closing = False
        self._restarting: set[int] = set()
        self._env = {**os.environ, **env} if env else None
        self._on_exit = on_exit
        self._exited: set[int] = set()

    def on_event(self, callback: EventCallback) -> None:
        self._events.on_event(callback)

    def placement(self, room_id: str) -> int | None:
        """Index of the worker holding ``room_id`` (None if not open)."""
        return self._placement.get(room_id)

    def workers_status(self) -> list[dict[str, Any]]:
        """Each worker's process, rooms, peers and placement load (the operator's page and /metrics read it)."""
        return [
            {"index": s.index, "pid": s.process.pid if s.process is not None else None, "rooms": sorted(s.rooms),
             "peers": sum(len(p) for p in s.peers.values()), "load": s.load, "restarts": s.restarts,
             "refused": s.refused}
            for s in self._slots
        ]  # fmt: skip

    def pid(self, index: int) -> int | None:
        process = self._slots[index].process
        return process.pid if process is not None else None

    def refused(self, index: int) -> bool:
        """True when that worker refused to start (``EXIT_REFUSED``) and is not restarted."""
        return self._slots[index].refused

    async def start(self) -> None:
        for slot in self._slots:
            await self._spawn(slot)

    async def close(self) -> None:
        self._closing = True
        for slot in self._slots:
            process = slot.process
            if process is None:
                continue
            if process.stdin is not None:
                process.stdin.close()
            try:
                await asyncio.wait_for(process.wait(), 5)
            except TimeoutError:
                process.kill()
                await process.wait()
            if slot.reader is not None:
                slot.reader.cancel()
            self._ended(process)

    def _ended(self, process: asyncio.subprocess.Process) -> None:
        if self._on_exit is None or process.pid in self._exited:
            return
        self._exited.add(process.pid)
        try:
            self._on_exit(process.pid)
        except Exception:
            log.exception("the exit hook for media worker process %d failed", process.pid)

    # --- MediaServer API -------------------------------------------------------------------

    async def open_room(self, room_id: str, kind: RoomKind, expected_peers: int = 0) -> None:
        """Place a room on the least-loaded worker (by expected peers); opening twice is a no-op."""
        if room_id in self._placement:
            return
        slot = min(self._slots, key=lambda s: (s.load, s.index))
        self._placement[room_id] = slot.index
        slot.rooms[room_id] = RoomKind(kind)
        slot.expected[room_id] = expected_peers
        slot.peers[room_id] = set()
        await self._call(slot, "open_room", {"room_id": room_id, "kind": RoomKind(kind).value})

    async def join(
        self,
        room_id: str,
        peer_id: str,
        grant: MediaGrant,
        offer_sdp: str | None,
        sources: Mapping[str, str] | None = None,
    ) -> str | None:
        slot = self._slot(room_id)
        params = {"room_id": room_id, "peer_id": peer_id, "grant": asdict(grant), "offer_sdp": offer_sdp,
                  "sources": dict(sources or {})}  # fmt: skip
        answer = await self._call(slot, "join", params)
        slot.peers[room_id].add(peer_id)
        return answer

    async def renegotiate(
        self, room_id: str, peer_id: str, offer_sdp: str, sources: Mapping[str, str] | None = None
    ) -> str:
        params = {"room_id": room_id, "peer_id": peer_id, "offer_sdp": offer_sdp, "sources": dict(sources or {})}
        return await self._call(self._slot(room_id), "renegotiate", params)

    async def answer(self, room_id: str, peer_id: str, answer_sdp: str) -> None:
        params = {"room_id": room_id, "peer_id": peer_id, "answer_sdp": answer_sdp}
        await self._call(self._slot(room_id), "answer", params)

    async def set_active_speaker(self, room_id: str, peer_id: str | None) -> None:
        await self._call(self._slot(room_id), "set_active_speaker", {"room_id": room_id, "peer_id": peer_id})

    async def set_floor(self, room_id: str, grants: Mapping[str, MediaGrant], speaker: str | None) -> None:
        params = {"room_id": room_id, "grants": {p: asdict(g) for p, g in grants.items()}, "peer_id": speaker}
        await self._call(self._slot(room_id), "set_floor", params)

    async def leave(self, room_id: str, peer_id: str) -> None:
        if room_id not in self._placement:
            return
        slot = self._slot(room_id)
        slot.peers[room_id].discard(peer_id)
        await self._call(slot, "leave", {"room_id": room_id, "peer_id": peer_id})

    async def close_room(self, room_id: str) -> None:
        index = self._placement.pop(room_id, None)
        if index is None:
            return
        slot = self._slots[index]
        for table in (slot.rooms, slot.expected, slot.peers):
            table.pop(room_id, None)
        await self._call(slot, "close_room", {"room_id": room_id})

    async def start_egress(self, room_id: str, egress_id: str, params: Mapping[str, Any]) -> dict[str, Any]:
        return await self._call(self._slot(room_id), "start_egress",
                                {"room_id": room_id, "egress_id": egress_id, "params": dict(params)})  # fmt: skip

    async def stop_egress(self, room_id: str, egress_id: str) -> dict[str, Any]:
        return await self._call(self._slot(room_id), "stop_egress", {"room_id": room_id, "egress_id": egress_id})

    async def stats(self, index: int, reset_lag: bool = False) -> dict[str, Any]:
        """Rooms' counters and the worker's event-loop lag (p50/p99/max since the last reset)."""
        return await self._call(self._slots[index], "stats", {"reset_lag": reset_lag})

    # --- plumbing ----------------------------------------------------------------------------

    def _slot(self, room_id: str) -> WorkerSlot:
        index = self._placement.get(room_id)
        if index is None:
            raise RoomMediaError(f"media room {room_id!r} is not open", "room_not_open")
        return self._slots[index]

    async def _spawn(self, slot: WorkerSlot) -> None:
        slot.process = await asyncio.create_subprocess_exec(
            self._python, *self.launcher, "--config", config_to_json(self.config), "--worker", str(slot.index),
            env=self._env, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=1 << 22,
        )  # fmt: skip
        slot.reader = asyncio.ensure_future(self._read(slot, slot.process))

    async def _call(self, slot: WorkerSlot, method: str, params: dict[str, Any]) -> Any:
        process = slot.process
        if slot.refused:
            raise RoomMediaError(REFUSED_MESSAGE, "media_unavailable")
        if process is None or process.stdin is None or process.returncode is not None:
            raise RoomMediaError("the media worker for this room is restarting; rejoin shortly", "worker_restarted")
        self._next_id += 1
        rid = self._next_id
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        slot.pending[rid] = future
        try:
            process.stdin.write(rpc.encode(rpc.request(rid, method, params)))
            await process.stdin.drain()
        except (BrokenPipeError, ConnectionResetError) as exc:
            slot.pending.pop(rid, None)
            raise RoomMediaError("the media worker for this room died; rejoin shortly", "worker_restarted") from exc
        return await future

    async def _read(self, slot: WorkerSlot, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        while line := await process.stdout.readline():
            try:
                message = rpc.decode(line)
            except ValueError:
                log.warning("media worker %d wrote a line that is not a JSON object: %r", slot.index, line[:200])
                continue
            if "event" in message:
                self._on_worker_event(slot, MediaEvent(**message["event"]))
                continue
            future = slot.pending.pop(message.get("id"), None)
            if future is None or future.done():
                continue
            try:
                future.set_result(rpc.result_of(message))
            except RoomMediaError as exc:
                future.set_exception(exc)
        await process.wait()
        self._ended(process)
        if self._closing or slot.process is not process:
            return
        if process.returncode == EXIT_REFUSED:
            self._refused(slot)
        else:
            await self._restart(slot, process.returncode)

    def _refused(self, slot: WorkerSlot) -> None:
        log.critical("media worker %d refused to start (see its log above); media is unavailable on this node",
                     slot.index)  # fmt: skip
        slot.refused = True
        for future in slot.pending.values():
            if not future.done():
                future.set_exception(RoomMediaError(REFUSED_MESSAGE, "media_unavailable"))
        slot.pending.clear()

    def _on_worker_event(self, slot: WorkerSlot, event: MediaEvent) -> None:
        if event.type == "peer-left":
            slot.peers.get(event.room_id, set()).discard(event.peer_id)
        self._events.emit(event)

    async def _restart(self, slot: WorkerSlot, returncode: int | None) -> None:
        log.error("media worker %d exited with %s; restarting it", slot.index, returncode)
        for future in slot.pending.values():
            if not future.done():
                future.set_exception(
                    RoomMediaError("the media worker for this room died; rejoin shortly", "worker_restarted")
                )
        slot.pending.clear()
        lost = {room_id: sorted(peers) for room_id, peers in slot.peers.items()}
        slot.restarts += 1
        await self._spawn(slot)
        for room_id, kind in list(slot.rooms.items()):
            with contextlib.suppress(RoomMediaError):
                await self._call(slot, "open_room", {"room_id": room_id, "kind": kind.value})
            slot.peers[room_id] = set()
            data = {"reason": "worker_restarted", "worker": slot.index, "peers": lost.get(room_id, [])}
            self._events.emit(MediaEvent("room-lost", room_id, "", data))


if __name__ == "__main__":
    main()
