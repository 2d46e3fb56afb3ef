"""One ordered scan of every posting, for ``db check`` and ``db seal``.

In id order, each posting is read once and:

* **chain**: its hash is recomputed from its content and the stored hash of
  the posting before it (``chain.link``) and compared with its own.  A
  posting changed in place, or one whose predecessor was removed or another
  slipped in before it, no longer matches; a posting written without a hash is
  named too.  Checking each posting against its stored predecessor names the
  posting where the chain breaks, not every one after it.
* **seal** (``db check --seal``): the chain is recomputed from the start
  from content alone, ignoring every stored hash, up to the sealed posting; its
  count and hash must be the seal's.  Rebuilding the stored hashes, the
  triggers and the cached balances after an edit does not help: the content
  up to the seal must be exactly what was sealed.
* **keys**: its idempotency key must agree with its content, kind by kind
  (``KEY_RULES``): a contract posting's key names its contract, a revision the
  contract reached and a leg whose sign fits; an adjustment's key carries its
  reference or a hash of account, points, reason and day; a quiz, lead, bonus
  or redemption posting's key names the source its reference and seller name.

The posting table is read through ``QUERY``, the one place that knows how a
posting's logical tuple is stored: a later physical layout rewrites it (and
only it) to give the same tuple.
"""

from __future__ import annotations

import calendar
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.engine import Connection

from ..chain import GENESIS, Seal, day, link

MAX_PROBLEMS = 50
SCAN_ROWS = 10_000

# The logical tuple the chain hashes (id, account, points, kind, value date,
# booking date, key, actor, batch), the stored hash, and what the key checks
# need: reference, seller, the contract's id and revision, an adjustment's reason.
QUERY = (
    "SELECT p.id, p.account_id, p.points, p.kind, p.value_date, p.booking_date, p.idem_key, p.actor, "
    "p.batch_id, p.chain_hash, p.reference, p.seller_id, p.contract_pk, "
    "CASE WHEN p.kind = 'adjustment' THEN p.memo END, c.contract_id, c.revision "
    "FROM posting p LEFT JOIN contract c ON c.id = p.contract_pk ORDER BY p.id"
)


@dataclass
class Problems:
    """The first ``MAX_PROBLEMS`` messages, and how many more there were."""

    items: list[str] = field(default_factory=list)
    more: int = 0

    def add(self, problem: str) -> None:
        if len(self.items) < MAX_PROBLEMS:
            self.items.append(problem)
        else:
            self.more += 1


@dataclass
class Scan:
    head: Seal  # the chain's head recomputed from content alone: count, last id, hash
    chain: Problems
    keys: Problems
    seal: Problems | None  # None: no seal given

    @property
    def chain_ok(self) -> bool:
        return not self.chain.items


def scan(conn: Connection, *, seal: Seal | None = None, keys: bool = True) -> Scan:
    """Read every posting once, in id order (see the module docstring)."""
    chain, key_problems = Problems(), Problems()
    prev = GENESIS  # the stored hash of the posting before (recomputed if it had none)
    full = GENESIS  # the chain recomputed from content alone
    diverged = False  # the stored chain broke before: ``full`` is no longer ``prev``
    count, prev_id = 0, None
    sealed: tuple[int, bytes] | None = None  # (count, full hash) at the sealed posting
    upto = 0  # postings with an id up to the seal's last
    limit = seal.last_id if seal is not None else -1
    rows = conn.execution_options(stream_results=True, yield_per=SCAN_ROWS).exec_driver_sql(QUERY)
    for row in rows:
        pid, account_id, points, kind, value_date, booking_date, key, actor, batch_id, stored = row[:10]
        try:
            vd, bd = day(value_date), day(booking_date)
            h = link(prev, account_id, points, kind, vd, bd, key, actor, batch_id)
        except (ValueError, TypeError, AttributeError):
            h = None
            chain.add(
                f"posting #{pid} {key!r}: account {account_id!r}, points {points!r} or a date "
                f"({value_date!r}, {booking_date!r}) is not what loyaltyctl writes"
            )
        if stored is not None:
            stored = bytes(stored)
        if stored is not None and stored == h:
            if diverged:  # an extra hash, only once the stored chain broke
                full = link(full, account_id, points, kind, vd, bd, key, actor, batch_id)
            else:
                full = h
            prev = stored
        else:
            if stored is None:
                chain.add(f"posting #{pid} {key!r} has no chain hash: it was not written by loyaltyctl")
            elif h is not None:
                after = f"posting #{prev_id}" if prev_id is not None else "the start of the ledger"
                chain.add(
                    f"posting #{pid} {key!r}: its hash does not match its content and {after}: "
                    "it was changed, or a posting before it was removed or inserted"
                )
            if h is None:
                full = b"malformed"  # cannot be a sealed hash
            elif diverged:
                full = link(full, account_id, points, kind, vd, bd, key, actor, batch_id)
            else:
                full = h
            diverged = True
            prev = stored if stored is not None else (h or prev)
        if pid <= limit:
            upto += 1
            if pid == limit:
                sealed = (upto, full)
        count += 1
        prev_id = pid
        if keys:
            problem = key_problem(row)
            if problem is not None:
                key_problems.add(f"posting #{pid} {key!r}: {problem}")
    head = Seal(count, prev_id or 0, full)
    return Scan(head, chain, key_problems, None if seal is None else _seal_problems(seal, sealed, upto))


