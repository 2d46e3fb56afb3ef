"""Guards: the points (and item count) columns added with quizzes, lead tips,
the leaderboard and the reward shop take whole numbers only, enforced by the
database itself, like the ledger's own columns since 0001.

On SQLite a column's declared type does not stop ``'lots'`` or ``1.5`` from
landing in it.  Adding a CHECK to an existing SQLite table means rebuilding the
table (and its triggers and foreign keys) under a live program; a BEFORE
INSERT/UPDATE trigger gives the same guarantee without touching a row.
SQLite applies the column's INTEGER affinity before the trigger runs, so
``'1200'`` still lands as the integer 1200 and only what cannot be a whole
number is refused.  PostgreSQL's BIGINT/INTEGER columns refuse such values
already: nothing to do there.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# table -> whole-number columns (NULL stays allowed where the column allows it)
GUARDED = {
    "quiz": ("questions", "points_per_correct"),
    "quiz_award": ("correct", "points"),
    "lead": ("points",),
    "leaderboard_award": ("rank", "points", "bonus"),
    "catalog_item": ("stock", "reserved"),
    "redemption": ("quantity", "unit_points", "points"),
}


def _when(columns: tuple[str, ...]) -> str:
    return " OR ".join(f"(NEW.{c} IS NOT NULL AND typeof(NEW.{c}) <> 'integer')" for c in columns)


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table, columns in GUARDED.items():
        message = f"{table}: {', '.join(columns)} must be whole numbers"
        for action in ("INSERT", "UPDATE"):
            op.execute(
                f"CREATE TRIGGER {table}_whole_{action.lower()} BEFORE {action} ON {table} "
                f"WHEN {_when(columns)} "
                f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
            )


def downgrade() -> None:
    raise NotImplementedError("loyaltyctl migrations are forward-only")
