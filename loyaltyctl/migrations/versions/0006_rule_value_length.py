"""A rule value may be 1 000 characters (was 200).

The rules allow 100 prizes of up to 1 000 000 points: a ``yearly_bonus`` of
799 characters.  SQLite never enforced VARCHAR(200); PostgreSQL does, and
refused it.  SQLite rebuilds the table (batch mode: a new table, the rows
copied, the old one dropped with its triggers), so the append-only triggers
are created again; PostgreSQL widens the column in place (its trigger stays).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        with op.batch_alter_table("rule_version", recreate="always") as batch:
            batch.alter_column(
                "value", type_=sa.String(1000), existing_type=sa.String(200), existing_nullable=False
            )
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER rule_version_no_{action.lower()} BEFORE {action} ON rule_version "
                f"BEGIN SELECT RAISE(ABORT, 'rule versions are append-only'); END"
            )
    else:
        op.alter_column(
            "rule_version",
            "value",
            type_=sa.String(1000),
            existing_type=sa.String(200),
            existing_nullable=False,
        )


def downgrade() -> None:
    raise NotImplementedError("loyaltyctl migrations are forward-only")
