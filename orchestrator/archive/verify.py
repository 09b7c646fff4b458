"""Re-hash every archived file and name what is missing or corrupt.

    report = verify(archive)
    report.ok, report.missing, report.corrupt, report.orphans

Every file of every active asset is read whole and its SHA-256 compared with the
digest it is filed under; a file the catalogue names but storage lacks is missing,
one whose bytes hash differently is corrupt. Blobs no catalogue row names are
listed as orphans (left by a crash mid-ingest; retention sweeps them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import select

from orchestrator.archive.catalogue import Archive
from orchestrator.archive.models import Asset, AssetFile


@dataclass(frozen=True)
class Problem:
    asset_id: int
    name: str
    sha256: str
    path: str
    found: str | None = None  # what the bytes hash to now (corrupt), None when missing

    def line(self) -> str:
        what = "missing" if self.found is None else f"corrupt (hashes to {self.found[:16]}…)"
        return f"asset {self.asset_id} {self.name}: {what}: {self.path}"


@dataclass
class VerifyReport:
    checked: int = 0
    bytes: int = 0
    missing: list[Problem] = field(default_factory=list)
    corrupt: list[Problem] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.missing and not self.corrupt


def verify(archive: Archive, *, progress: Callable[[int, int], None] | None = None) -> VerifyReport:
    """Re-hash every file of every active asset (each blob once); report missing and corrupt ones."""
    with archive.db.session() as s:
        rows = s.execute(
            select(AssetFile.asset_id, AssetFile.name, AssetFile.sha256, AssetFile.size)
            .join(Asset, Asset.id == AssetFile.asset_id)
            .where(Asset.status == "active")
            .order_by(AssetFile.asset_id, AssetFile.name)
        ).all()
    report = VerifyReport()
    seen: dict[str, str | None] = {}
    for n, (asset_id, name, digest, size) in enumerate(rows, 1):
        if digest not in seen:
            seen[digest] = archive.storage.rehash(digest)
            report.bytes += size if seen[digest] == digest else 0
        found = seen[digest]
        report.checked += 1
        if found != digest:
            problem = Problem(asset_id, name, digest, str(archive.storage.path(digest)), found)
            (report.missing if found is None else report.corrupt).append(problem)
        if progress is not None:
            progress(n, len(rows))
    # Deletion drops a deleted asset's file rows, so the active assets' files are all that is named.
    report.orphans = [d for d in archive.storage.digests() if d not in seen]
    return report
