"""Where the contract import reads and writes: one interface, one
implementation per backend (``store_sqlite``, ``store_pg``).

Both run inside the command's one transaction (the session's connection), so
a rollback (an invalid row, a dry run, a crash) takes everything back.
Postings go through ``Ledger.post_many`` either way.

Both keep the rows met so far in the file in a temporary table, private to the
connection and emptied when the import starts, so memory stays flat however
long the file is: the first row of each contract id, by id and line.  Its
values need no copy: that row was written, or matched its contract, so the
contract holds them; only a row the plan rejected keeps its values there too
(``unwritten``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from sqlmodel import Session

from ...errors import DatabaseProblem
from ...ledger import Ledger
from .rule import Row, Stored

# The columns of ``Stored``, in order; a contract row is these plus ``updated_at``.
STORED_COLUMNS = Stored._fields
# The temporary table of the rows met so far in the file (see above).
SEEN = "loyaltyctl_import_seen"
SEEN_COLUMNS = (
    "contract_id",
    "line",
    "partner_id",
    "seller_id",
    "start_date",
    "amount_ore",
    "product",
    "status",
)


@dataclass
class Found:
    """What a store knows of a chunk's rows, by contract id."""

    # The first rows of these ids, met in an earlier chunk: (line, signature).
    earlier: dict[str, tuple[int, tuple]] = field(default_factory=dict)
    # Ids whose stored contract has exactly the row's values.
    same: set[str] = field(default_factory=set)
    # The stored contracts that differ from their row.
    stored: dict[str, Stored] = field(default_factory=dict)


def first_rows(met: list[tuple], signatures: dict[str, tuple]) -> dict[str, tuple[int, tuple]]:
    """The first rows met in an earlier chunk, (line, signature) by contract
    id, from their ``SEEN_COLUMNS`` (values NULL unless kept) and the stored
    contracts' signatures."""
    return {
        cid: (line, signatures[cid] if values[0] is None else tuple(values)) for cid, line, *values in met
    }


class Store(Protocol):
    def look_up(self, chunk: dict[str, Row]) -> Found:
        """What is known of a chunk's rows (the first of each contract id in
        the chunk, by contract id, in file order).  The chunk's rows count as
        met from then on."""
        ...

    def unwritten(self, rows: list[Row]) -> None:
        """Rows of the chunk that the plan rejected: a later row of their ids
        compares with them, not with what the database holds."""
        ...

    def new_ids(self, n: int) -> Iterable[int]:
        """Ids for up to ``n`` new contracts (an unused one is a harmless gap)."""
        ...

    def write(self, new: list[Stored], changed: list[Stored]) -> None:
        """Insert new contracts and update changed ones (all their columns but
        ``contract_id``), stamped with the import's ``updated_at``."""
        ...

    def close(self, *, changed: bool) -> None:
        """After the last chunk."""
        ...


def open_store(session: Session, ledger: Ledger, stamp: datetime) -> Store:
    dialect = session.get_bind().dialect
    if dialect.name == "sqlite":
        from .store_sqlite import SqliteStore

        return SqliteStore(session, stamp)
    if dialect.name == "postgresql" and dialect.driver == "psycopg":
        from .store_pg import PgStore

        return PgStore(session, ledger, stamp)
    raise DatabaseProblem(
        "the contract import needs SQLite or PostgreSQL through psycopg 3, "
        f"not {dialect.name}+{dialect.driver}",
        hint="use a postgresql:// URL with the [postgres] extra",
    )
