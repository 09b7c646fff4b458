"""Catalogue tables: assets (Dublin Core record + access facts), their files, and resumable uploads.

An asset is one catalogue entry (a lecture video, a defense recording, a
student's presentation or written work); its files are content-addressed blobs
(the master, the poster, the chat as WebVTT, every HLS file), each named as a
player asks for it. Deleting an asset keeps its row as a tombstone (status
``deleted``) so the catalogue and the audit log keep telling what was there.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from orchestrator.store.models import Base
from orchestrator.store.types import utcnow

ASSET_STATUSES = ("active", "deleted")
VISIBILITIES = ("restricted", "public")
# DCMI Type vocabulary terms for what we keep.
DC_TYPES = {"video": "MovingImage", "pdf": "Text"}


class Asset(Base):
    __tablename__ = "archive_assets"
    __table_args__ = (UniqueConstraint("source_key", name="uq_archive_source"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), index=True)  # lecture | consultation | control | defense | ...
    status: Mapped[str] = mapped_column(String(10), default="active", index=True)
    # What the asset came from, stable across retries ("session:7:lecture", "upload:<id>", "import:<sha>"):
    # ingesting the same source twice yields the same asset.
    source_key: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64), index=True)  # of the master file
    media_type: Mapped[str] = mapped_column(String(80))
    size: Mapped[int] = mapped_column(BigInteger)
    duration: Mapped[float | None] = mapped_column(Float)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    # Who and what it belongs to: the facts the access policy decides on.
    session_id: Mapped[int | None] = mapped_column(ForeignKey("sessions.id", ondelete="SET NULL"), index=True)
    offering_id: Mapped[int | None] = mapped_column(ForeignKey("offerings.id", ondelete="SET NULL"))
    discipline_id: Mapped[int | None] = mapped_column(ForeignKey("disciplines.id", ondelete="SET NULL"), index=True)
    group_id: Mapped[int | None] = mapped_column(ForeignKey("groups.id", ondelete="SET NULL"), index=True)
    tutor_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"), index=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"), index=True)
    sitting: Mapped[str | None] = mapped_column(String(120))
    visibility: Mapped[str] = mapped_column(String(10), default="restricted")
    # Dublin Core (the fifteen-element set's ones a lecture needs); description is dc:description.
    title: Mapped[str] = mapped_column(String(300))
    creator: Mapped[str] = mapped_column(String(300), default="")
    dc_date: Mapped[date] = mapped_column(Date, index=True)
    subject: Mapped[str] = mapped_column(String(300), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    language: Mapped[str] = mapped_column(String(20), default="")
    dc_type: Mapped[str] = mapped_column(String(40), default="MovingImage")
    rights: Mapped[str] = mapped_column(String(500), default="")
    chapters: Mapped[list[Any]] = mapped_column(JSON, default=list)  # [{"start": s, "title": str}]
    chat: Mapped[list[Any]] = mapped_column(JSON, default=list)  # [{"start", "end", "speaker", "text"}]
    # Retention: kept until this date unless held; a hold (an appeal) blocks every deletion.
    retain_until: Mapped[date | None] = mapped_column(Date, index=True)
    legal_hold: Mapped[bool] = mapped_column(Boolean, default=False)
    hold_reason: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    deleted_at: Mapped[datetime | None]

    files: Mapped[list[AssetFile]] = relationship(
        back_populates="asset", cascade="all, delete-orphan", lazy="selectin", order_by="AssetFile.name"
    )

    def file(self, name: str) -> AssetFile | None:
        return next((f for f in self.files if f.name == name), None)


class AssetFile(Base):
    """One file of an asset under the name a player or downloader asks for; its bytes live by SHA-256."""

    __tablename__ = "archive_files"

    asset_id: Mapped[int] = mapped_column(ForeignKey("archive_assets.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(120), primary_key=True)  # master.mp4, poster.jpg, hls/index.m3u8, ...
    role: Mapped[str] = mapped_column(String(20))  # master | poster | chat | hls
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    media_type: Mapped[str] = mapped_column(String(80))
    asset: Mapped[Asset] = relationship(back_populates="files")


UPLOAD_STATES = ("receiving", "processing", "archived", "refused", "expired", "cancelled")


class Upload(Base):
    """A tus upload: its declared length, how much has arrived, and what became of it."""

    __tablename__ = "archive_uploads"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # presentation | written_work
    filename: Mapped[str] = mapped_column(String(300))
    length: Mapped[int] = mapped_column(BigInteger)
    received: Mapped[int] = mapped_column(BigInteger, default=0)  # the tus Upload-Offset
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(12), default="receiving", index=True)
    message: Mapped[str | None] = mapped_column(Text)
    asset_id: Mapped[int | None] = mapped_column(ForeignKey("archive_assets.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
