"""``redemptions request|import|list|approve|reject``: holds, stock, the ledger.

rewards_program: ACME pool 3 700 points, bo 2 600; MUG 500 (3 in stock),
TRIP 3 000 (unlimited).
"""

from __future__ import annotations

import json

import pytest
from conftest import connect
from factories import rewards_program


@pytest.fixture
def prog(db):
    rewards_program(db)
    return db


def as_json(result) -> object:
    assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
    return json.loads(result.stdout)


def balance(cli, ref: str) -> dict:
    return as_json(cli("points", "balance", ref, "--format", "json"))[0]


def item(cli, sku: str) -> dict:
    return as_json(cli("catalog", "show", sku, "--format", "json"))


def postings(db_url, kind: str) -> list[tuple]:
    con = connect(db_url)
    rows = con.execute(
        "SELECT idem_key, points, reference FROM posting WHERE kind = ? ORDER BY id", (kind,)
    ).fetchall()
    con.close()
    return rows


def test_request_holds_approve_debits_reject_releases(prog, cli, db_url):
    r = cli("redemptions", "request", "ACME", "MUG", "--qty", "2", ok=True)
    first = r.stdout.strip()
    assert first == "R000001"
    # 2 x 500 = 1 000 held; 3 700 - 1 000 = 2 700 available; 2 of 3 mugs reserved.
    acme = balance(cli, "ACME")
    assert (acme["balance"], acme["held"], acme["available"]) == (3700, 1000, 2700)
    assert (item(cli, "MUG")["reserved"], item(cli, "MUG")["available"]) == (2, 1)
    second = cli("redemptions", "request", "ACME", "MUG", ok=True).stdout.strip()
    assert second == "R000002"  # 1 500 held, 3 mugs reserved

    cli("redemptions", "approve", first, ok=True)
    # Approve: balance 3 700 - 1 000 = 2 700, held 1 500 - 1 000 = 500, available 2 200.
    acme = balance(cli, "ACME")
    assert (acme["balance"], acme["held"], acme["available"]) == (2700, 500, 2200)
    mug = item(cli, "MUG")
    assert (mug["stock"], mug["reserved"], mug["available"]) == (1, 1, 0)  # 3 - 2 on hand
    assert postings(db_url, "redemption") == [("redemption:R000001", -1000, "R000001")]

    cli("redemptions", "reject", second, "--reason", "out of season", ok=True)
    acme = balance(cli, "ACME")
    assert (acme["balance"], acme["held"], acme["available"]) == (2700, 0, 2700)
    mug = item(cli, "MUG")
    assert (mug["stock"], mug["reserved"]) == (1, 0)
    listed = as_json(cli("redemptions", "list", "--format", "json"))
    assert [(x["id"], x["account"], x["sku"], x["quantity"], x["points"], x["status"]) for x in listed] == [
        ("R000001", "ACME", "MUG", 2, 1000, "approved"),
        ("R000002", "ACME", "MUG", 1, 500, "rejected"),
    ]
    assert listed[1]["reason"] == "out of season"
    check = cli("db", "check")
    assert check.exit_code == 0, check.stdout


def test_deciding_twice_is_harmless_and_the_other_way_is_refused(prog, cli, db_url):
    rid = cli("redemptions", "request", "bo@bolt.se", "MUG", ok=True).stdout.strip()
    cli("redemptions", "approve", rid, ok=True)
    again = as_json(cli("redemptions", "approve", rid, "--format", "json"))
    assert again[0]["result"] == "unchanged"
    assert len(postings(db_url, "redemption")) == 1
    r = cli("redemptions", "reject", rid, "--reason", "oops")
    assert r.exit_code == 4 and "already approved" in r.stderr
    assert balance(cli, "bo@bolt.se")["balance"] == 2600 - 500  # debited once


def test_a_request_beyond_points_or_stock_writes_nothing(prog, cli):
    r = cli("redemptions", "request", "bo@bolt.se", "TRIP")  # 3 000 > 2 600
    assert r.exit_code == 4 and "2600 points available" in r.stderr
    r = cli("redemptions", "request", "ACME", "MUG", "--qty", "4")  # 4 > 3 in stock
    assert r.exit_code == 4 and "3 in stock" in r.stderr
    r = cli("redemptions", "request", "anna@acme.se", "MUG")  # pooled: the partner redeems
    assert r.exit_code == 4 and "ACME" in r.stderr
    assert as_json(cli("redemptions", "list", "--format", "json")) == []
    assert balance(cli, "ACME")["held"] == 0


