"""Parsing of single field values.  Each parser returns the value or raises
``FieldError`` with a reason a person can act on."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation

MAX_AMOUNT_SEK = Decimal("1000000000")
MAX_WHOLE = 1_000_000_000  # points, stock, quantities, counts: far below SQLite's 2**63


class FieldError(ValueError):
    pass


# What a spreadsheet would run as a formula (OWASP's CSV injection list).  CSV
# exports put a ' before such a text cell; text columns on import take exactly
# that one ' off again, so an export imports back as it was.  A text that
# already starts with quotes before such a character gets one more quote, so
# the two are exact inverses: '=x -> ''=x -> '=x.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")


def _formula_after_quotes(value: str) -> bool:
    return value.lstrip("'").startswith(FORMULA_START)


# A text whose first character is none of these needs no guard (the common
# case, checked first: exports neutralise every text cell).
_GUARD_FIRST = frozenset(("'", *FORMULA_START))


# A number as the exports write one (points, SEK with two decimals): a
# spreadsheet reads it as a number, never as a formula, so it needs no guard.
_PLAIN_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?", re.ASCII)


def neutralise(value: str) -> str:
    """A text cell for a CSV export: ``=SUM(A1)`` -> ``'=SUM(A1)``.  A plain
    number (``-100.00``, a negative balance's value in SEK) stays a number."""
    if not value or value[0] not in _GUARD_FIRST:
        return value
    if value[0] == "-" and _PLAIN_NUMBER.fullmatch(value):
        return value
    return "'" + value if _formula_after_quotes(value) else value


def neutralise_raw(field: str) -> str:
    """A field copied from an input file into a CSV (a rejects file): quote it
    only when it would run as a formula.  ``'=x`` is left as it is, so the
    import reads it back to what the original field gave."""
    return "'" + field if field.startswith(FORMULA_START) else field


def unneutralise(value: str) -> str:
    """The inverse, for text columns on import: ``'=SUM(A1)`` -> ``=SUM(A1)``;
    ``'abc`` and numbers stay as they are."""
    return value[1:] if value.startswith("'") and _formula_after_quotes(value) else value


# Comma files: "1234567.50".  Semicolon files: "1234567,50", "1 234 567,50",
# "1.234.567,50" (space, U+00A0, U+202F or point between groups of three).
# re.ASCII: \d is 0-9 only (Decimal would read any Unicode digit: "１０００").
_POINT_DECIMAL = re.compile(r"^-?\d+(?:\.\d+)?$", re.ASCII)
_COMMA_DECIMAL = re.compile(r"^-?(?:\d+|\d{1,3}(?:([ \u00a0\u202f.])\d{3})(?:\1\d{3})*)(?:,\d+)?$", re.ASCII)


def parse_amount(text: str, *, decimal_comma: bool) -> Decimal:
    """A positive SEK amount with at most two decimals, at most 1 000 000 000."""
    if text == "":
        raise FieldError("empty")
    if text != text.strip():
        raise FieldError(f"{text!r} has spaces around it")
    pattern = _COMMA_DECIMAL if decimal_comma else _POINT_DECIMAL
    if not pattern.match(text):
        if decimal_comma:
            raise FieldError(f"{text!r} is not an amount (semicolon files write 1 234 567,50 or 1234567,50)")
        if "," in text:
            raise FieldError(
                f"{text!r} is not an amount (comma files use a point as decimal mark "
                "and no thousands separator)"
            )
        raise FieldError(f"{text!r} is not an amount (write e.g. 250000 or 250000.50)")
    normal = text
    if decimal_comma:
        for sep in (" ", "\u00a0", "\u202f", "."):
            normal = normal.replace(sep, "")
        normal = normal.replace(",", ".")
    try:
        value = Decimal(normal)
    except InvalidOperation:  # pragma: no cover - the regex admits only digits
        raise FieldError(f"{text!r} is not an amount") from None
    if value <= 0:
        raise FieldError(f"{text!r} is not positive")
    if value > MAX_AMOUNT_SEK:
        raise FieldError(f"{text!r} is above the limit of 1 000 000 000 SEK")
    if value.as_tuple().exponent < -2 and value != value.quantize(Decimal("0.01")):
        raise FieldError(f"{text!r} has more than two decimals (öre)")
    return value.quantize(Decimal("0.01"))


def parse_cli_amount(text: str) -> Decimal:
    """An amount typed on the command line: either style is fine."""
    try:
        return parse_amount(text.strip(), decimal_comma=False)
    except FieldError:
        return parse_amount(text.strip(), decimal_comma=True)


# Digits 0-9 only, optionally grouped in threes by a space, U+00A0 or U+202F
# ("1 000"); no sign, no exponent, no decimals.
_WHOLE = re.compile(r"^(?:\d+|\d{1,3}(?:([ \u00a0\u202f])\d{3})(?:\1\d{3})*)$", re.ASCII)


def parse_whole(text: str, *, maximum: int = MAX_WHOLE) -> int:
    """A whole number as a file writes it: ``250``, ``1 000``, ``-5``; at most
    ``maximum`` either way.  The caller checks its own lower bound.

    A plus sign, ``-0``, an exponent (``1e3``), decimals, ``NaN``, ``Infinity``,
    spaces around the number and digits other than 0-9 are refused."""
    if text == "":
        raise FieldError("empty")
    if text != text.strip():
        raise FieldError(f"{text!r} has spaces around it")
    sign, digits = (text[0], text[1:]) if text[:1] in ("-", "+") else ("", text)
    if not _WHOLE.match(digits):
        raise FieldError(f"{text!r} is not a whole number (write e.g. 250 or 1 000)")
    value = int(re.sub(r"\D", "", digits))
    if sign == "+" or (sign and value == 0):
        raise FieldError(f"{text!r}: write the number without a sign")
    if value > maximum:
        raise FieldError(f"{text!r} is above the limit of {maximum:,}".replace(",", " "))
    return -value if sign else value


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$", re.ASCII)
# Every date in the program lies in these years, as every year option does
# (`report program --year`, leaderboard years): a start date of 1999 or 3026 is
# a typo, not a contract.
FIRST_DATE, LAST_DATE = date(2000, 1, 1), date(2999, 12, 31)


def parse_date(text: str) -> date:
    if text == "":
        raise FieldError("empty")
    if not _ISO_DATE.match(text):
        raise FieldError(f"{text!r} is not a date (write YYYY-MM-DD)")
    try:
        value = date.fromisoformat(text)
    except ValueError:
        raise FieldError(f"{text!r} is not a real date") from None
    return in_range(value, text)


def in_range(value: date, text: str) -> date:
    """``value`` if it lies in the program's years (2000-2999), else why not."""
    if value < FIRST_DATE:
        raise FieldError(f"{text!r} is before 2000-01-01 (the program has no earlier dates)")
    if value > LAST_DATE:
        raise FieldError(f"{text!r} is after 2999-12-31 (the program has no later dates)")
    return value


_TRUE = {"yes", "true", "1", "y", "ja"}
_FALSE = {"no", "false", "0", "n", "nej"}


def parse_bool(text: str) -> bool:
    low = text.strip().lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise FieldError(f"{text!r} is not yes/no, true/false or 1/0")


def parse_email(text: str) -> str:
    """A seller's (or partner's) address, normalised (see ``identities``):
    NFC and case-folded; an invisible or format character, or bad syntax, is
    refused with the reason."""
    from ..identities import BadEmail, normalise_email

    try:
        return normalise_email(unneutralise(text.strip()))
    except BadEmail as exc:
        raise FieldError(str(exc)) from None


def parse_code(text: str, *, what: str = "code", max_len: int = 64) -> str:
    """A partner code: case-insensitive, stored upper case."""
    value = unneutralise(text.strip()).upper()
    if not value:
        raise FieldError("empty")
    if len(value) > max_len:
        raise FieldError(f"longer than {max_len} characters")
    if any(c.isspace() for c in value) or any(ord(c) < 32 for c in value):
        raise FieldError(f"{text!r}: a {what} may not contain spaces or control characters")
    return value


def parse_text(text: str, *, max_len: int, required: bool = True) -> str:
    value = unneutralise(text.strip())
    if required and not value:
        raise FieldError("empty")
    if len(value) > max_len:
        raise FieldError(f"longer than {max_len} characters")
    if any(ord(c) < 32 for c in value):
        raise FieldError("contains control characters")
    return value
