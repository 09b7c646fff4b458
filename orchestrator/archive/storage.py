"""Content-addressed blob storage: bytes filed by their SHA-256, behind a small interface.

    store = LocalStorage(settings.effective_media_root / "archive")
    blob = store.put_file(Path("lecture.mp4"))        # Blob(sha256, size); same bytes -> same blob
    store.path(blob.sha256)                             # where ffmpeg or a file response reads it
    store.rehash(blob.sha256)                           # what the bytes hash to now (verify)

A blob appears under its final name only whole: it is written to a temporary
file in the same file system, flushed to disk, then renamed. Other backends
(an object store) implement the same six methods; ``make_storage`` picks one
from the settings.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from orchestrator.errors import ConfigError

CHUNK = 1024 * 1024
HEX = frozenset("0123456789abcdef")


@dataclass(frozen=True)
class Blob:
    sha256: str
    size: int


class Storage(Protocol):
    """Where archive bytes live. Digests are lower-case hex SHA-256."""

    def put_file(self, src: Path, *, move: bool = False) -> Blob: ...
    def put_bytes(self, data: bytes) -> Blob: ...
    def path(self, digest: str) -> Path: ...
    def exists(self, digest: str) -> bool: ...
    def rehash(self, digest: str) -> str | None: ...
    def delete(self, digest: str) -> bool: ...
    def digests(self) -> Iterator[str]: ...


def _check(digest: str) -> str:
    if len(digest) != 64 or not set(digest) <= HEX:
        raise ValueError(f"not a SHA-256 hex digest: {digest!r}")
    return digest


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


class LocalStorage:
    """Blobs under ``root/sha256/ab/cd/<digest>`` on a local (or mounted) file system."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._tmp = self.root / "tmp"

    def path(self, digest: str) -> Path:
        d = _check(digest)
        return self.root / "sha256" / d[:2] / d[2:4] / d

    def exists(self, digest: str) -> bool:
        return self.path(digest).is_file()

    def _temp(self) -> Path:
        self._tmp.mkdir(parents=True, exist_ok=True)
        return self._tmp / f"{uuid.uuid4().hex}.part"

    def _commit(self, temp: Path, digest: str) -> None:
        # Same bytes filed again replace the old copy: a copy that rotted on disk is healed by the new one.
        final = self.path(digest)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(temp, 0o444)  # a blob never changes
        os.replace(temp, final)
        _fsync_dir(final.parent)

    def put_file(self, src: Path, *, move: bool = False) -> Blob:
        """File ``src``'s bytes; with ``move`` the source is renamed in when on the same file system."""
        temp = self._temp()
        try:
            if move and _same_device(src, self.root):
                digest = sha256_of(src)
                size = src.stat().st_size
                os.replace(src, temp)
                with temp.open("rb") as f:
                    os.fsync(f.fileno())
            else:
                h = hashlib.sha256()
                size = 0
                with src.open("rb") as fin, temp.open("wb") as fout:
                    while chunk := fin.read(CHUNK):
                        h.update(chunk)
                        fout.write(chunk)
                        size += len(chunk)
                    fout.flush()
                    os.fsync(fout.fileno())
                digest = h.hexdigest()
                if move:
                    src.unlink()
            self._commit(temp, digest)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        return Blob(digest, size)

    def put_bytes(self, data: bytes) -> Blob:
        temp = self._temp()
        try:
            with temp.open("wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            digest = hashlib.sha256(data).hexdigest()
            self._commit(temp, digest)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        return Blob(digest, len(data))

    def open(self, digest: str) -> BinaryIO:
        return self.path(digest).open("rb")

    def rehash(self, digest: str) -> str | None:
        """The SHA-256 of the bytes stored under ``digest`` now; None when the file is missing."""
        path = self.path(digest)
        try:
            return sha256_of(path)
        except FileNotFoundError:
            return None

    def delete(self, digest: str) -> bool:
        path = self.path(digest)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        return True

    def digests(self) -> Iterator[str]:
        base = self.root / "sha256"
        if not base.is_dir():
            return
        for path in sorted(base.glob("*/*/*")):
            if len(path.name) == 64 and set(path.name) <= HEX:
                yield path.name

    def sweep_temp(self, older_than: float = 6 * 3600) -> int:
        """Remove temporary files a crash left (untouched for ``older_than`` seconds); the number removed."""
        if not self._tmp.is_dir():
            return 0
        n = 0
        cutoff = time.time() - older_than
        for p in self._tmp.iterdir():
            if p.stat().st_mtime > cutoff:
                continue
            if p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)
            n += 1
        return n


def _same_device(a: Path, b: Path) -> bool:
    b.mkdir(parents=True, exist_ok=True)
    return a.stat().st_dev == b.stat().st_dev


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_storage(settings: object) -> LocalStorage:
    """The storage the settings name (``archive.storage``); ``local`` keeps blobs under the media root."""
    kind = settings.archive.storage  # type: ignore[attr-defined]
    if kind != "local":
        raise ConfigError(f"setting 'archive.storage': unknown backend {kind!r} (known: local)")
    return LocalStorage(settings.effective_media_root / "archive")  # type: ignore[attr-defined]
