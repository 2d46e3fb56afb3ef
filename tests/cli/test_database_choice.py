"""Which database a command uses: --db PATH or URL, LOYALTYCTL_DB, or the
per-user default that cron finds too; and who is recorded as acting."""

from __future__ import annotations

import json
import sqlite3

import pytest
from conftest import connect
from factories import small_program


def partners_in(path) -> list[str]:
    with sqlite3.connect(path) as conn:
        return [r[0] for r in conn.execute("SELECT code FROM partner ORDER BY code")]


@pytest.mark.sqlite_only("--db PATH and the default: SQLite files")
def test_db_option_takes_a_path_or_a_sqlalchemy_url(tmp_path, cli):
    a, b = tmp_path / "a.db", tmp_path / "b.db"
    cli("--db", str(a), "db", "init", ok=True)
    cli("--db", f"sqlite:///{b}", "db", "init", ok=True)
    cli("--db", str(a), "partners", "enroll", "AAA", "--name", "A", ok=True)
    cli("--db", f"sqlite:///{b}", "partners", "enroll", "BBB", "--name", "B", ok=True)
    assert partners_in(a) == ["AAA"] and partners_in(b) == ["BBB"]


@pytest.mark.sqlite_only("--db PATH and the default: SQLite files")
def test_the_env_variable_and_the_option(tmp_path, cli, monkeypatch):
    env_db = tmp_path / "env.db"
    monkeypatch.setenv("LOYALTYCTL_DB", str(env_db))
    cli("db", "init", ok=True)
    cli("--db", str(tmp_path / "opt.db"), "db", "init", ok=True)
    cli("partners", "enroll", "ENV", "--name", "E", ok=True)
    cli("--db", str(tmp_path / "opt.db"), "partners", "enroll", "OPT", "--name", "O", ok=True)
    assert partners_in(env_db) == ["ENV"]  # --db wins over the variable, and does not touch it


@pytest.mark.sqlite_only("--db PATH and the default: SQLite files")
def test_the_default_is_an_absolute_per_user_path(tmp_path, cli, monkeypatch):
    monkeypatch.delenv("LOYALTYCTL_DB")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)  # cron's working directory is not ours: must not matter
    cli("db", "init", ok=True)
    cli("partners", "enroll", "DEF", "--name", "D", ok=True)
    default = tmp_path / "data" / "loyaltyctl" / "loyalty.db"
    assert partners_in(default) == ["DEF"]
    status = json.loads(cli("db", "status", "--format", "json", ok=True).stdout)
    assert status["database"] == str(default) and status["schema"] == status["schema_head"]


def test_the_actor_is_recorded_on_postings(db, db_url, cli, monkeypatch):
    small_program(db)
    monkeypatch.delenv("LOYALTYCTL_ACTOR")
    cli("--actor", "maria", "points", "adjust", "bo@bolt.se", "500", "--reason", "fair", ok=True)
    monkeypatch.setenv("LOYALTYCTL_ACTOR", "cron-nightly")
    cli("points", "adjust", "bo@bolt.se", "300", "--reason", "fair", ok=True)
    with connect(db_url) as conn:
        actors = [r[0] for r in conn.execute("SELECT actor FROM posting ORDER BY id")]
    assert actors == ["maria", "cron-nightly"]
