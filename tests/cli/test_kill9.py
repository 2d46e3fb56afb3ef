"""kill -9 in the middle of a large import, three times at seeded random points:
after each, `db check` passes and the import happened wholly or not at all; a
final run completes and the totals are exact.  (`make stress` does the same
with 200 000 rows and five kills: benchmarks/stress.py.)"""

from __future__ import annotations

import os
import random
import sqlite3
import subprocess
import sys
import time

import pytest
from conftest import ROOT
from factories import HEADER, small_program
from test_errors import read_position

pytestmark = pytest.mark.sqlite_only("kill -9 of a SQLite writer: its journal, then db check")

ROWS = 20_000
SELLERS = [
    ("BOLT", "bo@bolt.se"),
    ("BOLT", "britt@bolt.se"),
    ("ACME", "anna@acme.se"),
    ("ACME", "arne@acme.se"),
]


def contract_file(path) -> None:
    """Row i: (100 000 + 1 000 (i % 50)) SEK, started in January 2026, earning
    amount * 10 / 1000 + 100 = 1 100 + 10 (i % 50) points.  Each block of 50
    rows earns 50 * 1 100 + 10 * (0 + ... + 49) = 55 000 + 12 250 = 67 250;
    20 000 rows are 400 blocks: 26 900 000 points."""
    with path.open("w", encoding="utf-8") as f:
        f.write(HEADER)
        for i in range(ROWS):
            partner, seller = SELLERS[i % 4]
            f.write(
                f"K{i:06d},{partner},{seller},2026-01-{1 + i % 28:02d},{100_000 + 1_000 * (i % 50)},"
                "leasing,started\n"
            )


TOTAL = 26_900_000
assert TOTAL == (ROWS // 50) * (50 * 1_100 + 10 * sum(range(50)))


def state(db_path) -> tuple[int, int, int, int]:
    """(contracts, postings, sum of postings, sum of cached balances)"""
    with sqlite3.connect(db_path) as con:
        return (
            con.execute("SELECT count(*) FROM contract").fetchone()[0],
            con.execute("SELECT count(*) FROM posting").fetchone()[0],
            con.execute("SELECT coalesce(sum(points), 0) FROM posting").fetchone()[0],
            con.execute("SELECT coalesce(sum(balance), 0) FROM account").fetchone()[0],
        )


NOTHING = (0, 0, 0, 0)
EVERYTHING = (ROWS, ROWS, TOTAL, TOTAL)


def start_import(path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "loyaltyctl", "contracts", "import", str(path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


@pytest.mark.slow
@pytest.mark.skipif(not os.path.isdir("/proc/self/fdinfo"), reason="needs Linux /proc")
def test_kill_9_during_an_import_three_times(db, db_path, tmp_path, cli):
    small_program(db)
    db.dispose()
    big = tmp_path / "contracts.csv"
    contract_file(big)
    size = big.stat().st_size
    rng = random.Random(20261122)
    outcomes = []
    for _ in range(3):
        # Kill when the import has read a random share of the file: rows are
        # parsed, checked and written (in chunks) as they are read, and the one
        # transaction commits after the last row.
        share = rng.uniform(0.05, 1.0)
        proc = start_import(big)
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline:
            if read_position(proc.pid, big) >= share * size:
                break
            time.sleep(0.005)
        proc.kill()
        proc.communicate(timeout=30)
        after = state(db_path)
        assert after in (NOTHING, EVERYTHING), (share, after)
        outcomes.append(after)
        cli("db", "check", ok=True)
    assert NOTHING in outcomes  # at least one kill landed mid-import

    proc = start_import(big)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err.decode()
    if outcomes[-1] == NOTHING:
        assert f"{ROWS} new".encode() in out and f"+{TOTAL} points posted".encode() in out
    assert state(db_path) == EVERYTHING
    cli("db", "check", ok=True)
