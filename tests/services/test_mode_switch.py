"""A partner's change of mode never lets the same points be spent twice.

The program: partner FLIP with sellers flo and fia; a GIFT costs 1 000 points.
A contract of 100 000 SEK earns 100 000 * 10 / 1000 + 100 = 1 100 points, one
of 250 000 SEK earns 2 600.  "Spendable" is what the partner's accounts could
still spend: the sum of every account's available points that are above zero.
"""

from __future__ import annotations

import pytest
from factories import add_seller, csv_input, enroll, import_contracts, load_catalog, rebuild_chain
from sqlalchemy import func, select

from loyaltyctl.errors import RowsRejected
from loyaltyctl.models import Partner, Posting
from loyaltyctl.services import dbadmin, partners, points, quizzes, redemptions

GIFT = "sku,name,points\nGIFT,Gift card,1000\n"


def flip(db, mode: str) -> None:
    enroll(db, "FLIP", mode=mode)
    add_seller(db, "flo@flip.se", "FLIP")
    add_seller(db, "fia@flip.se", "FLIP")
    load_catalog(db, GIFT)


def earn(db, cid: str, seller: str, amount: int = 100_000, status: str = "started") -> None:
    import_contracts(db, f"{cid},FLIP,{seller},2026-10-05,{amount},leasing,{status}\n")


def switch(db, mode: str) -> dict:
    text = f"code,name,mode,consent\nFLIP,Partner FLIP,{mode},yes\n"
    with db.session(write=True) as s:
        summary = partners.import_partners(
            session=s, src=csv_input(text, name="partners.csv"), skip_invalid=False, actor="tester"
        )
    return summary.counts


def refused_switch(db, mode: str) -> str:
    before = state(db)
    with pytest.raises(RowsRejected) as exc:
        switch(db, mode)
    assert state(db) == before  # nothing written
    (error,) = exc.value.errors
    assert (error.line, error.field) == (2, "mode")
    return error.reason


def spend(db, ref: str, rid: str, *, approve: bool | None = True) -> None:
    with db.session(write=True) as s:
        redemptions.request(session=s, ref=ref, sku="GIFT", quantity=1, actor="tester", request_id=rid)
    if approve is not None:
        with db.session(write=True) as s:
            redemptions.decide(session=s, ids=[rid], approve=approve, actor="tester", reason="no")


def adjust(db, ref: str, amount: int) -> None:
    with db.session(write=True) as s:
        points.adjust(session=s, ref=ref, points=amount, reason="fair booth", actor="tester", reference=None)


def accounts(db) -> dict[str, tuple[int, int]]:
    """FLIP's accounts: name -> (balance, held), zeros left out."""
    with db.session() as s:
        rows = points.balances(session=s, ref="FLIP", on=None)
    return {r["account"]: (r["balance"], r["held"]) for r in rows if (r["balance"], r["held"]) != (0, 0)}


def spendable(db) -> int:
    return sum(max(0, b - h) for b, h in accounts(db).values())


def state(db) -> tuple:
    with db.session() as s:
        mode = s.exec(select(Partner.mode).where(Partner.code == "FLIP")).scalar()
        count = s.exec(select(func.count()).select_from(Posting)).scalar()
    return mode, count, accounts(db)


def failed_checks(db) -> dict[str, list[str]]:
    with db.session() as s:
        return {r.name: r.problems for r in dbadmin.check(session=s, db=db) if not r.ok}


def test_a_pool_that_spent_its_sellers_points_cannot_hand_them_to_the_sellers(db):
    """The issue's case: FLIP pooled earns 1 100, spends 1 000, then switches to
    individual.  Moving the contract's 1 100 to flo would let flo spend them again
    (the pool left at -1 000): refused, naming the 1 000."""
    flip(db, "pooled")
    earn(db, "C1", "flo@flip.se")
    spend(db, "FLIP", "R1")
    assert accounts(db) == {"FLIP": (100, 0)}
    reason = refused_switch(db, "individual")
    assert reason == (
        "partner FLIP's pool has spent 1000 points more than its own points (adjustments booked on it): "
        "its sellers' points paid for them, and moving the sellers' 1100 points to them would let those "
        "1000 be spent again; keep FLIP pooled, or, if the office decides to give the 1000 points, book "
        "them first (`loyaltyctl points adjust FLIP 1000 --reason ...`)"
    )
    assert failed_checks(db) == {}
    # The office gives the 1 000 points: now the pool's own points cover what it
    # spent, and the contract's 1 100 move to flo; the pool ends at 0.
    adjust(db, "FLIP", 1000)
    assert switch(db, "individual")["updated"] == 1
    assert accounts(db) == {"flo@flip.se": (1100, 0)}
    assert spendable(db) == 1100 + 1000 - 1000  # earned + given - spent
    assert failed_checks(db) == {}


