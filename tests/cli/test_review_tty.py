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


# -- keys typed ahead, confirmations, Ctrl-C, a clawed-back hold -----------------------


def spawn_review() -> pexpect.spawn:
    env = {**os.environ, "PROMPT_TOOLKIT_NO_CPR": "1", "TERM": "xterm"}
    return pexpect.spawn(
        str(LOYALTYCTL),
        ["redemptions", "review"],
        env=env,
        encoding="utf-8",
        timeout=30,
        dimensions=(40, 120),
    )


@pytest.fixture
def big_queue(db, cli):
    """R000001: bo, a MUG (500); R000002: ACME, a TV (15 000, above the default
    review_confirm_points of 10 000); R000003: bo, a MUG.  ACME's pool: 3 700 +
    C4 (1 500 000 SEK: 15 000 + 100) = 18 800."""
    from factories import import_contracts, load_catalog

    rewards_program(db)
    import_contracts(db, "C4,ACME,anna@acme.se,2026-02-01,1500000,leasing,started\n")
    load_catalog(db, "sku,name,points\nTV,Television,15000\n")
    cli("redemptions", "request", "bo@bolt.se", "MUG", ok=True)
    cli("redemptions", "request", "ACME", "TV", ok=True)
    cli("redemptions", "request", "bo@bolt.se", "MUG", ok=True)
    db.dispose()


def test_keys_typed_before_a_prompt_never_decide_it(big_queue, db_url):
    """The issue's morning: an empty reject reason, the reason typed on at once
    (before any next prompt could appear), then Enter.  Before, the empty reason
    skipped the request and the typed text went into the TV's menu, whose
    letters are shortcuts ("wrong area" ends on "a", approve) and Enter approved
    15 000 points.  Now the empty reason is asked again and the keys typed before
    it are thrown away; and a "y" typed with the TV's "a" does not answer its
    confirmation either."""
    child = spawn_review()
    try:
        child.expect(r"R000001:")
        child.send("r")
        child.send("\r")
        child.expect("reason:")
        child.send("\r" + "wrong area\r")  # one write: all typed before anything new is shown
        child.expect("a reason is required")
        child.expect("reason:")
        child.send("out of mugs\r")
        child.expect("R000001: rejected")
        child.expect(r"\[2/3\] R000002")
        child.expect(r"cost:      15000 points")
        child.expect(r"R000002:")
        child.send("a\r" + "y")
        child.expect(r"approve 15000 points from ACME for 1 x TV Television\?")
        child.send("n")
        child.expect("R000002: not approved, skipped")
        child.expect(r"R000003:")
        child.send("q\r")
        child.expect("0 approved, 1 rejected, 1 skipped")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0
    assert statuses(db_url)["requests"] == {
        "R000001": ("rejected", "out of mugs"),
        "R000002": ("pending", None),
        "R000003": ("pending", None),
    }


def test_keys_typed_while_the_queue_starts_are_thrown_away(big_queue, db_url):
    """An "a" and Enter typed before the first menu is shown (loyaltyctl still
    starting) wait in the terminal's input queue: flushed, they decide nothing."""
    child = spawn_review()
    try:
        child.send("a\r")
        child.expect(r"R000001:")
        child.send("s\r")  # what the person chose, once the menu was there
        child.expect(r"R000002:")
        child.send("q\r")
        child.expect("0 approved, 0 rejected, 1 skipped")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0
    assert set(statuses(db_url)["requests"].values()) == {("pending", None)}


def test_a_confirmed_approval_then_ctrl_c_exits_130_keeping_the_decisions(big_queue, db_url, cli):
    child = spawn_review()
    try:
        child.expect(r"R000001:")
        child.send("a\r")  # 500: no confirmation
        child.expect("R000001: approved")
        child.expect(r"R000002:")
        child.send("a\r")
        child.expect(r"approve 15000 points from ACME for 1 x TV Television\?")
        child.send("y")
        child.expect("R000002: approved")
        child.expect(r"R000003:")
        child.sendintr()
        child.expect(
            r"error: interrupted: 2 approved, 0 rejected, 0 skipped \(decisions already taken are kept; "
            r"the request on screen was not decided\)"
        )
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 130
    got = statuses(db_url)
    assert got["requests"] == {
        "R000001": ("approved", None),
        "R000002": ("approved", None),
        "R000003": ("pending", None),
    }
    assert got["held"] == {"partner": 0, "seller": 500}
    assert cli("db", "check").exit_code == 0


def test_the_queue_shows_a_clawed_back_hold_and_refuses_to_approve_it(db, cli, db_url):
    """bo holds 2 x MUG = 1 000; then C3, bo's only contract, is cancelled."""
    from factories import import_contracts

    rewards_program(db)
    cli("redemptions", "request", "bo@bolt.se", "MUG", "--qty", "2", ok=True)
    import_contracts(db, "C3,BOLT,bo@bolt.se,2026-01-12,250000,leasing,cancelled\n")
    db.dispose()
    child = spawn_review()
    try:
        child.expect(r"balance:   0 points, available -1000")
        child.expect(r"short:     1000 points")
        child.expect(r"R000001:")
        child.send("a\r")
        child.expect(r"R000001: request R000001 \(bo@bolt.se\) costs 1000 points, but the balance is 0")
        child.expect(r"hint: reject it: loyaltyctl redemptions reject R000001 --reason TEXT")
        child.expect("0 approved, 0 rejected, 1 skipped")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0
    assert statuses(db_url)["requests"] == {"R000001": ("pending", None)}