def test_several_ids_are_all_or_nothing(prog, cli, db_url):
    a = cli("redemptions", "request", "ACME", "MUG", ok=True).stdout.strip()
    r = cli("redemptions", "approve", a, "R999999")
    assert r.exit_code == 3 and "R999999" in r.stderr
    assert postings(db_url, "redemption") == []
    assert as_json(cli("redemptions", "list", "--status", "pending", "--format", "json"))[0]["id"] == a


def test_import_is_idempotent_by_request_id(prog, cli):
    text = (
        "request_id,account,sku,quantity,requested_at\n"
        "web-1,ACME,MUG,1,2026-11-20\n"
        "web-2,bo@bolt.se,mug,2,2026-11-21\n"
    )
    first = as_json(cli("redemptions", "import", "-", "--format", "json", input=text))
    assert (first["new"], first["unchanged"]) == (2, 0)
    again = as_json(cli("redemptions", "import", "-", "--format", "json", input=text))
    assert (again["new"], again["unchanged"]) == (0, 2)
    # ACME holds 500, bo 2 x 500 = 1 000; all 3 mugs reserved.
    assert balance(cli, "ACME")["held"] == 500 and balance(cli, "bo@bolt.se")["held"] == 1000
    assert item(cli, "MUG")["reserved"] == 3
    bad = cli("redemptions", "import", "-", input="request_id,account,sku,quantity\nweb-3,ACME,MUG,1\n")
    assert bad.exit_code == 1
    assert "<stdin>:2:4: quantity: MUG has 0 in stock not reserved" in bad.stderr
    assert len(as_json(cli("redemptions", "list", "--format", "json"))) == 2


def test_earlier_rows_of_a_file_use_up_points_and_stock_for_later_ones(prog, cli):
    text = (
        "request_id,account,sku,quantity\n"
        "t-1,ACME,TRIP,1\n"  # 3 000 of ACME's 3 700: 700 left
        "t-2,ACME,MUG,2\n"  # 1 000 > 700: refused
        "t-3,bo@bolt.se,MUG,2\n"  # 1 000 of bo's 2 600; 2 of 3 mugs: 1 left
        "t-4,bo@bolt.se,MUG,2\n"  # 1 000 <= 1 600, but 2 mugs > 1: refused
        "t-5,ACME,MUG,1\n"  # 500 <= 700, the last mug
        "t-1,ACME,TRIP,1\n"  # the same request again: unchanged
    )
    want = [
        "<stdin>:3:4: quantity: ACME has 700 points available (balance 3700, held 3000); 2 x MUG costs 1000",
        "<stdin>:5:4: quantity: MUG has 1 in stock not reserved; 2 requested",
    ]
    bad = cli("redemptions", "import", "-", input=text)
    assert bad.exit_code == 1 and all(line in bad.stderr for line in want)
    assert balance(cli, "ACME")["held"] == 0 and item(cli, "MUG")["reserved"] == 0  # all or nothing
    done = cli("redemptions", "import", "-", "--skip-invalid", "--format", "json", input=text)
    assert done.exit_code == 1
    summary = json.loads(done.stdout)
    assert (summary["new"], summary["unchanged"], summary["rejected"]) == (3, 1, 2)
    assert [
        f"{e['file']}:{e['line']}:{e['column']}: {e['field']}: {e['reason']}" for e in summary["errors"]
    ] == want
    # ACME holds 3 000 + 500, bo 1 000; all 3 mugs reserved.
    assert balance(cli, "ACME")["held"] == 3500 and balance(cli, "bo@bolt.se")["held"] == 1000
    assert item(cli, "MUG")["reserved"] == 3


def test_a_price_change_does_not_alter_a_pending_request(prog, cli):
    rid = cli("redemptions", "request", "ACME", "MUG", ok=True).stdout.strip()
    cli("catalog", "import", "-", input="sku,name,points\nMUG,Mug,900\n", ok=True)
    cli("redemptions", "approve", rid, ok=True)
    assert balance(cli, "ACME")["balance"] == 3700 - 500  # the price of the request day


def test_a_named_request_is_safe_to_rerun_and_approve_has_a_dry_run(prog, cli, db_url):
    assert cli("redemptions", "request", "ACME", "MUG", "--id", "mail-7", ok=True).stdout.strip() == "MAIL-7"
    again = cli("redemptions", "request", "ACME", "MUG", "--id", "mail-7", ok=True)
    assert again.stdout.strip() == "MAIL-7" and "already requested" in again.stderr
    assert balance(cli, "ACME")["held"] == 500  # held once
    r = cli("redemptions", "approve", "MAIL-7", "--dry-run", ok=True)
    assert "dry run" in r.stderr
    assert postings(db_url, "redemption") == []
    assert balance(cli, "ACME")["held"] == 500


