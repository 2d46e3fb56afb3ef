"""Campaigns: a multiplier on earning for a few weeks or days."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation

from sqlalchemy import func, select
from sqlmodel import Session

from ..clock import now
from ..errors import Refused, UsageProblem
from ..models import Campaign, Contract, Posting

MAX_MULTIPLIER = Decimal(10)


def parse_multiplier(text: str) -> Decimal:
    try:
        value = Decimal(text.strip().replace(",", "."))
    except InvalidOperation:
        raise UsageProblem(f"multiplier {text!r} is not a number (e.g. 1.5)") from None
    if not value.is_finite() or value <= 0:
        raise UsageProblem(f"multiplier {text!r} must be greater than 0")
    if value > MAX_MULTIPLIER:
        raise UsageProblem(f"multiplier {text!r} is above {MAX_MULTIPLIER} (a typo for 1.{text}?)")
    if value != value.quantize(Decimal("0.0001")):
        raise UsageProblem(f"multiplier {text!r} has more than four decimals")
    return value.normalize()


def _public(c: Campaign) -> dict:
    return {
        "name": c.name,
        "from": c.valid_from.isoformat(),
        "to": c.valid_to.isoformat(),
        "multiplier": c.multiplier,
        "product": c.product,
    }


def add_campaign(
    *,
    session: Session,
    name: str,
    valid_from: date,
    valid_to: date,
    multiplier: str,
    product: str | None,
    actor: str,
) -> dict:
    name = name.strip()
    if not name or len(name) > 100:
        raise UsageProblem("a campaign name must have 1 to 100 characters")
    if valid_to < valid_from:
        raise UsageProblem(f"campaign {name}: --to {valid_to} is before --from {valid_from}")
    mult = parse_multiplier(multiplier)
    product = product.strip() if product and product.strip() else None
    if product is not None and len(product) > 64:
        raise UsageProblem("a product name has at most 64 characters")

    existing = session.exec(select(Campaign).where(Campaign.name == name)).scalar()
    if existing is not None:
        same = (
            existing.valid_from == valid_from
            and existing.valid_to == valid_to
            and Decimal(existing.multiplier) == mult
            and (existing.product or "").lower() == (product or "").lower()
        )
        if same:
            return {**_public(existing), "result": "unchanged"}
        raise Refused(
            f"campaign {name!r} exists with other terms ({existing.valid_from} to "
            f"{existing.valid_to}, x{existing.multiplier}"
            f"{', ' + existing.product if existing.product else ''})",
            hint="campaigns are not edited once created; give the new one another name",
        )

    # A campaign must not change points already earned: the same test as for
    # rules, limited to the campaign's period (and product).
    earned = select(func.count(), func.max(Posting.value_date)).where(
        Posting.kind == "contract",
        Posting.value_date >= valid_from,
        Posting.value_date <= valid_to,
    )
    if product is not None:
        earned = earned.join(Contract, Contract.id == Posting.contract_pk).where(
            func.lower(Contract.product) == product.lower()
        )
    count, last = session.exec(earned).one()
    if count:
        raise Refused(
            f"campaign {name!r}: contract points are already posted with value dates in "
            f"{valid_from}..{valid_to} (the latest {last}); a campaign may not change earned points",
            hint=f"let it start after {last}; reward the past with `points adjust`",
        )
    campaign = Campaign(
        name=name,
        valid_from=valid_from,
        valid_to=valid_to,
        multiplier=str(mult),
        product=product,
        created_at=now(),
        actor=actor,
    )
    session.add(campaign)
    return {**_public(campaign), "result": "created"}


def list_campaigns(*, session: Session) -> list[dict]:
    rows = session.exec(select(Campaign).order_by(Campaign.valid_from, Campaign.name)).scalars()
    return [_public(c) for c in rows]
