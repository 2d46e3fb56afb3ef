"""``db copy --to``: a program built with the real commands moves SQLite ->
PostgreSQL -> SQLite with every balance, count and ``db check`` identical; a
non-empty target is refused; a copy that does not verify is rolled back."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from factories import contract

from loyaltyctl.db import Database

PROGRAM_TABLES = (
    "partner", "seller", "account", "batch", "contract", "posting", "rule_version", "campaign",
    "quiz", "quiz_award", "lead", "leaderboard_run", "leaderboard_award", "catalog_item", "redemption",
)  # fmt: skip


def build_program(cli) -> None:
    """Every kind of record, made with the real commands (today is 2026-11-22).

    Points, by hand (default rules: 10 per 1 000 SEK + 100 per contract):
    bo C1 400 000 -> 4100; britt C2 300 000 -> 3100; ACME pool: anna C3 300 000 -> 3100,
    arne C4 200 000 -> 2100; C5 registered -> 0.  Quiz Q1: bo 4 x 50 = 200.
    Lead by britt accepted: 500.  October leaderboard: bo 5000, britt and anna
    3000 each (tied second).  Redemptions: ACME 2 x MUG (2 x 300) approved,
    bo 1 x MUG pending (300 held)."""
    cli("partners", "enroll", "ACME", "--name", "Acme Bil AB", "--mode", "pooled", "--consent", ok=True)
    cli("partners", "enroll", "BOLT", "--name", "Bolt AB", "--mode", "individual", "--consent", ok=True)
    for email, partner in (
        ("anna@acme.se", "ACME"),
        ("arne@acme.se", "ACME"),
        ("bo@bolt.se", "BOLT"),
        ("britt@bolt.se", "BOLT"),
    ):
        seller = (email, "--partner", partner, "--name", email[:4], "--enrolled-on", "2026-01-01")
        cli("sellers", "add", *seller, ok=True)
    cli("campaigns", "add", "Jul", "--from", "2026-07-01", "--to", "2026-07-31", "--multiplier", "2", ok=True)
    rows = (
        contract("C1", "BOLT", "bo@bolt.se", "2026-10-05", 400000)
        + contract("C2", "BOLT", "britt@bolt.se", "2026-10-06", 300000)
        + contract("C3", "ACME", "anna@acme.se", "2026-10-07", 300000)
        + contract("C4", "ACME", "arne@acme.se", "2026-10-08", 200000)
        + contract("C5", "BOLT", "bo@bolt.se", "2026-10-09", 100000, status="registered")
    )
    header = "contract_id,partner_code,seller_email,start_date,amount,product,status\n"
    cli("contracts", "import", "-", input=header + rows, ok=True)
    quiz = ("Q1", "--title", "Leasing", "--questions", "5", "--points-per-correct", "50")
    cli("quiz", "create", *quiz, ok=True)
    cli("quiz", "award", "Q1", "--seller", "bo@bolt.se", "--correct", "4", ok=True)
    cli("rules", "set", "lead_points", "500", "--from", "2026-01-01", ok=True)
    cli("leads", "add", "--seller", "britt@bolt.se", "--company", "Fabrik AB", ok=True)
    cli("leads", "accept", "1", ok=True)
    cli("leaderboard", "run", "--month", "2026-10", ok=True)
    cli("catalog", "import", "-", input="sku,name,points,stock\nMUG,Mug,300,10\n", ok=True)
    rid = cli("redemptions", "request", "ACME", "MUG", "--qty", "2", ok=True).stdout.strip()
    cli("redemptions", "approve", rid, ok=True)
    cli("redemptions", "request", "bo@bolt.se", "MUG", ok=True)


EXPECTED_BALANCES = {
    # account: (balance, held)
    "ACME": (3100 + 2100 + 3000 - 600, 0),
    "bo@bolt.se": (4100 + 200 + 5000, 300),
    "britt@bolt.se": (3100 + 500 + 3000, 0),
}


def balances(cli, db: str) -> dict:
    rows = json.loads(cli("--db", db, "points", "balance", "--format", "json", ok=True).stdout)
    return {r["account"]: (r["balance"], r["held"]) for r in rows}


def check(cli, db: str) -> list:
    r = cli("--db", db, "db", "check", "--format", "json")
    assert r.exit_code == 0, r.stdout
    # Names and results; a description may name the backend ("SQLite integrity_check ...").
    return [(c["check"], c["ok"], c["problems"]) for c in json.loads(r.stdout)["checks"]]


def engine_of(url: str):
    from sqlalchemy import create_engine

    from loyaltyctl.db import resolve_url

    return create_engine(resolve_url(url))


def counts(url: str) -> dict[str, int]:
    from sqlalchemy import text

    engine = engine_of(url)
    try:
        with engine.connect() as conn:
            return {t: conn.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one() for t in PROGRAM_TABLES}
    finally:
        engine.dispose()


def contents(url: str) -> dict[str, list[tuple]]:
    """Every row of every table, ids included, as Python values (comparable across backends)."""
    from sqlalchemy import select

    from loyaltyctl.services.dbcopy import program_tables

    engine = engine_of(url)
    try:
        with engine.connect() as conn:
            return {
                t.name: [tuple(r) for r in conn.execute(select(t).order_by(*t.primary_key.columns))]
                for t in program_tables()
            }
    finally:
        engine.dispose()


@pytest.mark.slow  # copies a program both ways
def test_a_program_copied_to_the_other_backend_and_back_is_identical(cli, tmp_path, pg_url):
    """SQLite -> PostgreSQL -> SQLite (and, when the suite runs on PostgreSQL,
    PostgreSQL -> SQLite -> PostgreSQL)."""
    home = os.environ["LOYALTYCTL_DB"]  # this test's database
    on_sqlite = "://" not in home
    there, back = (pg_url, str(tmp_path / "back.db")) if on_sqlite else (str(tmp_path / "there.db"), pg_url)
    build_program(cli)
    assert balances(cli, home) == EXPECTED_BALANCES
    before = counts(home)
    assert before["posting"] == 4 + 1 + 1 + 3 + 1  # contracts C1-C4, quiz, lead, 3 bonuses, redemption
    assert all(before[t] for t in PROGRAM_TABLES)  # every table has something to copy

    dry = cli("db", "copy", "--to", there, "--dry-run", "--format", "json", ok=True)
    assert json.loads(dry.stdout)["rows"] == sum(before.values())
    if on_sqlite:  # the target, a new PostgreSQL database, is not even migrated
        assert Database(there).current_revision() is None
    else:  # the target, a SQLite file, is not even created
        assert not Path(there).exists()
    r = cli("db", "copy", "--to", there, "--format", "json", ok=True)
    out = json.loads(r.stdout)
    assert out["verified"] is True and out["target_was"] == "new"
    assert {t["table"]: t["rows"] for t in out["tables"]} == before
    assert out["balance_total"] == sum(b for b, _ in EXPECTED_BALANCES.values())
    assert out["held_total"] == 300
    assert "counts, balances, the seal and db check agree" in r.stderr
    # the hashes travel as they are: the copy's seal is the source's
    seal = cli("db", "seal", ok=True).stdout.strip()
    assert out["seal"] == seal and f"(seal {seal})" in r.stderr
    assert cli("--db", there, "db", "seal", ok=True).stdout.strip() == seal

    assert counts(there) == before
    assert balances(cli, there) == EXPECTED_BALANCES
    assert check(cli, there) == check(cli, home)

    cli("--db", there, "db", "copy", "--to", back, ok=True)
    assert balances(cli, back) == EXPECTED_BALANCES
    assert check(cli, back) == check(cli, home)
    assert contents(back) == contents(home)  # ids and values, row for row
    assert contents(there) == contents(home)

    # The PostgreSQL copy goes on working: new ids follow the copied ones.
    cli("--db", pg_url, "partners", "enroll", "CITY", "--name", "City AB", ok=True)
    cli("--db", pg_url, "points", "adjust", "bo@bolt.se", "-1000", "--reason", "fair", ok=True)
    rid = cli("--db", pg_url, "redemptions", "request", "britt@bolt.se", "MUG", ok=True).stdout.strip()
    assert rid == "R000003"
    assert balances(cli, pg_url)["bo@bolt.se"] == (9300 - 1000, 300)


@pytest.mark.slow  # real processes, several databases
def test_a_non_empty_target_is_refused_and_left_alone(cli, sub, pg_url):
    cli("partners", "enroll", "ACME", "--name", "Acme", "--mode", "pooled", "--consent", ok=True)
    cli("--db", pg_url, "db", "init", ok=True)
    cli("--db", pg_url, "partners", "enroll", "OTHER", "--name", "Other", ok=True)
    for args in ((), ("--dry-run",)):
        r = sub("db", "copy", "--to", pg_url, *args)  # a real process, real pipes
        assert r.returncode == 4, r.stderr
        err = r.stderr.decode().splitlines()
        assert err[0].startswith("error: target postgresql+psycopg://") and len(err) == 2
        assert "is not empty (partner 1)" in err[0] and "nothing was copied" in err[0]
        assert err[1].startswith("hint: name a new or empty database") and r.stdout == b""
    assert [p["code"] for p in json.loads(cli("--db", pg_url, "partners", "list", "-f", "json").stdout)] == [
        "OTHER"
    ]


def test_refusals_and_a_copy_that_does_not_verify(cli, tmp_path, monkeypatch):
    build_program(cli)
    r = cli("db", "copy", "--to", os.environ["LOYALTYCTL_DB"])
    assert r.exit_code == 2 and "names the database being copied" in r.stderr

    dry = tmp_path / "dry.db"
    r = cli("db", "copy", "--to", str(dry), "--dry-run", ok=True)
    assert "nothing was written" in r.stderr and not dry.exists()

    # A copy that loses a row is caught before it commits, and rolled back.
    from loyaltyctl.services import dbcopy

    real = dbcopy._copy_table

    def lossy(src, dst, table, *, postgres):
        real(src, dst, table, postgres=postgres)
        if table.name == "posting":
            dst.exec_driver_sql("DELETE FROM lead")
            dst.exec_driver_sql("UPDATE account SET balance = balance + 7 WHERE id = 1")

    monkeypatch.setattr(dbcopy, "_copy_table", lossy)
    bad = tmp_path / "bad.db"
    r = cli("db", "copy", "--to", str(bad))
    assert r.exit_code == 6, r.stderr
    assert "table lead: 1 rows in the source != 0 copied" in r.stderr
    assert "account #1: balance 7600, held 0 in the source != balance 7607, held 0 copied" in r.stderr
    assert "db check balances on the target: account ACME: cached 7607 != postings 7600" in r.stderr
    assert "rolled back" in r.stderr
    assert counts(str(bad)) == dict.fromkeys(PROGRAM_TABLES, 0)
    monkeypatch.setattr(dbcopy, "_copy_table", real)

    # A copy that changes a posting (here its actor, which no balance shows)
    # breaks the chain on the target: caught, rolled back.
    from loyaltyctl.services.guards import sqlite_triggers

    def altered(src, dst, table, *, postgres):
        real(src, dst, table, postgres=postgres)
        if table.name == "posting":
            dst.exec_driver_sql("DROP TRIGGER posting_no_update")
            dst.exec_driver_sql("UPDATE posting SET actor = 'mallory' WHERE id = 2")
            dst.exec_driver_sql(sqlite_triggers()["posting_no_update"][1])

    monkeypatch.setattr(dbcopy, "_copy_table", altered)
    r = cli("db", "copy", "--to", str(bad))
    assert r.exit_code == 6, r.stderr
    assert "the ledger's seal is LS1_10_10_" in r.stderr and "in the source != LS1_10_10_" in r.stderr
    assert "db check chain on the target: posting #2 'contract:C2:1:in': its hash does not match" in r.stderr
    assert counts(str(bad)) == dict.fromkeys(PROGRAM_TABLES, 0)
    monkeypatch.setattr(dbcopy, "_copy_table", real)

    # The rolled-back target is empty, so the copy can simply run again.
    good = cli("db", "copy", "--to", str(bad), "--format", "json", ok=True)
    assert json.loads(good.stdout)["target_was"] == "empty"
    assert balances(cli, str(bad)) == EXPECTED_BALANCES
    r = cli("db", "copy", "--to", str(bad))
    assert r.exit_code == 4 and "is not empty" in r.stderr

    # A source whose ledger does not add up is not copied at all.
    from sqlalchemy import text

    home = os.environ["LOYALTYCTL_DB"]
    engine = engine_of(home)
    with engine.begin() as conn:
        conn.execute(text("UPDATE account SET balance = balance - 100 WHERE id = 1"))
    engine.dispose()
    never = tmp_path / "never.db"
    r = cli("db", "copy", "--to", str(never))
    assert r.exit_code == 6, r.stderr
    assert "db check fails on the source" in r.stderr and "(balances)" in r.stderr
    assert "nothing was copied" in r.stderr and not never.exists()
