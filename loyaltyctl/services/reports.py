"""Program reports: the points liability, and what the program did in a period.

Every figure comes from the ledger (postings), the contracts and the
redemptions in a handful of grouped queries, never one query per row.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import func, or_, select
from sqlmodel import Session

from ..clock import today
from ..errors import UsageProblem
from ..models import Account, Contract, Partner, Posting, Redemption, Seller
from .rules import load_rulebook

CENT = Decimal("0.01")
EARNING_KINDS = ("contract", "quiz", "lead", "bonus", "adjustment")


def _partner_of_account():
    """(account id, partner id) for every account: its own partner or its seller's."""
    return (
        select(
            Account.id.label("account_id"), func.coalesce(Account.partner_id, Seller.partner_id).label("pid")
        )
        .outerjoin(Seller, Seller.id == Account.seller_id)
        .subquery()
    )


def _partners(session: Session) -> list[tuple[int, str, str]]:
    return [
        tuple(r) for r in session.exec(select(Partner.id, Partner.code, Partner.name).order_by(Partner.code))
    ]


def liability(*, session: Session, on: date | None = None) -> dict:
    """Points outstanding (booked up to ``on``) and held by pending requests on
    that day, and their value in SEK, per partner and in total."""
    day = on or today()
    per_point = load_rulebook(session).decimal("point_value_sek", day)
    owner = _partner_of_account()
    balances = dict(
        session.exec(
            select(owner.c.pid, func.sum(Posting.points))
            .join(owner, owner.c.account_id == Posting.account_id)
            .where(Posting.booking_date <= day)
            .group_by(owner.c.pid)
        ).all()
    )
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=UTC)
    held = dict(
        session.exec(
            select(owner.c.pid, func.sum(Redemption.points))
            .join(owner, owner.c.account_id == Redemption.account_id)
            .where(
                Redemption.requested_at < end,
                or_(Redemption.decided_at.is_(None), Redemption.decided_at >= end),
            )
            .group_by(owner.c.pid)
        ).all()
    )
    rows = []
    for pid, code, name in _partners(session):
        rows.append(
            _liability_row(code, name, int(balances.get(pid) or 0), int(held.get(pid) or 0), per_point)
        )
    total = _liability_row(
        "TOTAL", "", sum(r["outstanding"] for r in rows), sum(r["held"] for r in rows), per_point
    )
    return {"on": day.isoformat(), "point_value_sek": per_point, "partners": rows, "total": total}


def _liability_row(code: str, name: str, outstanding: int, held: int, per_point: Decimal) -> dict:
    return {
        "partner": code,
        "name": name,
        "outstanding": outstanding,
        "held": held,
        "available": outstanding - held,
        "outstanding_sek": (per_point * outstanding).quantize(CENT),
        "held_sek": (per_point * held).quantize(CENT),
    }


def program_period(year: int, month: str | None) -> tuple[date, date]:
    if month is None:
        return date(year, 1, 1), date(year, 12, 31)
    from .statements import period

    start, end = period(month, None, None)
    if start.year != year:
        raise UsageProblem(f"--month {month} is not in --year {year}")
    return start, end


def program(*, session: Session, year: int, month: str | None = None) -> dict:
    """Contract volume and count, points earned by kind, redeemed, bonuses,
    points cost in SEK per 1 000 SEK financed, active sellers and quiz
    participants, per partner and in total.  Postings count by value date;
    contracts by start date (started contracts only)."""
    start, end = program_period(year, month)
    per_point = load_rulebook(session).decimal("point_value_sek", end)
    owner = _partner_of_account()
    points: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for pid, kind, total in session.exec(
        select(owner.c.pid, Posting.kind, func.sum(Posting.points))
        .join(owner, owner.c.account_id == Posting.account_id)
        .where(Posting.value_date >= start, Posting.value_date <= end)
        .group_by(owner.c.pid, Posting.kind)
    ).all():
        points[pid][kind] = int(total)
    contracts = {
        pid: (int(n), int(ore))
        for pid, n, ore in session.exec(
            select(Contract.partner_id, func.count(), func.sum(Contract.amount_ore))
            .where(Contract.status == "started", Contract.start_date >= start, Contract.start_date <= end)
            .group_by(Contract.partner_id)
        ).all()
    }
    active = dict(
        session.exec(
            select(Contract.partner_id, func.count(func.distinct(Contract.seller_id)))
            .where(Contract.status == "started", Contract.start_date >= start, Contract.start_date <= end)
            .group_by(Contract.partner_id)
        ).all()
    )
    quiz = dict(
        session.exec(
            select(Seller.partner_id, func.count(func.distinct(Posting.seller_id)))
            .join(Seller, Seller.id == Posting.seller_id)
            .where(Posting.kind == "quiz", Posting.value_date >= start, Posting.value_date <= end)
            .group_by(Seller.partner_id)
        ).all()
    )
    rows = []
    for pid, code, name in _partners(session):
        n, ore = contracts.get(pid, (0, 0))
        rows.append(
            _program_row(
                code, name, n, ore, points.get(pid, {}), active.get(pid, 0), quiz.get(pid, 0), per_point
            )
        )
    total = _program_row(
        "TOTAL",
        "",
        sum(r["contracts"] for r in rows),
        sum(r["_ore"] for r in rows),
        {k: sum(r[f"points_{k}"] for r in rows) for k in EARNING_KINDS}
        | {"redemption": -sum(r["points_redeemed"] for r in rows)},
        sum(r["active_sellers"] for r in rows),
        sum(r["quiz_participants"] for r in rows),
        per_point,
    )
    for r in [*rows, total]:
        del r["_ore"]
    return {
        "period_from": start.isoformat(),
        "period_to": end.isoformat(),
        "point_value_sek": per_point,
        "partners": rows,
        "total": total,
    }


def _program_row(
    code: str, name: str, n: int, ore: int, pts: dict, active: int, quiz: int, per_point: Decimal
) -> dict:
    earned = sum(pts.get(k, 0) for k in EARNING_KINDS)
    volume = Decimal(ore) / 100
    cost = (per_point * earned / (volume / 1000)).quantize(CENT) if volume else None
    return {
        "partner": code,
        "name": name,
        "contracts": n,
        "volume_sek": volume.quantize(CENT),
        **{f"points_{k}": pts.get(k, 0) for k in EARNING_KINDS},
        "points_earned": earned,
        "points_redeemed": -pts.get("redemption", 0),
        "points_cost_sek_per_1000": cost,
        "active_sellers": active,
        "quiz_participants": quiz,
        "_ore": ore,
    }
