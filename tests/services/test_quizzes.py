"""Quizzes: points = correct x points per correct, awarded once per seller,
the welcome-quiz window, and the batch semantics of every import."""

from __future__ import annotations

from datetime import date

import pytest
from factories import add_seller, award_quiz, balance, create_quiz, posting_keys, small_program

from loyaltyctl.errors import InvalidInput, NotFound, Refused, RowsRejected, UsageProblem
from loyaltyctl.services import partners, quizzes, sellers

H = "seller_email,correct,taken_on\n"


@pytest.fixture
def prog(db):
    small_program(db, enrolled_on=date(2026, 1, 1))  # ACME pooled (anna, arne), BOLT individual (bo, britt)
    create_quiz(db, "Q1", questions=10, points=50)
    return db


def award_one(db, email, correct, taken_on=None, code="Q1"):
    with db.session(write=True) as s:
        return quizzes.award_one(
            session=s, code=code, email=email, correct=correct, taken_on=taken_on, actor="t"
        )


def test_points_are_correct_times_points_per_correct_to_seller_or_pool(prog):
    s = award_quiz(prog, "Q1", H + "bo@bolt.se,7,2026-11-02\nanna@acme.se,10,2026-11-03\narne@acme.se,0,\n")
    assert s.counts == {"awarded": 3, "unchanged": 0}
    # bo: 7 x 50 = 350 to his own account; anna 10 x 50 = 500 to the ACME pool;
    # arne 0 correct: recorded, but a 0-point posting is not made.
    assert s.points_posted == 850
    assert balance(prog, "bo@bolt.se") == 350
    assert balance(prog, "ACME") == 500
    keys = posting_keys(prog, "quiz:Q1:")
    assert sorted(keys.values()) == [(350, "2026-11-02"), (500, "2026-11-03")]  # valued on taken_on
    with prog.session() as s:
        shown = quizzes.show(session=s, code="q1")
    assert (shown["awarded"], shown["points_awarded"], shown["max_points"]) == (3, 850, 500)


def test_same_result_again_is_a_no_op_whatever_the_date_and_another_is_refused(prog):
    award_quiz(prog, "Q1", H + "bo@bolt.se,7,2026-11-02\n")
    again = award_quiz(prog, "Q1", H + "bo@bolt.se,7,2026-11-20\n")
    assert again.counts == {"awarded": 0, "unchanged": 1} and again.points_posted == 0
    assert award_one(prog, "BO@bolt.se", 7)["result"] == "unchanged"
    assert award_one(prog, "bo@bolt.se", 7, taken_on=date(2026, 12, 1))["result"] == "unchanged"  # future
    assert award_one(prog, "bo@bolt.se", 7, taken_on=date(2025, 1, 1))["result"] == "unchanged"  # < enrolled
    with pytest.raises(Refused, match="already awarded quiz Q1 for 7 correct answers.*not 8"):
        award_one(prog, "bo@bolt.se", 8)
    assert balance(prog, "bo@bolt.se") == 350


def test_every_bad_row_is_listed_and_nothing_is_written(prog, db):
    with db.session(write=True) as s:
        sellers.set_active(session=s, email="britt@bolt.se", active=False)
    rows = (
        "bo@bolt.se,11,2026-11-01\n"  # line 2: 11 > 10 questions
        "bo@bolt.se,-1,2026-11-01\n"  # line 3: negative
        "nobody@bolt.se,3,2026-11-01\n"  # line 4: unknown seller
        "britt@bolt.se,3,2026-11-01\n"  # line 5: inactive
        "anna@acme.se,3,2026-11-23\n"  # line 6: tomorrow
        "arne@acme.se,x,2026-11-01\n"  # line 7: not a number
        "arne@acme.se,4,2026-11-01\n"  # line 8: fine, but all-or-nothing
    )
    with pytest.raises(RowsRejected) as exc:
        award_quiz(prog, "Q1", H + rows)
    found = [(e.line, e.column, e.field) for e in exc.value.errors]
    assert found == [
        (2, 2, "correct"),
        (3, 2, "correct"),
        (4, 1, "seller_email"),
        (5, 1, "seller_email"),
        (6, 3, "taken_on"),
        (7, 2, "correct"),
    ]
    reasons = " | ".join(e.reason for e in exc.value.errors)
    assert "has 10 questions" in reasons and "negative" in reasons and "inactive" in reasons
    assert "2026-11-23 is in the future" in reasons
    assert posting_keys(prog, "quiz:") == {}
    with prog.session() as s:
        assert quizzes.show(session=s, code="Q1")["awarded"] == 0