def _seal_problems(seal: Seal, sealed: tuple[int, bytes] | None, upto: int) -> Problems:
    out = Problems()
    if seal.count == 0 and seal.last_id == 0:
        if upto:
            out.add(f"the seal was made on an empty ledger, yet {upto} postings have an id up to 0")
        return out
    if sealed is None:
        out.add(
            f"posting #{seal.last_id}, the last the seal covers, is missing ({upto} postings up to it, "
            f"the seal counted {seal.count}): postings were removed"
        )
        return out
    count, digest = sealed
    if count != seal.count:
        what = "removed" if count < seal.count else "inserted"
        out.add(
            f"{count} postings up to #{seal.last_id}, the seal counted {seal.count}: postings were {what}"
        )
    if digest != seal.hash:
        out.add(
            f"the postings up to #{seal.last_id} hash to {digest.hex()}, the seal says {seal.hash.hex()}: "
            "a posting up to the seal was changed, removed or inserted"
        )
    return out


# -- keys ---------------------------------------------------------------------------------
# Each kind's rule takes the scanned row and returns what is wrong, or None.
# Row fields: 0 id, 1 account, 2 points, 3 kind, 4 value date, 5 booking date,
# 6 key, 7 actor, 8 batch, 9 hash, 10 reference, 11 seller, 12 contract pk,
# 13 an adjustment's reason, 14 the contract's id, 15 its revision.


def _contract(row) -> str | None:
    key, points, reference, cpk, contract_id, revision = row[6], row[2], row[10], row[12], row[14], row[15]
    parts = key[len("contract:") :].rsplit(":", 2)
    if len(parts) != 3:
        return "not a contract key (contract:ID:REVISION:LEG)"
    cid, rev, leg = parts
    if contract_id is None:
        return f"it names no existing contract (contract #{cpk})"
    if cid != contract_id:
        return f"the key names contract {cid}, the posting belongs to contract {contract_id}"
    if reference != cid:
        return f"the key names contract {cid}, the posting's reference is {reference!r}"
    if not (rev.isascii() and rev.isdigit()) or not 1 <= int(rev) <= revision:
        return f"revision {rev} is not one contract {cid} reached (it is at revision {revision})"
    if leg not in ("in", "out", "delta"):
        return f"leg {leg!r} is not in, out or delta"
    if (leg == "in" and points <= 0) or (leg == "out" and points >= 0):
        return f"a leg {leg!r} of {points} points"
    return None


def _adjustment(row) -> str | None:
    account_id, points, value_date, key, reference, reason = row[1], row[2], row[4], row[6], row[10], row[13]
    if reference is not None:
        if key != f"adjust:{reference.strip()}":
            return f"the key does not carry its reference {reference!r}"
        return None
    parts = key[len("adjust:") :].rsplit(":", 2)
    if len(parts) != 3:
        return "not an adjustment key (adjust:REF or adjust:HOLDER:DAY:HASH)"
    _holder, on, digest = parts
    if on != day(value_date):
        return f"the key's day {on} is not the posting's value date {day(value_date)}"
    want = hashlib.sha256(f"{account_id}|{points}|{reason}|{on}".encode()).hexdigest()[:16]
    if digest != want:
        return (
            f"the key's hash {digest} is not that of account #{account_id}, {points} points, reason "
            f"{reason!r} on {on} ({want}): the adjustment was changed after it was made"
        )
    return None


