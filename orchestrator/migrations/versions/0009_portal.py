"""portal: a person's language (kk, ru, en) for every page and message they see

Revision ID: 0009_portal
Revises: 0007_hardening
Create Date: 2026-12-02 18:00:00

NULL means "not chosen": the pages follow the browser's language (issue 13 §4).
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_portal"
down_revision = "0007_hardening"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("people") as batch:
        batch.add_column(sa.Column("language", sa.String(length=8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("people") as batch:
        batch.drop_column("language")
