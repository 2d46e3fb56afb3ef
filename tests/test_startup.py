"""Start-up: `--help` loads typer, not the database stack.

`loyaltyctl --help` and `loyaltyctl NOUN --help` must not import SQLModel,
SQLAlchemy, Alembic, questionary or fpdf (together ~0.7 s here); the commands
import them when they run.  Checked with ``python -X importtime`` in a real
subprocess; the times themselves live in benchmarks/, not here.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = [
    pytest.mark.slow,  # real processes under python -X importtime
    pytest.mark.backend_independent("--help and imports: no database is opened"),
]

HEAVY = ("sqlmodel", "sqlalchemy", "alembic", "questionary", "fpdf")
NOUNS = ("partners", "contracts", "points", "statements", "redemptions", "leaderboard", "db", "report")


def imported(*args: str) -> set[str]:
    """Top-level packages a `loyaltyctl ARGS` run imports."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "loyaltyctl", *args],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Usage" in done.stdout
    names = set()
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    assert "typer" in names  # the parsing worked: typer is always there
    return names


@pytest.mark.parametrize("args", [("--help",), *[(noun, "--help") for noun in NOUNS]])
def test_help_does_not_import_the_database_stack(args):
    assert imported(*args) & set(HEAVY) == set()


def test_the_check_sees_a_heavy_import():
    # The same parsing does see SQLAlchemy when a command needs the database.
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import loyaltyctl.db, sqlalchemy"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    names = {line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines() if "|" in line}
    assert "sqlalchemy" in names