def test_a_seller_who_spent_takes_the_debt_along_into_the_pool(db):
    """The reverse: FLIP individual, flo earns 1 100 and spends 1 000 (100 left),
    then FLIP goes pooled.  The contract's 1 100 move to the pool and so does
    flo's -1 000 (a transfer attributed to flo): the pool holds 100, not 1 100."""
    flip(db, "individual")
    earn(db, "C1", "flo@flip.se")
    earn(db, "C2", "fia@flip.se", 250_000)  # fia: 2 600, unspent
    spend(db, "flo@flip.se", "R1")
    assert accounts(db) == {"flo@flip.se": (100, 0), "fia@flip.se": (2600, 0)}
    switch(db, "pooled")
    assert accounts(db) == {"FLIP": (2700, 0)}
    assert spendable(db) == 1100 + 2600 - 1000
    with db.session() as s:
        moved = s.exec(
            select(Posting.idem_key, Posting.points, Posting.kind)
            .where(Posting.kind == "transfer")
            .order_by(Posting.id)
        ).all()
    # flo's account held 100 after its contract's 1 100 left: -1 000 moves.
    assert [(k.split(":")[0], k.split(":")[-1], p) for k, p, _ in moved] == [
        ("transfer", "out", 1000),
        ("transfer", "in", -1000),
    ]
    assert failed_checks(db) == {}
    # And back: flo's own history (1 100 earned, 1 000 spent) goes back to flo.
    switch(db, "individual")
    assert accounts(db) == {"flo@flip.se": (100, 0), "fia@flip.se": (2600, 0)}
    assert failed_checks(db) == {}


def test_a_switch_waits_for_pending_requests_in_both_directions(db):
    flip(db, "pooled")
    earn(db, "C1", "flo@flip.se", 250_000)
    spend(db, "FLIP", "R1", approve=None)  # 1 000 held on the pool
    reason = refused_switch(db, "individual")
    assert reason == (
        "partner FLIP has 1 pending redemption request (R1), whose held points would stay behind when "
        "its points move to the sellers: approve or reject them first (`loyaltyctl redemptions review`), "
        "then change the mode"
    )
    with db.session(write=True) as s:
        redemptions.decide(session=s, ids=["R1"], approve=False, actor="tester", reason="later")
    switch(db, "individual")
    assert accounts(db) == {"flo@flip.se": (2600, 0)}
    spend(db, "flo@flip.se", "R2", approve=None)
    spend(db, "flo@flip.se", "R3", approve=None)
    assert "2 pending redemption requests (R2, R3)" in refused_switch(db, "pooled")
    assert failed_checks(db) == {}


def test_the_pool_keeps_its_own_points_and_the_sellers_get_theirs(db):
    """Pooled: a contract (flo 2 600), a quiz (fia 10 x 50 = 500, attributed to
    fia), an adjustment of the pool (+1 700, the pool's own) and a gift (-1 000,
    spent by the pool).  The pool's own points, 1 700 - 1 000 = 700, cover what it
    spent, so it may go individual: the contract and the quiz go to their
    sellers, the pool keeps its 700."""
    flip(db, "pooled")
    earn(db, "C1", "flo@flip.se", 250_000)
    with db.session(write=True) as s:
        quizzes.create(
            session=s, code="Q1", title="Q", questions=10, points_per_correct=50, welcome=False, actor="t"
        )
    with db.session(write=True) as s:
        quizzes.award_one(session=s, code="Q1", email="fia@flip.se", correct=10, taken_on=None, actor="t")
    adjust(db, "FLIP", 1700)
    spend(db, "FLIP", "R1")  # the pool's own: 1 700 - 1 000 = 700
    assert accounts(db) == {"FLIP": (2600 + 500 + 1700 - 1000, 0)}
    switch(db, "individual")
    assert accounts(db) == {"FLIP": (700, 0), "flo@flip.se": (2600, 0), "fia@flip.se": (500, 0)}
    assert failed_checks(db) == {}
    # Back to pooled: everything is in the pool again.
    switch(db, "pooled")
    assert accounts(db) == {"FLIP": (3800, 0)}
    assert failed_checks(db) == {}


