"""What each kind of job does; each body is idempotent, so a run cut short and done again leaves one result.

- ``compose``: a recording folder -> ``media.composition`` (content-named output) ->
  ``asset.composed`` on the bus -> ``orchestrator.archive.service.archive_composition``
  (idempotent per session; publishes ``asset.archived`` when it made the item).
- ``verify``: ``orchestrator.archive.verify`` over the whole archive.
- ``package``: an archived lecture -> ``orchestrator.channel.packaging.package_asset`` for a
  channel's profile and service (a ``tv/<profile>-<hash>.ts`` file of the asset, made once)
  -> ``asset.packaged``.
- ``hls``: an archived lecture's master cut again as HLS by remux (``media.transcode.hls``)
  into ``<media_root>/hls/<asset>`` (a rendition that exists is kept).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from media.transcode.ffmpeg import FFmpeg, Progress
from orchestrator.errors import UserError
from orchestrator.jobs.runner import JobContext


def _ffmpeg(ctx: JobContext) -> FFmpeg:
    return FFmpeg.locate(ctx.settings.ffmpeg_path)


def _session_id(value: Any) -> int:
    text = str(value)
    if not text.isdigit():
        raise UserError(f"recording of session {text!r}: not a session of this service (ids are numbers)")
    return int(text)


def compose_job(ctx: JobContext) -> dict[str, Any]:
    from media.composition import compose
    from orchestrator.archive.service import archive_composition

    folder = Path(str(ctx.args.get("folder") or ""))
    if not folder.is_dir():
        raise UserError(f"recording folder {folder} does not exist (moved or deleted before composition)")
    session_id = _session_id(ctx.args.get("session_id"))
    out_root = ctx.settings.effective_media_root / "compositions"

    def progress(p: Progress) -> None:
        ctx.progress((p.fraction or 0.0) * 0.9, "compose")

    ctx.progress(0.0, "compose")
    result = compose(folder, out_root, ffmpeg=_ffmpeg(ctx), progress=progress, cancel=ctx.cancel,
                     nice=ctx.runtime.nice, threads=ctx.settings.jobs.ffmpeg_threads)  # fmt: skip
    svc = ctx.runtime.svc
    composed = {"session_id": session_id, "recording_id": ctx.args.get("recording_id"), "folder": str(result.folder),
                "key": result.key, "duration": result.duration, "missing": list(result.missing), "job_id": ctx.id}  # fmt: skip
    ctx.call(svc.bus.publish("asset.composed", composed))
    ctx.progress(0.92, "archive")
    ingest = ctx.call(archive_composition(svc, session_id, result.folder))
    return {"folder": str(result.folder), "key": result.key, "duration": result.duration, "reused": result.reused,
            "missing": list(result.missing), "asset_id": ingest.asset_id, "archived_now": ingest.created}  # fmt: skip


def verify_job(ctx: JobContext) -> dict[str, Any]:
    from orchestrator.archive.service import archive_of
    from orchestrator.archive.verify import verify

    ctx.progress(0.0, "verify")
    report = verify(archive_of(ctx.runtime.svc), progress=lambda n, total: ctx.progress(n / max(total, 1)))
    return {"ok": report.ok, "checked": report.checked, "bytes": report.bytes,
            "missing": [p.line() for p in report.missing], "corrupt": [p.line() for p in report.corrupt],
            "orphans": len(report.orphans)}  # fmt: skip


def _master(ctx: JobContext) -> tuple[int, Path]:
    from orchestrator.archive.catalogue import MASTER_VIDEO
    from orchestrator.archive.models import Asset
    from orchestrator.archive.service import archive_of

    asset_id = int(ctx.args.get("asset_id") or 0)
    archive = archive_of(ctx.runtime.svc)
    with archive.db.session() as s:
        asset = s.get(Asset, asset_id)
        if asset is None or asset.status != "active":
            raise UserError(f"archive item {asset_id} does not exist or was deleted")
        master = next((f for f in asset.files if f.name == MASTER_VIDEO), None)
        if master is None:
            raise UserError(f"archive item {asset_id} has no video")
        return asset_id, archive.storage.path(master.sha256)


def package_job(ctx: JobContext) -> dict[str, Any]:
    """Args: ``asset_id``, ``profile`` (a name, never a path), ``profiles_dirs`` (the operator's profile
    folders the command line was given, optional), ``service`` (the channel's,
    ``orchestrator.channel.packaging.service_args``; the default service without one)."""
    from media.transcode.profiles import load_profile
    from orchestrator.archive.service import archive_of
    from orchestrator.channel.packaging import package_asset, service_from_args

    asset_id = int(ctx.args.get("asset_id") or 0)
    name = str(ctx.args.get("profile") or "")
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,40}", name):
        raise UserError(f"profile {name!r}: a profile is named by lower-case letters, digits and '-'")
    try:
        profile = load_profile(name, extra_dirs=[str(d) for d in ctx.args.get("profiles_dirs") or []])
    except Exception as exc:  # a MediaError or a file error, said by the profile loader
        raise UserError(f"profile {name!r}: {exc}") from None
    profile = profile.for_service(service_from_args(ctx.args.get("service")))
    ctx.progress(0.0, "package")
    done = package_asset(archive_of(ctx.runtime.svc), asset_id, profile, cancel=ctx.cancel,
                         progress=lambda p: ctx.progress(p.fraction, p.stage or "package"))  # fmt: skip
    if done.created:  # a retry that finds the stream made announces nothing new
        ctx.call(ctx.runtime.svc.bus.publish("asset.packaged", {**done.event(), "job_id": ctx.id}))
    return {**done.event(), "path": str(done.path), "created": done.created}


def hls_job(ctx: JobContext) -> dict[str, Any]:
    from media.transcode.hls import PLAYLIST, cut_hls

    asset_id, source = _master(ctx)
    out_dir = ctx.settings.effective_media_root / "hls" / str(asset_id)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    if not (out_dir / PLAYLIST).is_file():  # cut_hls renames its folder into place whole
        ctx.progress(0.1, "hls")
        cut_hls(_ffmpeg(ctx), source, out_dir, segment_seconds=ctx.settings.archive.hls_segment_seconds)
    return {
        "asset_id": asset_id,
        "directory": str(out_dir),
        "files": sorted(p.name for p in out_dir.iterdir()),
    }


BODIES: dict[str, Callable[[JobContext], dict[str, Any]]] = {
    "compose": compose_job,
    "verify": verify_job,
    "package": package_job,
    "hls": hls_job,
}
