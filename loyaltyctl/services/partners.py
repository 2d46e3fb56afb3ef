"""Partners: the resellers whose salespeople earn points."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlmodel import Session

from ..clock import now
from ..errors import Refused, UsageProblem
from ..importers import fields as F
from ..importers.csv_source import CsvInput
from ..models import Account, Partner, Seller
from .accounts import find_partner, partner_account, seller_account
from .batch import BatchSummary, RejectSink, RowProblems, Upserts, field_error, parse_row

MODES = ("individual", "pooled")
REQUIRED = ("code", "name")
OPTIONAL = ("mode", "consent", "email")


@dataclass(frozen=True)
class PartnerIn:
    code: str
    name: str
    mode: str = "individual"
    consent: bool = False
    email: str | None = None


def _mode(text: str) -> str:
    value = text.strip().lower()
    if value not in MODES:
        raise F.FieldError(f"{text!r} is not a mode (individual or pooled)")
    return value


def _optional_email(text: str) -> str | None:
    return F.parse_email(text) if text.strip() else None


PARSERS = {
    "code": lambda t: F.parse_code(t, what="partner code"),
    "name": lambda t: F.parse_text(t, max_len=200),
    "mode": _mode,
    "consent": F.parse_bool,
    "email": _optional_email,
}
DEFAULTS: dict[str, object] = {"mode": "individual", "consent": False, "email": None}
# In a file, a left-out or blank optional column keeps an existing partner's
# value (and takes the default for a new one).
KEEP = object()


def validate(p: PartnerIn) -> PartnerIn:
    """The same checks for the command line as for a file row."""
    try:
        return PartnerIn(
            code=PARSERS["code"](p.code),
            name=PARSERS["name"](p.name),
            mode=_mode(p.mode),
            consent=p.consent,
            email=_optional_email(p.email or ""),
        )
    except F.FieldError as exc:
        raise UsageProblem(f"partner {p.code!r}: {exc}") from None


def _active_sellers(session: Session, partner: Partner) -> int:
    return session.exec(
        select(func.count())
        .select_from(Seller)
        .where(Seller.partner_id == partner.id, Seller.active.is_(True))
    ).scalar()


def _complete(session: Session, p: PartnerIn) -> PartnerIn:
    """Fill the columns a file left out: from the stored partner, else defaults."""
    if KEEP not in (p.mode, p.consent, p.email):
        return p
    stored = session.exec(select(Partner).where(Partner.code == p.code)).scalar()
    base = public(stored) if stored is not None else DEFAULTS
    return PartnerIn(
        code=p.code,
        name=p.name,
        mode=base["mode"] if p.mode is KEEP else p.mode,
        consent=base["consent"] if p.consent is KEEP else p.consent,
        email=base["email"] if p.email is KEEP else p.email,
    )


def _apply(session: Session, p: PartnerIn, actor: str = "loyaltyctl") -> tuple[str, Partner, str | None]:
    """Create or update a partner.  Returns (outcome, partner, refusal reason)."""
    partner = session.exec(select(Partner).where(Partner.code == p.code)).scalar()
    if partner is None:
        partner = Partner(
            code=p.code,
            name=p.name,
            mode=p.mode,
            consent=p.consent,
            email=p.email,
            status="active",
            created_at=now(),
        )
        session.add(partner)
        session.flush()
        if partner.mode == "pooled":
            partner_account(session, partner)
        return "new", partner, None
    if (partner.name, partner.mode, partner.consent, partner.email) == (p.name, p.mode, p.consent, p.email):
        return "unchanged", partner, None
    if p.mode == "individual" and not p.consent and _active_sellers(session, partner):
        return (
            "refused",
            partner,
            (
                f"partner {p.code} has active sellers; without consent an individual-mode partner "
                f"cannot have sellers (deactivate them first, or use mode pooled)"
            ),
        )
    mode_changed = partner.mode != p.mode
    partner.name, partner.mode, partner.consent, partner.email = p.name, p.mode, p.consent, p.email
    session.add(partner)
    session.flush()
    if mode_changed:
        from .contracts import reroute_partner

        _open_accounts_for_mode(session, partner)
        assert partner.id is not None
        reroute_partner(session=session, partner_id=partner.id, actor=actor)
    return "updated", partner, None


def _open_accounts_for_mode(session: Session, partner: Partner) -> None:
    if partner.mode == "pooled":
        partner_account(session, partner)
        return
    for seller in session.exec(select(Seller).where(Seller.partner_id == partner.id)).scalars():
        seller_account(session, seller)


def enroll(*, session: Session, partner_in: PartnerIn) -> dict:
    p = validate(partner_in)
    existing = session.exec(select(Partner).where(Partner.code == p.code)).scalar()
    if existing is not None:
        same = (existing.name, existing.mode, existing.consent, existing.email) == (
            p.name,
            p.mode,
            p.consent,
            p.email,
        )
        if same:
            return {**public(existing), "result": "unchanged"}
        raise Refused(
            f"partner {p.code} is already enrolled, with other details",
            hint="change a partner through `loyaltyctl partners import`",
        )
    outcome, partner, _ = _apply(session, p)
    return {**public(partner), "result": outcome}


def import_partners(
    *,
    session: Session,
    src: CsvInput,
    skip_invalid: bool,
    on_reject: RejectSink | None = None,
    actor: str | None = None,
) -> BatchSummary:
    from ..clock import default_actor

    actor = actor or default_actor()
    run = Upserts("partners import", src, on_reject)
    for record in src.records(REQUIRED, OPTIONAL):
        with run.row(record):
            p = _complete(
                session, PartnerIn(**parse_row(src, record, PARSERS, dict.fromkeys(OPTIONAL, KEEP)))
            )
            run.once(record, "code", p.code, (p.name, p.mode, p.consent, p.email))
            outcome, _, refusal = _apply(session, p, actor)
            if refusal:
                raise RowProblems([field_error(src, record, "consent", refusal)])
            run.count(outcome)
    return run.finish(skip_invalid=skip_invalid)


def public(p: Partner) -> dict:
    return {
        "code": p.code,
        "name": p.name,
        "mode": p.mode,
        "consent": p.consent,
        "email": p.email,
        "status": p.status,
    }


def list_partners(*, session: Session, partner_id: int | None = None) -> list[dict]:
    """Partners with their active sellers and points held (all, or one)."""
    sellers = dict(
        session.exec(
            select(Seller.partner_id, func.count()).where(Seller.active.is_(True)).group_by(Seller.partner_id)
        ).all()
    )
    pool = dict(
        session.exec(select(Account.partner_id, Account.balance).where(Account.partner_id.is_not(None))).all()
    )
    own = dict(
        session.exec(
            select(Seller.partner_id, func.sum(Account.balance))
            .join(Account, Account.seller_id == Seller.id)
            .group_by(Seller.partner_id)
        ).all()
    )
    rows = []
    query = select(Partner).order_by(Partner.code)
    if partner_id is not None:
        query = query.where(Partner.id == partner_id)
    for p in session.exec(query).scalars():
        rows.append(
            {
                **public(p),
                "sellers": sellers.get(p.id, 0),
                "points": int(pool.get(p.id, 0) or 0) + int(own.get(p.id, 0) or 0),
            }
        )
    return rows


def show_partner(*, session: Session, code: str) -> dict:
    p = find_partner(session, code)
    (row,) = list_partners(session=session, partner_id=p.id)
    row["created_at"] = p.created_at.isoformat(sep=" ")
    row["sellers_inactive"] = session.exec(
        select(func.count()).select_from(Seller).where(Seller.partner_id == p.id, Seller.active.is_(False))
    ).scalar()
    acc = partner_account(session, p, create=False)
    row["pool_balance"] = acc.balance if acc else None
    return row


def set_status(*, session: Session, code: str, status: str) -> dict:
    p = find_partner(session, code)
    if p.status == status:
        return {**public(p), "result": "unchanged"}
    p.status = status
    session.add(p)
    return {**public(p), "result": "updated"}
