"""archive: assets (Dublin Core), their content-addressed files, tus uploads, full-text index

Revision ID: 0004_archive
Revises: 0001_initial
Create Date: 2026-12-02 12:00:00

The full-text index is the database's own: an FTS5 table on SQLite, a generated
``tsvector`` column with a GIN index on PostgreSQL (see orchestrator/archive/search.py).
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_archive"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "archive_assets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("source_key", sa.String(length=200), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("media_type", sa.String(length=80), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("duration", sa.Float(), nullable=True),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("session_id", sa.Integer(), nullable=True),
        sa.Column("offering_id", sa.Integer(), nullable=True),
        sa.Column("discipline_id", sa.Integer(), nullable=True),
        sa.Column("group_id", sa.Integer(), nullable=True),
        sa.Column("tutor_id", sa.Integer(), nullable=True),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("sitting", sa.String(length=120), nullable=True),
        sa.Column("visibility", sa.String(length=10), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("creator", sa.String(length=300), nullable=False),
        sa.Column("dc_date", sa.Date(), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("language", sa.String(length=20), nullable=False),
        sa.Column("dc_type", sa.String(length=40), nullable=False),
        sa.Column("rights", sa.String(length=500), nullable=False),
        sa.Column("chapters", sa.JSON(), nullable=False),
        sa.Column("chat", sa.JSON(), nullable=False),
        sa.Column("retain_until", sa.Date(), nullable=True),
        sa.Column("legal_hold", sa.Boolean(), nullable=False),
        sa.Column("hold_reason", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["session_id"], ["sessions.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["offering_id"], ["offerings.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["discipline_id"], ["disciplines.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["group_id"], ["groups.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["tutor_id"], ["people.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["owner_id"], ["people.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source_key", name="uq_archive_source"),
    )
    for col in ("kind", "status", "sha256", "session_id", "discipline_id", "group_id", "tutor_id", "owner_id",
                "dc_date", "retain_until"):  # fmt: skip
        op.create_index(f"ix_archive_assets_{col}", "archive_assets", [col])
    op.create_table(
        "archive_files",
        sa.Column("asset_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("media_type", sa.String(length=80), nullable=False),
        sa.ForeignKeyConstraint(["asset_id"], ["archive_assets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("asset_id", "name"),
    )
    op.create_index("ix_archive_files_sha256", "archive_files", ["sha256"])
    op.create_table(
        "archive_uploads",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("filename", sa.String(length=300), nullable=False),
        sa.Column("length", sa.BigInteger(), nullable=False),
        sa.Column("received", sa.BigInteger(), nullable=False),
        sa.Column("meta", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("asset_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["owner_id"], ["people.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["session_id"], ["sessions.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["asset_id"], ["archive_assets.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    for col in ("owner_id", "session_id", "status", "expires_at"):
        op.create_index(f"ix_archive_uploads_{col}", "archive_uploads", [col])

    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE VIRTUAL TABLE archive_fts USING fts5("
            "title, description, transcript, tokenize = 'unicode61 remove_diacritics 2')"
        )
    else:
        op.execute(
            "CREATE TABLE archive_text ("
            " asset_id integer PRIMARY KEY REFERENCES archive_assets(id) ON DELETE CASCADE,"
            " title text NOT NULL DEFAULT '', description text NOT NULL DEFAULT '',"
            " transcript text NOT NULL DEFAULT '',"
            " tsv tsvector GENERATED ALWAYS AS ("
            "  setweight(to_tsvector('simple', title), 'A') ||"
            "  setweight(to_tsvector('simple', description), 'B') ||"
            "  setweight(to_tsvector('simple', transcript), 'C')) STORED)"
        )
        op.execute("CREATE INDEX ix_archive_text_tsv ON archive_text USING gin (tsv)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE archive_fts")
    else:
        op.execute("DROP TABLE archive_text")
    op.drop_table("archive_uploads")
    op.drop_table("archive_files")
    op.drop_table("archive_assets")
