"""Account statements: where every point came from, for a period.

For each account: the opening balance (postings booked before the period), every
posting booked in the period, the closing balance (opening + entries, always),
held and available points as of the day of the export, and the value of the
closing balance in SEK by ``point_value_sek``.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from operator import itemgetter

from sqlalchemy import String, func, select, type_coerce
from sqlmodel import Session

from ..clock import today
from ..errors import UsageProblem
from ..models import Posting
from ..statement_formats import Records
from .accounts import resolve
from .points import _accounts_of
from .rules import load_rulebook


def grouped(n: int) -> str:
    return f"{n:,}".replace(",", " ")


def sek_text(amount: Decimal) -> str:
    """1240 -> '1 240', 1234.5 -> '1 234.50'."""
    whole = amount == amount.to_integral_value()
    text = f"{amount:,.0f}" if whole else f"{amount:,.2f}"
    return text.replace(",", " ")


def value_text(points: int, per_point: Decimal) -> str:
    """'12 400 points = 1 240 SEK'."""
    return f"{grouped(points)} points = {sek_text(per_point * points)} SEK"


def period(month: str | None, date_from: date | None, date_to: date | None) -> tuple[date, date]:
    if month:
        if date_from or date_to:
            raise UsageProblem("give --month or --from/--to, not both")
        try:
            if len(month) != 7:
                raise ValueError
            first = date.fromisoformat(month + "-01")
        except ValueError:
            raise UsageProblem(f"--month {month!r} is not a month (YYYY-MM)") from None
        nxt = date(first.year + (first.month == 12), first.month % 12 + 1, 1)
        return first, date.fromordinal(nxt.toordinal() - 1)
    if not (date_from and date_to):
        raise UsageProblem("give --month YYYY-MM, or both --from and --to")
    if date_to < date_from:
        raise UsageProblem(f"--to {date_to} is before --from {date_from}")
    return date_from, date_to


def statements(*, session: Session, date_from: date, date_to: date, ref: str | None = None) -> list[dict]:
    holder = resolve(session, ref) if ref else None
    accounts = _accounts_of(session, holder)
    ids = [a.id for a in accounts]
    per_point = load_rulebook(session).decimal("point_value_sek", date_to)
    opening_q = select(Posting.account_id, func.sum(Posting.points)).where(Posting.booking_date < date_from)
    # Plain rows, not ORM objects: an export of every account reads every
    # posting of the period, and building entities costs far more than the query.
    entries_q = select(
        Posting.account_id,
        type_coerce(Posting.booking_date, String),  # ISO text on SQLite: no date objects
        type_coerce(Posting.value_date, String),
        Posting.kind,
        Posting.reference,
        Posting.memo,
        Posting.points,
    ).where(Posting.booking_date >= date_from, Posting.booking_date <= date_to)
    if holder is not None:
        opening_q = opening_q.where(Posting.account_id.in_(ids))
        entries_q = entries_q.where(Posting.account_id.in_(ids))
    opening = {a: int(s) for a, s in session.exec(opening_q.group_by(Posting.account_id)).all()}
    entries: dict[int, Records] = {}
    days: dict = {}

    def day(value) -> str:
        text = days.get(value)
        if text is None:
            text = days[value] = value if isinstance(value, str) else value.isoformat()
        return text

    # Core, not the ORM: plain tuples, no per-row ORM loading.  Read in id
    # order (the table's own order: no sort in SQLite); each account's lines
    # are then sorted by booking date, a stable sort, so the order is (booking
    # date, id) and nearly free (postings arrive mostly in date order).
    result = session.connection().execute(entries_q.order_by(Posting.id))
    moved: dict[int, int] = {}
    for account_id, booked, valued, kind, reference, memo, points in result:
        lines = entries.get(account_id)
        if lines is None:
            lines = entries[account_id] = Records()
            moved[account_id] = 0
        moved[account_id] += points
        lines.append(
            {
                "date": day(booked),
                "value_date": day(valued),
                "kind": kind,
                "reference": reference,
                "description": memo or _describe(kind),
                "points": points,
            }
        )
    by_date = itemgetter("date")
    for lines in entries.values():
        lines.sort(key=by_date)
    out = []
    for a in accounts:
        lines = entries.get(a.id, Records())
        first = opening.get(a.id, 0)
        closing = first + moved.get(a.id, 0)
        seller = a.holder == "seller"
        out.append(
            {
                "account": a.email if seller else a.code,
                "holder": a.seller_name if seller else a.partner_name,
                "partner": a.code,
                "period_from": date_from.isoformat(),
                "period_to": date_to.isoformat(),
                "opening_balance": first,
                "entries": lines,
                "closing_balance": closing,
                "as_of": today().isoformat(),
                "held": int(a.held),
                "available": int(a.balance) - int(a.held),
                "point_value_sek": per_point,
                "value_sek": (per_point * closing).quantize(Decimal("0.01")),
                "value": value_text(closing, per_point),
            }
        )
    return out


def _describe(kind: str) -> str:
    return {
        "contract": "points for a started contract",
        "redemption": "reward",
        "adjustment": "adjustment",
    }.get(kind, kind)
