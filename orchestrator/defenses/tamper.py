"""Tamper evidence for grades and the records around them (§28): rows bound to the chain, the chain anchored.

    report = verify(s, settings)          # chain links, every bound row against its entry, the anchors
    anchor(s, settings)                   # append the signed chain head to the anchor file

Three things are checked, each catching what the others cannot:

1. the audit chain: each entry's hash covers its content and the previous hash (first broken link named);
2. bound rows (scores, grades, sign-offs, control results, attendance): the row names the hash of the
   entry that wrote it, that entry carries the row's value, and it is the newest entry about the row —
   a direct ``UPDATE`` shows as a difference, an old value put back with its old hash as a stale binding;
3. anchors outside the database: the chain head, signed with the institution's Ed25519 key and appended
   to a file at intervals — someone who rewrites the whole chain consistently (new values, new hashes)
   cannot make the anchored hashes come back.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from orchestrator.audit import GENESIS, digest_of
from orchestrator.config import Settings
from orchestrator.defenses.binding import target_of, value_of
from orchestrator.defenses.models import Attendance, DefenseGrade, Score, Sitting
from orchestrator.defenses.signing import Invalid, sign, signing_key, verify_envelope
from orchestrator.store.models import AuditEntry, ControlResult

BOUND = (Score, DefenseGrade, Sitting, ControlResult, Attendance)


def anchor_path(settings: Settings) -> Path:
    return settings.audit_anchor_file or settings.data_dir / "audit-anchors.jsonl"


@dataclass
class Report:
    entries: int = 0
    broken: dict[str, Any] | None = None  # the first broken link
    rows: list[dict[str, Any]] = field(default_factory=list)  # rows whose value differs from their entry
    rows_checked: int = 0
    anchors_checked: int = 0
    anchor_problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.broken is None and not self.rows and not self.anchor_problems

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "entries": self.entries, "broken": self.broken, "rows_checked": self.rows_checked,
                "rows": self.rows, "anchors_checked": self.anchors_checked, "anchor_problems": self.anchor_problems}


def _walk(s: Session, report: Report) -> tuple[dict[str, AuditEntry], dict[str, AuditEntry], dict[int, str]]:
    by_hash: dict[str, AuditEntry] = {}
    last_of: dict[str, AuditEntry] = {}
    hash_at: dict[int, str] = {}
    prev = GENESIS
    for e in s.scalars(select(AuditEntry).order_by(AuditEntry.id)).yield_per(2000):
        report.entries += 1
        if report.broken is None:
            if e.prev_hash != prev:
                report.broken = {"id": e.id, "action": e.action, "target": e.target,
                                 "reason": "its previous-hash does not name the entry before it (an entry was "
                                           "removed, inserted or reordered)"}
            elif e.hash != digest_of(e, prev):
                report.broken = {"id": e.id, "action": e.action, "target": e.target,
                                 "reason": "its content does not match its hash (the entry was edited)"}
        prev = e.hash
        by_hash[e.hash] = e
        last_of[e.target] = e
        hash_at[e.id] = e.hash
    return by_hash, last_of, hash_at


def _differs(was: dict[str, Any], now: dict[str, Any]) -> dict[str, list[Any]]:
    return {k: [was.get(k), now.get(k)] for k in sorted(set(was) | set(now)) if was.get(k) != now.get(k)}


def _check_rows(s: Session, report: Report, by_hash: dict[str, AuditEntry], last_of: dict[str, AuditEntry]) -> None:
    seen: set[str] = set()
    for model in BOUND:
        q = select(model)
        if model is Sitting:
            q = q.where(Sitting.status == "signed")
        for row in s.scalars(q).yield_per(2000):
            report.rows_checked += 1
            target = target_of(row)
            seen.add(target)
            now = value_of(row)
            problem: dict[str, Any] = {"table": model.__tablename__, "id": row.id, "value": now}
            if row.audit_hash is None:
                report.rows.append(problem | {"problem": "no audit entry vouches for this row (written outside the application)"})
                continue
            entry = by_hash.get(row.audit_hash)
            if entry is None:
                report.rows.append(problem | {"problem": "the audit entry this row names is not in the log"})
                continue
            was = (entry.detail or {}).get("row")
            if entry.target != target or not isinstance(was, dict):
                report.rows.append(problem | {"problem": f"the audit entry {entry.id} this row names is about {entry.target}"})
                continue
            if was != now:
                report.rows.append(problem | {"problem": f"the row's value differs from audit entry {entry.id}",
                                              "differs": _differs(was, now)})
                continue
            last = last_of.get(target)
            if last is not None and last.id != entry.id and isinstance((last.detail or {}).get("row"), dict):
                report.rows.append(problem | {"problem": f"the row is bound to entry {entry.id}, but entry {last.id} "
                                                         "wrote it later (an old value was put back)",
                                              "differs": _differs(last.detail["row"], now)})
    tables = {m.__tablename__ for m in BOUND}
    for target, e in last_of.items():
        table = target.split(":", 1)[0]
        if table in tables and target not in seen and isinstance((e.detail or {}).get("row"), dict):
            if table == "defense_sittings":
                continue  # a sitting is bound once signed; an unsigned one is not listed above
            report.rows.append({"table": table, "id": int(target.split(":", 1)[1]), "value": None,
                                "problem": f"the row audit entry {e.id} wrote is gone (deleted outside the application)"})


def read_anchors(path: Path) -> list[Any]:
    if not path.exists():
        return []
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            out.append({"line": n, "unreadable": True})
    return out


def _check_anchors(report: Report, hash_at: dict[int, str], anchors: list[Any], keys: list[Ed25519PublicKey]) -> None:
    last_count = 0
    for n, env in enumerate(anchors, start=1):
        report.anchors_checked += 1
        if isinstance(env, dict) and env.get("unreadable"):
            report.anchor_problems.append(f"anchor line {n} is not JSON (the file was edited)")
            continue
        try:
            a = verify_envelope(env, "anchor", keys)
        except Invalid as exc:
            report.anchor_problems.append(f"anchor line {n}: {exc}")
            continue
        eid, h, count = a.get("entry_id"), a.get("hash"), a.get("entries", 0)
        if count < last_count:
            report.anchor_problems.append(f"anchor line {n} counts {count} entries, fewer than the line before")
        last_count = max(last_count, count)
        if eid is None:
            continue
        now = hash_at.get(eid)
        if now is None:
            report.anchor_problems.append(f"anchor line {n} ({a.get('at')}) names entry {eid}, which the log no "
                                          "longer has (entries were removed)")
        elif now != h:
            report.anchor_problems.append(f"anchor line {n} ({a.get('at')}) names entry {eid} with hash {h[:16]}…, "
                                          f"the log now has {now[:16]}… (the chain was rewritten)")
    if len(hash_at) < last_count:
        report.anchor_problems.append(f"the log has {len(hash_at)} entries, fewer than the {last_count} anchored")


def verify(s: Session, settings: Settings, *, anchors: Path | None = None,
           keys: list[Ed25519PublicKey] | None = None) -> Report:
    report = Report()
    by_hash, last_of, hash_at = _walk(s, report)
    _check_rows(s, report, by_hash, last_of)
    keys = keys if keys is not None else [signing_key(settings).public_key()]
    _check_anchors(report, hash_at, read_anchors(anchors or anchor_path(settings)), keys)
    return report


def head(s: Session) -> dict[str, Any]:
    last = s.scalar(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1))
    count = s.scalar(select(func.count()).select_from(AuditEntry)) or 0
    return {"entry_id": last.id if last else None, "hash": last.hash if last else GENESIS, "entries": count}


def anchor(s: Session, settings: Settings, *, path: Path | None = None, only_if_moved: bool = False) -> dict[str, Any] | None:
    """Append the signed chain head to the anchor file (one JSON line, O_APPEND, fsynced)."""
    path = path or anchor_path(settings)
    h = head(s)
    if only_if_moved:
        prior = [a for a in read_anchors(path) if isinstance(a, dict) and isinstance(a.get("anchor"), dict)]
        if prior and prior[-1]["anchor"].get("hash") == h["hash"]:
            return None
    doc = {**h, "at": datetime.now(UTC).replace(microsecond=0).isoformat(), "institution": settings.institution_domain}
    env = sign("anchor", doc, signing_key(settings))
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(env, sort_keys=True, separators=(",", ":")) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
    try:
        os.write(fd, line)  # one write: a concurrent appender never interleaves inside our line
        os.fsync(fd)
    finally:
        os.close(fd)
    return env
