"""Quizzes: create them, award sellers' results once, and post the points.

Points = correct x points_per_correct, credited to the seller's account (or the
partner's pool) and valued on the day the quiz was taken.  A seller is awarded
once per quiz: the same result again is a no-op, another result is refused
(``points adjust`` corrects).  The posting's key is ``quiz:<CODE>:<seller id>``.
The welcome quiz may be awarded only within ``welcome_quiz_days`` of the
seller's enrolment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import NamedTuple

from sqlalchemy import func, insert, select, update
from sqlmodel import Session

from ..clock import now, today
from ..errors import InvalidInput, LoyaltyError, NotFound, Refused, UsageProblem
from ..identities import Lookalikes
from ..importers import fields as F
from ..importers.csv_source import CsvInput
from ..ledger import Entry, Ledger, new_batch
from ..models import Partner, Quiz, QuizAward, Seller
from .accounts import AccountIds, earning_account, seller_lookalikes, unknown_seller
from .batch import BatchSummary, RejectSink, RowProblems, field_error, parse_row
from .rules import load_rulebook

QUIZ_AWARD = QuizAward.__table__
REQUIRED = ("seller_email", "correct")
OPTION_OF = {"seller_email": "--seller", "correct": "--correct", "taken_on": "--date"}
OPTIONAL = ("taken_on",)
MIN_QUESTIONS, MAX_QUESTIONS = 5, 10
MAX_POINTS_PER_CORRECT = 100_000  # a full quiz gives at most 1 000 000 points


def _count(text: str) -> int:
    return F.parse_whole(text)


def _quiz_dict(q: Quiz, awarded: int = 0, points: int = 0) -> dict:
    return {
        "code": q.code,
        "title": q.title,
        "questions": q.questions,
        "points_per_correct": q.points_per_correct,
        "max_points": q.questions * q.points_per_correct,
        "welcome": bool(q.welcome),
        "awarded": awarded,
        "points_awarded": points,
    }


def find_quiz(session: Session, code: str) -> Quiz:
    quiz = session.exec(select(Quiz).where(Quiz.code == code.strip().upper())).scalar()
    if quiz is None:
        raise NotFound(
            f"no quiz with code {code.strip().upper()!r}", hint="`loyaltyctl quiz list` shows them"
        )
    return quiz


def create(
    *,
    session: Session,
    code: str,
    title: str,
    questions: int,
    points_per_correct: int,
    welcome: bool,
    actor: str,
) -> dict:
    """Create a quiz; the same command again is a no-op.  ``welcome`` makes it the
    welcome quiz (the previous one stops being it)."""
    try:
        code = F.parse_code(code, what="quiz code")
    except F.FieldError as exc:
        raise UsageProblem(f"quiz code: {exc}") from None
    try:
        title = F.parse_text(title, max_len=200)
    except F.FieldError as exc:
        raise UsageProblem(f"--title: {exc}") from None
    if not MIN_QUESTIONS <= questions <= MAX_QUESTIONS:
        raise UsageProblem(
            f"--questions {questions}: a quiz has {MIN_QUESTIONS} to {MAX_QUESTIONS} questions"
        )
    if not 0 < points_per_correct <= MAX_POINTS_PER_CORRECT:
        raise UsageProblem(
            f"--points-per-correct {points_per_correct}: must be a whole number from 1 to "
            f"{MAX_POINTS_PER_CORRECT:,}".replace(",", " ")
        )
    existing = session.exec(select(Quiz).where(Quiz.code == code)).scalar()
    if existing is not None:
        same = (existing.title, existing.questions, existing.points_per_correct) == (
            title,
            questions,
            points_per_correct,
        )
        if not same:
            raise Refused(
                f"quiz {code} exists with other values ({existing.questions} questions, "
                f"{existing.points_per_correct} points per correct answer, title {existing.title!r})",
                hint="awarded points depend on it; create a quiz with a new code",
            )
        previous = _make_welcome(session, existing) if welcome and not existing.welcome else None
        return {**show(session=session, code=code), "result": "updated" if previous else "unchanged"}
    quiz = Quiz(
        code=code,
        title=title,
        questions=questions,
        points_per_correct=points_per_correct,
        welcome=False,
        created_at=now(),
        actor=actor,
    )
    session.add(quiz)
    session.flush()
    if welcome:
        _make_welcome(session, quiz)
    return {**show(session=session, code=code), "result": "new"}


def _make_welcome(session: Session, quiz: Quiz) -> str | None:
    previous = session.exec(select(Quiz.code).where(Quiz.welcome.is_(True))).scalar()
    table = Quiz.__table__
    session.exec(update(table).where(table.c.welcome.is_(True)).values(welcome=False))
    session.exec(update(table).where(table.c.id == quiz.id).values(welcome=True))
    session.expire(quiz)
    return previous or quiz.code


def _totals(session: Session):
    return select(
        QuizAward.quiz_id, func.count(QuizAward.id), func.coalesce(func.sum(QuizAward.points), 0)
    ).group_by(QuizAward.quiz_id)


def list_quizzes(*, session: Session) -> list[dict]:
    totals = {qid: (int(n), int(p)) for qid, n, p in session.exec(_totals(session)).all()}
    quizzes = session.exec(select(Quiz).order_by(Quiz.code)).scalars()
    return [_quiz_dict(q, *totals.get(q.id, (0, 0))) for q in quizzes]


def show(*, session: Session, code: str) -> dict:
    quiz = find_quiz(session, code)
    n, p = session.exec(
        select(func.count(QuizAward.id), func.coalesce(func.sum(QuizAward.points), 0)).where(
            QuizAward.quiz_id == quiz.id
        )
    ).one()
    return _quiz_dict(quiz, int(n), int(p))


@dataclass
class _Problem(Exception):
    column: str
    reason: str
    kind: type[LoyaltyError] = Refused


class _Awarder:
    """Checks and writes one result at a time, inside the command's transaction."""

    def __init__(self, session: Session, quiz: Quiz, actor: str, command: str, source: str | None) -> None:
        self.session = session
        self.quiz = quiz
        self.actor = actor
        self.command = command
        self.source = source
        self.today = today()
        self.book = load_rulebook(session)
        self.ledger: Ledger | None = None
        self.batch_id: int | None = None
        self._twins: Lookalikes | None = None

    # One result (``quiz award --seller``): a query for each thing it needs.
    def _seller(self, email: str) -> Seller | None:
        return self.session.exec(select(Seller).where(Seller.email == email)).scalar()

    def _done(self, seller_id: int):
        return self.session.exec(
            select(QuizAward.correct, QuizAward.taken_on).where(
                QuizAward.quiz_id == self.quiz.id, QuizAward.seller_id == seller_id
            )
        ).first()

    def _partner(self, partner_id: int) -> Partner | None:
        return self.session.get(Partner, partner_id)

    def check(self, email: str, correct: int, taken_on: date) -> tuple[Seller, Partner, str]:
        """Validate; returns the seller, partner and ``award`` or ``unchanged``."""
        q = self.quiz
        if correct < 0:
            raise _Problem("correct", f"{correct} correct answers: may not be negative", InvalidInput)
        if correct > q.questions:
            raise _Problem(
                "correct",
                f"{correct} correct answers, but quiz {q.code} has {q.questions} questions",
                InvalidInput,
            )
        seller = self._seller(email)
        if seller is None:
            if self._twins is None:  # built once, when a row first names an unknown seller
                self._twins = seller_lookalikes(self.session)
            raise _Problem("seller_email", unknown_seller(email, self._twins), NotFound)
        done = self._done(seller.id)
        partner = self._partner(seller.partner_id)
        assert partner is not None
        if done is not None:
            if done.correct == correct:
                return seller, partner, "unchanged"
            raise _Problem(
                "correct",
                f"{email} was already awarded quiz {q.code} for {done.correct} correct answers "
                f"(taken {done.taken_on}); not {correct}; correct it with `points adjust`",
            )
        # Checked after "already awarded": the same result again is a no-op whatever taken_on says.
        if taken_on > self.today:
            raise _Problem("taken_on", f"{taken_on} is in the future (today is {self.today})", InvalidInput)
        if not seller.active:
            raise _Problem("seller_email", f"seller {email} is inactive")
        if partner.status != "active":
            raise _Problem("seller_email", f"partner {partner.code} of {email} is {partner.status}")
        if taken_on < seller.enrolled_on:
            raise _Problem(
                "taken_on",
                f"{taken_on} is before {email} enrolled in the program ({seller.enrolled_on})",
            )
        if q.welcome:
            days = self.book.int("welcome_quiz_days", taken_on)
            last = seller.enrolled_on + timedelta(days=days)
            if taken_on > last:
                raise _Problem(
                    "taken_on",
                    f"{q.code} is the welcome quiz: {email} enrolled on {seller.enrolled_on}, so it could "
                    f"be awarded until {last} ({days} days), not for {taken_on}",
                )
        return seller, partner, "award"

    def _start(self) -> Ledger:
        if self.batch_id is None:
            self.batch_id = new_batch(
                self.session, command=self.command, actor=self.actor, source=self.source
            )
            self.ledger = Ledger(
                self.session, actor=self.actor, batch_id=self.batch_id, booking_date=self.today
            )
        assert self.ledger is not None
        return self.ledger

    def _entry(self, seller_id: int, account_id: int, points: int, correct: int, taken_on: date) -> Entry:
        return Entry(
            idem_key=f"quiz:{self.quiz.code}:{seller_id}",
            account_id=account_id,
            points=points,
            kind="quiz",
            value_date=taken_on,
            seller_id=seller_id,
            reference=self.quiz.code,
            memo=f"quiz {self.quiz.code}: {correct} of {self.quiz.questions} correct",
        )

    def write(self, seller: Seller, partner: Partner, correct: int, taken_on: date) -> int:
        points = correct * self.quiz.points_per_correct
        ledger = self._start()
        self.session.exec(
            insert(QUIZ_AWARD).values(
                quiz_id=self.quiz.id,
                seller_id=seller.id,
                correct=correct,
                taken_on=taken_on,
                points=points,
                batch_id=self.batch_id,
                created_at=now(),
            )
        )
        if points:
            account = earning_account(self.session, partner, seller)
            assert seller.id is not None and account.id is not None
            ledger.post(self._entry(seller.id, account.id, points, correct, taken_on))
        return points

    def flush(self) -> None:
        if self.ledger is not None:
            self.ledger.flush()


