"""A partner's change of mode (pooled <-> individual), without a point spent twice.

The rule: after any switch, the points the partner's people can spend in total
never exceed what they earned less what they spent and hold.  A switch moves
points between the pool and the sellers' own accounts, so it must move debts
with them, never leave a spent pool behind while the points it spent go on to
the sellers:

* **individual -> pooled**: every contract's points move to the pool (contract
  postings, so the one rule of the import keeps holding); then whatever else a
  seller's own account holds (quiz, lead and bonus points, adjustments, less
  what it spent; a debt too) moves to the pool as a ``transfer`` attributed to
  the seller.  Every own account ends at 0.
* **pooled -> individual**: every contract's points move to its seller's own
  account; then the other points the pool holds for a seller (postings
  attributed to the seller: quiz, lead, bonus, transfers in) move to that
  seller.  The pool keeps its own points: adjustments booked on it, less what
  it spent.  When it spent more than those, the sellers' points paid for the
  difference, and moving them to the sellers would let them be spent again: the
  switch is refused, naming the shortfall.
* Either way, a switch is refused while a redemption request is pending on one
  of the partner's accounts (the hold would otherwise stay behind, on points
  that move away).

Transfers are keyed ``transfer:<batch>:<seller id>:out|in``: the switch's own
batch (command ``partners mode change``, source the partner code), one pair per
seller.  A re-run of the same partners file changes no mode, so it posts
nothing.

``check`` is ``db check``'s ``spendable`` check: per partner, the points its
accounts have spent or hold beyond their balance (a negative available) must
be explained by contract clawbacks, the one way a balance may legally end
below zero.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import func, or_, select
from sqlmodel import Session

from ..clock import today
from ..ledger import Entry, Ledger, new_batch
from ..models import Account, Batch, Partner, Posting, Redemption, Seller

COMMAND = "partners mode change"
MAX_NAMED = 5


def _accounts(session: Session, partner_id: int) -> list[int]:
    """The partner's pool and its sellers' own accounts."""
    own = select(Seller.id).where(Seller.partner_id == partner_id)
    return list(
        session.exec(
            select(Account.id)
            .where(or_(Account.partner_id == partner_id, Account.seller_id.in_(own)))
            .order_by(Account.id)
        ).scalars()
    )


def _pool(session: Session, partner_id: int) -> int | None:
    return session.exec(select(Account.id).where(Account.partner_id == partner_id)).scalar()


def _pool_own_points(session: Session, partner_id: int, pool: int) -> tuple[int, int]:
    """(the pool's own points, the points it holds for the partner's sellers):
    postings attributed to none of its sellers, and those attributed to one."""
    sellers = select(Seller.id).where(Seller.partner_id == partner_id)
    mine = or_(Posting.seller_id.is_(None), Posting.seller_id.not_in(sellers))
    own = session.exec(
        select(func.coalesce(func.sum(Posting.points), 0)).where(Posting.account_id == pool, mine)
    ).scalar()
    theirs = session.exec(
        select(func.coalesce(func.sum(Posting.points), 0)).where(Posting.account_id == pool, ~mine)
    ).scalar()
    return int(own), int(theirs)


def refusal(session: Session, partner: Partner, new_mode: str) -> str | None:
    """Why ``partner`` (as stored) may not switch to ``new_mode`` now, or None."""
    assert partner.id is not None
    accounts = _accounts(session, partner.id)
    pending = (
        list(
            session.exec(
                select(Redemption.id)
                .where(Redemption.status == "pending", Redemption.account_id.in_(accounts))
                .order_by(Redemption.requested_at, Redemption.id)
            ).scalars()
        )
        if accounts
        else []
    )
    if pending:
        named = ", ".join(pending[:MAX_NAMED]) + (
            f" and {len(pending) - MAX_NAMED} more" if len(pending) > MAX_NAMED else ""
        )
        return (
            f"partner {partner.code} has {len(pending)} pending redemption request"
            f"{'s' if len(pending) != 1 else ''} ({named}), whose held points would stay behind "
            f"when its points move to the {'pool' if new_mode == 'pooled' else 'sellers'}: "
            "approve or reject them first (`loyaltyctl redemptions review`), then change the mode"
        )
    if new_mode == "individual":
        pool = _pool(session, partner.id)
        if pool is None:
            return None
        own, theirs = _pool_own_points(session, partner.id, pool)
        if own < 0:
            return (
                f"partner {partner.code}'s pool has spent {-own} points more than its own points "
                f"(adjustments booked on it): its sellers' points paid for them, and moving the sellers' "
                f"{theirs} points to them would let those {-own} be spent again; keep {partner.code} "
                f"pooled, or, if the office decides to give the {-own} points, book them first "
                f"(`loyaltyctl points adjust {partner.code} {-own} --reason ...`)"
            )
    return None


def move(*, session: Session, partner: Partner, actor: str) -> int:
    """After ``partner.mode`` changed (and ``refusal`` said nothing, and the new
    mode's accounts are open): move the points to where the new mode keeps
    them.  Returns the points moved into the new mode's accounts."""
    from .contracts import reroute_partner

    assert partner.id is not None
    pooled = partner.mode == "pooled"
    batch = new_batch(session, command=COMMAND, actor=actor, source=partner.code)
    ledger = Ledger(session, actor=actor, batch_id=batch)
    reroute_partner(session=session, partner_id=partner.id, ledger=ledger)
    pool = _pool(session, partner.id)
    assert pool is not None or not pooled
    sellers = select(Seller.id).where(Seller.partner_id == partner.id)
    if pooled:
        # What is left in each own account, whatever it is (the contract legs
        # above are already in the sums).
        rows = session.exec(
            select(Account.seller_id, Account.id, func.sum(Posting.points))
            .join(Posting, Posting.account_id == Account.id)
            .where(Account.seller_id.in_(sellers))
            .group_by(Account.seller_id, Account.id)
        ).all()
        moves = [(sid, aid, pool, int(total)) for sid, aid, total in rows if total]
        memo = "partner now pooled: the seller's other points move to the pool"
    else:
        own = dict(
            session.exec(select(Account.seller_id, Account.id).where(Account.seller_id.in_(sellers))).all()
        )
        rows = (
            session.exec(
                select(Posting.seller_id, func.sum(Posting.points))
                .where(Posting.account_id == pool, Posting.seller_id.in_(sellers))
                .group_by(Posting.seller_id)
            ).all()
            if pool is not None
            else []
        )
        moves = [(sid, pool, own[sid], int(total)) for sid, total in rows if total]
        memo = "partner now individual: the seller's other points move from the pool"
    day = today()
    entries = []
    for sid, source, target, points in sorted(moves):
        for leg, account, signed in (("out", source, -points), ("in", target, points)):
            entries.append(
                Entry(
                    idem_key=f"transfer:{batch}:{sid}:{leg}",
                    account_id=account,
                    points=signed,
                    kind="transfer",
                    value_date=day,
                    seller_id=sid,
                    reference=partner.code,
                    memo=memo,
                )
            )
    ledger.post_many(entries)
    ledger.flush()
    return sum(points for *_, points in moves)


def check(session: Session) -> list[str]:
    """Per partner: the points its accounts are short (spent or held beyond their
    balance) never exceed what contract changes took back from them (a
    cancellation after the points were spent is the one legal way below zero).
    Equivalently: what the partner's people can spend is at most what they
    earned (clawed-back points counted, as they may be spent) less what they
    spent and hold."""
    owner = func.coalesce(Account.partner_id, Seller.partner_id)
    names: dict[int, str] = {}
    short: dict[int, list[str]] = defaultdict(list)
    deficit: dict[int, int] = defaultdict(int)
    spendable: dict[int, int] = defaultdict(int)
    net: dict[int, int] = defaultdict(int)
    for pid, code, email, balance, held in session.exec(
        select(owner, Partner.code, Seller.email, Account.balance, Account.held)
        .select_from(Account)
        .outerjoin(Seller, Seller.id == Account.seller_id)
        .join(Partner, Partner.id == owner)
        .order_by(Partner.code, Account.id)
    ).all():
        names[pid] = code
        available = int(balance) - int(held)
        net[pid] += available
        if available < 0:
            deficit[pid] -= available
            short[pid].append(f"{email or code} {available}")
        else:
            spendable[pid] += available
    if not deficit:
        return []
    clawed = dict(
        session.exec(
            select(owner, func.sum(-Posting.points))
            .select_from(Posting)
            .join(Account, Account.id == Posting.account_id)
            .outerjoin(Seller, Seller.id == Account.seller_id)
            .outerjoin(Batch, Batch.id == Posting.batch_id)
            .where(
                Posting.kind == "contract",
                Posting.points < 0,
                or_(Batch.command.is_(None), Batch.command != COMMAND),
            )
            .group_by(owner)
        ).all()
    )
    problems = []
    for pid in sorted(deficit, key=lambda p: names[p]):
        back = int(clawed.get(pid) or 0)
        if deficit[pid] > back:
            problems.append(
                f"partner {names[pid]}: its accounts are {deficit[pid]} points short "
                f"({', '.join(short[pid])}) and contract clawbacks explain only {back} of it: "
                f"{spendable[pid]} points can be spent of the {net[pid] + back} earned less spent and held"
            )
    return problems
