"""Redemptions, hardened: the pinned clock, the availability check under the
write lock (and under concurrency), the redemption posting's seller, prices
fixed at request time, and all-or-nothing decisions.

rewards_program: ACME pool 3 700 points, bo 2 600; MUG 500 (3 in stock),
TRIP 3 000 (unlimited).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import connect
from factories import rewards_program
from sqlalchemy import event
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Engine

from loyaltyctl.db import WRITE_LOCK
from loyaltyctl.services import redemptions


@pytest.fixture
def prog(db):
    rewards_program(db)
    return db


def as_json(result) -> object:
    assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
    return json.loads(result.stdout)


def snapshot(db_url) -> dict:
    """Everything a decision may change."""
    con = connect(db_url)
    out = {
        "requests": con.execute(
            "SELECT id, status, decided_at, reason FROM redemption ORDER BY id"
        ).fetchall(),
        "accounts": con.execute("SELECT id, balance, held FROM account ORDER BY id").fetchall(),
        "items": con.execute("SELECT sku, stock, reserved FROM catalog_item ORDER BY sku").fetchall(),
        "postings": con.execute("SELECT count(*) FROM posting").fetchone()[0],
        "batches": con.execute("SELECT count(*) FROM batch").fetchone()[0],
    }
    con.close()
    return out


def test_request_and_decision_times_follow_the_pinned_day(prog, cli, monkeypatch):
    # The machine's clock is not 2026-11-20: every timestamp must come from LOYALTYCTL_TODAY.
    monkeypatch.setenv("LOYALTYCTL_TODAY", "2026-11-20")
    cli("redemptions", "request", "ACME", "MUG", "--id", "A1", ok=True)
    monkeypatch.setenv("LOYALTYCTL_TODAY", "2026-11-22")
    cli("redemptions", "approve", "A1", ok=True)
    [row] = as_json(cli("redemptions", "list", "-f", "json"))
    assert row["requested_at"].startswith("2026-11-20T")
    assert row["decided_at"].startswith("2026-11-22T")
    history = as_json(cli("points", "history", "ACME", "-f", "json"))
    spent = [(h["booking_date"], h["value_date"], h["points"]) for h in history if h["kind"] == "redemption"]
    assert spent == [("2026-11-22", "2026-11-22", -500)]
    # So the liability knows the request was held on the 20th and the 21st, spent on the 22nd.
    # Outstanding: the contracts were booked on 2026-11-22 (3 700), less the 500 redeemed that day.
    for day, outstanding, held in [("2026-11-20", 0, 500), ("2026-11-21", 0, 500), ("2026-11-22", 3200, 0)]:
        data = as_json(cli("report", "liability", "--on", day, "-f", "json"))
        acme = {r["partner"]: r for r in data["partners"]}["ACME"]
        assert (acme["outstanding"], acme["held"]) == (outstanding, held), day


def traced(cli, *args: str) -> list[str]:
    """The SQL a command runs, upper case, whitespace folded."""
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(" ".join(statement.split()).upper())

    event.listen(Engine, "before_cursor_execute", record)
    try:
        cli(*args, ok=True)
    finally:
        event.remove(Engine, "before_cursor_execute", record)
    return statements


# How a transaction starts: SQLite's BEGIN (IMMEDIATE for a writer); on
# PostgreSQL psycopg sends BEGIN itself, and loyaltyctl's first statement is the
# write lock or, for a reader, SET TRANSACTION.
STARTS = ("BEGIN", "SELECT PG_ADVISORY_XACT_LOCK", "SET TRANSACTION")


def assert_under_write_lock(statements: list[str], first_read: str, last_write: str) -> None:
    read = next(i for i, s in enumerate(statements) if s.startswith(first_read))
    write = max(i for i, s in enumerate(statements) if s.startswith(last_write))
    began = max(i for i, s in enumerate(statements[:read]) if s.startswith(STARTS))
    # the write lock before the first read
    assert statements[began] in ("BEGIN IMMEDIATE", f"SELECT PG_ADVISORY_XACT_LOCK({WRITE_LOCK})")
    assert not any(s.startswith(("COMMIT", "ROLLBACK", *STARTS)) for s in statements[began + 1 : write])


def test_the_availability_check_runs_under_the_write_lock(prog, cli):
    sql = traced(cli, "redemptions", "request", "ACME", "MUG")
    assert_under_write_lock(sql, "SELECT ACCOUNT.BALANCE, ACCOUNT.HELD", "INSERT INTO REDEMPTION")


def test_an_import_locks_the_items_and_accounts_it_spends(prog, cli, backend, tmp_path):
    path = tmp_path / "requests.csv"
    path.write_text("request_id,account,sku,quantity\nw1,ACME,MUG,1\nw2,ACME,MUG,1\n")
    sql = traced(cli, "redemptions", "import", str(path))
    assert_under_write_lock(sql, "SELECT SELLER.", "UPDATE CATALOG_ITEM")
    checks = [s for s in sql if s.startswith(("SELECT CATALOG_ITEM.", "SELECT ACCOUNT.ID, ACCOUNT.BALANCE"))]
    assert len(checks) == 2  # the item, then the account: each read once, for the whole file
    if backend == "postgresql":
        assert all(s.endswith("FOR UPDATE") for s in checks)


def test_a_decision_reads_the_request_under_the_write_lock(prog, cli):
    cli("redemptions", "request", "ACME", "MUG", "--id", "A1", ok=True)
    sql = traced(cli, "redemptions", "approve", "A1")
    assert_under_write_lock(sql, "SELECT REDEMPTION.", "UPDATE REDEMPTION")


def test_server_databases_lock_the_rows_the_checks_read():
    # SQLite renders no FOR UPDATE (BEGIN IMMEDIATE covers it); PostgreSQL must.
    pg = postgresql.dialect()
    assert str(redemptions.lock_account(1).compile(dialect=pg)).rstrip().endswith("FOR UPDATE")
    assert str(redemptions.lock_item("MUG").compile(dialect=pg)).rstrip().endswith("FOR UPDATE")


@pytest.mark.slow  # concurrency: real processes
def test_concurrent_requests_cannot_spend_the_same_points_twice(prog, db_url):
    # ACME has 3 700: only one of three simultaneous 3 000-point requests fits.
    prog.dispose()
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "loyaltyctl", "redemptions", "request", "ACME", "TRIP", "--id", f"T{n}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(os.environ),
        )
        for n in range(3)
    ]
    results = [(p.wait(timeout=60), p.stderr.read().decode()) for p in procs]
    for p in procs:
        p.stdout.close()
        p.stderr.close()
    codes = sorted(code for code, _ in results)
    assert codes == [0, 4, 4], results  # the others waited, then saw 700 available
    assert all("700 points available" in err for code, err in results if code == 4)
    con = connect(db_url)
    held = con.execute("SELECT held FROM account WHERE holder = 'partner'").fetchone()[0]
    count = con.execute("SELECT count(*) FROM redemption").fetchone()[0]
    con.close()
    assert (held, count) == (3000, 1)


def test_a_redemption_posting_carries_the_seller_of_a_seller_account(prog, cli, db_url):
    cli("redemptions", "request", "bo@bolt.se", "MUG", "--id", "B1", ok=True)
    cli("redemptions", "request", "ACME", "MUG", "--id", "A1", ok=True)
    cli("redemptions", "approve", "B1", "A1", ok=True)
    con = connect(db_url)
    rows = con.execute(
        "SELECT p.reference, s.email FROM posting p LEFT JOIN seller s ON s.id = p.seller_id "
        "WHERE p.kind = 'redemption' ORDER BY p.reference"
    ).fetchall()
    con.close()
    assert rows == [("A1", None), ("B1", "bo@bolt.se")]  # the pool is the partner's, no one seller's


def test_a_price_change_in_an_import_never_alters_a_pending_request(prog, cli):
    cli("redemptions", "request", "ACME", "MUG", "--qty", "2", "--id", "A1", ok=True)  # 2 x 500 = 1 000
    r = as_json(cli("catalog", "import", "-", "-f", "json", input="sku,name,points\nMUG,Mug,900\n"))
    assert r["updated"] == 1
    assert as_json(cli("catalog", "show", "MUG", "-f", "json"))["points"] == 900
    [req] = as_json(cli("redemptions", "list", "-f", "json"))
    assert (req["unit_points"], req["points"]) == (500, 1000)
    assert as_json(cli("points", "balance", "ACME", "-f", "json"))[0]["held"] == 1000
    cli("redemptions", "approve", "A1", ok=True)
    acme = as_json(cli("points", "balance", "ACME", "-f", "json"))[0]
    assert (acme["balance"], acme["held"]) == (3700 - 1000, 0)
    # A new request pays the new price: 900.
    cli("redemptions", "request", "ACME", "MUG", "--id", "A2", ok=True)
    assert as_json(cli("points", "balance", "ACME", "-f", "json"))[0]["held"] == 900


@pytest.mark.parametrize(
    "command",
    [
        ["approve", "A1", "NOPE", "B1"],
        ["reject", "A1", "B1", "NOPE", "--reason", "no"],
    ],
)
def test_several_ids_with_an_unknown_one_change_nothing(prog, cli, db_url, command):
    cli("redemptions", "request", "ACME", "MUG", "--id", "A1", ok=True)
    cli("redemptions", "request", "bo@bolt.se", "TRIP", "--id", "B0", ok=False)  # 3 000 > 2 600: refused
    cli("redemptions", "request", "bo@bolt.se", "MUG", "--qty", "2", "--id", "B1", ok=True)
    before = snapshot(db_url)
    r = cli("redemptions", *command)
    assert r.exit_code == 3 and "NOPE" in r.stderr
    assert snapshot(db_url) == before


def test_a_decided_request_in_the_list_refuses_the_whole_command(prog, cli, db_url):
    cli("redemptions", "request", "ACME", "MUG", "--id", "A1", ok=True)
    cli("redemptions", "request", "bo@bolt.se", "MUG", "--id", "B1", ok=True)
    cli("redemptions", "reject", "B1", "--reason", "duplicate", ok=True)
    before = snapshot(db_url)
    r = cli("redemptions", "approve", "A1", "B1")  # A1 alone would pass; B1 was rejected
    assert r.exit_code == 4 and "B1 was already rejected on 2026-11-22" in r.stderr
    assert snapshot(db_url) == before


def test_deciding_the_other_way_is_refused_both_ways(prog, cli, db_url):
    cli("redemptions", "request", "ACME", "MUG", "--id", "A1", ok=True)
    cli("redemptions", "request", "ACME", "MUG", "--id", "A2", ok=True)
    cli("redemptions", "approve", "A1", ok=True)
    cli("redemptions", "reject", "A2", "--reason", "no", ok=True)
    before = snapshot(db_url)
    assert cli("redemptions", "reject", "A1", "--reason", "late").exit_code == 4
    assert cli("redemptions", "approve", "A2").exit_code == 4
    # The same way again is fine and changes nothing.
    assert cli("redemptions", "approve", "A1").exit_code == 0
    assert cli("redemptions", "reject", "A2", "--reason", "again").exit_code == 0
    assert snapshot(db_url) == before
