"""Faults, in real subprocesses: a full disk under the database or under an
export, and the file modes of everything the tool creates."""

from __future__ import annotations

import sqlite3

from factories import HEADER, small_program
from test_errors import one_error

ROWS = 3_000


def contracts_csv(path, n: int = ROWS, prefix: str = "C") -> None:
    """n started contracts of 100 000 SEK for bo@bolt.se: 1 100 points each."""
    path.write_text(
        HEADER
        + "".join(f"{prefix}{i},BOLT,bo@bolt.se,2026-01-10,100000,leasing,started\n" for i in range(n)),
        encoding="utf-8",
    )


def table_counts(db_path) -> tuple[int, int, int, int]:
    with sqlite3.connect(db_path) as con:
        return tuple(
            con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("contract", "posting", "batch", "account")
        )


def page_count(db_path) -> int:
    with sqlite3.connect(db_path) as con:
        return con.execute("PRAGMA page_count").fetchone()[0]


def test_disk_full_during_an_import(db, db_path, tmp_path, sub):
    small_program(db)
    db.dispose()
    big = tmp_path / "contracts.csv"
    contracts_csv(big)
    before = table_counts(db_path)
    assert before == (0, 0, 0, 3)  # BOLT's two sellers and ACME's pool
    # Ten pages more than the database has now: 3 000 contracts and their
    # postings need far more, so the import hits the cap halfway.
    cap = str(page_count(db_path) + 10)
    r = sub("contracts", "import", str(big), env={"LOYALTYCTL_MAX_PAGES": cap})
    assert r.returncode == 7, r.stderr.decode()
    line = one_error(r.stderr.decode())
    assert line == f"error: database {db_path}: disk full (database or disk is full); nothing was written"
    assert r.stdout == b""
    assert table_counts(db_path) == before
    r = sub("db", "check")
    assert r.returncode == 0, r.stdout.decode()
    # Without the cap the same import goes through, exactly once.
    r = sub("contracts", "import", str(big))
    assert r.returncode == 0, r.stderr.decode()
    assert f"{ROWS} new".encode() in r.stdout and b"+3300000 points posted" in r.stdout
    assert table_counts(db_path) == (ROWS, ROWS, 1, 3)


def test_a_bad_page_cap_is_one_line(sub):
    r = sub("points", "balance", env={"LOYALTYCTL_MAX_PAGES": "lots"})
    assert r.returncode == 6
    line = one_error(r.stderr.decode())
    assert line == "error: LOYALTYCTL_MAX_PAGES='lots' is not a positive number of pages"


def test_describe_db_error_maps_sqlite_full():
    from loyaltyctl.db import describe_db_error
    from loyaltyctl.errors import FileProblem

    err = describe_db_error(sqlite3.OperationalError("database or disk is full"), "sqlite:////srv/l.db")
    assert isinstance(err, FileProblem) and err.exit_code == 7
    assert err.message == "database /srv/l.db: disk full (database or disk is full); nothing was written"
