"""Rewards: the catalog and redemption requests.

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _int(column: str, table: str) -> sa.CheckConstraint:
    return sa.CheckConstraint(f"{column} = CAST({column} AS BIGINT)", name=f"ck_{table}_{column}_int")


def upgrade() -> None:
    op.create_table(
        "catalog_item",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("sku", sa.String(64), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("stock", sa.BigInteger(), nullable=True),
        sa.Column("reserved", sa.BigInteger(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        _int("points", "catalog_item"),
        sa.CheckConstraint("points > 0", name="ck_catalog_item_points_positive"),
        sa.CheckConstraint("reserved >= 0", name="ck_catalog_item_reserved"),
        sa.CheckConstraint("stock IS NULL OR stock >= reserved", name="ck_catalog_item_stock"),
    )
    op.create_index("ix_catalog_item_name", "catalog_item", ["name"])
    op.create_index("ix_catalog_item_points", "catalog_item", ["points"])
    op.create_table(
        "redemption",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("account_id", sa.Integer(), sa.ForeignKey("account.id"), nullable=False),
        sa.Column("sku", sa.String(64), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_points", sa.BigInteger(), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.String(500), nullable=True),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.CheckConstraint("status IN ('pending', 'approved', 'rejected')", name="ck_redemption_status"),
        sa.CheckConstraint("quantity > 0", name="ck_redemption_quantity"),
        sa.CheckConstraint("points = unit_points * quantity", name="ck_redemption_points"),
    )
    op.create_index("ix_redemption_status_requested", "redemption", ["status", "requested_at"])
    op.create_index("ix_redemption_account_id", "redemption", ["account_id"])


def downgrade() -> None:
    raise NotImplementedError("loyaltyctl migrations are forward-only")
