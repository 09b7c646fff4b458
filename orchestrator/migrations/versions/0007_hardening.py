"""hardening: join grants issued (who holds which join token), revocations bound to their session

Revision ID: 0007_hardening
Revises: 0010_webhooks
Create Date: 2026-12-02 17:00:00

A revocation names its session and person: a host of one session cannot revoke a token of
another, and the revoked person is marked removed in the room (a new token lands in the lobby).
Rows revoked before this revision keep ``session_id`` NULL and stay revoked for any session.
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_hardening"
down_revision = "0010_webhooks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "join_grants",
        sa.Column("jti", sa.String(length=64), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["session_id"], ["sessions.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("jti"),
    )
    op.create_index("ix_join_grants_session_person", "join_grants", ["session_id", "person_id"])
    with op.batch_alter_table("revoked_grants") as batch:
        batch.add_column(sa.Column("session_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("person_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("revoked_grants") as batch:
        batch.drop_column("person_id")
        batch.drop_column("session_id")
    op.drop_index("ix_join_grants_session_person", table_name="join_grants")
    op.drop_table("join_grants")
