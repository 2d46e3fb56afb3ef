"""The contract import's writes on PostgreSQL: COPY into staging tables.

The rows are read and validated exactly as on SQLite (``contracts._parse``) and
planned by the same code; only the statements differ.  Per chunk, inside the
import's one transaction:

* the validated rows are copied (``COPY ... FROM STDIN``) into the temporary
  table ``loyaltyctl_import_rows``; one join against ``contract`` finds the
  contracts that exist, one against ``loyaltyctl_import_seen`` the ids met in
  an earlier chunk (then ``INSERT ... SELECT`` adds this chunk's ids to it);
* new contracts get their ids from the sequence up front (their postings name
  them at once) and are copied straight into ``contract``; changed contracts are copied into
  ``loyaltyctl_import_changes`` and applied with one ``UPDATE ... FROM``;
* postings are copied straight into ``posting`` (the sequence gives ids).

Constraints, unique keys and foreign keys hold as for INSERT, so a duplicate
idempotency key still fails the whole import; a rollback (an invalid row, a
dry run, a crash) takes everything back.  Temporary tables are private to the
connection and are emptied at the start of each import.
"""

from __future__ import annotations

from sqlalchemy import column, table, text
from sqlmodel import Session

from ..pgbulk import copy_rows, next_ids

ROWS = "loyaltyctl_import_rows"
SEEN = "loyaltyctl_import_seen"
CHANGES = "loyaltyctl_import_changes"
ROW_COLUMNS = ("contract_id", "partner_id", "seller_id", "start_date", "amount_ore", "product", "status")
_ROWS = table(ROWS, column("contract_id"))


class PgStage:
    def __init__(self, session: Session) -> None:
        self.session = session
        conn = session.connection()
        conn.exec_driver_sql(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {ROWS} (contract_id VARCHAR(64) PRIMARY KEY, "
            "partner_id INTEGER NOT NULL, seller_id INTEGER NOT NULL, start_date DATE NOT NULL, "
            "amount_ore BIGINT NOT NULL, product VARCHAR(64) NOT NULL, status VARCHAR(16) NOT NULL)"
        )
        conn.exec_driver_sql(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {SEEN} (contract_id VARCHAR(64) PRIMARY KEY)"
        )
        conn.exec_driver_sql(f"CREATE TEMPORARY TABLE IF NOT EXISTS {CHANGES} (LIKE contract)")
        conn.exec_driver_sql(f"TRUNCATE {ROWS}, {SEEN}, {CHANGES}")

    @property
    def conn(self):
        return self.session.connection()

    def stage(self, rows: list, select_existing) -> tuple[set[str], dict]:
        """Copy a chunk's validated rows in; returns (ids met in an earlier
        chunk, existing contracts by id as tuples of ``select_existing``'s
        columns), as the SQLite path computes them."""
        conn = self.conn
        conn.exec_driver_sql(f"TRUNCATE {ROWS}")
        copy_rows(
            conn,
            ROWS,
            ROW_COLUMNS,
            (
                (r.contract_id, r.partner_id, r.seller_id, r.start_date, r.amount_ore, r.product, r.status)
                for r in rows
            ),
        )
        again = set(
            conn.execute(text(f"SELECT contract_id FROM {ROWS} JOIN {SEEN} USING (contract_id)")).scalars()
        )
        conn.exec_driver_sql(
            f"INSERT INTO {SEEN} (contract_id) SELECT contract_id FROM {ROWS} ON CONFLICT DO NOTHING"
        )
        contract_id = select_existing.selected_columns.contract_id
        existing = {
            r.contract_id: tuple(r)
            for r in conn.execute(select_existing.join(_ROWS, _ROWS.c.contract_id == contract_id))
        }
        return again, existing

    def reserve_ids(self, n: int) -> list[int]:
        """``n`` new contract ids from the sequence (unused ones are a harmless gap)."""
        return next_ids(self.conn, "contract", n)

    def insert_contracts(self, inserts: list[dict]) -> None:
        """New contracts, their ids already assigned: COPY straight into ``contract``."""
        keys = list(inserts[0])
        copy_rows(self.conn, "contract", keys, (tuple(d[k] for k in keys) for d in inserts))

    def update_contracts(self, changes: list[dict]) -> None:
        """Changed contracts (``_pk`` plus new values): staged, then one UPDATE ... FROM."""
        if not changes:
            return
        conn = self.conn
        keys = [k for k in changes[0] if k != "_pk"]
        conn.exec_driver_sql(f"TRUNCATE {CHANGES}")
        copy_rows(conn, CHANGES, ["id", *keys], ((c["_pk"], *(c[k] for k in keys)) for c in changes))
        sets = ", ".join(f"{k} = u.{k}" for k in keys)
        conn.exec_driver_sql(f"UPDATE contract AS c SET {sets} FROM {CHANGES} AS u WHERE c.id = u.id")

    def insert_postings(self, rows: list[dict]) -> None:
        """Ledger lines, straight into ``posting`` (see ``Ledger.insert_rows``)."""
        if rows:
            keys = list(rows[0])
            copy_rows(self.conn, "posting", keys, (tuple(r[k] for k in keys) for r in rows))
