"""The points ledger: append-only postings and the balances cached from them.

Every posting carries an idempotency key derived from its source (a contract
and its revision, an adjustment's reference, ...).  Posting a key that exists
with the same payload answers "exists" and changes nothing; the same key with
another payload is refused.  Corrections are always new postings.

``Ledger`` keeps the balance deltas of the command and writes them once, at
``flush()``, so a bulk import updates each account one time.

Every posting row gets its ``chain_hash`` here, in the loop that builds the
rows (``chain.link``): ``post_many`` is the one door to the posting table,
whatever writes the rows (SQLite's executemany, a SQLAlchemy Core insert, the
contract import's COPY on PostgreSQL).  ``db copy`` is the only other writer,
and it copies hashes as they are.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import bindparam, insert, select, update
from sqlmodel import Session

from .chain import GENESIS, link
from .clock import now, today
from .errors import Refused
from .models import Account, Batch, Posting

POSTING = Posting.__table__
ACCOUNT = Account.__table__

KINDS = ("contract", "adjustment", "quiz", "lead", "bonus", "redemption", "transfer")


# The columns of a bulk posting row, in the order of _row()'s keys.
_BULK_COLUMNS = (
    "idem_key",
    "account_id",
    "seller_id",
    "contract_pk",
    "points",
    "kind",
    "value_date",
    "booking_date",
    "booked_at",
    "reference",
    "memo",
    "actor",
    "batch_id",
    "chain_hash",
)
_BULK_INSERT = (
    f"INSERT INTO posting ({', '.join(_BULK_COLUMNS)}) VALUES ({', '.join('?' * len(_BULK_COLUMNS))})"
)


# Keys per IN (...) lookup of ``post_all`` (under SQLite's 999 parameters).
_LOOKUP_CHUNK = 500

# session.info key: (the transaction, the hash of the last posting it wrote).
_HEAD = "loyalty_chain_head"


@dataclass(frozen=True, slots=True)
class Entry:
    idem_key: str
    account_id: int
    points: int
    kind: str
    value_date: date
    seller_id: int | None = None
    contract_pk: int | None = None
    reference: str | None = None
    memo: str | None = None


def _conflict(entry: Entry, points: int) -> Refused:
    return Refused(
        f"posting {entry.idem_key!r} exists with other values ({points} points, not {entry.points})",
        hint="give this posting its own reference",
    )


def new_batch(
    session: Session, *, command: str, actor: str, source: str | None = None, source_sha256: str | None = None
) -> int:
    batch = Batch(command=command, source=source, source_sha256=source_sha256, actor=actor, started_at=now())
    session.add(batch)
    session.flush()
    assert batch.id is not None
    return batch.id


def to_driver(column, dialect):
    """How SQLAlchemy converts a value of ``column`` for the driver: its own
    bind processor, for code that writes rows through the driver's cursor
    (the bulk posting path below, the contract import's SQLite store), so they
    store exactly what an ORM or Core insert would."""
    process = column.type.dialect_impl(dialect).bind_processor(dialect)
    return process or (lambda value: value)


class Ledger:
    def __init__(
        self, session: Session, *, actor: str, batch_id: int | None = None, booking_date: date | None = None
    ) -> None:
        self.session = session
        self.actor = actor
        self.batch_id = batch_id
        self.booking_date = booking_date or today()
        self.booked_at: datetime = now()
        self._deltas: dict[int, int] = defaultdict(int)
        self.posted_points = 0
        self.posted_count = 0
        # How new posting rows are written: an executemany INSERT unless a bulk
        # writer is set (the contract import's COPY on PostgreSQL).
        self.insert_rows: Callable[[list[dict]], None] | None = None
        self._days: dict[date, tuple[str, str]] = {}  # value date -> (as stored, ISO)

    def _chain_head(self) -> bytes:
        """The chain hash the next posting follows: the newest posting's.

        Read from the table once per transaction, then carried in
        ``session.info`` (every ``Ledger`` of the command shares it).  That is
        safe because writers are serialized: every write transaction holds the
        write lock from its start (BEGIN IMMEDIATE on SQLite, the advisory lock
        on PostgreSQL; see db.py), so no other writer can append between this
        read and our commit.  The cache is keyed by the innermost transaction
        object: after a commit, a rollback or a savepoint's end it is read again."""
        session = self.session
        txn = session.get_nested_transaction() or session.get_transaction()
        cached = session.info.get(_HEAD)
        if cached is not None and cached[0] is txn:
            return cached[1]
        last = session.exec(select(POSTING.c.chain_hash).order_by(POSTING.c.id.desc()).limit(1)).first()
        # No posting yet; or the newest has no hash (written behind loyaltyctl's
        # back: `db check` names it, and the chain goes on from the start).
        return GENESIS if last is None or last[0] is None else bytes(last[0])

    def _row(self, e: Entry) -> dict:
        if e.kind not in KINDS:
            raise ValueError(f"unknown posting kind {e.kind!r}")
        return {
            "idem_key": e.idem_key,
            "account_id": e.account_id,
            "seller_id": e.seller_id,
            "contract_pk": e.contract_pk,
            "points": int(e.points),
            "kind": e.kind,
            "value_date": e.value_date,
            "booking_date": self.booking_date,
            "booked_at": self.booked_at,
            "reference": e.reference,
            "memo": e.memo,
            "actor": self.actor,
            "batch_id": self.batch_id,
        }

    def post(self, entry: Entry) -> str:
        """Post one entry, idempotently.  Returns ``posted`` or ``exists``."""
        found = self.session.exec(
            select(POSTING.c.account_id, POSTING.c.points, POSTING.c.kind).where(
                POSTING.c.idem_key == entry.idem_key
            )
        ).first()
        if found is not None:
            if tuple(found) == (entry.account_id, entry.points, entry.kind):
                return "exists"
            raise _conflict(entry, found.points)
        self.post_many([entry])
        self.flush()
        return "posted"

    def post_all(self, entries: list[Entry]) -> int:
        """``post`` for many entries with distinct keys: their existing keys are
        looked up in a few queries, the new ones inserted at once (balances wait
        for ``flush()``).  The first entry in order whose key exists with other
        values is refused.  Returns how many were posted."""
        found: dict[str, tuple] = {}
        keys = [e.idem_key for e in entries]
        for i in range(0, len(keys), _LOOKUP_CHUNK):
            query = select(POSTING.c.idem_key, POSTING.c.account_id, POSTING.c.points, POSTING.c.kind)
            for key, *rest in self.session.exec(
                query.where(POSTING.c.idem_key.in_(keys[i : i + _LOOKUP_CHUNK]))
            ).all():
                found[key] = tuple(rest)
        new = []
        for e in entries:
            old = found.get(e.idem_key)
            if old is None:
                new.append(e)
            elif old != (e.account_id, e.points, e.kind):
                raise _conflict(e, old[1])
        self.post_many(new)
        return len(new)

    def post_many(self, entries: list[Entry]) -> None:
        """Insert postings whose keys the caller knows to be new (the unique
        index still refuses a duplicate, failing the whole transaction).

        Each row's chain hash follows the one before it in ``entries``: the
        rows are written in this order, and each path below gives them
        ascending ids in that order (autoincrement in executemany and COPY),
        so the chain, which runs by id, is the order hashed here."""
        if not entries:
            return
        conn = self.session.connection()
        prev = self._chain_head()
        actor, batch_id = self.actor, self.batch_id
        booking_iso = self.booking_date.isoformat()
        if self.insert_rows is None and conn.dialect.name == "sqlite" and len(entries) > 1:
            # Bulk (the contract import): the driver's executemany in the same
            # transaction, values converted once by SQLAlchemy's own processors.
            # Plain tuples in _BULK_COLUMNS order, the same values _row() gives.
            day = to_driver(POSTING.c.value_date, conn.dialect)
            booked = to_driver(POSTING.c.booked_at, conn.dialect)(self.booked_at)
            booking = day(self.booking_date)
            days = self._days
            rows = []
            for e in entries:
                if e.kind not in KINDS:
                    raise ValueError(f"unknown posting kind {e.kind!r}")
                v = e.value_date
                texts = days.get(v)
                if texts is None:
                    texts = days[v] = (day(v), v.isoformat())  # as stored, as hashed
                points = int(e.points)
                prev = link(
                    prev,
                    e.account_id,
                    points,
                    e.kind,
                    texts[1],
                    booking_iso,
                    e.idem_key,
                    actor,
                    batch_id,
                )
                rows.append(
                    (
                        e.idem_key,
                        e.account_id,
                        e.seller_id,
                        e.contract_pk,
                        points,
                        e.kind,
                        texts[0],
                        booking,
                        booked,
                        e.reference,
                        e.memo,
                        actor,
                        batch_id,
                        prev,
                    )
                )
            cur = conn.connection.dbapi_connection.cursor()
            cur.executemany(_BULK_INSERT, rows)
            cur.close()
        else:
            dicts = []
            for e in entries:
                row = self._row(e)
                prev = row["chain_hash"] = link(
                    prev,
                    row["account_id"],
                    row["points"],
                    e.kind,
                    e.value_date.isoformat(),
                    booking_iso,
                    e.idem_key,
                    actor,
                    batch_id,
                )
                dicts.append(row)
            if self.insert_rows is not None:  # a bulk writer (COPY on PostgreSQL)
                self.insert_rows(dicts)
            else:
                self.session.exec(insert(POSTING), params=dicts)
        txn = self.session.get_nested_transaction() or self.session.get_transaction()
        self.session.info[_HEAD] = (txn, prev)
        for e in entries:
            self._deltas[e.account_id] += e.points
            self.posted_points += e.points
            self.posted_count += 1

    def flush(self) -> None:
        """Write the cached balance changes."""
        changes = [{"_id": acc, "_d": d} for acc, d in self._deltas.items() if d]
        if changes:
            self.session.exec(
                update(ACCOUNT)
                .where(ACCOUNT.c.id == bindparam("_id"))
                .values(balance=ACCOUNT.c.balance + bindparam("_d")),
                params=changes,
            )
        self._deltas.clear()
