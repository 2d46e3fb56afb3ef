"""Real processes on one database: concurrent writers queue behind the write
lock (SQLite: BEGIN IMMEDIATE; PostgreSQL: the advisory lock) and lose nothing;
a writer that cannot get the lock in time exits 5 with one clear line."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import connect, hold_write_lock
from factories import HEADER, small_program
from sqlalchemy import func, select

from loyaltyctl.models import Account, Contract, Posting

pytestmark = pytest.mark.slow  # concurrency: real processes racing for the write lock

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
    """Three `db init` at once (a provisioning script run twice, say): one
    creates the database, the others find it made."""
    fresh = fresh_db()
    env = {"LOYALTYCTL_DB": str(fresh)}
    inits = [popen("db", "init", "-f", "json", env=env) for _ in range(3)]
    made = []
    for p in inits:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err.decode()
        made.append(json.loads(out)["created"])
    assert sorted(made) == [False, False, True]
    for n in range(3):
        cli("--db", str(fresh), "partners", "enroll", f"P{n}", "--name", f"Partner {n}", ok=True)
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


def test_imports_a_leaderboard_run_and_an_approval_overlapping_lose_nothing(db, tmp_path, cli):
    """Four imports of January contracts at once, with the October leaderboard and
    an approval started while they run: every process exits 0 and every total is
    exact.  The January files cannot change October's ranking, so the result does
    not depend on the order the lock is granted in.

    Before: C1 bo 4 100, C2 britt 3 100, C3 anna 3 100 and C4 arne 2 100 (ACME
    pool), all October; R000001 = ACME 2 x MUG (1 000 held).
    Each file: row i goes to seller i % 4 (bo, britt, anna, arne) and earns
    1 100 + 10 i; seller k's 75 rows earn 75 x 1 100 + 10 (75 k + 4 x (0 + ... + 74))
    = 193 500 + 750 k: bo 193 500, britt 194 250, anna 195 000, arne 195 750.
    October bonuses: bo 5 000, britt 3 000 and anna 3 000 (ACME pool) = 11 000.
    """
    from factories import REWARDS, contract, import_contracts, load_catalog

    small_program(db)
    import_contracts(
        db,
        contract("C1", "BOLT", "bo@bolt.se", "2026-10-05", 400000)
        + contract("C2", "BOLT", "britt@bolt.se", "2026-10-06", 300000)
        + contract("C3", "ACME", "anna@acme.se", "2026-10-07", 300000)
        + contract("C4", "ACME", "arne@acme.se", "2026-10-08", 200000),
    )
    load_catalog(db, REWARDS)
    cli("redemptions", "request", "ACME", "MUG", "--qty", "2", ok=True)
    db.dispose()
    files = []
    for n in range(4):
        path = tmp_path / f"contracts-{n}.csv"
        contract_file(path, n)
        files.append(path)

    procs = [popen("contracts", "import", str(f)) for f in files[:2]]
    procs.append(popen("leaderboard", "run", "--month", "2026-10", "-f", "json"))
    procs += [popen("contracts", "import", str(f)) for f in files[2:]]
    procs.append(popen("redemptions", "approve", "R000001", "-f", "json"))
    outputs = [p.communicate(timeout=120) for p in procs]
    for p, (_, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err.decode()
        assert b"Traceback" not in err
    assert json.loads(outputs[2][0])["bonus_points"] == 11000
    assert json.loads(outputs[5][0])[0]["status"] == "approved"

    got = {
        r["account"]: (r["balance"], r["held"])
        for r in json.loads(cli("points", "balance", "-f", "json", ok=True).stdout)
    }
    assert got == {
        "bo@bolt.se": (4100 + 4 * 193_500 + 5000, 0),  # 783 100
        "britt@bolt.se": (3100 + 4 * 194_250 + 3000, 0),  # 783 100
        "ACME": (3100 + 2100 + 4 * 195_000 + 4 * 195_750 + 3000 - 1000, 0),  # 1 570 200
    }
    assert sum(b for b, _ in got.values()) == 12_400 + 4 * 778_500 + 11_000 - 1_000
    with db.session() as s:
        assert s.exec(select(func.count()).select_from(Contract)).scalar() == 4 + 4 * ROWS
    cli("db", "check", ok=True)


WRITE_COMMANDS = [
    ("leaderboard", "run", "--month", "2026-10"),
    ("redemptions", "approve", "R000001"),
    ("leads", "accept", "1"),
    ("rules", "set", "lead_points", "2000", "--from", "2027-01-01"),
    ("points", "adjust", "ACME", "100", "--reason", "fair"),
    ("partners", "enroll", "NEW", "--name", "New AB"),
]


def test_every_kind_of_writer_waits_then_exits_5_with_one_line(db, db_url, cli):
    """Another process holds the write lock past LOYALTYCTL_BUSY_TIMEOUT: each
    command gives up with exit 5 and one line, and writes nothing."""
    from factories import REWARDS, contract, import_contracts, load_catalog

    small_program(db)
    import_contracts(db, contract("C1", "BOLT", "bo@bolt.se", "2026-10-05", 400000))
    load_catalog(db, REWARDS)
    cli("redemptions", "request", "bo@bolt.se", "MUG", ok=True)
    cli("leads", "add", "--seller", "britt@bolt.se", "--company", "Cykel AB", ok=True)
    db.dispose()
    with connect(db_url) as con:
        before = con.execute("SELECT count(*), sum(points) FROM posting").fetchone()

    with hold_write_lock(db_url):
        procs = [popen(*args, env={"LOYALTYCTL_BUSY_TIMEOUT": "0.5"}) for args in WRITE_COMMANDS]
        outputs = [p.communicate(timeout=60) for p in procs]

    for args, p, (out, err) in zip(WRITE_COMMANDS, procs, outputs, strict=True):
        text = err.decode()
        assert p.returncode == 5, (args, text)
        assert text.splitlines()[0].startswith("error: database ") and "locked" in text, (args, text)
        assert "0.5 s" in text and "Traceback" not in text, (args, text)
        assert all(line.startswith(("error:", "hint:")) for line in text.splitlines()), (args, text)
        assert out == b"", args
    con = connect(db_url)
    assert con.execute("SELECT count(*), sum(points) FROM posting").fetchone() == before
    assert con.execute("SELECT status FROM redemption").fetchall() == [("pending",)]
    assert con.execute("SELECT status FROM lead").fetchall() == [("pending",)]
    con.close()


def test_every_write_command_opens_its_transaction_with_begin_immediate(db, tmp_path, cli, monkeypatch):
    """Watch every statement of every write command (in-process): each INSERT,
    UPDATE or DELETE runs inside a transaction that began with BEGIN IMMEDIATE,
    so a second writer waits at the start instead of failing halfway."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    from loyaltyctl.cli import _prompt

    small_program(db)
    db.dispose()
    began: dict[int, str | None] = {}
    writes: list[tuple[str | None, str]] = []

    def on_statement(conn, _cursor, statement, *_args) -> None:
        key = id(conn.connection.dbapi_connection)
        verb = statement.lstrip().split(None, 1)[0].upper()
        if verb == "BEGIN":
            began[key] = statement.strip().upper()
        elif statement.upper().startswith(("SELECT PG_ADVISORY_XACT_LOCK", "SET TRANSACTION")):
            # PostgreSQL: psycopg sends BEGIN itself; loyaltyctl's first statement is
            # the write lock (a writer) or SET TRANSACTION (a reader).
            lock = statement.upper().startswith("SELECT PG_ADVISORY_XACT_LOCK")
            began[key] = "BEGIN IMMEDIATE" if lock else "BEGIN"
        elif verb in ("INSERT", "UPDATE", "DELETE", "REPLACE"):
            writes.append((began.get(key), statement.split("\n")[0][:60]))

    def on_end(conn) -> None:
        began[id(conn.connection.dbapi_connection)] = None

    event.listen(Engine, "before_cursor_execute", on_statement)
    event.listen(Engine, "commit", on_end)
    event.listen(Engine, "rollback", on_end)
    # the interactive review, answered "approve" without a terminal
    monkeypatch.setattr(_prompt, "interactive", lambda: True)
    monkeypatch.setattr(_prompt, "choose", lambda *_a, **_k: "a")
    contracts = tmp_path / "c.csv"
    contracts.write_text(HEADER + "C1,BOLT,bo@bolt.se,2026-10-05,400000,leasing,started\n")
    partners_csv = tmp_path / "p.csv"
    partners_csv.write_text("code,name,mode,consent\nCYK,Cykel AB,pooled,yes\n")
    sellers_csv = tmp_path / "s.csv"
    sellers_csv.write_text("email,name,partner_code\ncarl@cyk.se,Carl,CYK\n")
    catalog_csv = tmp_path / "cat.csv"
    catalog_csv.write_text("sku,name,points,stock\nMUG,Mug,500,9\n")
    requests_csv = tmp_path / "r.csv"
    requests_csv.write_text("request_id,account,sku,quantity\nX1,bo@bolt.se,MUG,1\n")
    quiz_csv = tmp_path / "q.csv"
    quiz_csv.write_text("seller_email,correct\nbritt@bolt.se,4\n")
    commands = [
        ("partners", "enroll", "DELTA", "--name", "Delta AB", "--consent"),
        ("partners", "import", str(partners_csv)),
        ("partners", "suspend", "DELTA"),
        ("partners", "reactivate", "DELTA"),
        ("sellers", "add", "dan@delta.se", "--partner", "DELTA", "--name", "Dan"),
        ("sellers", "import", str(sellers_csv)),
        ("sellers", "deactivate", "dan@delta.se"),
        ("sellers", "reactivate", "dan@delta.se"),
        ("contracts", "import", str(contracts)),
        ("rules", "set", "lead_points", "2000", "--from", "2027-01-01"),
        ("campaigns", "add", "Xmas", "--from", "2026-12-01", "--to", "2026-12-24", "--multiplier", "2"),
        ("points", "adjust", "bo@bolt.se", "100", "--reason", "fair"),
        ("catalog", "import", str(catalog_csv)),
        ("redemptions", "request", "bo@bolt.se", "MUG"),
        ("redemptions", "import", str(requests_csv)),
        ("redemptions", "approve", "R000001"),
        ("redemptions", "reject", "X1", "--reason", "no"),
        ("redemptions", "request", "bo@bolt.se", "MUG"),
        ("redemptions", "review"),
        ("quiz", "create", "Q1", "--title", "T", "--questions", "5", "--points-per-correct", "10"),
        ("quiz", "award", "Q1", "--seller", "bo@bolt.se", "--correct", "3"),
        ("quiz", "award", "Q1", str(quiz_csv)),
        ("leads", "add", "--seller", "bo@bolt.se", "--company", "Cykel AB"),
        ("leads", "accept", "1"),
        ("leads", "add", "--seller", "britt@bolt.se", "--company", "Bil AB"),
        ("leads", "reject", "2", "--reason", "no"),
        ("leaderboard", "run", "--month", "2026-10"),
    ]
    try:
        for args in commands:
            writes.clear()
            cli(*args, ok=True)
            assert writes, f"{' '.join(args)} wrote nothing"
            loose = [w for w in writes if w[0] != "BEGIN IMMEDIATE"]
            assert loose == [], f"{' '.join(args)}: writes outside BEGIN IMMEDIATE: {loose}"
    finally:
        event.remove(Engine, "before_cursor_execute", on_statement)
        event.remove(Engine, "commit", on_end)
        event.remove(Engine, "rollback", on_end)
    cli("db", "check", ok=True)
