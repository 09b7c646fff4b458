"""defenses: sittings, seats, turns, scores, grades and their changes, attendance; row-to-audit binding

Revision ID: 0008_defenses
Revises: 0004_archive
Create Date: 2026-12-02 16:40:00

Control results gain ``audit_hash`` (the audit entry that wrote the row's value, §28).
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_defenses"
down_revision = "0004_archive"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "defense_sittings",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("key", sa.String(120), nullable=False, unique=True),
        sa.Column("offering_id", sa.Integer(), sa.ForeignKey("offerings.id", ondelete="SET NULL"), nullable=True),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("start_at", TZ, nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("rule", sa.String(20), nullable=False),
        sa.Column("rubric", sa.JSON(), nullable=False),
        sa.Column("slot_minutes", sa.Integer(), nullable=False),
        sa.Column("current_turn_id", sa.Integer(), nullable=True),
        sa.Column("started_at", TZ, nullable=True),
        sa.Column("signed_at", TZ, nullable=True),
        sa.Column("signed_by", sa.Integer(), sa.ForeignKey("people.id"), nullable=True),
        sa.Column("audit_hash", sa.String(64), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
    )
    op.create_table(
        "defense_seats",
        sa.Column("sitting_id", sa.Integer(), sa.ForeignKey("defense_sittings.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("person_id", sa.Integer(), sa.ForeignKey("people.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("seat", sa.String(10), nullable=False),
    )
    op.create_index("ix_defense_seats_person_id", "defense_seats", ["person_id"])
    op.create_table(
        "defense_turns",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("sitting_id", sa.Integer(), sa.ForeignKey("defense_sittings.id", ondelete="CASCADE"), nullable=False),
        sa.Column("student_id", sa.Integer(), sa.ForeignKey("people.id", ondelete="CASCADE"), nullable=False),
        sa.Column("session_id", sa.Integer(), sa.ForeignKey("sessions.id", ondelete="SET NULL"), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("path", sa.String(10), nullable=False),
        sa.Column("note", sa.String(500), nullable=True),
        sa.Column("started_at", TZ, nullable=True),
        sa.Column("ended_at", TZ, nullable=True),
        sa.Column("recording_offset", sa.Float(), nullable=True),
        sa.Column("questions", sa.JSON(), nullable=False),
        sa.Column("grading_closed_at", TZ, nullable=True),
        sa.UniqueConstraint("sitting_id", "student_id", name="uq_turn_student"),
    )
    op.create_index("ix_defense_turns_sitting_id", "defense_turns", ["sitting_id"])
    op.create_index("ix_defense_turns_student_id", "defense_turns", ["student_id"])
    op.create_table(
        "defense_scores",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("turn_id", sa.Integer(), sa.ForeignKey("defense_turns.id", ondelete="CASCADE"), nullable=False),
        sa.Column("member_id", sa.Integer(), sa.ForeignKey("people.id"), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("criteria", sa.JSON(), nullable=True),
        sa.Column("submitted_at", TZ, nullable=False),
        sa.Column("audit_hash", sa.String(64), nullable=True),
        sa.UniqueConstraint("turn_id", "member_id", name="uq_score_member"),
    )
    op.create_index("ix_defense_scores_turn_id", "defense_scores", ["turn_id"])
    op.create_table(
        "defense_grades",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("turn_id", sa.Integer(), sa.ForeignKey("defense_turns.id", ondelete="CASCADE"), nullable=False, unique=True),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("letter", sa.String(4), nullable=False),
        sa.Column("grade_point", sa.Float(), nullable=False),
        sa.Column("mark", sa.Integer(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("scale", sa.String(40), nullable=False),
        sa.Column("final", sa.Boolean(), nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.Column("audit_hash", sa.String(64), nullable=True),
    )
    op.create_table(
        "defense_grade_changes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("grade_id", sa.Integer(), sa.ForeignKey("defense_grades.id", ondelete="CASCADE"), nullable=False),
        sa.Column("at", TZ, nullable=False),
        sa.Column("by", sa.Integer(), sa.ForeignKey("people.id"), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("before", sa.JSON(), nullable=False),
        sa.Column("after", sa.JSON(), nullable=False),
    )
    op.create_index("ix_defense_grade_changes_grade_id", "defense_grade_changes", ["grade_id"])
    op.create_table(
        "attendance",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("session_id", sa.Integer(), sa.ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
        sa.Column("person_id", sa.Integer(), sa.ForeignKey("people.id", ondelete="CASCADE"), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("joined_at", TZ, nullable=False),
        sa.Column("left_at", TZ, nullable=True),
        sa.Column("audit_hash", sa.String(64), nullable=True),
    )
    op.create_index("ix_attendance_session_id", "attendance", ["session_id"])
    op.create_index("ix_attendance_person_id", "attendance", ["person_id"])
    with op.batch_alter_table("control_results") as b:
        b.add_column(sa.Column("audit_hash", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("control_results") as b:
        b.drop_column("audit_hash")
    for table in ("attendance", "defense_grade_changes", "defense_grades", "defense_scores", "defense_turns",
                  "defense_seats", "defense_sittings"):
        op.drop_table(table)
