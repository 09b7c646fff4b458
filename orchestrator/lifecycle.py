"""Session lifecycle driven by APScheduler 3 with its SQLAlchemy job store.

Jobs are persisted in the service database, so a restart loses none; each
step is taken inside a lock (Redis when configured) and recorded in the
``transitions`` table whose unique key makes a repeat impossible, so two nodes
or a replayed job never take it twice. Events are published after commit.

Only sessions inside a horizon (default two days) hold jobs; a job every two minutes
moves the horizon, and start-up catches up anything that fell due while the
service was down. The same periodic job forgets revoked join tokens a day after they
would have expired anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta
from typing import Any

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from orchestrator.services import Services
from orchestrator.store.models import JoinGrant, Reminder, RevokedGrant, SessionRecord, Transition
from orchestrator.store.types import utcnow
from schedules.academic.lifecycle import ORDER, due_state, lifecycle_steps, path_to

log = logging.getLogger("aulacast.lifecycle")

HORIZON = timedelta(days=2)
LEADER_KEY = "aulacast:lifecycle:leader"
LEASE_MS = 6000
REVOKED_KEPT = timedelta(days=1)  # past a revoked token's own expiry (see purge_revoked_grants)
EVENT_OF = {"open": "session.opened", "live": "session.live", "closed": "session.closed"}

_ACTIVE: Lifecycle | None = None


async def run_step(session_id: int, action: str) -> None:
    """The job function APScheduler stores by reference; it finds this process's lifecycle."""
    if _ACTIVE is None:
        log.warning("lifecycle job ran with no active lifecycle", extra={"session_id": session_id})
        return
    await _ACTIVE.take(session_id, action)


async def run_horizon() -> None:
    if _ACTIVE is not None:
        await _ACTIVE.sync_horizon()
        await _ACTIVE.purge_revoked_grants()


