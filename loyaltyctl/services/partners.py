"""Partners: the resellers whose salespeople earn points."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, insert, select
from sqlmodel import Session

from ..clock import now
from ..errors import Refused, UsageProblem
from ..importers import fields as F
from ..importers.csv_source import CsvInput
from ..models import Account, Partner, Seller
from .accounts import find_partner, partner_account
from .batch import BatchSummary, RejectSink, RowProblems, Upserts, field_error, parse_row

ACCOUNT = Account.__table__

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


class _Book:
    """Partners loaded once (by code), and what a run adds: new partners go out
    in one flush, with the pool accounts of the pooled ones."""

    def __init__(self, session: Session, partners: dict[str, Partner]) -> None:
        self.session = session
        self.partners = partners
        self.pools: list[Partner] = []  # new pooled partners, whose accounts follow the flush
        self._active: dict[int, int] | None = None

    @classmethod
    def everything(cls, session: Session) -> _Book:
        return cls(session, {p.code: p for p in session.exec(select(Partner)).scalars()})

    def active_sellers(self, partner: Partner) -> int:
        """Active sellers of a stored partner (counted for all partners at once,
        when first asked: an import does not change sellers)."""
        if self._active is None:
            self._active = dict(
                self.session.exec(
                    select(Seller.partner_id, func.count())
                    .where(Seller.active.is_(True))
                    .group_by(Seller.partner_id)
                ).all()
            )
        return self._active.get(partner.id, 0)  # type: ignore[arg-type]

    def flush(self) -> None:
        self.session.flush()
        if self.pools:
            self.session.add_all(
                Account(holder="partner", partner_id=p.id, balance=0, held=0) for p in self.pools
            )
            self.pools = []
            self.session.flush()


def _complete(book: _Book, p: PartnerIn) -> PartnerIn:
    """Fill the columns a file left out: from the stored partner, else defaults."""
    if KEEP not in (p.mode, p.consent, p.email):
        return p
    stored = book.partners.get(p.code)
    base = public(stored) if stored is not None else DEFAULTS
    return PartnerIn(
        code=p.code,
        name=p.name,
        mode=base["mode"] if p.mode is KEEP else p.mode,
        consent=base["consent"] if p.consent is KEEP else p.consent,
        email=base["email"] if p.email is KEEP else p.email,
    )


def _apply(
    book: _Book, p: PartnerIn, actor: str = "loyaltyctl"
) -> tuple[str, Partner, tuple[str, str] | None]:
    """Create or update a partner.  Returns (outcome, partner, refusal), the
    refusal as (column, reason).  A new partner (and its pool) is written by the
    book's next flush."""
    session = book.session
    partner = book.partners.get(p.code)
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
        book.partners[p.code] = partner
        session.add(partner)
        if partner.mode == "pooled":
            book.pools.append(partner)
        return "new", partner, None
    if (partner.name, partner.mode, partner.consent, partner.email) == (p.name, p.mode, p.consent, p.email):
        return "unchanged", partner, None
    if p.mode == "individual" and not p.consent and book.active_sellers(partner):
        return (
            "refused",
            partner,
            (
                "consent",
                f"partner {p.code} has active sellers; without consent an individual-mode partner "
                f"cannot have sellers (deactivate them first, or use mode pooled)",
            ),
        )
    mode_changed = partner.mode != p.mode
    if mode_changed:
        from . import modes

        refusal = modes.refusal(session, partner, p.mode)
        if refusal:
            return "refused", partner, ("mode", refusal)
    partner.name, partner.mode, partner.consent, partner.email = p.name, p.mode, p.consent, p.email
    session.add(partner)
    if mode_changed:
        session.flush()
        _open_accounts_for_mode(session, partner)
        modes.move(session=session, partner=partner, actor=actor)
    return "updated", partner, None


def _open_accounts_for_mode(session: Session, partner: Partner) -> None:
    if partner.mode == "pooled":
        partner_account(session, partner)
        return
    # Every seller without an own account gets one: one query, one insert.
    missing = session.exec(
        select(Seller.id)
        .outerjoin(Account, Account.seller_id == Seller.id)
        .where(Seller.partner_id == partner.id, Account.id.is_(None))
    ).scalars()
    rows = [
        {"holder": "seller", "seller_id": sid, "partner_id": None, "balance": 0, "held": 0} for sid in missing
    ]
    if rows:
        session.exec(insert(ACCOUNT), params=rows)


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
    book = _Book(session, {})
    outcome, partner, _ = _apply(book, p)
    book.flush()
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
    # Every partner loaded once: one query instead of two and a flush per row.
    book = _Book.everything(session)
    for record in src.records(REQUIRED, OPTIONAL):
        with run.row(record):
            p = _complete(book, PartnerIn(**parse_row(src, record, PARSERS, dict.fromkeys(OPTIONAL, KEEP))))
            run.once(record, "code", p.code, (p.name, p.mode, p.consent, p.email))
            outcome, _, refusal = _apply(book, p, actor)
            if refusal:
                raise RowProblems([field_error(src, record, *refusal)])
            run.count(outcome)
    book.flush()
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
