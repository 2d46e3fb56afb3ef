"""``db copy --to URL``: move a whole program to another database.

SQLite to PostgreSQL (the office that outgrows one machine), PostgreSQL to
SQLite, or SQLite to SQLite.  The plan:

1. Read the source in one snapshot (a read transaction; ``REPEATABLE READ`` on
   PostgreSQL), so an import running meanwhile is in the copy wholly or not at
   all.  The source must pass ``db check`` first: a copy of a ledger that does
   not add up proves nothing.
2. Migrate the target to the current schema (a new database is created), then
   refuse it (exit 4) if any table of the program holds a row.
3. In one write transaction on the target, copy every table of the models in
   foreign-key order, ids preserved, streamed in batches of ``BATCH_ROWS``
   (memory stays flat): ``COPY ... FROM STDIN`` on PostgreSQL, an executemany
   INSERT on SQLite.  Inserts only, so the append-only triggers never fire.
   PostgreSQL's id sequences are then set past the highest copied id.
4. Before committing, verify: the row count of every table, every account's
   balance and held points, the ledger's hash chain (postings are copied with
   their hashes as they are, and the target's chain, recomputed from the
   copied content, must end in the source's seal), and ``db check`` (which
   must pass on the target with the same results as on the source).  Any difference names itself and
   rolls the copy back (exit 6); the target stays migrated and empty.

``dry_run`` does steps 1 and 2 without writing (the target is not created or
migrated) and reports what would be copied.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import Table, func, insert, inspect, select, text
from sqlalchemy.engine import Connection
from sqlmodel import Session, SQLModel

from .. import models  # noqa: F401  (registers every table in SQLModel.metadata)
from ..chain import Seal
from ..db import SCHEMA_HEAD, Database, display_url
from ..errors import DatabaseProblem, Refused, UsageProblem
from ..pgbulk import copy_rows, uses_psycopg

BATCH_ROWS = 5000


@dataclass
class CopyResult:
    source: str
    target: str
    dry_run: bool
    target_was: str  # "new" (no schema yet), "empty" or "older schema <rev>"
    tables: list[dict] = field(default_factory=list)  # {table, rows}
    accounts: int = 0
    balance_total: int = 0
    held_total: int = 0
    seal: str = ""  # the ledger's seal (db seal), the same in the source and the copy
    verified: bool = False

    @property
    def rows(self) -> int:
        return sum(t["rows"] for t in self.tables)

    def as_dict(self) -> dict:
        return {
            "source": self.source,
            "target": self.target,
            "dry_run": self.dry_run,
            "target_was": self.target_was,
            "tables": self.tables,
            "rows": self.rows,
            "accounts": self.accounts,
            "balance_total": self.balance_total,
            "held_total": self.held_total,
            "seal": self.seal,
            "verified": self.verified,
        }


def program_tables() -> list[Table]:
    """Every table of the models, parents before children."""
    return list(SQLModel.metadata.sorted_tables)


def copy_database(*, source: Database, target: Database, dry_run: bool = False) -> CopyResult:
    """Copy the program in ``source`` to the empty ``target`` (see the module docstring)."""
    _refuse_same(source, target)
    source.ensure_schema()  # at the current schema (else: exit 6, with the upgrade hint)
    result = CopyResult(
        source=display_url(source.url), target=display_url(target.url), dry_run=dry_run, target_was="new"
    )
    tables = program_tables()
    with _snapshot(source) as src:
        _refuse_unknown_tables(src, source, tables)
        src_counts = {t.name: _count(src, t) for t in tables}
        src_balances = _balances(src)
        src_checks, src_head = _checks(src, source)
        failed = [name for name, problems in src_checks if problems]
        if failed:
            raise DatabaseProblem(
                f"db check fails on the source {display_url(source.url)} ({', '.join(failed)}); "
                "nothing was copied",
                hint="run `loyaltyctl db check` on the source and fix it first",
            )
        result.tables = [{"table": t.name, "rows": src_counts[t.name]} for t in tables]
        result.accounts = len(src_balances)
        result.balance_total = sum(b for b, _ in src_balances.values())
        result.held_total = sum(h for _, h in src_balances.values())
        result.seal = src_head.token

        fresh_file = target.sqlite_path is not None and not target.sqlite_path.exists()
        rev = None if fresh_file else target.current_revision()  # a dry run creates no file
        if rev is not None:
            result.target_was = "empty" if rev == SCHEMA_HEAD else f"older schema {rev}"
        if dry_run:
            if rev is not None:
                _refuse_non_empty(target, _existing_counts(target, tables))
            return result
        target.upgrade(create=True)  # creates or migrates the target; refuses one newer than this tool
        with target.translate_errors(), target.engine.execution_options(loyalty_write=True).begin() as dst:
            _refuse_non_empty(target, {t.name: _count(dst, t) for t in tables})
            use_copy = uses_psycopg(dst)
            for table in tables:
                _copy_table(src, dst, table, postgres=use_copy)
            if dst.dialect.name == "postgresql":
                _reset_sequences(dst, tables)
            dst_checks, dst_head = _checks(dst, target)
            _verify(
                source,
                target,
                src_counts,
                src_balances,
                src_checks,
                dst_counts={t.name: _count(dst, t) for t in tables},
                dst_balances=_balances(dst),
                dst_checks=dst_checks,
                heads=(src_head.token, dst_head.token),
            )
    result.verified = True
    return result


# -- the source snapshot ---------------------------------------------------------------
@contextmanager
def _snapshot(db: Database) -> Iterator[Connection]:
    """One read transaction over the source: everything read sees the same state."""
    with db.translate_errors(), db.engine.connect() as conn:
        if not db.is_sqlite:
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            yield conn


def _refuse_same(source: Database, target: Database) -> None:
    same = source.url == target.url
    a, b = source.sqlite_path, target.sqlite_path
    if a is not None and b is not None and a.exists() and b.exists():
        same = same or a.resolve() == b.resolve()
    if same:
        raise UsageProblem(
            f"--to names the database being copied ({display_url(target.url)}); name another one"
        )


def _refuse_unknown_tables(conn: Connection, db: Database, tables: list[Table]) -> None:
    known = {t.name for t in tables} | {"alembic_version"}
    unknown = sorted(
        n for n in inspect(conn).get_table_names() if n not in known and not n.startswith("sqlite_")
    )
    if unknown:  # a table this version does not know how to copy: never leave it behind silently
        raise DatabaseProblem(
            f"{display_url(db.url)} has tables db copy does not know ({', '.join(unknown)}); "
            "nothing was copied"
        )


def _existing_counts(db: Database, tables: list[Table]) -> dict[str, int]:
    with db.translate_errors(), db.engine.connect() as conn:
        names = set(inspect(conn).get_table_names())
        return {t.name: _count(conn, t) for t in tables if t.name in names}


def _refuse_non_empty(db: Database, counts: dict[str, int]) -> None:
    held = {name: n for name, n in counts.items() if n}
    if held:
        shown = ", ".join(f"{name} {n}" for name, n in held.items())
        raise Refused(
            f"target {display_url(db.url)} is not empty ({shown}); db copy only fills an empty database; "
            "nothing was copied",
            hint="name a new or empty database (createdb NAME on PostgreSQL, a new file for SQLite)",
        )


def _count(conn: Connection, table: Table) -> int:
    return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def _balances(conn: Connection) -> dict[int, tuple[int, int]]:
    acc = models.Account.__table__.c
    return {
        aid: (int(bal), int(held))
        for aid, bal, held in conn.execute(select(acc.id, acc.balance, acc.held).order_by(acc.id))
    }


def _checks(conn: Connection, db: Database) -> tuple[list[tuple[str, list[str]]], Seal]:
    """db check's results, and the chain's head as recomputed from the postings' content."""
    from .dbadmin import check, scan_of

    with Session(bind=conn, autoflush=False) as session:
        results = check(session=session, db=db)
        head = scan_of(session).head
    checks = [(r.name, r.problems + ([f"... and {r.more} more"] if r.more else [])) for r in results]
    return checks, head