class _Done(NamedTuple):
    correct: int
    taken_on: date


class _FileAwarder(_Awarder):
    """A file of results: what the run needs is loaded once (sellers by email,
    partners, this quiz's awards, the accounts), each row is checked in memory,
    and the new awards and their postings are written in a few statements at
    ``flush()``.  A result written earlier in the file counts as awarded for
    the rows after it, as if it had been written at once."""

    def __init__(self, session: Session, quiz: Quiz, actor: str, command: str, source: str | None) -> None:
        super().__init__(session, quiz, actor, command, source)
        columns = (Seller.id, Seller.email, Seller.partner_id, Seller.active, Seller.enrolled_on)
        self.sellers = {r.email: r for r in session.exec(select(*columns)).all()}
        self.partners = {p.id: p for p in session.exec(select(Partner)).scalars()}
        self.awarded: dict[int, _Done] = {
            sid: _Done(correct, taken)
            for sid, correct, taken in session.exec(
                select(QuizAward.seller_id, QuizAward.correct, QuizAward.taken_on).where(
                    QuizAward.quiz_id == quiz.id
                )
            ).all()
        }
        self.accounts = AccountIds.load(session)
        self.awards: list[dict] = []
        self.entries: list[Entry] = []

    def _seller(self, email: str):  # a row of the seller's columns, not a Seller
        return self.sellers.get(email)

    def _done(self, seller_id: int) -> _Done | None:
        return self.awarded.get(seller_id)

    def _partner(self, partner_id: int) -> Partner | None:
        return self.partners.get(partner_id)

    def _account(self, partner: Partner, seller_id: int) -> int:
        assert partner.id is not None
        found = self.accounts.earning(partner.mode == "pooled", partner.id, seller_id)
        if found is None:  # not opened yet: open it as `quiz award --seller` would
            seller = self.session.get(Seller, seller_id)
            assert seller is not None
            found = self.accounts.opened(earning_account(self.session, partner, seller))
        return found

    def write(self, seller, partner: Partner, correct: int, taken_on: date) -> int:
        points = correct * self.quiz.points_per_correct
        self._start()
        self.awards.append(
            {
                "quiz_id": self.quiz.id,
                "seller_id": seller.id,
                "correct": correct,
                "taken_on": taken_on,
                "points": points,
                "batch_id": self.batch_id,
                "created_at": now(),
            }
        )
        self.awarded[seller.id] = _Done(correct, taken_on)
        if points:
            account_id = self._account(partner, seller.id)
            self.entries.append(self._entry(seller.id, account_id, points, correct, taken_on))
        return points

    def flush(self) -> None:
        if self.awards:
            self.session.exec(insert(QUIZ_AWARD), params=self.awards)
        if self.ledger is not None:
            self.ledger.post_all(self.entries)
            self.ledger.flush()
        self.awards, self.entries = [], []


