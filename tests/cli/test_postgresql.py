"""PostgreSQL as the program database: the optional driver, connection errors,
the plain URL form, the write lock, retried serialization failures, the
append-only triggers and what `db check` checks there.  (Everything else runs
on PostgreSQL through the backend parameter of the whole suite.)"""

from __future__ import annotations

import json
import os

import pytest
from conftest import raw_sql, run_cli
from factories import import_contracts, small_program
from sqlalchemy import text
from test_errors import one_error

from loyaltyctl.db import SCHEMA_HEAD, resolve_url


def test_without_psycopg_a_postgresql_url_is_a_one_line_hint(tmp_path):
    # A psycopg that cannot be imported, first on the path: as if the extra were not installed.
    fake = tmp_path / "site" / "psycopg"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'psycopg'\", name='psycopg')\n"
    )
    env = {"PYTHONPATH": str(tmp_path / "site"), "LOYALTYCTL_DB": "postgresql://office@db.example/loyalty"}
    r = run_cli("points", "balance", env=env)
    assert r.returncode == 6, r.stderr.decode()
    lines = r.stderr.decode().splitlines()
    assert lines == [
        "error: cannot use postgresql+psycopg://office@db.example/loyalty: the driver 'psycopg' "
        "(the [postgres] extra) is not installed",
        "hint: pip install 'loyaltyctl[postgres]'",
    ]


def test_a_refused_connection_is_exit_6_naming_the_host_not_the_password():
    # Port 1 on this machine: nothing listens, the connection is refused at once.
    r = run_cli("--db", "postgresql://office:s3cret@127.0.0.1:1/loyalty", "points", "balance")
    text = r.stderr.decode()
    assert r.returncode == 6, text
    line = one_error(text)
    assert line.startswith(
        "error: cannot connect to PostgreSQL database postgresql+psycopg://office:***@127.0.0.1:1/loyalty: "
    ), line
    assert "refused" in line.lower()
    assert "s3cret" not in text and "Traceback" not in text


@pytest.mark.postgresql_only("a PostgreSQL URL")
def test_a_plain_postgresql_url_means_psycopg_3(db_url, cli):
    plain = db_url.replace("postgresql+psycopg://", "postgresql://")
    assert resolve_url(plain) == db_url
    cli("--db", plain, "partners", "enroll", "ACME", "--name", "Acme AB", ok=True)
    status = json.loads(cli("--db", plain, "db", "status", "-f", "json", ok=True).stdout)
    assert (status["backend"], status["schema"], status["partners"]) == ("postgresql", SCHEMA_HEAD, 1)


@pytest.mark.postgresql_only("a PostgreSQL database that does not exist")
def test_a_missing_database_is_exit_6_with_a_hint(db_url, cli):
    missing = db_url.rsplit("/", 1)[0] + "/no_such_loyalty_db"
    r = cli("--db", missing, "points", "balance")
    assert r.exit_code == 6
    assert one_error(r.stderr).startswith("error: cannot connect to PostgreSQL database ")
    assert 'database "no_such_loyalty_db" does not exist' in r.stderr
    assert "hint: create it first" in r.stderr


@pytest.mark.postgresql_only("the PostgreSQL trigger")
@pytest.mark.parametrize("table", ["posting", "rule_version", "leaderboard_run"])
def test_db_check_names_a_dropped_or_disabled_append_only_trigger(db, sql, cli, table):
    small_program(db)
    db.dispose()
    got = json.loads(cli("db", "check", "-f", "json", ok=True).stdout)
    integrity = got["checks"][0]
    assert integrity["check"] == "integrity" and integrity["description"].startswith("PostgreSQL:")
    assert got["checks"][2]["check"] == "guards"
    sql(f"ALTER TABLE {table} DISABLE TRIGGER {table}_append_only")
    r = cli("db", "check")
    assert r.exit_code == 6
    assert f"append-only trigger {table}_append_only is disabled: {table} rows can be changed" in r.stdout
    sql(f"DROP TRIGGER {table}_append_only ON {table}")
    r = cli("db", "check")
    assert r.exit_code == 6
    assert f"append-only trigger {table}_append_only is missing" in r.stdout
    assert "db check failed: guards" in r.stderr
    # The hint names PostgreSQL's own tools: `db backup` refuses PostgreSQL.
    hint = r.stderr.splitlines()[-1]
    assert hint.startswith("hint: restore the latest pg_dump backup (`pg_restore ")
    assert "pg_dump --format=custom" in hint and "db backup" not in r.stderr


