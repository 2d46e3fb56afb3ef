"""The monthly and yearly leaderboard, and its bonuses.

What counts: postings of kinds contract, quiz and lead attributed to a seller
(``posting.seller_id``) with a value date inside the period, summed (so
reversals and corrections net out).  Bonuses, redemptions and adjustments do
not count.  Sellers with no points (a sum <= 0) do not rank; inactive sellers,
sellers of a suspended partner and sellers of a partner without consent (at
the time of the query) are left out: without consent a partner may earn as a
company (pooled), but its people are not ranked, named or awarded.  A ranking
stored when awarded keeps its rows, but shows no name for a seller whose
partner has no consent (any more).

Ranking is standard competition ranking (1, 2, 2, 4): everyone sharing a
prized rank gets that rank's bonus.  A period is awarded once: the run stores
its ranking (``leaderboard_run`` has a unique period, so racing runs award
once) and posts each bonus, key ``bonus:<period>:<seller id>``, valued on the
period's last day, to the account the seller's points go to (the partner's
pool in pooled mode).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from ..clock import now, today
from ..errors import Refused, UsageProblem
from ..ledger import Entry, Ledger, new_batch
from ..models import LeaderboardAward, LeaderboardRun, Partner, Posting, Seller
from .accounts import earning_account
from .rules import load_rulebook

COUNTED_KINDS = ("contract", "quiz", "lead")
MAX_TOP = 1_000_000
AWARD = LeaderboardAward.__table__
RUN = LeaderboardRun.__table__


@dataclass(frozen=True)
class Period:
    key: str  # "2026-10" or "2026"
    first: date
    last: date

    @property
    def yearly(self) -> bool:
        return len(self.key) == 4

    @property
    def rule(self) -> str:
        return "yearly_bonus" if self.yearly else "monthly_bonus"


# Years a period may be in: a typo such as 0000 or 9999 is a usage error, not a
# crash, and every period end plus leaderboard_settle_days stays a real date.
FIRST_YEAR, LAST_YEAR = 2000, 2999
_MONTH = re.compile(r"(\d{4})-(\d{2})", re.ASCII)
_YEAR = re.compile(r"\d{4}", re.ASCII)


def period_of(*, month: str | None, year: str | None) -> Period:
    """``--month YYYY-MM`` or ``--year YYYY``, strictly: four ASCII digits for the
    year, two for the month, no spaces.  ``last`` is the month (year) before today's."""
    if (month is None) == (year is None):
        raise UsageProblem("give --month YYYY-MM or --year YYYY")
    if month is not None:
        if month == "last":
            t = today()
            y, mo = (t.year, t.month - 1) if t.month > 1 else (t.year - 1, 12)
        else:
            m = _MONTH.fullmatch(month)
            if not m or not 1 <= int(m.group(2)) <= 12:
                raise UsageProblem(f"--month {month!r} is not a month (YYYY-MM, e.g. 2026-10, or last)")
            y, mo = int(m.group(1)), int(m.group(2))
        _check_year(y, "--month", month)
        return Period(f"{y:04d}-{mo:02d}", date(y, mo, 1), date(y, mo, calendar.monthrange(y, mo)[1]))
    assert year is not None
    if year == "last":
        y = today().year - 1
    elif _YEAR.fullmatch(year):
        y = int(year)
    else:
        raise UsageProblem(f"--year {year!r} is not a year (YYYY, e.g. 2026, or last)")
    _check_year(y, "--year", year)
    return Period(f"{y:04d}", date(y, 1, 1), date(y, 12, 31))


def _check_year(y: int, option: str, text: str) -> None:
    if not FIRST_YEAR <= y <= LAST_YEAR:
        raise UsageProblem(f"{option} {text!r}: the year must be {FIRST_YEAR} to {LAST_YEAR}")


@dataclass
class Standing:
    rank: int
    seller_id: int
    seller: str | None  # None: not named (the partner has no consent)
    name: str | None
    partner_id: int
    partner: str
    points: int
    bonus: int

    def as_dict(self) -> dict:
        return {
            "rank": self.rank,
            "seller": self.seller,
            "name": self.name,
            "partner": self.partner,
            "points": self.points,
            "bonus": self.bonus,
        }