def award_one(
    *, session: Session, code: str, email: str, correct: int, taken_on: date | None, actor: str
) -> dict:
    """Award one seller's result.  Problems raise the matching LoyaltyError."""
    quiz = find_quiz(session, code)
    try:
        email = F.parse_email(email)
    except F.FieldError as exc:
        raise UsageProblem(f"--seller: {exc}") from None
    run = _Awarder(session, quiz, actor, "quiz award", None)
    taken = taken_on or run.today
    try:
        seller, partner, outcome = run.check(email, correct, taken)
    except _Problem as p:
        raise p.kind(f"{OPTION_OF[p.column]}: {p.reason}") from None
    points = run.write(seller, partner, correct, taken) if outcome == "award" else 0
    return {
        "quiz": quiz.code,
        "seller": email,
        "correct": correct,
        "taken_on": taken.isoformat(),
        "points": correct * quiz.points_per_correct,
        "points_posted": points,
        "result": "awarded" if outcome == "award" else "unchanged",
    }


def import_awards(
    *,
    session: Session,
    src: CsvInput,
    code: str,
    actor: str,
    skip_invalid: bool,
    on_reject: RejectSink | None = None,
) -> BatchSummary:
    """Award a file of results (seller_email,correct[,taken_on]) with the batch
    semantics of every import: all-or-nothing unless ``skip_invalid``."""
    quiz = find_quiz(session, code)
    run = _FileAwarder(session, quiz, actor, "quiz award", src.name)
    summary = BatchSummary("quiz award", src.name, counts={"awarded": 0, "unchanged": 0}, posts_points=True)
    parsers = {"seller_email": F.parse_email, "correct": _count, "taken_on": F.parse_date}
    posted = 0
    for record in src.records(REQUIRED, OPTIONAL):
        summary.rows += 1
        try:
            row = parse_row(src, record, parsers, {"taken_on": run.today})
            email, correct, taken = row["seller_email"], row["correct"], row["taken_on"]
            assert isinstance(email, str) and isinstance(correct, int) and isinstance(taken, date)
            try:
                seller, partner, outcome = run.check(email, correct, taken)
            except _Problem as p:
                raise RowProblems([field_error(src, record, p.column, p.reason)]) from None
        except RowProblems as problems:
            summary.reject(src, record, problems.errors, on_reject)
            continue
        if outcome == "award":
            posted += run.write(seller, partner, correct, taken)
            summary.counts["awarded"] += 1
        else:
            summary.counts["unchanged"] += 1
    summary.start(src)
    summary.points_posted = posted
    summary.batch_id = run.batch_id
    run.flush()
    return summary.finish(skip_invalid=skip_invalid)
