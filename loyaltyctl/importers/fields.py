"""Parsing of single field values.  Each parser returns the value or raises
``FieldError`` with a reason a person can act on."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation

MAX_AMOUNT_SEK = Decimal("1000000000")


class FieldError(ValueError):
    pass


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


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$", re.ASCII)


def parse_date(text: str) -> date:
    if text == "":
        raise FieldError("empty")
    if not _ISO_DATE.match(text):
        raise FieldError(f"{text!r} is not a date (write YYYY-MM-DD)")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise FieldError(f"{text!r} is not a real date") from None


_TRUE = {"yes", "true", "1", "y", "ja"}
_FALSE = {"no", "false", "0", "n", "nej"}


def parse_bool(text: str) -> bool:
    low = text.strip().lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise FieldError(f"{text!r} is not yes/no, true/false or 1/0")


_EMAIL = re.compile(r"^[^@\s,;<>\"]+@[^@\s,;<>\"]+\.[^@\s,;<>\"]+$")


def parse_email(text: str) -> str:
    value = text.strip().lower()
    if not value:
        raise FieldError("empty")
    if len(value) > 254 or not _EMAIL.match(value):
        raise FieldError(f"{text!r} is not an email address")
    return value


def parse_code(text: str, *, what: str = "code", max_len: int = 64) -> str:
    """A partner code: case-insensitive, stored upper case."""
    value = text.strip().upper()
    if not value:
        raise FieldError("empty")
    if len(value) > max_len:
        raise FieldError(f"longer than {max_len} characters")
    if any(c.isspace() for c in value) or any(ord(c) < 32 for c in value):
        raise FieldError(f"{text!r}: a {what} may not contain spaces or control characters")
    return value


def parse_text(text: str, *, max_len: int, required: bool = True) -> str:
    value = text.strip()
    if required and not value:
        raise FieldError("empty")
    if len(value) > max_len:
        raise FieldError(f"longer than {max_len} characters")
    if any(ord(c) < 32 for c in value):
        raise FieldError("contains control characters")
    return value
