"""An archived lecture packaged for a channel: a CBR DVB transport stream kept as a file of its asset.

    packaged = package_asset(archive, asset_id, profile.for_service(channel_service))   # the job body
    packaged.path, packaged.duration, packaged.created

The transport stream is stored in the archive's content-addressed storage as a
file of the asset named after the profile and the channel's service
(``tv/hd-720p25-<hash>.ts``, role ``tv``), so ``archive verify`` checks it,
retention and deletion take it with the asset, and packaging again for the same
channel and profile finds it instead of encoding twice (retries are idempotent:
same inputs, same file, one row). ``package_asset`` is the body of the job queue's
``package`` job (orchestrator/jobs/kinds.py), which publishes ``asset.packaged``.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError

from media.broadcast.package import package
from media.broadcast.playout import profile_tag
from media.errors import MediaError
from media.transcode.ffmpeg import ProgressCallback
from media.transcode.profiles import Profile
from media.transcode.service import DEFAULT_SERVICE, Service
from orchestrator import audit
from orchestrator.archive.catalogue import MASTER_VIDEO, Archive
from orchestrator.archive.models import Asset, AssetFile
from orchestrator.errors import NotFound, UserError

log = logging.getLogger("aulacast.channel")

ROLE = "tv"
MEDIA_TYPE = "video/mp2t"


@dataclass(frozen=True)
class Packaged:
    """Where an asset's packaged stream is, how long it plays, and whether this call made it."""

    asset_id: int
    name: str  # the asset file's name, tv/<profile>-<hash>.ts
    sha256: str
    path: Path
    duration: float
    profile: str
    service_id: int
    created: bool

    def event(self) -> dict[str, Any]:
        """The ``asset.packaged`` payload."""
        return {"asset_id": self.asset_id, "file": self.name, "sha256": self.sha256, "profile": self.profile,
                "service_id": self.service_id, "duration": self.duration, "page": f"/archive/{self.asset_id}"}


def packaged_name(profile: Profile) -> str:
    """The asset file name of a stream in ``profile`` carrying its bound service."""
    return f"tv/{profile_tag(profile)}.ts"


def service_args(service: Service) -> dict[str, Any]:
    """A service as a job's JSON arguments."""
    return {"name": service.name, "provider": service.provider, "service_id": service.service_id,
            "original_network_id": service.original_network_id, "transport_stream_id": service.transport_stream_id}


def service_from_args(data: Any) -> Service:
    """The service a package job was given (``service_args``); the default service without one."""
    if data is None:
        return DEFAULT_SERVICE
    if not isinstance(data, dict):
        raise UserError("a package job's service must be a mapping")
    try:
        return Service(**{k: data[k] for k in ("name", "provider", "service_id", "original_network_id",
                                               "transport_stream_id")})  # fmt: skip
    except KeyError as exc:
        raise UserError(f"a package job's service lacks {exc.args[0]!r}") from None
    except MediaError as exc:
        raise UserError(str(exc)) from None


def package_asset(archive: Archive, asset_id: int, profile: Profile, *, actor_id: int | None = None,
                  progress: ProgressCallback | None = None, cancel: threading.Event | None = None) -> Packaged:  # fmt: skip
    """Package asset ``asset_id``'s master video in ``profile`` (with the channel's service bound to it).

    Idempotent: a stream already packaged for this profile and service is returned as it is.
    Raises ``NotFound`` for a missing or deleted asset, ``UserError`` for one that is not a video
    or whose master file is gone (run ``aulacast archive verify``).
    """
    name = packaged_name(profile)
    with archive.db.session() as s:
        asset = s.get(Asset, asset_id)
        if asset is None or asset.status != "active":
            raise NotFound(f"archive item {asset_id} does not exist or was deleted")
        master = asset.file(MASTER_VIDEO)
        if master is None:
            raise UserError(f"archive item {asset_id} is a {asset.kind} without a video; nothing to put on air")
        done = asset.file(name)
        duration = float(asset.duration or 0.0)
        if done is not None and archive.storage.exists(done.sha256):
            return Packaged(asset_id, name, done.sha256, archive.storage.path(done.sha256), duration, profile.name,
                            profile.service.service_id, created=False)  # fmt: skip
        source = archive.storage.path(master.sha256)
    if not source.is_file():
        raise UserError(f"archive item {asset_id}: its video file is missing from storage (run `aulacast archive "
                        "verify`)")  # fmt: skip
    with archive._workdir() as work:
        out = work / "packaged.ts"
        try:
            report = package(source, out, profile, ffmpeg=archive.ffmpeg, progress=progress, cancel=cancel)
        except MediaError as exc:
            raise UserError(f"archive item {asset_id} could not be packaged for {profile.name}: {exc}") from None
        blob = archive.storage.put_file(out, move=True)
    duration = duration or round(report.duration, 3)
    created = True
    try:
        with archive.db.session() as s:
            asset = s.get(Asset, asset_id)
            if asset is None or asset.status != "active":
                raise NotFound(f"archive item {asset_id} was deleted while it was being packaged")
            old = asset.file(name)
            if old is not None:  # a stale row whose bytes were gone: replaced by the new stream
                asset.files.remove(old)
                s.flush()
            asset.files.append(AssetFile(name=name, role=ROLE, sha256=blob.sha256, size=blob.size,
                                         media_type=MEDIA_TYPE))  # fmt: skip
            audit.record(s, actor_id, "archive.package", f"asset:{asset_id}", file=name, sha256=blob.sha256,
                         profile=profile.name, service_id=profile.service.service_id)  # fmt: skip
    except IntegrityError:
        created = False  # another worker packaged the same stream meanwhile: same inputs, same bytes
    log.info("packaged for TV", extra={"asset": asset_id, "file": name, "sha256": blob.sha256})
    return Packaged(asset_id, name, blob.sha256, archive.storage.path(blob.sha256), duration, profile.name,
                    profile.service.service_id, created=created)  # fmt: skip
