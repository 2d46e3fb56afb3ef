"""Bulk writes on PostgreSQL through psycopg's COPY support.

``COPY ... FROM STDIN`` runs on the connection of the caller's SQLAlchemy
session or connection, so it is part of the command's one transaction: a
rollback takes it back like any INSERT.  Constraints, unique indexes and
foreign keys are checked as for INSERT.  Used by the contract import's
PostgreSQL store (``services/contracts/store_pg.py``) and by ``db copy``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any


def uses_psycopg(conn: Any) -> bool:
    """True for a SQLAlchemy connection (or session) on PostgreSQL through psycopg 3."""
    bind = conn.get_bind() if hasattr(conn, "get_bind") else conn
    dialect = bind.dialect
    return dialect.name == "postgresql" and dialect.driver == "psycopg"


def copy_rows(conn: Any, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """``COPY table (columns) FROM STDIN`` with ``rows`` (tuples in column order),
    inside the current transaction of ``conn`` (a SQLAlchemy Connection).
    Returns the number of rows written."""
    from psycopg import sql

    cursor = conn.connection.driver_connection.cursor()
    stmt = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table), sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    )
    n = 0
    with cursor, cursor.copy(stmt) as copy:
        for row in rows:
            copy.write_row(row)
            n += 1
    return n
