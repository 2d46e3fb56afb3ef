"""The database's own guards, as the migrations create them, and the check
that they are still in place (``db check``'s ``guards``).

A guard is what makes the database itself refuse a change, whatever program
writes to it:

* the append-only triggers of ``posting``, ``rule_version``, ``quiz_award``,
  ``leaderboard_run`` and ``leaderboard_award`` (migrations 0001, 0002, 0006);
* on SQLite, the whole-number triggers of migration 0005 (PostgreSQL's
  integer column types refuse such values themselves, so there the types are
  checked instead);
* every named CHECK constraint of the models (``ck_posting_points_int``, ...).

Each guard is compared with its definition: on SQLite, the trigger's SQL text
with what the migration issued; on PostgreSQL, the trigger's timing, events,
level, condition, column list, enabled state and function, and the function's
body.  A guard that is missing, altered or (PostgreSQL) disabled is named, and
so is a trigger on a program table that no migration creates.
``tests/services/test_guards.py`` proves that ``sqlite_triggers()`` is
exactly what the migrations leave in a new database.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import BigInteger, CheckConstraint, Integer, text
from sqlmodel import Session, SQLModel

from .. import models  # noqa: F401  (registers every table)

# table -> the message of its append-only triggers (0001, 0002; 0006 re-created rule_version's)
APPEND_ONLY = {
    "posting": "postings are append-only",
    "rule_version": "rule versions are append-only",
    "quiz_award": "quiz_award rows are append-only",
    "leaderboard_run": "leaderboard_run rows are append-only",
    "leaderboard_award": "leaderboard_award rows are append-only",
}
# table -> its whole-number columns (migration 0005, SQLite only)
WHOLE_NUMBERS = {
    "quiz": ("questions", "points_per_correct"),
    "quiz_award": ("correct", "points"),
    "lead": ("points",),
    "leaderboard_award": ("rank", "points", "bonus"),
    "catalog_item": ("stock", "reserved"),
    "redemption": ("quantity", "unit_points", "points"),
}
PG_FUNCTION = "loyaltyctl_append_only"
PG_FUNCTION_BODY = "BEGIN RAISE EXCEPTION '% rows are append-only', TG_TABLE_NAME; END"
# pg_trigger.tgtype: FOR EACH ROW (1) | BEFORE (2) | DELETE (8) | UPDATE (16)
PG_TGTYPE = 1 | 2 | 8 | 16


def _squash(sql: str) -> str:
    return " ".join(sql.split())


def sqlite_triggers() -> dict[str, tuple[str, str]]:
    """Every trigger the migrations create on SQLite: name -> (table, SQL)."""
    out = {}
    for table, message in APPEND_ONLY.items():
        for action in ("UPDATE", "DELETE"):
            name = f"{table}_no_{action.lower()}"
            out[name] = (
                table,
                f"CREATE TRIGGER {name} BEFORE {action} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{message}'); END",
            )
    for table, columns in WHOLE_NUMBERS.items():
        when = " OR ".join(f"(NEW.{c} IS NOT NULL AND typeof(NEW.{c}) <> 'integer')" for c in columns)
        message = f"{table}: {', '.join(columns)} must be whole numbers"
        for action in ("INSERT", "UPDATE"):
            name = f"{table}_whole_{action.lower()}"
            out[name] = (
                table,
                f"CREATE TRIGGER {name} BEFORE {action} ON {table} WHEN {when} "
                f"BEGIN SELECT RAISE(ABORT, '{message}'); END",
            )
    return out


def _what_it_guards(name: str, table: str) -> str:
    if "_whole_" in name:
        return f"{table} can take numbers that are not whole"
    return f"{table} rows can be changed"


def check_constraints() -> dict[str, list[CheckConstraint]]:
    """table -> its named CHECK constraints, as the models declare them."""
    out: dict[str, list[CheckConstraint]] = {}
    for table in SQLModel.metadata.sorted_tables:
        for c in table.constraints:
            if isinstance(c, CheckConstraint) and isinstance(c.name, str):
                out.setdefault(table.name, []).append(c)
    return out


def check(session: Session, add: Callable[[str], None], *, sqlite: bool) -> None:
    """Name every guard that is missing, altered or disabled."""
    if sqlite:
        _sqlite(session, add)
    else:
        _postgresql(session, add)


def _sqlite(session: Session, add: Callable[[str], None]) -> None:
    rows = session.exec(
        text("SELECT type, name, tbl_name, sql FROM sqlite_master WHERE type IN ('trigger', 'table')")
    )
    found: dict[str, tuple[str, str]] = {}
    tables: dict[str, str] = {}
    for kind, name, table, sql in rows.all():
        if kind == "trigger":
            found[name] = (table, _squash(sql or ""))
        else:
            tables[name] = _squash(sql or "")
    expected = sqlite_triggers()
    for name, (table, sql) in expected.items():
        have = found.get(name)
        if have is None:
            add(f"trigger {name} is missing: {_what_it_guards(name, table)}")
        elif have != (table, _squash(sql)):
            add(
                f"trigger {name} is not as the migrations create it: "
                f"{_what_it_guards(name, table)} ({have[1]})"
            )
    for name in sorted(found.keys() - expected.keys()):
        add(f"trigger {name} on {found[name][0]} is not one loyaltyctl creates ({found[name][1]})")
    for table, constraints in check_constraints().items():
        sql = tables.get(table, "")
        for c in constraints:
            want = _squash(f"CONSTRAINT {c.name} CHECK ({c.sqltext})")
            if want not in sql:
                state = "is not as the models declare it" if f"CONSTRAINT {c.name} " in sql else "is missing"
                add(f"CHECK constraint {c.name} on {table} {state}: {c.sqltext} no longer holds")


def _postgresql(session: Session, add: Callable[[str], None]) -> None:
    role = session.exec(text("SELECT current_setting('session_replication_role')")).scalar()
    if role != "origin":
        add(
            f"session_replication_role is {role!r} for this database or role: "
            "no trigger fires, every append-only table can be changed"
        )
    triggers = session.exec(
        text(
            "SELECT c.relname, t.tgname, t.tgenabled, t.tgtype, t.tgqual IS NOT NULL, "
            "cardinality(t.tgattr::int2[]), p.proname, p.oid "
            "FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_proc p ON p.oid = t.tgfoid "
            "WHERE c.relnamespace = current_schema()::regnamespace AND NOT t.tgisinternal ORDER BY 1, 2"
        )
    ).all()
    seen: set[str] = set()
    functions: set[int] = set()
    for table, name, enabled, tgtype, when, nattr, function, oid in triggers:
        if name != f"{table}_append_only" or table not in APPEND_ONLY:
            add(f"trigger {name} on {table} is not one loyaltyctl creates (it runs {function}())")
            continue
        seen.add(table)
        if enabled == "D":
            add(f"append-only trigger {name} is disabled: {table} rows can be changed")
        elif enabled == "R":
            add(f"append-only trigger {name} fires only for replicas: {table} rows can be changed")
        if tgtype != PG_TGTYPE or when or nattr or function != PG_FUNCTION:
            add(
                f"append-only trigger {name} is not as the migrations create it (BEFORE UPDATE OR DELETE, "
                f"FOR EACH ROW, no condition, every column, {PG_FUNCTION}()): {table} rows can be changed"
            )
        else:
            functions.add(oid)
    for table in APPEND_ONLY:
        if table not in seen:
            add(f"append-only trigger {table}_append_only is missing: {table} rows can be changed")
    for oid in sorted(functions):
        body, language = session.exec(
            text(
                "SELECT p.prosrc, l.lanname FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang "
                "WHERE p.oid = :o"
            ),
            params={"o": oid},
        ).one()
        if _squash(body) != PG_FUNCTION_BODY or language != "plpgsql":
            add(
                f"function {PG_FUNCTION}() is not as the migrations create it: the append-only "
                f"triggers may let rows be changed ({_squash(body)[:120]})"
            )
    _pg_types(session, add)
    _pg_checks(session, add)


def _pg_types(session: Session, add: Callable[[str], None]) -> None:
    """Whole numbers on PostgreSQL: every integer column of the models still has an integer type."""
    types = {
        (table, column): data_type
        for table, column, data_type in session.exec(
            text(
                "SELECT table_name, column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = current_schema()"
            )
        ).all()
    }
    for table in SQLModel.metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, Integer | BigInteger):
                got = types.get((table.name, column.name))
                if got is not None and got not in ("integer", "bigint", "smallint"):
                    add(f"column {table.name}.{column.name} is {got}: it takes numbers that are not whole")


def _pg_checks(session: Session, add: Callable[[str], None]) -> None:
    found = {
        (table, name)
        for table, name in session.exec(
            text(
                "SELECT c.relname, k.conname FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid "
                "WHERE c.relnamespace = current_schema()::regnamespace AND k.contype = 'c'"
            )
        ).all()
    }
    for table, constraints in check_constraints().items():
        for c in constraints:
            if (table, c.name) not in found:
                add(f"CHECK constraint {c.name} on {table} is missing: {c.sqltext} no longer holds")