def test_skip_invalid_applies_the_valid_rows_and_dry_run_writes_nothing(prog):
    rows = H + "bo@bolt.se,4,2026-11-01\nnobody@bolt.se,3,2026-11-01\n"
    dry = award_quiz(prog, "Q1", rows, skip_invalid=True, dry_run=True)
    assert (dry.counts["awarded"], dry.rejected, dry.points_posted) == (1, 1, 200)  # 4 x 50
    assert posting_keys(prog, "quiz:") == {}
    done = award_quiz(prog, "Q1", rows, skip_invalid=True)
    assert (done.counts["awarded"], done.rejected) == (1, 1)
    assert balance(prog, "bo@bolt.se") == 200


def test_the_welcome_quiz_is_for_the_first_welcome_quiz_days(db):
    small_program(db)
    add_seller(db, "nya@bolt.se", "BOLT", enrolled_on=date(2026, 8, 1))
    create_quiz(db, "W", questions=5, points=100, welcome=True)
    # 2026-08-01 + 90 days = 2026-10-30: the last day it may be awarded.
    with pytest.raises(RowsRejected) as exc:
        award_quiz(db, "W", H + "nya@bolt.se,5,2026-10-31\n")
    assert "could be awarded until 2026-10-30 (90 days)" in exc.value.errors[0].reason
    assert award_quiz(db, "W", H + "nya@bolt.se,5,2026-10-30\n").points_posted == 500  # 5 x 100


def test_only_one_welcome_quiz_and_questions_between_5_and_10(prog, db):
    create_quiz(db, "W1", questions=5, welcome=True)
    create_quiz(db, "W2", questions=5, welcome=True)
    with db.session() as s:
        flags = {q["code"]: q["welcome"] for q in quizzes.list_quizzes(session=s)}
    assert flags == {"Q1": False, "W1": False, "W2": True}
    for n in (4, 11):
        with pytest.raises(UsageProblem, match="5 to 10 questions"):
            create_quiz(db, f"BAD{n}", questions=n)
    with pytest.raises(Refused, match="exists with other values"):
        create_quiz(db, "Q1", questions=6, points=50)


def test_single_award_errors_map_to_their_exit_classes(prog, db):
    with pytest.raises(NotFound):
        award_one(prog, "nobody@bolt.se", 3)
    with pytest.raises(InvalidInput):
        award_one(prog, "bo@bolt.se", 11)
    with pytest.raises(NotFound):
        award_one(prog, "bo@bolt.se", 3, code="NOPE")
    with db.session(write=True) as s:
        partners.set_status(session=s, code="BOLT", status="suspended")
    with pytest.raises(Refused, match="BOLT of bo@bolt.se is suspended"):
        award_one(prog, "bo@bolt.se", 3)


def test_no_quiz_before_the_seller_enrolled(db):
    small_program(db)  # enrolled today, 2026-11-22
    add_seller(db, "nya@bolt.se", "BOLT", enrolled_on=date(2026, 8, 1))
    create_quiz(db, "W", questions=5, points=100, welcome=True)
    create_quiz(db, "Q1", questions=10, points=50)
    # The welcome quiz: from the enrolment day (inclusive), not a day before.
    with pytest.raises(RowsRejected) as exc:
        award_quiz(db, "W", H + "nya@bolt.se,5,2026-07-31\nbo@bolt.se,5,2026-11-21\n")
    assert [(e.line, e.column, e.reason) for e in exc.value.errors] == [
        (2, 3, "2026-07-31 is before nya@bolt.se enrolled in the program (2026-08-01)"),
        (3, 3, "2026-11-21 is before bo@bolt.se enrolled in the program (2026-11-22)"),
    ]
    assert award_quiz(db, "W", H + "nya@bolt.se,5,2026-08-01\n").points_posted == 500
    # Any other quiz likewise: refused (exit 4, naming --date) for a day before enrolment.
    with pytest.raises(Refused, match=r"^--date: 2026-11-21 is before bo@bolt.se enrolled .*2026-11-22"):
        award_one(db, "bo@bolt.se", 3, taken_on=date(2026, 11, 21))
    assert award_one(db, "bo@bolt.se", 3, taken_on=date(2026, 11, 22))["points_posted"] == 150
    assert posting_keys(db, "quiz:") == {
        "quiz:W:5": (500, "2026-08-01"),
        "quiz:Q1:3": (150, "2026-11-22"),
    }