def _quiz(row) -> str | None:
    key, reference, seller_id = row[6], row[10], row[11]
    parts = key[len("quiz:") :].rsplit(":", 1)
    if len(parts) != 2:
        return "not a quiz key (quiz:CODE:SELLER)"
    code, seller = parts
    if reference != code or seller != str(seller_id):
        return (
            f"the key names quiz {code} and seller #{seller}, the posting {reference!r} "
            f"and seller #{seller_id}"
        )
    return None


def _lead(row) -> str | None:
    key, reference = row[6], row[10]
    lead = key[len("lead:") :]
    if reference != f"lead #{lead}":
        return f"the key names lead #{lead}, the posting {reference!r}"
    return None


def _period_end(period: str) -> str | None:
    """The last day of ``YYYY-MM`` or ``YYYY``; None if it is neither."""
    try:
        if len(period) == 4:
            return f"{int(period):04d}-12-31"
        year, month = int(period[:4]), int(period[5:])
        if len(period) == 7 and period[4] == "-":
            return f"{year:04d}-{month:02d}-{calendar.monthrange(year, month)[1]:02d}"
    except ValueError:
        pass
    return None


def _bonus(row) -> str | None:
    value_date, key, reference, seller_id = row[4], row[6], row[10], row[11]
    parts = key[len("bonus:") :].rsplit(":", 1)
    if len(parts) != 2:
        return "not a bonus key (bonus:PERIOD:SELLER)"
    period, seller = parts
    if reference != f"leaderboard {period}" or seller != str(seller_id):
        return (
            f"the key names period {period} and seller #{seller}, the posting {reference!r} and "
            f"seller #{seller_id}"
        )
    end = _period_end(period)
    if end != day(value_date):
        return f"period {period} ends on {end}, the posting is valued {day(value_date)}"
    return None


def _redemption(row) -> str | None:
    points, key, reference = row[2], row[6], row[10]
    rid = key[len("redemption:") :]
    if reference != rid:
        return f"the key names request {rid}, the posting {reference!r}"
    if points >= 0:
        return f"a redemption of {points} points (a debit is negative)"
    return None


def _transfer(row) -> str | None:
    """A mode switch's transfer: ``transfer:<batch>:<seller id>:out|in``, the
    switch's own batch and the seller the points are attributed to."""
    batch_id, key, seller_id = row[8], row[6], row[11]
    parts = key[len("transfer:") :].split(":")
    if len(parts) != 3:
        return "not a transfer key (transfer:BATCH:SELLER:out|in)"
    batch, seller, leg = parts
    if batch != str(batch_id) or seller != str(seller_id):
        return (
            f"the key names batch {batch} and seller #{seller}, the posting batch {batch_id} "
            f"and seller #{seller_id}"
        )
    if leg not in ("out", "in"):
        return f"leg {leg!r} is not out or in"
    return None


# kind -> (key prefix, rule)
KEY_RULES: dict[str, tuple[str, Callable[[tuple], str | None]]] = {
    "contract": ("contract:", _contract),
    "adjustment": ("adjust:", _adjustment),
    "quiz": ("quiz:", _quiz),
    "lead": ("lead:", _lead),
    "bonus": ("bonus:", _bonus),
    "redemption": ("redemption:", _redemption),
    "transfer": ("transfer:", _transfer),
}


def key_problem(row) -> str | None:
    """What is wrong with a scanned posting's key, or None."""
    kind, key = row[3], row[6]
    rule = KEY_RULES.get(kind)
    if rule is None:
        return f"kind {kind!r} is not a kind of posting"
    prefix, check = rule
    if not isinstance(key, str) or not key.startswith(prefix):
        return f"a {kind} posting's key starts with {prefix!r}"
    try:
        return check(row)
    except (TypeError, ValueError, AttributeError) as exc:  # a value no writer stores
        return f"a value of the posting is not what loyaltyctl writes ({exc})"
