"""``db check``'s guards: every append-only and whole-number trigger and every
CHECK constraint is in place exactly as the migrations create it; each way of
taking one away, done here by raw SQL, is named."""

from __future__ import annotations

import pytest
from conftest import connect

from loyaltyctl.db import Database, resolve_url
from loyaltyctl.services import dbadmin
from loyaltyctl.services.guards import (
    APPEND_ONLY,
    PG_FUNCTION_BODY,
    WHOLE_NUMBERS,
    check_constraints,
    sqlite_triggers,
)


def guard_problems(db) -> list[str]:
    """The guards check's problems; every other check must pass."""
    db.dispose()
    with db.session() as s:
        results = {r.name: r for r in dbadmin.check(session=s, db=db)}
    assert [n for n, r in results.items() if not r.ok and n != "guards"] == []
    return results["guards"].problems


@pytest.fixture
def own_db(fresh_db):
    """A database of its own, migrated: these tests change the schema, which
    the PostgreSQL test database's reset between tests would not undo."""
    database = Database(resolve_url(fresh_db()))
    database.init()
    yield database
    database.dispose()


def execute(db, *statements: str) -> None:
    db.dispose()
    with connect(db.url) as con:
        for sql in statements:
            con.execute(sql)


@pytest.mark.sqlite_only("SQLite's triggers as sqlite_master holds them")
def test_the_expected_triggers_are_exactly_what_the_migrations_create(db, sql):
    found = {
        name: (table, " ".join(text.split()))
        for name, table, text in sql("SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'trigger'")
    }
    assert found == sqlite_triggers()
    assert len(found) == 2 * len(APPEND_ONLY) + 2 * len(WHOLE_NUMBERS)


@pytest.mark.postgresql_only("PostgreSQL's triggers and trigger function")
def test_the_expected_postgresql_guards_are_what_the_migrations_create(db, sql):
    rows = sql(
        "SELECT c.relname, t.tgname, t.tgenabled, t.tgtype FROM pg_trigger t "
        "JOIN pg_class c ON c.oid = t.tgrelid WHERE NOT t.tgisinternal ORDER BY 1"
    )
    assert rows == [(table, f"{table}_append_only", "O", 27) for table in sorted(APPEND_ONLY)]
    (body,) = sql("SELECT prosrc FROM pg_proc WHERE proname = 'loyaltyctl_append_only'")[0]
    assert " ".join(body.split()) == PG_FUNCTION_BODY


def test_every_named_check_constraint_of_the_models_is_in_a_new_database(db):
    assert sum(len(c) for c in check_constraints().values()) >= 20
    assert guard_problems(db) == []


@pytest.mark.sqlite_only("SQLite's trigger names")
@pytest.mark.parametrize("name", sorted(sqlite_triggers()))
def test_each_missing_sqlite_trigger_is_named(db, name):
    table = sqlite_triggers()[name][0]
    execute(db, f"DROP TRIGGER {name}")
    what = "can take numbers that are not whole" if "_whole_" in name else "rows can be changed"
    assert guard_problems(db) == [f"trigger {name} is missing: {table} {what}"]


@pytest.mark.sqlite_only("SQLite's trigger text")
def test_an_altered_or_an_extra_sqlite_trigger_is_named(db):
    execute(
        db,
        "DROP TRIGGER posting_no_update",
        # never fires: the same name, another text
        "CREATE TRIGGER posting_no_update BEFORE UPDATE ON posting WHEN 0 "
        "BEGIN SELECT RAISE(ABORT, 'postings are append-only'); END",
        # changes what is written
        "CREATE TRIGGER posting_double AFTER INSERT ON posting "
        "BEGIN UPDATE account SET balance = balance + NEW.points WHERE id = NEW.account_id; END",
    )
    assert guard_problems(db) == [
        "trigger posting_no_update is not as the migrations create it: posting rows can be changed "
        "(CREATE TRIGGER posting_no_update BEFORE UPDATE ON posting WHEN 0 "
        "BEGIN SELECT RAISE(ABORT, 'postings are append-only'); END)",
        "trigger posting_double on posting is not one loyaltyctl creates (CREATE TRIGGER posting_double "
        "AFTER INSERT ON posting BEGIN UPDATE account SET balance = balance + NEW.points "
        "WHERE id = NEW.account_id; END)",
    ]


