"""Engagement: quizzes and their awards, lead tips, leaderboard runs and awards.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# Ledger-like tables: written once, never updated or deleted.
APPEND_ONLY = ("quiz_award", "leaderboard_run", "leaderboard_award")


def upgrade() -> None:
    op.create_table(
        "quiz",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("code", sa.String(64), nullable=False, unique=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("questions", sa.Integer(), nullable=False),
        sa.Column("points_per_correct", sa.BigInteger(), nullable=False),
        sa.Column("welcome", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.CheckConstraint("questions BETWEEN 5 AND 10", name="ck_quiz_questions"),
        sa.CheckConstraint("points_per_correct > 0", name="ck_quiz_points_positive"),
    )
    # At most one welcome quiz (a partial unique index: SQLite and PostgreSQL alike).
    op.create_index(
        "uq_quiz_welcome",
        "quiz",
        ["welcome"],
        unique=True,
        sqlite_where=sa.text("welcome = 1"),
        postgresql_where=sa.text("welcome"),
    )
    op.create_table(
        "quiz_award",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("quiz_id", sa.Integer(), sa.ForeignKey("quiz.id"), nullable=False),
        sa.Column("seller_id", sa.Integer(), sa.ForeignKey("seller.id"), nullable=False),
        sa.Column("correct", sa.Integer(), nullable=False),
        sa.Column("taken_on", sa.Date(), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("batch_id", sa.Integer(), sa.ForeignKey("batch.id"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("quiz_id", "seller_id", name="uq_quiz_award_seller"),
        sa.CheckConstraint("correct >= 0", name="ck_quiz_award_correct"),
    )
    op.create_table(
        "lead",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("seller_id", sa.Integer(), sa.ForeignKey("seller.id"), nullable=False),
        sa.Column("company", sa.String(200), nullable=False),
        sa.Column("org_number", sa.String(32), nullable=True),
        sa.Column("note", sa.String(500), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(500), nullable=True),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("created_on", sa.Date(), nullable=False),
        sa.Column("decided_on", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.CheckConstraint("status IN ('pending', 'accepted', 'rejected')", name="ck_lead_status"),
    )
    op.create_index("ix_lead_org_number", "lead", ["org_number"])
    op.create_table(
        "leaderboard_run",
        sa.Column("id", sa.Integer(), primary_key=True),
        # "2026-10" (a month) or "2026" (a year): awarded once, whoever races.
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.Column("run_on", sa.Date(), nullable=False),
        sa.Column("forced", sa.Boolean(), nullable=False),
        sa.Column("batch_id", sa.Integer(), sa.ForeignKey("batch.id"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.UniqueConstraint("period", name="uq_leaderboard_run_period"),
    )
    op.create_table(
        "leaderboard_award",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("leaderboard_run.id"), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("seller_id", sa.Integer(), sa.ForeignKey("seller.id"), nullable=False),
        sa.Column("partner_id", sa.Integer(), sa.ForeignKey("partner.id"), nullable=False),
        sa.Column("account_id", sa.Integer(), sa.ForeignKey("account.id"), nullable=True),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("bonus", sa.BigInteger(), nullable=False),
        sa.UniqueConstraint("run_id", "seller_id", name="uq_leaderboard_award_seller"),
    )

    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for table in APPEND_ONLY:
            for action in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{table} rows are append-only'); END"
                )
    elif dialect == "postgresql":
        for table in APPEND_ONLY:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION loyaltyctl_append_only()"
            )


def downgrade() -> None:
    raise NotImplementedError("loyaltyctl migrations are forward-only")
