"""``redemptions review`` for real: the installed command in a pseudo-terminal
(pexpect), keys typed as a person would; and its refusal without a terminal."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pexpect
import pytest
from conftest import connect
from factories import rewards_program

pytestmark = pytest.mark.slow  # real pseudo-terminals

LOYALTYCTL = Path(sys.executable).parent / "loyaltyctl"


def statuses(db_url) -> dict:
    con = connect(db_url)
    rows = con.execute("SELECT id, status, reason FROM redemption").fetchall()
    held = dict(con.execute("SELECT holder, sum(held) FROM account GROUP BY holder").fetchall())
    con.close()
    return {"requests": {r[0]: (r[1], r[2]) for r in rows}, "held": held}


@pytest.fixture
def queue(db, cli):
    rewards_program(db)
    cli("redemptions", "request", "ACME", "MUG", ok=True)  # R000001: 500
    cli("redemptions", "request", "bo@bolt.se", "MUG", ok=True)  # R000002: 500
    cli("redemptions", "request", "ACME", "TRIP", ok=True)  # R000003: 3 000
    db.dispose()


def test_review_approves_rejects_and_quits_midway_in_a_real_terminal(queue, db_url):
    env = {**os.environ, "PROMPT_TOOLKIT_NO_CPR": "1", "TERM": "xterm"}
    child = pexpect.spawn(
        str(LOYALTYCTL),
        ["redemptions", "review"],
        env=env,
        encoding="utf-8",
        timeout=30,
        dimensions=(40, 120),
    )
    try:
        child.expect(r"\[1/3\] R000001")
        child.expect(r"available 200\b")  # ACME 3 700 - (500 + 3 000) held = 200
        child.expect(r"R000001:")
        child.send("a")
        child.send("\r")
        child.expect("R000001: approved")
        child.expect(r"\[2/3\] R000002")
        child.expect(r"R000002:")
        child.send("r")
        child.send("\r")
        child.expect("reason:")
        child.send("not in this region\r")
        child.expect("R000002: rejected")
        child.expect(r"\[3/3\] R000003")
        child.expect(r"R000003:")
        child.send("q")
        child.send("\r")
        child.expect("1 approved, 1 rejected, 0 skipped")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0
    got = statuses(db_url)
    assert got["requests"] == {
        "R000001": ("approved", None),
        "R000002": ("rejected", "not in this region"),
        "R000003": ("pending", None),
    }
    # Still held: only R000003's 3 000 (ACME's pool); bo's 500 was released.
    assert got["held"] == {"partner": 3000, "seller": 0}


def test_review_without_a_terminal_refuses_with_a_hint(queue, sub, db_url):
    r = sub("redemptions", "review")  # real pipes: not a terminal
    assert r.returncode == 2
    lines = r.stderr.decode().strip().splitlines()
    assert lines == [
        "error: redemptions review needs a terminal; "
        "use `redemptions approve ID...` or `redemptions reject ID... --reason TEXT`"
    ]
    assert all(s == "pending" for s, _ in statuses(db_url)["requests"].values())


def test_a_lost_terminal_keeps_the_decisions_already_taken(queue, db_url, cli):
    env = {**os.environ, "PROMPT_TOOLKIT_NO_CPR": "1", "TERM": "xterm"}
    child = pexpect.spawn(str(LOYALTYCTL), ["redemptions", "review"], env=env, encoding="utf-8", timeout=30)
    try:
        child.expect(r"R000001:")
        child.send("a\r")
        child.expect("R000001: approved")
        child.expect(r"R000002:")
    finally:
        child.close(force=True)  # the terminal goes away mid-question (SIGHUP, then SIGKILL)
    got = statuses(db_url)
    assert got["requests"] == {
        "R000001": ("approved", None),
        "R000002": ("pending", None),
        "R000003": ("pending", None),
    }
    # bo's 500 and ACME's 3 000 still held; R000001's 500 released with the approval.
    assert got["held"] == {"partner": 3000, "seller": 500}
    assert cli("db", "check").exit_code == 0