@pytest.mark.sqlite_only("PRAGMA writable_schema")
def test_a_check_constraint_edited_out_of_the_sqlite_schema_is_named(db, sql):
    (text,) = sql("SELECT sql FROM sqlite_master WHERE name = 'posting'")[0]
    edited = text.replace("CONSTRAINT ck_posting_points_nonzero CHECK (points <> 0), ", "")
    assert edited != text
    execute(
        db,
        "PRAGMA writable_schema = ON",
        f"UPDATE sqlite_master SET sql = '{edited}' WHERE name = 'posting'",
    )
    assert guard_problems(db) == [
        "CHECK constraint ck_posting_points_nonzero on posting is missing: points <> 0 no longer holds"
    ]


@pytest.mark.postgresql_only("PostgreSQL's trigger states and definitions")
@pytest.mark.parametrize(
    ("statements", "problem"),
    [
        (
            ["ALTER TABLE quiz_award DISABLE TRIGGER quiz_award_append_only"],
            "append-only trigger quiz_award_append_only is disabled: quiz_award rows can be changed",
        ),
        (
            ["ALTER TABLE posting ENABLE REPLICA TRIGGER posting_append_only"],
            "append-only trigger posting_append_only fires only for replicas: posting rows can be changed",
        ),
        (
            [
                "DROP TRIGGER posting_append_only ON posting",
                "CREATE TRIGGER posting_append_only BEFORE DELETE ON posting "
                "FOR EACH ROW EXECUTE FUNCTION loyaltyctl_append_only()",
            ],
            "append-only trigger posting_append_only is not as the migrations create it (BEFORE UPDATE OR "
            "DELETE, FOR EACH ROW, no condition, every column, loyaltyctl_append_only()): "
            "posting rows can be changed",
        ),
        (
            [
                "DROP TRIGGER posting_append_only ON posting",
                "CREATE TRIGGER posting_append_only BEFORE UPDATE OF memo OR DELETE ON posting "
                "FOR EACH ROW EXECUTE FUNCTION loyaltyctl_append_only()",
            ],
            "append-only trigger posting_append_only is not as the migrations create it",
        ),
        (
            [
                "DROP TRIGGER posting_append_only ON posting",
                "CREATE TRIGGER posting_append_only BEFORE UPDATE OR DELETE ON posting "
                "FOR EACH ROW WHEN (OLD.points < 0) EXECUTE FUNCTION loyaltyctl_append_only()",
            ],
            "append-only trigger posting_append_only is not as the migrations create it",
        ),
        (
            [
                "CREATE OR REPLACE FUNCTION loyaltyctl_append_only() RETURNS trigger LANGUAGE plpgsql "
                "AS $$ BEGIN IF TG_OP = 'DELETE' THEN RETURN OLD; END IF; RETURN NEW; END $$"
            ],
            "function loyaltyctl_append_only() is not as the migrations create it: the append-only "
            "triggers may let rows be changed (BEGIN IF TG_OP = 'DELETE' THEN RETURN OLD; END IF; "
            "RETURN NEW; END)",
        ),
        (
            [
                "CREATE FUNCTION double_it() RETURNS trigger LANGUAGE plpgsql "
                "AS $$ BEGIN NEW.points = NEW.points * 2; RETURN NEW; END $$",
                "CREATE TRIGGER posting_double BEFORE INSERT ON posting "
                "FOR EACH ROW EXECUTE FUNCTION double_it()",
            ],
            "trigger posting_double on posting is not one loyaltyctl creates (it runs double_it())",
        ),
        (
            ["ALTER TABLE quiz ALTER COLUMN points_per_correct TYPE numeric"],
            "column quiz.points_per_correct is numeric: it takes numbers that are not whole",
        ),
        (
            ["ALTER TABLE posting DROP CONSTRAINT ck_posting_points_int"],
            "CHECK constraint ck_posting_points_int on posting is missing: "
            "points = CAST(points AS BIGINT) no longer holds",
        ),
    ],
    ids=["disabled", "replica", "delete-only", "update-of", "when", "function", "extra", "numeric", "check"],
)
def test_each_way_of_taking_a_postgresql_guard_away_is_named(own_db, statements, problem):
    execute(own_db, *statements)
    found = guard_problems(own_db)
    assert len(found) == 1 and found[0].startswith(problem), found


@pytest.mark.postgresql_only("a PostgreSQL database setting")
def test_triggers_switched_off_for_the_whole_database_are_named(db, sql):
    name = sql("SELECT current_database()")[0][0]
    sql(f'ALTER DATABASE "{name}" SET session_replication_role = replica')
    try:
        assert guard_problems(db) == [
            "session_replication_role is 'replica' for this database or role: no trigger fires, "
            "every append-only table can be changed"
        ]
    finally:
        sql(f'ALTER DATABASE "{name}" RESET session_replication_role')