def test_running_the_same_partners_file_again_posts_nothing(db):
    flip(db, "individual")
    earn(db, "C1", "flo@flip.se")
    adjust(db, "flo@flip.se", 300)
    assert switch(db, "pooled")["updated"] == 1
    after = state(db)
    assert after[2] == {"FLIP": (1400, 0)}
    assert switch(db, "pooled")["unchanged"] == 1
    assert state(db) == after


def test_a_clawback_that_leaves_a_pool_below_zero_passes_db_check(db):
    """Legal today: the points were spent, then the contract was cancelled."""
    flip(db, "pooled")
    earn(db, "C1", "flo@flip.se")
    spend(db, "FLIP", "R1")
    earn(db, "C1", "flo@flip.se", status="cancelled")
    assert accounts(db) == {"FLIP": (-1000, 0)}
    assert failed_checks(db) == {}


def test_db_check_finds_points_spent_twice_by_a_switch_of_old(db, sql, cli):
    """A database as the switch before this rule left it, built by raw SQL:
    FLIP pooled earned 1 100 (C1), spent 1 000, then went individual and the
    contract's 1 100 moved to flo (the pool left at -1 000).  Every other check
    passes; ``spendable`` names the partner and the numbers."""
    flip(db, "pooled")
    earn(db, "C1", "flo@flip.se")
    spend(db, "FLIP", "R1")
    db.dispose()
    (pool,) = sql("SELECT a.id FROM account a JOIN partner p ON p.id = a.partner_id WHERE p.code = 'FLIP'")[0]
    (flo,) = sql("SELECT id FROM seller WHERE email = 'flo@flip.se'")[0]
    (fia,) = sql("SELECT id FROM seller WHERE email = 'fia@flip.se'")[0]
    (c1,) = sql("SELECT id FROM contract WHERE contract_id = 'C1'")[0]
    sql("INSERT INTO account (holder, seller_id, balance, held) VALUES ('seller', ?, 0, 0)", flo)
    sql("INSERT INTO account (holder, seller_id, balance, held) VALUES ('seller', ?, 0, 0)", fia)
    (own,) = sql("SELECT id FROM account WHERE seller_id = ?", flo)[0]
    sql(
        "INSERT INTO batch (command, actor, started_at) "
        "VALUES ('partners mode change', 'x', '2026-11-22 10:00:00')"
    )
    (batch,) = sql("SELECT max(id) FROM batch")[0]
    for leg, account, pts in (("out", pool, -1100), ("in", own, 1100)):
        sql(
            "INSERT INTO posting (idem_key, account_id, seller_id, contract_pk, points, kind, value_date, "
            "booking_date, booked_at, reference, memo, actor, batch_id) VALUES (?, ?, ?, ?, ?, 'contract', "
            "'2026-10-05', '2026-11-22', '2026-11-22 10:00:00', 'C1', 'partner now individual', 'x', ?)",
            f"contract:C1:2:{leg}",
            account,
            flo,
            c1,
            pts,
            batch,
        )
    sql("UPDATE account SET balance = balance - 1100 WHERE id = ?", pool)
    sql("UPDATE account SET balance = balance + 1100 WHERE id = ?", own)
    sql("UPDATE contract SET revision = 2, posted_account_id = ? WHERE id = ?", own, c1)
    sql("UPDATE partner SET mode = 'individual' WHERE code = 'FLIP'")
    rebuild_chain(db.url)  # the old switch chained its postings as every writer does now
    assert accounts(db) == {"FLIP": (-1000, 0), "flo@flip.se": (1100, 0)}
    assert failed_checks(db) == {
        "spendable": [
            "partner FLIP: its accounts are 1000 points short (FLIP -1000) and contract clawbacks explain "
            "only 0 of it: 1100 points can be spent of the 100 earned less spent and held"
        ]
    }
    r = cli("db", "check")
    assert r.exit_code == 6
    assert "spendable" in r.stderr


def test_the_refused_switch_on_the_command_line(db, cli, tmp_path):
    flip(db, "pooled")
    earn(db, "C1", "flo@flip.se")
    spend(db, "FLIP", "R1")
    path = tmp_path / "partners.csv"
    path.write_text("code,name,mode,consent\nFLIP,Partner FLIP,individual,yes\n", encoding="utf-8")
    r = cli("partners", "import", str(path))
    assert r.exit_code == 1
    lines = r.stderr.splitlines()
    assert lines[0].startswith(f"{path}:2:3: mode: partner FLIP's pool has spent 1000 points more than")
    assert lines[1:] == [
        "error: 1 invalid row: nothing was written",
        "hint: fix the rows, or pass --skip-invalid --rejects FILE to apply the valid ones",
    ]
    assert accounts(db) == {"FLIP": (100, 0)}