def test_a_seller_twice_in_one_file_is_awarded_by_the_first_row(prog):
    rows = H + "bo@bolt.se,4,2026-11-01\nbo@bolt.se,4,2026-11-02\nbo@bolt.se,5,2026-11-03\n"
    with pytest.raises(RowsRejected) as exc:  # all or nothing: the third row sinks the file
        award_quiz(prog, "Q1", rows)
    assert [(e.line, e.column) for e in exc.value.errors] == [(4, 2)]
    assert (
        "already awarded quiz Q1 for 4 correct answers (taken 2026-11-01); not 5"
        in exc.value.errors[0].reason
    )
    assert posting_keys(prog, "quiz:") == {}
    s = award_quiz(prog, "Q1", rows, skip_invalid=True)
    assert (s.counts, s.rejected, s.points_posted) == ({"awarded": 1, "unchanged": 1}, 1, 200)  # 4 x 50
    assert posting_keys(prog, "quiz:") == {"quiz:Q1:3": (200, "2026-11-01")}


def _post_quiz_key(db, email: str, points: int) -> None:
    """A posting under a quiz award's key with no award behind it."""
    from loyaltyctl.ledger import Entry, Ledger
    from loyaltyctl.services.accounts import find_seller, seller_account

    with db.session(write=True) as s:
        seller = find_seller(s, email)
        acc = seller_account(s, seller)
        ledger = Ledger(s, actor="t")
        key = f"quiz:Q1:{seller.id}"
        ledger.post(
            Entry(idem_key=key, account_id=acc.id, points=points, kind="quiz", value_date=date(2026, 11, 1))
        )


def test_a_file_meets_postings_under_its_keys_the_same_as_ledger_post(prog):
    # A key that exists with the same values is not posted again; one with other
    # values refuses the whole file (the file's keys are looked up at once).
    _post_quiz_key(prog, "bo@bolt.se", 350)  # 7 x 50
    s = award_quiz(prog, "Q1", H + "bo@bolt.se,7,2026-11-02\nbritt@bolt.se,2,2026-11-02\n")
    assert s.counts == {"awarded": 2, "unchanged": 0}
    assert balance(prog, "bo@bolt.se") == 350 and balance(prog, "britt@bolt.se") == 100
    assert sorted(posting_keys(prog, "quiz:Q1:").values()) == [(100, "2026-11-02"), (350, "2026-11-01")]
    create_quiz(prog, "Q2", questions=10, points=50)
    with prog.session(write=True) as s:  # a key of Q2 for arne (ACME's pool), 1 point
        from loyaltyctl.ledger import Entry, Ledger
        from loyaltyctl.services.accounts import find_partner, find_seller, partner_account

        arne, acme = find_seller(s, "arne@acme.se"), find_partner(s, "ACME")
        pool = partner_account(s, acme)
        Ledger(s, actor="t").post(
            Entry(
                idem_key=f"quiz:Q2:{arne.id}",
                account_id=pool.id,
                points=1,
                kind="quiz",
                value_date=date(2026, 11, 1),
            )
        )
    with pytest.raises(
        Refused, match=r"posting 'quiz:Q2:\d+' exists with other values \(1 points, not 150\)"
    ):
        award_quiz(prog, "Q2", H + "anna@acme.se,1,2026-11-02\narne@acme.se,3,2026-11-02\n")
    assert balance(prog, "ACME") == 1  # nothing of the file written
    with prog.session() as s:
        assert quizzes.show(session=s, code="Q2")["awarded"] == 0