def test_an_inactive_item_cannot_be_requested(prog, cli):
    cli("catalog", "import", "-", input="sku,name,points,active\nMUG,Mug,500,no\n", ok=True)
    r = cli("redemptions", "request", "ACME", "MUG")
    assert r.exit_code == 4 and "inactive" in r.stderr
    assert balance(cli, "ACME")["held"] == 0


# -- approval after a clawback -------------------------------------------------------


def clawed_back(prog, cli) -> None:
    """bo: C3 2 600 + C4 (100 000 SEK) 1 100 = 3 700; R1 and R2 hold 1 000 each
    (a GIFT); then C3 is cancelled: balance 1 100, held 2 000 (enough for one)."""
    from factories import import_contracts, load_catalog

    load_catalog(prog, "sku,name,points\nGIFT,Gift card,1000\n")
    import_contracts(prog, "C4,BOLT,bo@bolt.se,2026-01-20,100000,leasing,started\n")
    for rid in ("R1", "R2"):
        cli("redemptions", "request", "bo@bolt.se", "GIFT", "--id", rid, ok=True)
    import_contracts(prog, "C3,BOLT,bo@bolt.se,2026-01-12,250000,leasing,cancelled\n")
    bo = balance(cli, "bo@bolt.se")
    assert (bo["balance"], bo["held"], bo["available"]) == (1100, 2000, -900)


def refused_approval(cli, db_url, *ids: str) -> str:
    before = (as_json(cli("redemptions", "list", "-f", "json")), postings(db_url, "redemption"))
    r = cli("redemptions", "approve", *ids)
    assert r.exit_code == 4, (r.stdout, r.stderr)
    assert r.stdout == ""
    assert (as_json(cli("redemptions", "list", "-f", "json")), postings(db_url, "redemption")) == before
    return r.stderr


def test_approval_never_takes_a_balance_below_zero_after_a_clawback(prog, cli, db_url):
    clawed_back(prog, cli)
    # Both at once: R1 fits (1 100 -> 100), R2 then does not: all or nothing.
    refused_approval(cli, db_url, "R1", "R2")
    cli("redemptions", "approve", "R1", ok=True)
    bo = balance(cli, "bo@bolt.se")
    assert (bo["balance"], bo["held"]) == (100, 1000)
    assert refused_approval(cli, db_url, "R2").splitlines() == [
        "error: request R2 (bo@bolt.se) costs 1000 points, but the balance is 100: approving it would "
        "leave -900 (points it held were taken back since it was made, e.g. by a cancelled contract); "
        "nothing was approved",
        "hint: reject it: loyaltyctl redemptions reject R2 --reason TEXT",
    ]
    refused_approval(cli, db_url, "--dry-run", "R2")
    cli("redemptions", "reject", "R2", "--reason", "contract cancelled", ok=True)
    bo = balance(cli, "bo@bolt.se")
    assert (bo["balance"], bo["held"], bo["available"]) == (100, 0, 100)
    assert cli("db", "check").exit_code == 0


def test_the_issue_case_a_whole_hold_clawed_back(prog, cli, db_url):
    """bo holds 2 x MUG = 1 000; C3, which earned bo's 2 600, is cancelled."""
    from factories import import_contracts

    cli("redemptions", "request", "bo@bolt.se", "MUG", "--qty", "2", "--id", "R1", ok=True)
    import_contracts(prog, "C3,BOLT,bo@bolt.se,2026-01-12,250000,leasing,cancelled\n")
    assert "would leave -1000" in refused_approval(cli, db_url, "R1")
    assert (balance(cli, "bo@bolt.se")["balance"], item(cli, "MUG")["reserved"]) == (0, 2)


def test_no_new_request_on_clawed_back_points_by_command_or_file(prog, cli):
    clawed_back(prog, cli)
    r = cli("redemptions", "request", "bo@bolt.se", "MUG")
    assert r.exit_code == 4
    assert "bo@bolt.se has -900 points available (balance 1100, held 2000)" in r.stderr
    bad = cli("redemptions", "import", "-", input="request_id,account,sku,quantity\nw-1,bo@bolt.se,MUG,1\n")
    assert bad.exit_code == 1
    assert "<stdin>:2:4: quantity: bo@bolt.se has -900 points available" in bad.stderr
    assert [r["id"] for r in as_json(cli("redemptions", "list", "-f", "json"))] == ["R1", "R2"]
