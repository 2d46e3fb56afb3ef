"""Real processes on one database: concurrent writers queue behind the write
lock (SQLite: BEGIN IMMEDIATE; PostgreSQL: the advisory lock) and lose nothing;
a writer that cannot get the lock in time exits 5 with one clear line."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from conftest import hold_write_lock
from factories import HEADER, small_program
from sqlalchemy import func, select

from loyaltyctl.models import Account, Contract, Posting

ROWS = 300
SELLERS = [
    ("BOLT", "bo@bolt.se"),
    ("BOLT", "britt@bolt.se"),
    ("ACME", "anna@acme.se"),
    ("ACME", "arne@acme.se"),
]


def contract_file(path, n: int) -> None:
    """File n: 300 started contracts; row i is (100 000 + 1 000 i) SEK and earns
    (100 000 + 1 000 i) * 10 / 1000 + 100 = 1 100 + 10 i points."""
    lines = [HEADER]
    for i in range(ROWS):
        partner, seller = SELLERS[i % 4]
        lines.append(
            f"F{n}-{i:04d},{partner},{seller},2026-01-{1 + i % 28:02d},{100_000 + 1_000 * i},"
            f"leasing,started\n"
        )
    path.write_text("".join(lines), encoding="utf-8")


def popen(*args: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "loyaltyctl", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )


def test_four_concurrent_imports_are_all_applied_exactly(db, tmp_path, cli):
    small_program(db)
    db.dispose()
    files = []
    for n in range(4):
        path = tmp_path / f"contracts-{n}.csv"
        contract_file(path, n)
        files.append(path)

    procs = [popen("contracts", "import", str(f)) for f in files]
    outputs = [p.communicate(timeout=60) for p in procs]
    for p, (out, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err.decode()
        assert b"300 new" in out and b"Traceback" not in err

    # Per file: sum over i = 0..299 of (1 100 + 10 i) = 300 * 1 100 + 10 * (299 * 300 / 2)
    #         = 330 000 + 448 500 = 778 500; four files: 3 114 000.
    per_file = 300 * 1_100 + 10 * (299 * 300 // 2)
    assert per_file == 778_500
    with db.session() as s:
        assert s.exec(select(func.sum(Account.balance))).scalar() == 4 * per_file
        assert s.exec(select(func.sum(Posting.points))).scalar() == 4 * per_file
        assert s.exec(select(func.count()).select_from(Contract)).scalar() == 4 * ROWS
        assert s.exec(select(func.count()).select_from(Posting)).scalar() == 4 * ROWS
    cli("db", "check", ok=True)


def test_a_writer_that_cannot_get_the_lock_exits_5_with_one_line(db, db_url, tmp_path, cli, monkeypatch):
    small_program(db)
    db.dispose()
    path = tmp_path / "one.csv"
    path.write_text(HEADER + "C1,BOLT,bo@bolt.se,2026-01-10,250000,leasing,started\n", encoding="utf-8")

    with hold_write_lock(db_url):
        p = popen("contracts", "import", str(path), env={"LOYALTYCTL_BUSY_TIMEOUT": "1"})
        out, err = p.communicate(timeout=30)
        # readers are not blocked by a writer (WAL; PostgreSQL's snapshots)
        monkeypatch.setenv("LOYALTYCTL_BUSY_TIMEOUT", "1")
        assert len(json.loads(cli("points", "balance", "-f", "json", ok=True).stdout)) == 3

    text = err.decode()
    assert p.returncode == 5, text
    assert "Traceback" not in text
    errors = [line for line in text.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, text
    assert "locked" in errors[0] and "1 s" in errors[0]
    assert all(line.startswith(("error:", "hint:")) for line in text.splitlines()), text
    assert out == b""
    # nothing was written; once the lock is free the same import works
    with db.session() as s:
        assert s.exec(select(func.count()).select_from(Contract)).scalar() == 0
    assert "+2600 points posted" in cli("contracts", "import", str(path), ok=True).stdout


def test_processes_creating_a_new_database_at_once_all_succeed(fresh_db, cli):
    fresh = fresh_db()
    env = {"LOYALTYCTL_DB": str(fresh)}
    procs = [popen("partners", "enroll", f"P{n}", "--name", f"Partner {n}", env=env) for n in range(3)]
    for p in procs:
        _, err = p.communicate(timeout=60)
        assert p.returncode == 0, err.decode()
    listed = json.loads(cli("--db", str(fresh), "partners", "list", "-f", "json", ok=True).stdout)
    assert sorted(p["code"] for p in listed) == ["P0", "P1", "P2"]
    cli("--db", str(fresh), "db", "check", ok=True)


def test_imports_a_leaderboard_run_and_approvals_at_once_give_exact_totals(db, tmp_path, cli):
    """Seven processes at once: two imports, three runs of one leaderboard month,
    two overlapping approvals.  January (rewards_program): anna 2 600 and bo
    2 600 share rank 1 (5 000 each), arne 1 100 is 3rd (1 000); the imports are
    dated March, so they cannot move January."""
    from factories import rewards_program

    rewards_program(db)
    for who, rid in (("bo@bolt.se", "R1"), ("ACME", "R2"), ("ACME", "R3")):
        cli("redemptions", "request", who, "MUG", "--id", rid, ok=True)  # 500 each
    db.dispose()
    files = []
    for n in range(2):  # 50 contracts of 100 000 SEK for britt: 1 100 points each
        path = tmp_path / f"march-{n}.csv"
        path.write_text(
            HEADER
            + "".join(
                f"M{n}-{i},BOLT,britt@bolt.se,2026-03-{1 + i % 28:02d},100000,leasing,started\n"
                for i in range(50)
            ),
            encoding="utf-8",
        )
        files.append(path)
    procs = [popen("contracts", "import", str(f)) for f in files]
    runs = [popen("leaderboard", "run", "--month", "2026-01", "-f", "json") for _ in range(3)]
    procs += runs
    procs += [popen("redemptions", "approve", "R1", "R2"), popen("redemptions", "approve", "R2", "R3")]
    outputs = [p.communicate(timeout=120) for p in procs]
    for p, (_, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err.decode()
    results = sorted(json.loads(outputs[procs.index(r)][0])["result"] for r in runs)
    assert results == ["already awarded", "already awarded", "awarded"], results

    balances = {r["account"]: r for r in json.loads(cli("points", "balance", "-f", "json", ok=True).stdout)}
    assert balances["britt@bolt.se"]["balance"] == 100 * 1_100
    assert balances["bo@bolt.se"]["balance"] == 2_600 + 5_000 - 500
    assert balances["ACME"]["balance"] == 3_700 + 5_000 + 1_000 - 2 * 500
    assert all(r["held"] == 0 for r in balances.values())
    with db.session() as s:
        assert s.exec(select(func.sum(Account.balance))).scalar() == 110_000 + 7_100 + 8_700
        assert s.exec(select(func.count()).select_from(Posting).where(Posting.kind == "bonus")).scalar() == 3
    cli("db", "check", ok=True)


def test_requests_made_at_the_same_moment_get_distinct_ids(db, cli):
    from factories import rewards_program

    rewards_program(db)
    db.dispose()
    procs = [popen("redemptions", "request", "bo@bolt.se", "MUG", "-f", "json") for _ in range(3)]
    outputs = [p.communicate(timeout=60) for p in procs]
    for p, (_, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err.decode()
    ids = sorted(r["id"] for out, _ in outputs for r in json.loads(out))
    assert ids == ["R000001", "R000002", "R000003"]
    bo = json.loads(cli("points", "balance", "bo@bolt.se", "-f", "json", ok=True).stdout)[0]
    assert (bo["balance"], bo["held"]) == (2_600, 1_500)