def _serialization_failure():
    import psycopg
    from sqlalchemy.exc import OperationalError

    orig = psycopg.errors.SerializationFailure("could not serialize access due to concurrent update")
    return OperationalError("UPDATE account ...", {}, orig)


@pytest.mark.postgresql_only("SQLSTATE 40001")
def test_a_serialization_failure_runs_the_command_again_once_more(db, sql, cli, monkeypatch):
    small_program(db)
    db.dispose()
    from loyaltyctl.services import points

    real, calls = points.adjust, []

    def flaky(**kwargs):
        calls.append(1)
        result = real(**kwargs)  # the first attempt's posting is rolled back with it
        if len(calls) == 1:
            raise _serialization_failure()
        return result

    monkeypatch.setattr(points, "adjust", flaky)
    r = cli("points", "adjust", "bo@bolt.se", "500", "--reason", "fair", ok=True)
    assert len(calls) == 2
    assert "bo@bolt.se: +500 points posted; balance 500" in r.stdout
    assert sql("SELECT count(*), sum(points) FROM posting") == [(1, 500)]


@pytest.mark.postgresql_only("SQLSTATE 40001")
def test_retries_are_bounded_and_stdin_is_never_read_twice(db, sql, cli, monkeypatch):
    small_program(db)
    db.dispose()
    from loyaltyctl.services import contracts, points

    calls = []

    def always(**kwargs):
        calls.append(1)
        raise _serialization_failure()

    monkeypatch.setattr(points, "adjust", always)
    r = cli("points", "adjust", "bo@bolt.se", "500", "--reason", "fair")
    assert (r.exit_code, len(calls)) == (5, 3)  # three attempts in all, then exit 5
    assert one_error(r.stderr).startswith("error: database ")
    assert "another run changed the same rows at the same time" in r.stderr
    assert "hint: run the command again" in r.stderr

    calls.clear()
    monkeypatch.setattr(contracts, "import_contracts", always)
    r = cli("contracts", "import", "-", input="contract_id\n")
    assert (r.exit_code, len(calls)) == (5, 1)  # its input is gone: not run again
    assert sql("SELECT count(*) FROM posting") == [(0,)]


def test_an_old_database_is_upgraded_in_place_with_its_rows(fresh_db, cli):
    """The same migrations upgrade either backend: a database left at 0003 with
    a partner and a rule in it reaches the head and keeps both."""
    from factories import at_schema

    target = fresh_db()
    url = resolve_url(target)
    at_schema(target, "0003")
    raw_sql(
        url,
        "INSERT INTO rule_version (key, value, valid_from, created_at, actor) "
        "VALUES ('points_per_contract', '200', '2026-01-01', '2026-01-01 09:00:00', 'x')",
    )
    r = cli("--db", target, "points", "balance")  # older schema: refused, back it up first
    assert r.exit_code == 6
    if "://" in target:  # PostgreSQL: pg_dump, never `db backup` (which refuses PostgreSQL)
        assert "pg_dump --format=custom" in r.stderr and "db backup" not in r.stderr
    else:
        assert "`loyaltyctl db backup PATH`" in r.stderr
    r = cli("--db", target, "db", "upgrade", ok=True)
    assert f"schema upgraded from 0003 to {SCHEMA_HEAD}" in r.stderr
    prizes = ",".join(["1000000"] * 100)  # 799 characters: fits since 0006
    cli("--db", target, "rules", "set", "yearly_bonus", prizes, "--from", "2026-01-01", ok=True)
    rules = {
        r["key"]: r
        for r in json.loads(cli("--db", target, "rules", "show", "-f", "json", "--on", "2026-06-01").stdout)
    }
    assert rules["points_per_contract"]["value"] == "200"
    assert rules["yearly_bonus"]["value"] == prizes
    with pytest.raises(Exception, match="append-only"):
        raw_sql(url, "DELETE FROM rule_version")
    cli("--db", target, "db", "check", ok=True)


