"""Shared fixtures.  No test can touch a real database: LOYALTYCTL_DB always
points into the test's own tmp dir, and "today" is pinned."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from loyaltyctl.cli import app
from loyaltyctl.db import Database, resolve_url

TODAY = "2026-11-22"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    db_path = tmp_path / "loyalty.db"
    monkeypatch.setenv("LOYALTYCTL_DB", str(db_path))
    monkeypatch.setenv("LOYALTYCTL_TODAY", TODAY)
    monkeypatch.setenv("LOYALTYCTL_ACTOR", "tester")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("LOYALTYCTL_DEBUG", raising=False)
    monkeypatch.setenv("COLUMNS", "120")
    monkeypatch.setenv("NO_COLOR", "1")
    return db_path


@pytest.fixture
def db_path(_isolated: Path) -> Path:
    return _isolated


@pytest.fixture
def db(db_path: Path) -> Iterator[Database]:
    database = Database(resolve_url(str(db_path)))
    database.ensure_schema()
    yield database
    database.dispose()


@pytest.fixture(scope="session", autouse=True)
def _command_tree_built_once() -> Iterator[None]:
    """typer's ``CliRunner.invoke`` builds the whole click command tree on every
    call (~40 ms, more than a small import); build it once for the session.
    ``typer.testing._get_command`` is private: if typer renames it, the tests
    still run, only slower."""
    import typer.testing

    build = getattr(typer.testing, "_get_command", None)
    if build is None:  # pragma: no cover
        yield
        return
    built = build(app)
    typer.testing._get_command = lambda a: built if a is app else build(a)
    yield
    typer.testing._get_command = build


class Cli:
    """Runs loyaltyctl in-process (CliRunner), stdout and stderr kept apart."""

    def __init__(self) -> None:
        self.runner = CliRunner()

    def __call__(self, *args: str, input: str | bytes | None = None, ok: bool | None = None):
        result = self.runner.invoke(app, list(args), input=input, catch_exceptions=False)
        if ok is True:
            assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
        return result


@pytest.fixture
def cli() -> Cli:
    return Cli()


def run_cli(
    *args: str, input: bytes | None = None, env: dict | None = None, timeout: float = 60
) -> subprocess.CompletedProcess:
    """The real thing: a subprocess with real pipes."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "loyaltyctl", *args],
        input=input,
        capture_output=True,
        env=full_env,
        timeout=timeout,
        cwd=ROOT,
    )


@pytest.fixture
def sub():
    return run_cli


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for this test (dropped afterwards), made on
    the server named by ``LOYALTYCTL_TEST_POSTGRES_URL``; skipped without it."""
    import uuid

    base = os.environ.get("LOYALTYCTL_TEST_POSTGRES_URL")
    if not base:
        pytest.skip(
            "no PostgreSQL: set LOYALTYCTL_TEST_POSTGRES_URL=postgresql+psycopg://user@host:5432/postgres"
        )
    psycopg = pytest.importorskip("psycopg", reason="PostgreSQL tests need psycopg (the [postgres] extra)")
    from sqlalchemy.engine import make_url

    url = make_url(base)
    name = f"loyaltyctl_test_{uuid.uuid4().hex[:12]}"
    admin_dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield url.set(database=name).render_as_string(hide_password=False)
        finally:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
