"""Who a seller is: one email address, one seller, however it is typed.

Look-alike addresses must not become separate sellers (and earn apart):
``a@x.se`` with a zero-width space in it, with a Cyrillic ``а``, a fullwidth
``ａ`` or a soft hyphen, and the NFC and NFD spellings of ``jörg@x.se``, all
look the same on a screen.  So an address

* is refused when it holds an invisible or format character (Unicode's
  Default_Ignorable_Code_Point, the control, format, private-use, surrogate
  and unassigned categories, and separators): ``invisible_in``;
* is normalised: NFC, case-folded (``JÖRG`` and ``jörg`` are one), NFC again,
  and checked for syntax by email-validator (no DNS lookups):
  ``normalise_email``;
* may not name a *new* seller when its UTS #39 confusable skeleton (of its
  NFKC form) is that of an existing seller: ``Lookalikes``.  Lookups of existing sellers stay exact
  (on the normalised address); only a new address pays for a skeleton.

Libraries, not tables: email-validator for syntax, ICU (PyICU, through the
``pyicu-wheels`` binary wheels) for the Default_Ignorable property and for
confusable skeletons (``SpoofChecker.getSkeleton``: Unicode's own
implementation of UTS #39 over confusables.txt; ICU 77 carries Unicode 16).
Both are imported on first use, not when the CLI starts.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from functools import lru_cache


class BadEmail(ValueError):
    """Not a seller's address: the reason, for a person."""


# Invisible: what UTS #39 drops from a skeleton (Default_Ignorable_Code_Point)
# and what cannot be seen or typed on purpose in an address.
# (A plain space is left to the syntax check, which names it.)
_INVISIBLE = "[[[:Default_Ignorable_Code_Point:][:C:][:Z:]]-[\\u0020]]"


@lru_cache(maxsize=1)
def _invisible_set():
    import icu

    found = icu.UnicodeSet(_INVISIBLE)
    found.freeze()
    return found


def invisible_in(text: str) -> str | None:
    """The first invisible or format character of ``text``, described
    (``ZERO WIDTH SPACE, U+200B``), else None."""
    if text.isascii():
        bad = next((c for c in text if c < " " or c == "\x7f"), None)
    else:
        found = _invisible_set()
        bad = next((c for c in text if found.contains(c)), None)
    if bad is None:
        return None
    name = unicodedata.name(bad, "")
    return f"{name}, U+{ord(bad):04X}" if name else f"U+{ord(bad):04X}"


def fold(text: str) -> str:
    """NFC, case-folded, NFC again (folding can leave text unnormalised)."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", text).casefold())


@lru_cache(maxsize=65536)
def normalise_email(text: str) -> str:
    """``text`` (trimmed already) as the one spelling stored and looked up;
    ``BadEmail`` with the reason when it is no address a seller can have.
    Cached: an import names the same few thousand addresses over and over."""
    if not text:
        raise BadEmail("empty")
    bad = invisible_in(text)
    if bad is not None:
        raise BadEmail(f"{text!r} contains an invisible or format character ({bad}): type the address again")
    value = fold(text)
    if len(value) > 254:
        raise BadEmail(f"{text!r} is longer than 254 characters")
    from email_validator import EmailNotValidError, validate_email

    try:
        checked = validate_email(value, check_deliverability=False, allow_smtputf8=True)
    except EmailNotValidError as exc:
        raise BadEmail(f"{text!r} is not an email address ({exc})") from None
    return fold(checked.normalized)


@lru_cache(maxsize=1)
def _spoof_checker():
    import icu

    return icu.SpoofChecker()


def skeleton(email: str) -> str:
    """The UTS #39 confusable skeleton of an address: of its NFKC form,
    case-folded (confusables.txt leaves most compatibility characters to NFKC,
    which UTS #39's identifier profile applies first: a fullwidth ``ｂ`` has no
    entry of its own), and case-folded again after (it maps some characters to
    capitals, ``0`` -> ``O``, which would keep ``j0rg`` apart from ``jorg``).
    Two addresses with one skeleton look alike; a skeleton is a key, never
    shown."""
    key = unicodedata.normalize("NFKC", fold(email)).casefold()
    return fold(_spoof_checker().getSkeleton(0, key))


class Lookalikes:
    """Addresses by their skeleton, built once per command from the stored
    sellers (and kept up to date with the ones it adds): ``twin`` answers
    whether a new address looks like one already there."""

    def __init__(self, emails: Iterable[str] = ()) -> None:
        self._by_skeleton: dict[str, str] = {}
        for email in emails:
            self.add(email)

    def add(self, email: str) -> None:
        self._by_skeleton.setdefault(skeleton(email), email)

    def twin(self, email: str) -> str | None:
        """The existing address that ``email`` looks like, if another."""
        other = self._by_skeleton.get(skeleton(email))
        return other if other is not None and other != email else None


def lookalike_reason(email: str, twin: str) -> str:
    return (
        f"{email} looks like the address of existing seller {twin} (a look-alike: the same to the eye, "
        "Unicode's confusable skeleton, UTS #39)"
    )