@pytest.mark.postgresql_only("PostgreSQL's isolation")
def test_a_read_only_command_sees_one_snapshot_and_does_not_block_writers(db, cli, db_url):
    small_program(db)
    import_contracts(db, "C1,BOLT,bo@bolt.se,2026-01-10,250000,leasing,started\n")
    with db.session() as s:
        first = s.exec(text("SELECT sum(points) FROM posting")).scalar()
        # another process writes meanwhile: neither waits for the other ...
        r = run_cli("points", "adjust", "bo@bolt.se", "500", "--reason", "fair", env=dict(os.environ))
        assert r.returncode == 0, r.stderr.decode()
        # ... and the reader's snapshot does not move under it
        again = s.exec(text("SELECT sum(points) FROM posting")).scalar()
    assert (first, again) == (2600, 2600)
    assert raw_sql(db_url, "SELECT sum(points) FROM posting") == [(3100,)]


@pytest.fixture
def engaged(db, cli):
    """A row in every append-only table: a contract posting, a rule version, a
    quiz award and an awarded October (bo 4 100 points: rank 1, 5 000 bonus)."""
    from factories import contract

    small_program(db)
    import_contracts(db, contract("C1", "BOLT", "bo@bolt.se", "2026-10-05", 400000))
    db.dispose()
    cli("rules", "set", "lead_points", "600", "--from", "2027-01-01", ok=True)
    cli("quiz", "create", "Q1", "--title", "T", "--questions", "5", "--points-per-correct", "10", ok=True)
    cli("quiz", "award", "Q1", "--seller", "bo@bolt.se", "--correct", "3", ok=True)
    cli("leaderboard", "run", "--month", "2026-10", ok=True)
    return db


@pytest.mark.postgresql_only("the PostgreSQL trigger")
@pytest.mark.parametrize(
    "table", ["posting", "rule_version", "quiz_award", "leaderboard_run", "leaderboard_award"]
)
def test_every_append_only_table_refuses_update_and_delete(engaged, sql, table):
    (before,) = sql(f"SELECT count(*) FROM {table}")
    assert before[0] >= 1
    for statement in (f"UPDATE {table} SET id = id", f"DELETE FROM {table}"):
        with pytest.raises(sql.errors, match=f"{table} rows are append-only"):
            sql(statement)
    assert sql(f"SELECT count(*) FROM {table}") == [before]


# -- passwords never shown -------------------------------------------------------------
SECRET = "Hush-8472-pw"


@pytest.mark.backend_independent("a connection refused before any database is reached")
@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://127.0.0.1:1/loyalty?user=postgres&password={SECRET}",
        f"postgresql://127.0.0.1:1/loyalty?PASSWORD={SECRET}&user=postgres",
        f"postgresql://127.0.0.1:1/loyalty?user=postgres&passwd={SECRET}",
        f"postgresql://127.0.0.1:1/loyalty?sslpassword={SECRET}",
        f"postgresql://postgres:{SECRET}@127.0.0.1:1/loyalty?password={SECRET}",
        f"postgres://postgres:{SECRET.replace('-', '%2D')}@127.0.0.1:1/loyalty",
    ],
)
def test_a_password_anywhere_in_the_url_is_never_printed(url, cli):
    """A real connection failure (nothing listens on port 1): the message
    names the database with every password masked."""
    r = cli("--db", url, "points", "balance")
    err = r.stderr
    assert r.exit_code == 6, err
    assert one_error(err).startswith("error: cannot connect to PostgreSQL database postgresql+psycopg://")
    assert SECRET not in err and SECRET.replace("-", "%2D") not in err and "***" in err
    assert r.stdout == ""


@pytest.mark.postgresql_only("a live server: db status, and a database the server does not have")
def test_db_status_and_server_errors_mask_a_query_password(db, db_url, sub):
    from sqlalchemy.engine import make_url

    u = make_url(db_url)
    base = f"postgresql://{u.host}:{u.port or 5432}"
    # Trust authentication ignores the password; it is in the URL all the same.
    r = sub("--db", f"{base}/{u.database}?user={u.username}&password={SECRET}", "db", "status", "-f", "json")
    assert r.returncode == 0, r.stderr.decode()
    shown = json.loads(r.stdout)["database"]
    assert (
        shown == f"postgresql+psycopg://{u.host}:{u.port or 5432}/{u.database}?user={u.username}&password=***"
    )
    r = sub("--db", f"{base}/no_such_loyalty_db?user={u.username}&password={SECRET}", "db", "status")
    err = r.stderr.decode()
    assert r.returncode == 6 and 'database "no_such_loyalty_db" does not exist' in err
    assert SECRET not in err and "password=***" in err
