"""The ledger's hash chain, and the seal that anchors it outside the database.

Every posting carries ``chain_hash``: a hash of its *logical* content and of
the hash of the posting before it (by id; the first posting follows
``GENESIS``).  Changing, removing or inserting a posting therefore changes the
hash of every posting after it.  Anyone who can write to the database can also
compute hashes, so the chain alone only shows edits made without rebuilding it;
``db seal`` prints the chain's head as a token for the office to keep outside
the database, and ``db check --seal`` recomputes the chain from the postings'
content and proves that nothing up to that head changed.

The hashed tuple is the posting as the ledger means it, not as a table stores
it: account id, points, kind, value date, booking date, idempotency key (as
text), actor, batch id.  ``link`` is the one place that defines it; a later
physical layout (integer contract keys, actor and booking time held by the
batch row) must rebuild exactly this tuple and so keeps every stored hash.

Why a 16-byte BLAKE2b: the chain must resist a second preimage (a changed
posting that hashes as the sealed one did), and 128 bits cost 2^128 trials to
forge; a collision (two postings prepared in advance to share a hash) costs
2^64 and would need the forger to have both written by loyaltyctl.  It is
in the standard library and is among the fastest hashes there (about half a
microsecond per posting); ``person`` keeps these hashes apart from any other
use of BLAKE2b.  It is not a signature: the seal, kept elsewhere, is what an
editor of the database cannot reach.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from hashlib import blake2b

from .errors import UsageProblem

HASH_BYTES = 16
GENESIS = bytes(HASH_BYTES)  # what the first posting follows
_BASE = blake2b(digest_size=HASH_BYTES, person=b"loyaltyctl.chain")


def link(
    prev: bytes,
    account_id: int,
    points: int,
    kind: str,
    value_date: str,
    booking_date: str,
    idem_key: str,
    actor: str,
    batch_id: int | None,
) -> bytes:
    """The chain hash of a posting that follows the posting hashed ``prev``.

    The canonical text: account id and points in decimal (anything but an
    integer raises ValueError), then kind, value date, booking date (both
    ``YYYY-MM-DD``), idempotency key and actor, each as its length in
    characters, a colon and the text, then the batch id (empty for none),
    separated by newlines and encoded as UTF-8.  Lengths make the encoding
    unambiguous: no two tuples give the same bytes.  The hash is BLAKE2b-128
    (``person`` b"loyaltyctl.chain") of ``prev`` followed by that text."""
    h = _BASE.copy()
    h.update(prev)
    h.update(
        f"{account_id:d}\n{points:d}\n{len(kind)}:{kind}\n{len(value_date)}:{value_date}\n"
        f"{len(booking_date)}:{booking_date}\n{len(idem_key)}:{idem_key}\n{len(actor)}:{actor}\n"
        f"{'' if batch_id is None else format(batch_id, 'd')}".encode()
    )
    return h.digest()


def day(value: date | str) -> str:
    """A date as the chain hashes it: ``YYYY-MM-DD`` (SQLite's driver returns
    the stored text, PostgreSQL's a date)."""
    return value if value.__class__ is str else value.isoformat()  # type: ignore[union-attr]


# -- the seal ---------------------------------------------------------------------------
SEAL_PREFIX = "LS1"


def _check_digits(body: str) -> str:
    return blake2b(body.encode(), digest_size=2).hexdigest()


@dataclass(frozen=True, slots=True)
class Seal:
    """The chain's head: how many postings, the last one's id, its chain hash."""

    count: int
    last_id: int
    hash: bytes

    @property
    def token(self) -> str:
        """``LS1_<count>_<last id>_<hash, 32 hex>_<4 hex check digits>``: one
        word (a double-click selects it), safe in a mail or a report."""
        body = f"{SEAL_PREFIX}_{self.count}_{self.last_id}_{self.hash.hex()}"
        return f"{body}_{_check_digits(body)}"

    def as_dict(self) -> dict:
        return {"seal": self.token, "postings": self.count, "last_id": self.last_id, "hash": self.hash.hex()}

    @classmethod
    def parse(cls, text: str) -> Seal:
        """A token from ``db seal``; a mistyped one is a usage error (exit 2),
        never a false alarm about the ledger."""
        token = text.strip()
        parts = token.split("_")
        usage = f"--seal {token!r} is not a seal printed by `loyaltyctl db seal`"
        if len(parts) != 5 or parts[0].upper() != SEAL_PREFIX:
            raise UsageProblem(usage, hint=f"a seal reads {SEAL_PREFIX}_COUNT_LASTID_HASH_CHECK")
        _, count, last_id, digest, check = parts
        if not (count.isascii() and count.isdigit() and last_id.isascii() and last_id.isdigit()):
            raise UsageProblem(usage, hint="its count and last id are whole numbers")
        try:
            raw = bytes.fromhex(digest)
        except ValueError:
            raw = b""
        if len(raw) != HASH_BYTES:
            raise UsageProblem(usage, hint=f"its hash is {HASH_BYTES * 2} hexadecimal digits")
        body = f"{SEAL_PREFIX}_{int(count)}_{int(last_id)}_{raw.hex()}"
        if check.lower() != _check_digits(body):
            raise UsageProblem(
                f"--seal {token!r}: its check digits do not match; it was mistyped or cut short",
                hint="copy the seal again from where it was kept",
            )
        return cls(int(count), int(last_id), raw)