def rank(points: list[int]) -> list[int]:
    """Standard competition ranks of scores sorted best first: 10, 8, 8, 5 -> 1, 2, 2, 4."""
    ranks: list[int] = []
    for i, p in enumerate(points):
        ranks.append(ranks[-1] if i and points[i - 1] == p else i + 1)
    return ranks


def live_standings(session: Session, period: Period) -> list[Standing]:
    """Today's figures for the period, every ranked seller, best first."""
    total = func.sum(Posting.points).label("total")
    query = (
        select(Seller.id, Seller.email, Seller.name, Partner.id, Partner.code, total)
        .select_from(Posting)
        .join(Seller, Seller.id == Posting.seller_id)
        .join(Partner, Partner.id == Seller.partner_id)
        .where(
            Posting.kind.in_(COUNTED_KINDS),
            Posting.value_date >= period.first,
            Posting.value_date <= period.last,
            Seller.active.is_(True),
            Partner.status == "active",
            Partner.consent.is_(True),
        )
        .group_by(Seller.id, Seller.email, Seller.name, Partner.id, Partner.code)
        .having(total > 0)
    )
    rows = sorted(session.exec(query).all(), key=lambda r: (-int(r.total), r.email))
    prizes = load_rulebook(session).value(period.rule, period.last)
    assert isinstance(prizes, tuple)
    out = []
    for r, k in zip(rows, rank([int(r.total) for r in rows]), strict=True):
        bonus = prizes[k - 1] if k <= len(prizes) else 0
        out.append(Standing(k, r[0], r.email, r.name, r[3], r.code, int(r.total), bonus))
    return out


def stored_run(session: Session, period: Period) -> LeaderboardRun | None:
    return session.exec(select(LeaderboardRun).where(LeaderboardRun.period == period.key)).scalar()


def stored_standings(session: Session, run: LeaderboardRun) -> list[Standing]:
    rows = session.exec(
        select(LeaderboardAward, Seller.email, Seller.name, Partner.code, Partner.consent)
        .join(Seller, Seller.id == LeaderboardAward.seller_id)
        .join(Partner, Partner.id == LeaderboardAward.partner_id)
        .where(LeaderboardAward.run_id == run.id)
        .order_by(LeaderboardAward.rank, Seller.email)
    ).all()
    return [
        Standing(
            a.rank,
            a.seller_id,
            email if consent else None,
            name if consent else None,
            a.partner_id,
            code,
            a.points,
            a.bonus,
        )
        for a, email, name, code, consent in rows
    ]


def _top(rows: list[Standing], top: int) -> list[Standing]:
    return [s for s in rows if s.rank <= top]


def _same(a: list[Standing], b: list[Standing]) -> bool:
    key = lambda s: (s.rank, s.seller_id, s.points, s.bonus)  # noqa: E731
    return sorted(map(key, a)) == sorted(map(key, b))


def show(*, session: Session, period: Period, top: int, live: bool) -> dict:
    """The ranking: as awarded for an awarded period (unless ``live``), else today's."""
    if not 1 <= top <= MAX_TOP:
        raise UsageProblem(f"--top {top}: must be a whole number from 1 to {MAX_TOP:,}".replace(",", " "))
    run = stored_run(session, period)
    current = live_standings(session, period)
    if run is not None and not live:
        rows = stored_standings(session, run)
        source = "awarded"
    else:
        rows = current
        source = "live"
    return {
        "period": period.key,
        "first_day": period.first.isoformat(),
        "last_day": period.last.isoformat(),
        "awarded": run is not None,
        "awarded_on": run.run_on.isoformat() if run else None,
        "source": source,
        "differs": (not _same(stored_standings(session, run), current)) if run is not None else None,
        "rows": [s.as_dict() for s in _top(rows, top)],
    }


def can_run_from(session: Session, period: Period) -> date:
    days = load_rulebook(session).int("leaderboard_settle_days", period.last)
    return period.last + timedelta(days=days)


