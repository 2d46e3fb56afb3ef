"""The schema: Alembic's migrations and the SQLModel classes agree; the code
knows its head; a newer database is refused; files are private; WAL is on."""

from __future__ import annotations

import json
import os
import sqlite3
import stat

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from factories import import_contracts, small_program
from sqlmodel import SQLModel

from loyaltyctl import models  # noqa: F401  (registers the tables)
from loyaltyctl.db import SCHEMA_HEAD, Database, display_url, resolve_url
from loyaltyctl.migrations import REVISIONS


def script_directory() -> ScriptDirectory:
    cfg = Config()
    cfg.set_main_option("script_location", "loyaltyctl:migrations")
    return ScriptDirectory.from_config(cfg)


def test_migrated_blank_database_matches_the_models(db):
    with db.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(ctx, SQLModel.metadata) == []


def test_schema_head_is_the_alembic_head():
    script = script_directory()
    assert script.get_heads() == [SCHEMA_HEAD]  # one head, and it is ours
    assert REVISIONS[-1] == SCHEMA_HEAD
    assert [r.revision for r in script.walk_revisions()][::-1] == REVISIONS


def test_a_new_database_is_stamped_at_head(db, sql):
    assert sql("SELECT version_num FROM alembic_version") == [(SCHEMA_HEAD,)]


def test_only_db_init_creates_a_database(db, fresh_db, cli, sql):
    """A mistyped --db in a cron job must not look healthy: every command but
    `db init` refuses a database that is not there (a missing SQLite file, a
    PostgreSQL database without the schema), exit 6, naming it and the fix,
    and creates nothing."""
    from conftest import raw_sql, table_names

    url = fresh_db()
    where = display_url(resolve_url(url))
    for args in (
        ["partners", "list", "-f", "json"],
        ["points", "balance"],
        ["db", "status"],
        ["db", "check"],
        ["db", "upgrade"],
        ["partners", "enroll", "ACME", "--name", "Acme AB"],
    ):
        r = cli("--db", url, *args)
        assert (r.exit_code, r.stdout) == (6, ""), (args, r.stdout, r.stderr)
        first, hint = r.stderr.splitlines()
        assert first.startswith(f"error: database {where}") and (
            first.endswith("does not exist") or first.endswith("is empty (no loyaltyctl schema)")
        ), first
        assert hint == (
            "hint: create it with `loyaltyctl db init`, or check --db / LOYALTYCTL_DB if it should exist"
        )
    if "://" not in url:
        assert not os.path.exists(url) and not os.path.exists(os.path.dirname(url))
    else:
        assert table_names(resolve_url(url)) == []

    r = cli("--db", url, "db", "init", "-f", "json", ok=True)
    assert json.loads(r.stdout)["created"] is True
    assert raw_sql(resolve_url(url), "SELECT version_num FROM alembic_version") == [(SCHEMA_HEAD,)]
    cli("--db", url, "partners", "enroll", "ACME", "--name", "Acme AB", ok=True)
    # Again: nothing to do, exit 0, a note; the program is untouched.
    r = cli("--db", url, "db", "init", ok=True)
    assert "already exists and is up to date" in r.stderr
    assert json.loads(cli("--db", url, "db", "init", "-f", "json", ok=True).stdout)["created"] is False
    assert raw_sql(resolve_url(url), "SELECT code FROM partner") == [("ACME",)]
    assert sql("SELECT count(*) FROM partner") == [(0,)]  # not the test's own database


def test_db_init_refuses_an_older_schema_and_db_upgrade_migrates_it(fresh_db, cli):
    from factories import at_schema

    target = fresh_db()
    at_schema(target, "0005")
    r = cli("--db", target, "db", "init")
    assert r.exit_code == 6 and "is at schema 0005" in r.stderr and "db upgrade" in r.stderr
    assert cli("--db", target, "points", "balance").exit_code == 6
    r = cli("--db", target, "db", "upgrade", ok=True)
    assert f"schema upgraded from 0005 to {SCHEMA_HEAD}" in r.stderr
    cli("--db", target, "db", "init", ok=True)


def test_a_database_from_a_newer_loyaltyctl_is_refused(db, sql, cli):
    db.dispose()
    sql("UPDATE alembic_version SET version_num = '9999'")
    for args in (["db", "status"], ["points", "balance"], ["partners", "enroll", "X", "--name", "X"]):
        r = cli(*args)
        assert r.exit_code == 6, (args, r.stderr)
        assert "9999" in r.stderr and "newer" in r.stderr
        assert "Traceback" not in r.stderr
    assert sql("SELECT count(*) FROM partner") == [(0,)]


def test_a_database_that_is_not_ours_is_refused(fresh_db, cli):
    from conftest import raw_sql

    other = fresh_db()
    if "://" not in other:
        os.makedirs(os.path.dirname(other))
    raw_sql(resolve_url(other), "CREATE TABLE notes (id INTEGER PRIMARY KEY)")
    r = cli("--db", other, "db", "status")
    assert r.exit_code == 6 and "not a loyaltyctl database" in r.stderr


@pytest.mark.sqlite_only("file modes of the SQLite database and its -wal and -shm files")
def test_database_files_are_private_even_with_umask_022(tmp_path):
    path = tmp_path / "fresh" / "deeper" / "loyalty.db"
    old = os.umask(0o022)
    try:
        database = Database(resolve_url(str(path)))
        try:
            database.init()
            small_program(database)
            import_contracts(database, "C1,BOLT,bo@bolt.se,2026-01-10,250000,leasing,started\n")
            # While the engine is open, SQLite keeps the -wal and -shm files.
            files = [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]
            for f in files:
                assert f.exists(), f
                assert stat.S_IMODE(f.stat().st_mode) == 0o600, (f, oct(f.stat().st_mode))
            # Every folder the tool made, the intermediate one too, whatever the umask.
            for folder in (path.parent, path.parent.parent):
                assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
        finally:
            database.dispose()
    finally:
        os.umask(old)


@pytest.mark.sqlite_only("SQLite PRAGMAs")
def test_journal_mode_is_wal(db, db_path):
    con = sqlite3.connect(db_path)
    assert con.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    con.close()
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL


def test_db_upgrade_refuses_a_newer_database(db, sql, cli):
    db.dispose()
    sql("UPDATE alembic_version SET version_num = '9999'")
    r = cli("db", "upgrade")
    assert r.exit_code == 6, r.stderr
    assert "newer" in r.stderr


def test_db_upgrade_on_a_current_database_is_a_no_op(db, cli):
    r = cli("db", "upgrade", ok=True)
    assert "up to date" in r.stderr
