"""The contract import's store on PostgreSQL: COPY into staging tables.

Per chunk, inside the import's one transaction:

* the chunk's contract ids and lines are copied (``COPY ... FROM STDIN``) into
  the temporary table ``loyaltyctl_import_rows``; one join against the table
  of rows met so far finds the ids met in an earlier chunk (then ``INSERT ...
  SELECT`` adds this chunk's), one against ``contract`` the stored contracts;
* new contracts get their ids from the sequence up front (their postings name
  them at once) and are copied straight into ``contract``; changed contracts
  are copied into ``loyaltyctl_import_changes`` and applied with one
  ``UPDATE ... FROM``;
* postings are copied straight into ``posting`` (the sequence gives ids):
  ``Ledger.post_many`` writes them through this store's ``insert_postings``.

Constraints, unique keys and foreign keys hold as for INSERT, so a duplicate
idempotency key still fails the whole import.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import text
from sqlmodel import Session

from ...ledger import Ledger
from ...pgbulk import copy_rows
from .rule import Row, Stored
from .store import SEEN, SEEN_COLUMNS, STORED_COLUMNS, Found, first_rows

ROWS = "loyaltyctl_import_rows"
CHANGES = "loyaltyctl_import_changes"


class PgStore:
    def __init__(self, session: Session, ledger: Ledger, stamp: datetime) -> None:
        self.session = session
        self.stamp = stamp
        conn = session.connection()
        conn.exec_driver_sql(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {ROWS} (contract_id VARCHAR(64) PRIMARY KEY, line INTEGER)"
        )
        conn.exec_driver_sql(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {SEEN} (contract_id VARCHAR(64) PRIMARY KEY, "
            "line INTEGER NOT NULL, partner_id INTEGER, seller_id INTEGER, start_date DATE, "
            "amount_ore BIGINT, product VARCHAR(64), status VARCHAR(16))"
        )
        conn.exec_driver_sql(f"CREATE TEMPORARY TABLE IF NOT EXISTS {CHANGES} (LIKE contract)")
        conn.exec_driver_sql(f"TRUNCATE {ROWS}, {SEEN}, {CHANGES}")
        ledger.insert_rows = self.insert_postings
        columns = ", ".join(f"c.{c}" for c in STORED_COLUMNS)
        self._stored = text(f"SELECT {columns} FROM contract AS c JOIN {ROWS} AS r USING (contract_id)")
        seen = ", ".join(f"s.{c}" for c in SEEN_COLUMNS)
        self._earlier = text(f"SELECT {seen} FROM {ROWS} AS r JOIN {SEEN} AS s USING (contract_id)")
        self._keep = text(
            f"UPDATE {SEEN} SET {', '.join(f'{c} = :{c}' for c in SEEN_COLUMNS[2:])} "
            "WHERE contract_id = :contract_id"
        )

    @property
    def conn(self):
        return self.session.connection()

    def look_up(self, chunk: dict[str, Row]) -> Found:
        conn, found = self.conn, Found()
        conn.exec_driver_sql(f"TRUNCATE {ROWS}")
        copy_rows(conn, ROWS, ("contract_id", "line"), ((cid, row.record.line) for cid, row in chunk.items()))
        met = conn.execute(self._earlier).all()
        conn.exec_driver_sql(
            f"INSERT INTO {SEEN} (contract_id, line) SELECT * FROM {ROWS} ON CONFLICT DO NOTHING"
        )
        signatures = {}
        for r in conn.execute(self._stored):
            old = Stored(*r)
            signature = signatures[old.contract_id] = old.signature()
            if signature == chunk[old.contract_id].signature():
                found.same.add(old.contract_id)
            else:
                found.stored[old.contract_id] = old
        if met:
            found.earlier = first_rows(met, signatures)
        return found

    def unwritten(self, rows: list[Row]) -> None:
        if rows:
            self.conn.execute(
                self._keep,
                [
                    dict(zip(SEEN_COLUMNS, (r.contract_id, r.record.line, *r.signature()), strict=True))
                    for r in rows
                ],
            )

    def new_ids(self, n: int) -> Iterable[int]:
        if n <= 0:
            return []
        return list(
            self.conn.execute(
                text("SELECT nextval(pg_get_serial_sequence('contract', 'id')) FROM generate_series(1, :n)"),
                {"n": n},
            ).scalars()
        )

    def write(self, new: list[Stored], changed: list[Stored]) -> None:
        conn, stamp = self.conn, self.stamp
        if new:
            copy_rows(conn, "contract", (*STORED_COLUMNS, "updated_at"), ((*c, stamp) for c in new))
        if changed:
            conn.exec_driver_sql(f"TRUNCATE {CHANGES}")
            copy_rows(conn, CHANGES, (*STORED_COLUMNS, "updated_at"), ((*c, stamp) for c in changed))
            sets = ", ".join(f"{c} = u.{c}" for c in (*STORED_COLUMNS[2:], "updated_at"))
            conn.exec_driver_sql(f"UPDATE contract AS c SET {sets} FROM {CHANGES} AS u WHERE c.id = u.id")

    def insert_postings(self, rows: list[dict]) -> None:
        """Ledger lines, straight into ``posting`` (see ``Ledger.insert_rows``)."""
        if rows:
            keys = list(rows[0])
            copy_rows(self.conn, "posting", keys, (tuple(r[k] for k in keys) for r in rows))

    def close(self, *, changed: bool) -> None:
        pass