def run(*, session: Session, period: Period, force: bool, dry_run: bool, actor: str) -> dict:
    """Award the period once.  Returns the result: ``awarded``, ``already awarded``
    or (dry run) ``would award``."""
    day = today()
    existing = stored_run(session, period)
    if existing is not None:
        return _result(session, period, existing, stored_standings(session, existing), "already awarded")
    if day <= period.last:
        raise Refused(
            f"{period.key} has not ended (it ends on {period.last}); it can be awarded from "
            f"{can_run_from(session, period)}"
        )
    ready = can_run_from(session, period)
    if day < ready and not force:
        raise Refused(
            f"{period.key} can be awarded from {ready} (contracts may still arrive late; "
            f"leaderboard_settle_days after {period.last})",
            hint="--force awards it now",
        )
    standings = live_standings(session, period)
    if dry_run:
        return _result(session, period, None, standings, "would award")
    try:
        # On SQLite the write lock (BEGIN IMMEDIATE) already serialises racing runs;
        # elsewhere the unique period does: the loser finds the winner's result.
        with session.begin_nested():
            batch = new_batch(session, command="leaderboard run", actor=actor, source=period.key)
            run_id = session.exec(
                insert(RUN).values(
                    period=period.key,
                    first_day=period.first,
                    last_day=period.last,
                    run_on=day,
                    forced=bool(force and day < ready),
                    batch_id=batch,
                    created_at=now(),
                    actor=actor,
                )
            ).inserted_primary_key[0]
    except IntegrityError:
        existing = stored_run(session, period)
        if existing is None:
            raise
        return _result(session, period, existing, stored_standings(session, existing), "already awarded")
    ledger = Ledger(session, actor=actor, batch_id=batch, booking_date=day)
    award_rows = []
    for s in standings:
        account_id = None
        if s.bonus:
            seller = session.get(Seller, s.seller_id)
            partner = session.get(Partner, s.partner_id)
            assert seller is not None and partner is not None
            account_id = earning_account(session, partner, seller).id
            ledger.post(
                Entry(
                    idem_key=f"bonus:{period.key}:{s.seller_id}",
                    account_id=account_id,
                    points=s.bonus,
                    kind="bonus",
                    value_date=period.last,
                    seller_id=s.seller_id,
                    reference=f"leaderboard {period.key}",
                    memo=f"leaderboard {period.key}: rank {s.rank}",
                )
            )
        award_rows.append(
            {
                "run_id": run_id,
                "rank": s.rank,
                "seller_id": s.seller_id,
                "partner_id": s.partner_id,
                "account_id": account_id,
                "points": s.points,
                "bonus": s.bonus,
            }
        )
    if award_rows:
        session.exec(insert(AWARD), params=award_rows)
    stored = stored_run(session, period)
    assert stored is not None
    return _result(session, period, stored, standings, "awarded")


def _result(
    session: Session, period: Period, run: LeaderboardRun | None, rows: list[Standing], result: str
) -> dict:
    prized = [s for s in rows if s.bonus]
    return {
        "period": period.key,
        "first_day": period.first.isoformat(),
        "last_day": period.last.isoformat(),
        "result": result,
        "awarded_on": run.run_on.isoformat() if run else None,
        "forced": bool(run.forced) if run else None,
        "bonus_points": sum(s.bonus for s in prized),
        "winners": [s.as_dict() for s in prized],
    }


def check(session: Session) -> list[str]:
    """Every awarded period's stored awards match its bonus postings (``db check``)."""
    problems = []
    postings = {
        key: (account, points)
        for key, account, points in session.exec(
            select(Posting.idem_key, Posting.account_id, Posting.points).where(Posting.kind == "bonus")
        ).all()
    }
    expected: dict[str, tuple[int | None, int]] = {}
    for period, seller_id, account_id, bonus in session.exec(
        select(LeaderboardRun.period, AWARD.c.seller_id, AWARD.c.account_id, AWARD.c.bonus).join(
            AWARD, AWARD.c.run_id == LeaderboardRun.id
        )
    ).all():
        if bonus:
            expected[f"bonus:{period}:{seller_id}"] = (account_id, int(bonus))
    for key, want in sorted(expected.items()):
        have = postings.get(key)
        if have is None:
            problems.append(f"{key}: awarded {want[1]} points, but there is no bonus posting")
        elif (have[0], int(have[1])) != want:
            problems.append(
                f"{key}: awarded {want[1]} points to account #{want[0]} "
                f"!= posted {have[1]} to account #{have[0]}"
            )
    for key in sorted(set(postings) - set(expected)):
        if key.startswith("bonus:"):
            problems.append(f"{key}: a bonus posting that no stored leaderboard award explains")
    return problems
