"""What a started contract earns: the one formula, used by the import, the
calculator and ``db check``.

    volume = floor(amount_sek x points_per_1000_sek / 1000)
    count  = points_per_contract
    total  = floor((volume + count) x m)

with the rules in force on the start date, and ``m`` the highest multiplier of
the campaigns covering the start date whose product matches (a campaign
without a product matches every product), 1 when none does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_FLOOR, Decimal

from sqlalchemy import select
from sqlmodel import Session

from ..models import Campaign
from .rules import RuleBook, load_rulebook

ONE = Decimal(1)


@dataclass(frozen=True, slots=True)
class CampaignTerms:
    name: str
    valid_from: date
    valid_to: date
    multiplier: Decimal
    product: str | None  # lower case

    def covers(self, on: date, product: str) -> bool:
        return self.valid_from <= on <= self.valid_to and (
            self.product is None or self.product == product.lower()
        )


@dataclass(frozen=True, slots=True)
class Breakdown:
    amount_ore: int
    start_date: date
    product: str
    points_per_1000_sek: int
    points_per_contract: int
    volume_points: int
    count_points: int
    multiplier: Decimal
    campaign: str | None
    total: int
    point_value_sek: Decimal

    @property
    def value_sek(self) -> Decimal:
        return (self.point_value_sek * self.total).quantize(Decimal("0.01"))


class Earning:
    """Rules and campaigns loaded once; memoises per (date, product)."""

    def __init__(self, rules: RuleBook, campaigns: list[CampaignTerms]) -> None:
        self.rules = rules
        self.campaigns = campaigns
        self._terms: dict[tuple[date, str], tuple[int, int, Decimal, str | None]] = {}

    @classmethod
    def load(cls, session: Session) -> Earning:
        return cls(load_rulebook(session), load_campaigns(session))

    def terms(self, on: date, product: str) -> tuple[int, int, Decimal, str | None]:
        key = (on, product)
        found = self._terms.get(key)
        if found is None:
            best: CampaignTerms | None = None
            for c in self.campaigns:
                if c.covers(on, product) and (best is None or c.multiplier > best.multiplier):
                    best = c
            found = (
                self.rules.int("points_per_1000_sek", on),
                self.rules.int("points_per_contract", on),
                best.multiplier if best else ONE,
                best.name if best else None,
            )
            self._terms[key] = found
        return found

    def points(self, amount_ore: int, on: date, product: str) -> int:
        per_1000, per_contract, mult, _ = self.terms(on, product)
        # amount_sek * per_1000 / 1000 == amount_ore * per_1000 / 100_000, exactly.
        volume = amount_ore * per_1000 // 100_000
        base = volume + per_contract
        if mult == ONE:
            return base
        return int((base * mult).to_integral_value(rounding=ROUND_FLOOR))

    def breakdown(self, amount_ore: int, on: date, product: str) -> Breakdown:
        per_1000, per_contract, mult, campaign = self.terms(on, product)
        volume = amount_ore * per_1000 // 100_000
        return Breakdown(
            amount_ore=amount_ore,
            start_date=on,
            product=product,
            points_per_1000_sek=per_1000,
            points_per_contract=per_contract,
            volume_points=volume,
            count_points=per_contract,
            multiplier=mult,
            campaign=campaign,
            total=self.points(amount_ore, on, product),
            point_value_sek=self.rules.decimal("point_value_sek", on),
        )


def load_campaigns(session: Session) -> list[CampaignTerms]:
    rows = session.exec(select(Campaign)).scalars()
    return [
        CampaignTerms(
            name=c.name,
            valid_from=c.valid_from,
            valid_to=c.valid_to,
            multiplier=Decimal(c.multiplier),
            product=c.product.lower() if c.product else None,
        )
        for c in rows
    ]
