"""The contract import's store on SQLite: the driver's own cursor.

It runs on the session's connection, inside its transaction (the same BEGIN
IMMEDIATE, so the write lock is held and new contract ids can be assigned
here), with ``executemany`` for the rows of a chunk: no per-row SQLAlchemy
work.  Values are stored exactly as SQLAlchemy stores them (its own bind
processors convert dates and timestamps).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from itertools import islice

from sqlmodel import Session

from ...ledger import to_driver
from ...models import Contract
from .rule import Row, Stored
from .store import SEEN, SEEN_COLUMNS, STORED_COLUMNS, Found, first_rows

CONTRACT = Contract.__table__


def _marks(n: int) -> str:
    return ", ".join("?" * n)


class SqliteStore:
    def __init__(self, session: Session, stamp: datetime) -> None:
        conn = session.connection()
        self.cur = cur = conn.connection.dbapi_connection.cursor()
        # A bigger page cache for this connection (default 2 MB): the posting
        # and contract indexes of a large program no longer fit in 2 MB.
        cur.execute("PRAGMA cache_size = -32768")
        # One b-tree (the key) rather than a rowid table and its index.
        cur.execute(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {SEEN} (contract_id TEXT PRIMARY KEY, line INTEGER, "
            "partner_id INTEGER, seller_id INTEGER, start_date TEXT, amount_ore INTEGER, product TEXT, "
            "status TEXT) WITHOUT ROWID"
        )
        cur.execute(f"DELETE FROM {SEEN}")
        self._to_day = to_driver(CONTRACT.c.start_date, conn.dialect)
        self._stamp = to_driver(CONTRACT.c.updated_at, conn.dialect)(stamp)
        self._texts: dict[date, str] = {}
        self._dates: dict[str, date] = {}
        columns = ", ".join(STORED_COLUMNS)
        self._select = f"SELECT {columns} FROM contract WHERE contract_id IN "
        compared = ", ".join(STORED_COLUMNS[1:8])  # contract_id and the signature
        self._compare = f"SELECT {compared} FROM contract WHERE contract_id IN "
        self._compare_range = (
            f"SELECT {compared} FROM contract WHERE contract_id >= ? AND contract_id <= ? LIMIT ?"
        )
        seen = ", ".join(SEEN_COLUMNS)
        self._remember = f"INSERT OR IGNORE INTO {SEEN} (contract_id, line) VALUES (?, ?)"
        self._keep = (
            f"UPDATE {SEEN} SET {', '.join(f'{c} = ?' for c in SEEN_COLUMNS[2:])} WHERE contract_id = ?"
        )
        self._earlier = f"SELECT {seen} FROM {SEEN} WHERE line < ? AND contract_id IN "
        self._insert = (
            f"INSERT INTO contract ({columns}, updated_at) VALUES ({_marks(len(STORED_COLUMNS) + 1)})"
        )
        self._update = (
            "UPDATE contract SET "
            + ", ".join(f"{c} = ?" for c in (*STORED_COLUMNS[2:], "updated_at"))
            + " WHERE id = ?"
        )

    # -- conversions ------------------------------------------------------------
    def _day(self, d: date | None) -> str | None:
        if d is None:
            return None
        text = self._texts.get(d)
        if text is None:
            text = self._texts[d] = self._to_day(d)
        return text

    def _date(self, text: str | None) -> date | None:
        if text is None:
            return None
        found = self._dates.get(text)
        if found is None:
            found = self._dates[text] = date.fromisoformat(text)
        return found

    def _stored(self, r: tuple) -> Stored:
        when = self._date
        return Stored(
            r[0], r[1], r[2], r[3], when(r[4]), r[5], r[6], r[7], r[8], r[9], r[10], when(r[11]), r[12], r[13]
        )

    # -- the interface ----------------------------------------------------------
    def look_up(self, chunk: dict[str, Row]) -> Found:
        cur, day, found = self.cur, self._day, Found()
        ids = list(chunk)
        first = next(iter(chunk.values())).record.line
        cur.executemany(self._remember, [(cid, row.record.line) for cid, row in chunk.items()])
        met = cur.rowcount != len(ids)  # some ids were met before this chunk
        # The compared columns as stored (the date as text): an unchanged row
        # converts nothing; a changed one is read whole afterwards.
        same, differ, texts = found.same, [], self._texts
        signatures: dict[str, tuple] = {}
        for cid, pid, sid, start, ore, product, status in self._fetch(ids):
            row = chunk.get(cid)
            if row is None:
                continue
            if met:
                signatures[cid] = (pid, sid, self._date(start), ore, product, status)
            if (
                ore == row.amount_ore
                and sid == row.seller_id
                and start == (texts.get(row.start_date) or day(row.start_date))
                and status == row.status
                and product == row.product
                and pid == row.partner_id
            ):
                same.add(cid)
            else:
                differ.append(cid)
        if differ:
            cur.execute(f"{self._select}({_marks(len(differ))})", differ)
            found.stored = {r[1]: self._stored(r) for r in cur.fetchall()}
        if met:
            cur.execute(f"{self._earlier}({_marks(len(ids))})", [first, *ids])
            rows = [(*r[:4], self._date(r[4]), *r[5:]) for r in cur.fetchall()]
            found.earlier = first_rows(rows, signatures)
        return found

    def unwritten(self, rows: list[Row]) -> None:
        if rows:
            self.cur.executemany(
                self._keep,
                [
                    (r.partner_id, r.seller_id, self._day(r.start_date), r.amount_ore, r.product, r.status)
                    + (r.contract_id,)
                    for r in rows
                ],
            )

    def _fetch(self, ids: list[str]) -> list[tuple]:
        """The compared columns of the stored contracts of these ids.  Ids in
        ascending order (a file as exported): a range scan of the contract-id
        index, when the range holds no more than about twice as many
        contracts; else an IN list."""
        cur = self.cur
        if len(ids) > 1 and all(a < b for a, b in zip(ids, islice(ids, 1, None), strict=False)):
            limit = 2 * len(ids) + 1
            cur.execute(self._compare_range, (ids[0], ids[-1], limit))
            found = cur.fetchall()
            if len(found) < limit:
                return found
        cur.execute(f"{self._compare}({_marks(len(ids))})", ids)
        return cur.fetchall()

    def new_ids(self, n: int) -> Iterable[int]:
        self.cur.execute("SELECT coalesce(max(id), 0) + 1 FROM contract")
        first = int(self.cur.fetchone()[0])
        return range(first, first + n)

    def write(self, new: list[Stored], changed: list[Stored]) -> None:
        # The columns unpacked by name: a new tuple without slices (this is per row).
        day, stamp = self._day, self._stamp
        if new:
            self.cur.executemany(
                self._insert,
                [
                    (pk, cid, pid, sid, day(start), ore, prod, st, rev, aid, asid, day(on), pts, bid, stamp)
                    for pk, cid, pid, sid, start, ore, prod, st, rev, aid, asid, on, pts, bid in new
                ],
            )
        if changed:
            self.cur.executemany(
                self._update,
                [
                    (pid, sid, day(start), ore, prod, st, rev, aid, asid, day(on), pts, bid, stamp, pk)
                    for pk, _, pid, sid, start, ore, prod, st, rev, aid, asid, on, pts, bid in changed
                ],
            )

    def close(self, *, changed: bool) -> None:
        if changed:
            # Fresh statistics for the query planner where SQLite sees the need;
            # analysis_limit keeps that a sample, not a full scan of the ledger.
            self.cur.execute("PRAGMA analysis_limit = 1000")
            self.cur.execute("PRAGMA optimize")
        self.cur.close()
