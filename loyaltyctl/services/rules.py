"""Program rules: effective-dated versions, never edited.

A rule version applies from its ``valid_from`` date until the next version of
the same key.  Because points already earned must never change, a version may
not start on or before the value date of any contract points already posted.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from sqlalchemy import func, select
from sqlmodel import Session

from ..clock import now
from ..errors import NotFound, Refused, UsageProblem
from ..models import Posting, RuleVersion

# No rule needs more; a larger number is a typo, and would overflow a posting
# (checked by `rules set`, like the per-rule limits below).
MAX_WHOLE = 1_000_000_000


def _whole(text: str) -> int:
    """A non-negative whole number in ASCII digits ("1_000" is fine; "+5", "５",
    "1e3" are not)."""
    value = text.strip().replace("_", "")
    if value.startswith("-") and value[1:].isascii() and value[1:].isdigit():
        raise ValueError("may not be negative")
    if not (value.isascii() and value.isdigit()):
        raise ValueError("must be a whole number")
    return int(value)


def _sek(text: str) -> Decimal:
    try:
        value = Decimal(text.strip().replace(",", "."))
    except InvalidOperation:
        raise ValueError("must be an amount in SEK, e.g. 0.10") from None
    if not value.is_finite() or value < 0:
        raise ValueError("must be a non-negative amount in SEK")
    if value != value.quantize(Decimal("0.0001")):
        raise ValueError("has more than four decimals")
    return value


def _prizes(text: str) -> tuple[int, ...]:
    """Bonus points by rank, best first: "5000,3000,1000"."""
    try:
        values = tuple(_whole(part) for part in text.split(","))
    except ValueError:
        raise ValueError("must be whole numbers separated by commas, e.g. 5000,3000,1000") from None
    if not values or any(v == 0 for v in values):
        raise ValueError("must be positive whole numbers separated by commas, e.g. 5000,3000,1000")
    return values


@dataclass(frozen=True)
class RuleSpec:
    default: str
    parse: Callable[[str], object]
    help: str
    # Checked by `rules set` only (stored versions are read as they are, so a
    # tighter limit never makes an old database unreadable): a reason, or None.
    check: Callable[[object], str | None] | None = None


def _at_most(limit: int, unit: str) -> Callable[[object], str | None]:
    def check(value: object) -> str | None:
        assert isinstance(value, int)
        return f"is more than {limit:,} {unit}".replace(",", " ") if value > limit else None

    return check


MAX_BONUS, MAX_PRIZED_RANKS = 1_000_000, 100


def _prize_list(value: object) -> str | None:
    """Each prize at most MAX_BONUS, at most MAX_PRIZED_RANKS ranks, and never more
    for a lower rank: with shared ranks (1, 2, 2, 4) a seller tied for second
    must not get less than the one behind them would."""
    assert isinstance(value, tuple)
    if len(value) > MAX_PRIZED_RANKS:
        return f"has {len(value)} prizes; at most {MAX_PRIZED_RANKS} ranks get one"
    if max(value) > MAX_BONUS:
        return f"has a prize above {MAX_BONUS:,} points".replace(",", " ")
    for rank, (a, b) in enumerate(zip(value, value[1:], strict=False), start=1):
        if b > a:
            return f"gives rank {rank + 1} more than rank {rank} ({b} > {a}); prizes may not increase"
    return None


RULES: dict[str, RuleSpec] = {
    "points_per_1000_sek": RuleSpec("10", _whole, "points per 1 000 SEK financed"),
    "points_per_contract": RuleSpec("100", _whole, "points per started contract"),
    "point_value_sek": RuleSpec("0.10", _sek, "what one point is worth in SEK"),
    "welcome_quiz_days": RuleSpec(
        "90", _whole, "days after enrolment the welcome quiz may be awarded", _at_most(3650, "days")
    ),
    "lead_points": RuleSpec(
        "1000", _whole, "points for a tip that becomes a partner", _at_most(1_000_000, "points")
    ),
    "monthly_bonus": RuleSpec("5000,3000,1000", _prizes, "monthly leaderboard bonus by rank", _prize_list),
    "yearly_bonus": RuleSpec(
        "20000,15000,10000,8000,6000,5000,4000,3000,2000,1000",
        _prizes,
        "year-end leaderboard bonus by rank",
        _prize_list,
    ),
    "leaderboard_settle_days": RuleSpec(
        "5", _whole, "days after a period ends before it can be awarded", _at_most(365, "days")
    ),
    "review_confirm_points": RuleSpec(
        "10000",
        _whole,
        "an approval in `redemptions review` costing more points asks for a confirmation",
    ),
}


# Rules that contract points do not depend on (quizzes, leads, the leaderboard):
# what they gave is posted or stored once, so a new version may start any day.
NOT_CONTRACT_RULES = frozenset(
    {
        "welcome_quiz_days",
        "lead_points",
        "monthly_bonus",
        "yearly_bonus",
        "leaderboard_settle_days",
        "review_confirm_points",
    }
)


def as_text(value: object) -> str:
    """A parsed rule value written back as its canonical text."""
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    return str(value)


def parse_value(key: str, value: str) -> object:
    spec = RULES.get(key)
    if spec is None:
        raise NotFound(f"unknown rule {key!r}", hint="known rules: " + ", ".join(sorted(RULES)))
    try:
        return spec.parse(value)
    except ValueError as exc:
        raise UsageProblem(f"rule {key}: {value!r} {exc}") from None


class RuleBook:
    """All versions of all rules, loaded once per command."""

    def __init__(self, versions: list[RuleVersion]) -> None:
        self._by_key: dict[str, tuple[list[date], list[object], list[RuleVersion]]] = {}
        grouped: dict[str, list[RuleVersion]] = {}
        for v in sorted(versions, key=lambda v: (v.valid_from, v.created_at, v.id or 0)):
            grouped.setdefault(v.key, []).append(v)
        for key, vs in grouped.items():
            # Several versions on one date: the last written wins.
            dedup: dict[date, RuleVersion] = {}
            for v in vs:
                dedup[v.valid_from] = v
            ordered = sorted(dedup.values(), key=lambda v: v.valid_from)
            self._by_key[key] = (
                [v.valid_from for v in ordered],
                [parse_value(key, v.value) for v in ordered],
                ordered,
            )

    def value(self, key: str, on: date) -> object:
        entry = self._by_key.get(key)
        if entry is not None:
            dates, values, _ = entry
            i = bisect.bisect_right(dates, on) - 1
            if i >= 0:
                return values[i]
        return parse_value(key, RULES[key].default)

    def version(self, key: str, on: date) -> RuleVersion | None:
        entry = self._by_key.get(key)
        if entry is None:
            return None
        dates, _, versions = entry
        i = bisect.bisect_right(dates, on) - 1
        return versions[i] if i >= 0 else None

    def int(self, key: str, on: date) -> int:
        value = self.value(key, on)
        assert isinstance(value, int)
        return value

    def decimal(self, key: str, on: date) -> Decimal:
        value = self.value(key, on)
        assert isinstance(value, Decimal)
        return value


def load_rulebook(session: Session) -> RuleBook:
    return RuleBook(list(session.exec(select(RuleVersion)).scalars()))


def show_rules(*, session: Session, on: date) -> list[dict]:
    book = load_rulebook(session)
    rows = []
    for key in RULES:
        version = book.version(key, on)
        rows.append(
            {
                "key": key,
                "value": as_text(book.value(key, on)),
                "valid_from": version.valid_from.isoformat() if version else None,
                "source": "set" if version else "default",
                "description": RULES[key].help,
            }
        )
    return rows


def set_rule(*, session: Session, key: str, value: str, valid_from: date, actor: str) -> dict:
    """Add a rule version.  Returns what happened (``created`` or ``unchanged``)."""
    parsed = parse_value(key, value)
    check = RULES[key].check
    if isinstance(parsed, int) and parsed > MAX_WHOLE:
        problem: str | None = f"is more than {MAX_WHOLE:,}".replace(",", " ")
    else:
        problem = check(parsed) if check is not None else None
    if problem is not None:
        raise UsageProblem(f"rule {key}: {value!r} {problem}")
    book = load_rulebook(session)
    current = book.version(key, valid_from)
    if current is not None and current.valid_from == valid_from and book.value(key, valid_from) == parsed:
        return {
            "key": key,
            "value": as_text(parsed),
            "valid_from": valid_from.isoformat(),
            "result": "unchanged",
        }
    last_posted = session.exec(
        select(func.max(Posting.value_date)).where(Posting.kind == "contract")
    ).scalar()
    if last_posted is not None and valid_from <= last_posted and key not in NOT_CONTRACT_RULES:
        raise Refused(
            f"rule {key} from {valid_from}: contract points are already posted with value dates "
            f"up to {last_posted}, and a new version would change them",
            hint=f"start it after {last_posted}; correct the past with `points adjust`",
        )
    session.add(
        RuleVersion(key=key, value=as_text(parsed), valid_from=valid_from, created_at=now(), actor=actor)
    )
    return {"key": key, "value": as_text(parsed), "valid_from": valid_from.isoformat(), "result": "created"}


__all__ = ["RULES", "RuleBook", "load_rulebook", "set_rule", "show_rules"]