class Lifecycle:
    def __init__(self, svc: Services, *, horizon: timedelta = HORIZON) -> None:
        self.svc = svc
        self.horizon = horizon
        cfg = svc.settings.lifecycle
        self.lobby = timedelta(minutes=cfg.lobby_minutes)
        self.reminders = list(cfg.reminder_minutes)
        self.scheduler = self._new_scheduler()

    def _new_scheduler(self) -> AsyncIOScheduler:
        return AsyncIOScheduler(
            jobstores={"default": SQLAlchemyJobStore(engine=self.svc.db.engine, tablename="apscheduler_jobs")},
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": self.svc.settings.lifecycle.misfire_grace_seconds,
            },
            timezone="UTC",
        )

    async def start(self) -> None:
        """Run the scheduler here, or — with Redis — only while this node is the leader."""
        global _ACTIVE
        _ACTIVE = self
        if self.svc.redis is None:
            await self._lead()
        else:
            self._leader_task = asyncio.create_task(self._elect(), name="lifecycle-leader")

    async def _lead(self) -> None:
        self.scheduler.start()
        await self.catch_up()
        await self.sync_horizon()
        self.scheduler.add_job(
            "orchestrator.lifecycle:run_horizon", "interval", minutes=2, id="lifecycle:horizon", replace_existing=True
        )
        log.info("lifecycle scheduler running", extra={"node": self.svc.node})

    async def _elect(self) -> None:
        """Hold a Redis lease; the holder runs the jobs, the others wait to take over."""
        redis, key, me = self.svc.redis, LEADER_KEY, self.svc.node.encode()
        while True:
            try:
                if self.scheduler.running:
                    holder = await redis.get(key)
                    if holder == me:
                        await redis.pexpire(key, LEASE_MS)
                    else:  # lost the lease (Redis restarted, or we stalled): stand down
                        log.warning("lifecycle leadership lost", extra={"node": self.svc.node})
                        self.scheduler.shutdown(wait=False)
                        self.scheduler = self._new_scheduler()
                elif await redis.set(key, me, nx=True, px=LEASE_MS):
                    await self._lead()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("leader election: %s", exc)
            await asyncio.sleep(LEASE_MS / 3000)

    async def stop(self) -> None:
        global _ACTIVE
        task = getattr(self, "_leader_task", None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
            if self.svc.redis is not None:
                with contextlib.suppress(Exception):
                    if await self.svc.redis.get(LEADER_KEY) == self.svc.node.encode():
                        await self.svc.redis.delete(LEADER_KEY)
        if _ACTIVE is self:
            _ACTIVE = None

    # -- scheduling -------------------------------------------------------------------------

    def _steps_for(self, row: SessionRecord) -> list[tuple[datetime, str]]:
        steps = lifecycle_steps(row.start_at, row.end_at, lobby=self.lobby, reminders=self.reminders)
        return [(st.at, st.action) for st in steps]

    def schedule(self, row: SessionRecord, now: datetime | None = None) -> int:
        """(Re)place the jobs of one session; past steps are left to ``catch_up``."""
        now = now or utcnow()
        self.unschedule(row.id)
        if row.status not in ORDER[:-1] or row.start_at - self.lobby > now + self.horizon:
            return 0  # beyond the horizon: the periodic sync places it when it comes near
        count = 0
        for at, action in self._steps_for(row):
            if at <= now:
                continue
            self.scheduler.add_job(
                "orchestrator.lifecycle:run_step",
                "date",
                run_date=at,
                args=[row.id, action],
                id=f"session:{row.id}:{action}",
                replace_existing=True,
            )
            count += 1
        return count

    def unschedule(self, session_id: int) -> None:
        prefix = f"session:{session_id}:"
        for job in self.scheduler.get_jobs():
            if job.id.startswith(prefix):
                job.remove()

    async def sync_horizon(self) -> int:
        now = utcnow()

        def load(s: Session) -> list[SessionRecord]:
            q = select(SessionRecord).where(
                SessionRecord.status.in_(ORDER[:-1]),
                SessionRecord.start_at <= now + self.horizon + self.lobby,
                SessionRecord.end_at > now,
            )
            return list(s.scalars(q))

        rows = await self.svc.db_call(load)
        return sum(self.schedule(r, now) for r in rows)

    async def purge_revoked_grants(self, now: datetime | None = None) -> int:
        """Delete revocations whose token cannot be used any more; returns how many.

        A revocation row lives until the session's end plus the grace (what a token of
        that session carries as ``exp``), and a day longer, so that a session moved earlier
        after its tokens were issued stays covered until it is closed (a closed session's
        room refuses every token). Without this the table grows by one row per revoked
        link forever, and every join reads it.
        """
        cutoff = (now or utcnow()) - REVOKED_KEPT

        def run(s: Session) -> int:
            result = s.execute(delete(RevokedGrant).where(RevokedGrant.expires_at < cutoff))
            s.execute(delete(JoinGrant).where(JoinGrant.expires_at < cutoff))  # issued tokens past use, likewise
            return int(getattr(result, "rowcount", 0) or 0)

        purged = await self.svc.db_call(run)
        if purged:
            log.info("revoked join tokens purged", extra={"count": purged})
        return purged

    async def catch_up(self) -> int:
        """Take every step that fell due while nobody was running, in order, once."""
        now = utcnow()

        def load(s: Session) -> list[tuple[int, str, datetime, datetime]]:
            q = select(SessionRecord.id, SessionRecord.status, SessionRecord.start_at, SessionRecord.end_at).where(
                SessionRecord.status.in_(ORDER[:-1]), SessionRecord.start_at <= now + self.lobby
            )
            return [tuple(r) for r in s.execute(q)]  # type: ignore[misc]

        taken = 0
        grace = timedelta(seconds=self.svc.settings.lifecycle.misfire_grace_seconds)
        for sid, status, start, end in await self.svc.db_call(load):
            target = due_state(now, start, end, self.lobby)
            if path_to(status, target):
                # Long over (e.g. planned into the past): close it without replaying open/live.
                taken += len(await self.take(sid, target, replay=now - end <= grace))
        return taken

    # -- taking a step ----------------------------------------------------------------------

    async def take(self, session_id: int, action: str, *, replay: bool = True) -> list[str]:
        """Apply one step; returns the states entered (empty when already taken elsewhere)."""
        if action.startswith("remind:"):
            await self._remind(session_id, float(action.split(":", 1)[1]))
            return []
        async with self.svc.locks.hold(f"session:{session_id}", ttl=30, wait=20) as got:
            if not got:
                return []
            entered, payload = await self.svc.db_call(lambda s: self._advance(s, session_id, action, replay))
        for state in entered:
            await self.svc.bus.publish(EVENT_OF[state], payload)
        return entered

    def _advance(self, s: Session, session_id: int, target: str, replay: bool = True) -> tuple[list[str], dict[str, Any]]:
        return advance(s, self.svc.node, session_id, target, replay)

    async def _remind(self, session_id: int, minutes: float) -> None:
        def insert(s: Session) -> dict[str, Any] | None:
            row = s.get(SessionRecord, session_id)
            if row is None or row.status not in ("planned", "open"):
                return None
            try:
                with s.begin_nested():
                    s.add(Reminder(session_id=session_id, minutes=round(minutes)))
                    s.flush()
            except IntegrityError:
                return None
            return {"session_id": row.id, "key": row.key, "minutes": minutes, "start": row.start_at.isoformat()}

        async with self.svc.locks.hold(f"remind:{session_id}:{minutes:g}", ttl=30) as got:
            if not got:
                return
            payload = await self.svc.db_call(insert)
        if payload is not None:
            await self.svc.bus.publish("session.reminder", payload)


def advance(s: Session, node: str, session_id: int, target: str, replay: bool = True) -> tuple[list[str], dict[str, Any]]:
    """Move a session to ``target``, one recorded transition per state entered (none taken twice)."""
    row = s.get(SessionRecord, session_id)
    if row is None:
        return [], {}
    steps = path_to(row.status, target)
    if not replay:
        steps = steps[-1:]
    entered: list[str] = []
    for state in steps:
        try:
            with s.begin_nested():
                s.add(Transition(session_id=row.id, from_status=row.status, to_status=state, node=node))
                row.status = state
                s.flush()
        except IntegrityError:  # taken already by another node or an earlier run
            s.refresh(row)
            continue
        entered.append(state)
    payload = {
        "session_id": row.id,
        "key": row.key,
        "kind": row.kind,
        "status": row.status,
        "start": row.start_at.isoformat(),
        "end": row.end_at.isoformat(),
    }
    return entered, payload


async def close_now(svc: Services, session_id: int, *, by: int | None = None) -> list[str]:
    """End a session before its planned end ("End session for all"): ``closed`` once, recorded and published.

    Without this the room ended but the record stayed open/live, so the schedule kept a join link and
    ``/join`` kept issuing tokens until the planned end. The later ``live``/``closed`` jobs find
    nothing left to do (``path_to`` never goes back). The room's own audit entry names who ended it.
    """
    async with svc.locks.hold(f"session:{session_id}", ttl=30, wait=20) as got:
        if not got:
            return []

        entered, payload = await svc.db_call(lambda s: advance(s, svc.node, session_id, "closed", replay=False))
    for state in entered:
        await svc.bus.publish(EVENT_OF[state], {**payload, "ended_by": by})
    return entered
