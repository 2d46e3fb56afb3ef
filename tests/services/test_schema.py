"""The schema: Alembic's migrations and the SQLModel classes agree; the code
knows its head; a newer database is refused; files are private; WAL is on."""

from __future__ import annotations

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
from loyaltyctl.db import SCHEMA_HEAD, Database, resolve_url
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


def test_a_new_database_is_migrated_on_first_use(db, fresh_db, cli, sql):
    url = fresh_db()
    cli("--db", url, "partners", "enroll", "ACME", "--name", "Acme AB", ok=True)
    from conftest import raw_sql

    assert raw_sql(resolve_url(url), "SELECT version_num FROM alembic_version") == [(SCHEMA_HEAD,)]
    assert raw_sql(resolve_url(url), "SELECT code FROM partner") == [("ACME",)]
    assert sql("SELECT count(*) FROM partner") == [(0,)]  # not the test's own database


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
    path = tmp_path / "fresh" / "loyalty.db"
    old = os.umask(0o022)
    try:
        database = Database(resolve_url(str(path)))
        try:
            small_program(database)
            import_contracts(database, "C1,BOLT,bo@bolt.se,2026-01-10,250000,leasing,started\n")
            # While the engine is open, SQLite keeps the -wal and -shm files.
            files = [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]
            for f in files:
                assert f.exists(), f
                assert stat.S_IMODE(f.stat().st_mode) == 0o600, (f, oct(f.stat().st_mode))
            assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
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
