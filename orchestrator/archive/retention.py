"""Retention: assets past their keeping date are deleted, except those under legal hold.

    report = apply_retention(archive, today=date.today(), dry_run=False)
    report.deleted, report.held, report.orphans_removed

Each asset's ``retain_until`` is set from its kind and date when it is archived
(``archive.retention_days``; 0 keeps it for good). A hold — a defense recording
under appeal — blocks deletion whatever the date; every deletion is on the audit log
with what was deleted and why.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select

from orchestrator.archive.catalogue import Archive
from orchestrator.archive.models import Asset, AssetFile

ORPHAN_AGE_SECONDS = 24 * 3600  # a blob filed by an ingest that has not committed yet is younger than this


@dataclass
class RetentionReport:
    due: list[int] = field(default_factory=list)
    deleted: list[int] = field(default_factory=list)
    held: list[int] = field(default_factory=list)
    orphans_removed: int = 0


def apply_retention(archive: Archive, *, today: date, dry_run: bool = False, actor_id: int | None = None) -> RetentionReport:
    """Delete every active, unheld asset whose ``retain_until`` is before ``today``; report what was done."""
    report = RetentionReport()
    with archive.db.session() as s:
        rows = s.execute(
            select(Asset.id, Asset.legal_hold)
            .where(Asset.status == "active", Asset.retain_until.is_not(None), Asset.retain_until < today)
            .order_by(Asset.id)
        ).all()
    for asset_id, held in rows:
        if held:
            report.held.append(asset_id)
            continue
        report.due.append(asset_id)
        if not dry_run:
            archive.delete_asset(asset_id, actor_id=actor_id, reason=f"retention period ended before {today.isoformat()}")
            report.deleted.append(asset_id)
    if not dry_run:
        report.orphans_removed = sweep_orphans(archive)
        archive.storage.sweep_temp()
    return report


def sweep_orphans(archive: Archive, *, older_than: float = ORPHAN_AGE_SECONDS) -> int:
    """Remove blobs no catalogue row names (a crash between filing and committing left them)."""
    with archive.db.session() as s:
        named = set(s.scalars(select(AssetFile.sha256)))
    cutoff = time.time() - older_than
    n = 0
    for digest in list(archive.storage.digests()):
        if digest in named:
            continue
        path = archive.storage.path(digest)
        try:
            if path.stat().st_mtime > cutoff:
                continue
        except FileNotFoundError:
            continue
        if archive.storage.delete(digest):
            n += 1
    return n
