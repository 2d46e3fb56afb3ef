"""The tamper-evident ledger: every posting carries a hash chained to the one
before it (``posting.chain_hash``, 16 bytes; see ``loyaltyctl/chain.py``).

The column is added empty, then filled for every posting already there, in id
order, by the same ``chain.link`` that writers use.  The rows are read in
chunks of ``CHUNK`` by id (memory stays flat) and written back:

* SQLite: one ``UPDATE ... WHERE id = ?`` per posting (executemany).  The
  append-only trigger ``posting_no_update`` refuses any update, so it is dropped
  for the migration and created again, with the text migration 0001 gave it
  (``db check``'s guards check compares it), in the same transaction: no other
  connection ever sees the table unguarded.
* PostgreSQL: the hashes are copied (COPY) into a temporary table and applied
  with one ``UPDATE ... FROM``; the trigger ``posting_append_only`` is disabled
  for it and enabled again, in the same transaction.  PostgreSQL writes a new
  version of every row, and of its entry in every index: the three secondary
  indexes are dropped for the update and built again after it (a sort), which
  takes about a third of the time of updating them row by row.

The column stays NULL-able (SQLite adds a NOT NULL column only by rebuilding
the table); a posting without a hash fails ``db check``.

The query below reads the posting table as it stands at 0007, not through
code that later layouts may change; only ``chain.link``, which defines every
stored hash and so never changes, is shared.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

from loyaltyctl.chain import GENESIS, day, link

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

CHUNK = 50_000
_SELECT = (
    "SELECT id, account_id, points, kind, value_date, booking_date, idem_key, actor, batch_id "
    "FROM posting WHERE id > {after} ORDER BY id LIMIT {limit}"
)
# Exactly as 0001 created it.
_SQLITE_NO_UPDATE = (
    "CREATE TRIGGER posting_no_update BEFORE UPDATE ON posting "
    "BEGIN SELECT RAISE(ABORT, 'postings are append-only'); END"
)
_FILL = "loyaltyctl_chain_fill"
# The posting table's secondary indexes at 0007 (PostgreSQL: dropped for the update).
_PG_INDEXES = {
    "ix_posting_seller_value": ("seller_id", "value_date", "kind", "points"),
    "ix_posting_account_booking_points": ("account_id", "booking_date", "points"),
    "ix_posting_contract_pk": ("contract_pk",),
}


def _chunks(conn):
    """(id, chain hash) of every posting, in id order, a chunk at a time."""
    prev, after = GENESIS, 0
    while True:
        rows = conn.exec_driver_sql(_SELECT.format(after=int(after), limit=CHUNK)).fetchall()
        if not rows:
            return
        out = []
        for pid, account_id, points, kind, value_date, booking_date, key, actor, batch_id in rows:
            prev = link(
                prev, account_id, points, kind, day(value_date), day(booking_date), key, actor, batch_id
            )
            out.append((prev, pid))
        after = rows[-1][0]
        yield out


def upgrade() -> None:
    op.add_column("posting", sa.Column("chain_hash", sa.LargeBinary(16), nullable=True))
    conn = op.get_bind()
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("DROP TRIGGER posting_no_update")
        cur = conn.connection.dbapi_connection.cursor()
        try:
            for chunk in _chunks(conn):
                cur.executemany("UPDATE posting SET chain_hash = ? WHERE id = ?", chunk)
        finally:
            cur.close()
        conn.exec_driver_sql(_SQLITE_NO_UPDATE)
        return
    from loyaltyctl.pgbulk import copy_rows, uses_psycopg

    conn.exec_driver_sql("ALTER TABLE posting DISABLE TRIGGER posting_append_only")
    for name in _PG_INDEXES:
        op.drop_index(name, table_name="posting")
    if uses_psycopg(conn):
        conn.exec_driver_sql(
            f"CREATE TEMPORARY TABLE {_FILL} (id INTEGER PRIMARY KEY, h BYTEA) ON COMMIT DROP"
        )
        for chunk in _chunks(conn):
            copy_rows(conn, _FILL, ("h", "id"), chunk)
        conn.exec_driver_sql(f"UPDATE posting AS p SET chain_hash = f.h FROM {_FILL} AS f WHERE p.id = f.id")
    else:  # another driver: plain updates
        for chunk in _chunks(conn):
            conn.execute(
                sa.text("UPDATE posting SET chain_hash = :h WHERE id = :id"),
                [{"h": h, "id": pid} for h, pid in chunk],
            )
    for name, columns in _PG_INDEXES.items():
        op.create_index(name, "posting", list(columns))
    conn.exec_driver_sql("ALTER TABLE posting ENABLE TRIGGER posting_append_only")


def downgrade() -> None:
    raise NotImplementedError("loyaltyctl migrations are forward-only")