# -- copying ---------------------------------------------------------------------------
def _copy_table(src: Connection, dst: Connection, table: Table, *, postgres: bool) -> None:
    columns = [c.name for c in table.columns]
    query = select(*table.columns).order_by(*table.primary_key.columns)
    stream = src.execution_options(stream_results=True, yield_per=BATCH_ROWS).execute(query)
    if postgres:
        copy_rows(dst, table.name, columns, (tuple(row) for row in stream))
        return
    stmt = insert(table)
    for part in stream.partitions(BATCH_ROWS):
        dst.execute(stmt, [dict(zip(columns, row, strict=True)) for row in part])


def _reset_sequences(dst: Connection, tables: list[Table]) -> None:
    """Ids were copied as they were: start each id sequence after the highest."""
    for table in tables:
        pk = list(table.primary_key.columns)
        if len(pk) != 1 or not pk[0].autoincrement or pk[0].type.python_type is not int:
            continue
        dst.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table.name}', '{pk[0].name}'), "
                f"COALESCE((SELECT MAX({pk[0].name}) FROM {table.name}), 0) + 1, false)"
            )
        )


# -- verification ----------------------------------------------------------------------
def _verify(
    source: Database,
    target: Database,
    src_counts: dict[str, int],
    src_balances: dict[int, tuple[int, int]],
    src_checks: list[tuple[str, list[str]]],
    *,
    dst_counts: dict[str, int],
    dst_balances: dict[int, tuple[int, int]],
    dst_checks: list[tuple[str, list[str]]],
    heads: tuple[str, str],
) -> None:
    differences: list[str] = []
    if heads[0] != heads[1]:
        differences.append(f"the ledger's seal is {heads[0]} in the source != {heads[1]} copied")
    for name, n in src_counts.items():
        if dst_counts.get(name) != n:
            differences.append(f"table {name}: {n} rows in the source != {dst_counts.get(name)} copied")
    for aid, (bal, held) in src_balances.items():
        got = dst_balances.get(aid)
        if got != (bal, held):
            have = "missing" if got is None else f"balance {got[0]}, held {got[1]}"
            differences.append(f"account #{aid}: balance {bal}, held {held} in the source != {have} copied")
    for aid in dst_balances.keys() - src_balances.keys():
        differences.append(f"account #{aid}: copied but not in the source")
    src_map, dst_map = dict(src_checks), dict(dst_checks)
    for name, problems in dst_map.items():
        if problems != src_map.get(name, []):
            differences.append(f"db check {name} on the target: {'; '.join(problems[:3]) or 'ok'}")
    if differences:
        shown = "; ".join(differences[:10])
        more = f" and {len(differences) - 10} more" if len(differences) > 10 else ""
        raise DatabaseProblem(
            f"the copy in {display_url(target.url)} differs from {display_url(source.url)}: {shown}{more}; "
            "it was rolled back (the target is migrated and empty)",
            hint="this is a bug in loyaltyctl or a damaged database: keep using the source and report it",
        )
