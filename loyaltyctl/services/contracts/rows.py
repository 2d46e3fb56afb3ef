"""Reading a contracts file's rows: the one parser.

``Parser`` turns a record into a ``Row`` or the list of its problems, every
problem named (file, line, column, reason).  It is fast on the rows of an
ordinary file because each field is parsed once per distinct text: partner
codes, emails, dates, products and statuses repeat, and their parsed values
(or their errors) are kept in bounded tables; the contract id and the amount,
which do not repeat, take the field parser only when they are not already in
their plain form.  Either way the value and the reason are those of
``importers.fields``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from functools import partial

from ...errors import RowError
from ...importers import fields as F
from ...importers.csv_source import CsvInput, Record, check_width
from .lookups import Lookups
from .rule import Row

REQUIRED = ("contract_id", "partner_code", "seller_email", "start_date", "amount", "product", "status")
STATUSES = ("registered", "started", "cancelled")

# Parsed values kept per column (memory stays flat on a file of any size).
MEMO_LIMIT = 20_000

_MAX_ORE = int(F.MAX_AMOUNT_SEK) * 100
_SPLIT_DECIMAL = re.compile(r"-?[0-9]+,[0-9]{1,2}", re.ASCII)


def _status(text: str) -> str:
    value = text.strip().lower()
    if value not in STATUSES:
        raise F.FieldError(f"{text!r} is not a status (registered, started or cancelled)")
    return value


def _text(text: str) -> str:
    return F.parse_text(text, max_len=64)


def _code(text: str) -> str:
    return F.parse_code(text, what="partner code")


class _Column:
    """One column's field parser, remembering what each distinct text gave
    (the value, or the ``FieldError``)."""

    __slots__ = ("parse", "seen")

    def __init__(self, parse: Callable[[str], object]) -> None:
        self.parse = parse
        self.seen: dict[str, object] = {}

    def __call__(self, text: str) -> object:
        value = _field(self.parse, text)
        if len(self.seen) < MEMO_LIMIT:
            self.seen[text] = value
        return value


def _field(parse: Callable[[str], object], text: str) -> object:
    """The value, or the ``FieldError``."""
    try:
        return parse(text)
    except F.FieldError as exc:
        return exc


def _ore(parse_amount: Callable[[str], Decimal], text: str) -> object:
    """An amount in öre, or the ``FieldError``."""
    try:
        return int(parse_amount(text) * 100)
    except F.FieldError as exc:
        return exc


class Parser:
    """The rows of one contracts file, checked against the program (``look``)
    as of ``today``: ``Parser(src, look, today).parse(record)`` gives a
    ``Row`` or the list of the record's problems."""

    def __init__(self, src: CsvInput, look: Lookups, today: date) -> None:
        self.src, self.look, self.today = src, look, today
        self.numbers = tuple(src.columns[c] + 1 for c in REQUIRED)
        self.parse = self._parser()

    def _parser(self) -> Callable[[Record], Row | list[RowError]]:
        # Everything the loop needs is bound to a local name here: one row
        # costs a few dictionary lookups and no attribute lookups.
        src, today, problems, blocked = self.src, self.today, self._problems, self._blocked
        i_id, i_code, i_email, i_start, i_amount, i_product, i_status = (src.columns[c] for c in REQUIRED)
        width = len(src.header)
        decimal_comma = src.delimiter == ";"
        codes, emails, dates = _Column(_code), _Column(F.parse_email), _Column(F.parse_date)
        products, statuses = _Column(_text), _Column(_status)
        code_of, email_of, date_of = codes.seen.get, emails.seen.get, dates.seen.get
        product_of, status_of = products.seen.get, statuses.seen.get
        partner_of, seller_of = self.look.partners.get, self.look.sellers.get
        parse_amount = partial(F.parse_amount, decimal_comma=decimal_comma)

        def parse(record: Record) -> Row | list[RowError]:
            f = record.fields
            if len(f) != width:
                return [self._decimal_comma_in_comma_file(record) or check_width(src, record)]  # type: ignore[list-item]
            text = f[i_code]
            code = code_of(text) or codes(text)
            text = f[i_email]
            email = email_of(text) or emails(text)
            text = f[i_start]
            start = date_of(text) or dates(text)
            text = f[i_product]
            product = product_of(text) or products(text)
            text = f[i_status]
            status = status_of(text) or statuses(text)
            # The contract id and the amount do not repeat: their plain forms
            # are read here as the field parser reads them; any other by it.
            text = f[i_id]
            cid = text.strip()
            if not (0 < len(cid) <= 64 and cid.isprintable() and cid[0] != "'"):
                cid = _field(_text, text)
            text = f[i_amount]
            whole, point, cents = text.partition(".")
            if (
                not decimal_comma
                and whole.isdigit()
                and text.isascii()
                and len(whole) <= 10
                and (cents.isdigit() and len(cents) <= 2 if point else True)
            ):
                ore = int(whole) * 100 + (int(cents) * (10 if len(cents) == 1 else 1) if point else 0)
                if not 0 < ore <= _MAX_ORE:
                    ore = _ore(parse_amount, text)
            else:
                ore = _ore(parse_amount, text)
            partner = partner_of(code)  # type: ignore[arg-type]
            seller = seller_of(email)  # type: ignore[arg-type]
            if (
                partner is not None
                and seller is not None
                and seller[1] == partner[0]
                and type(start) is date
                and type(cid) is str
                and type(ore) is int
                and type(product) is str
                and type(status) is str
                and not (status == "started" and start > today)
            ):
                if partner[2] == "active" and seller[2]:
                    return Row(record, cid, partner[0], seller[0], start, ore, product, status)
                why = blocked(record, code, email, partner)  # type: ignore[arg-type]
                return Row(record, cid, partner[0], seller[0], start, ore, product, status, why)
            return problems(record, cid, code, email, start, ore, product, status, partner, seller)

        return parse

    def _problems(
        self, record, cid, code, email, start, ore, product, status, partner, seller
    ) -> list[RowError]:
        """Every problem of a row that is not valid, by column."""
        n_id, n_code, n_email, n_start, n_amount, n_product, n_status = self.numbers
        errors: list[tuple[int, str, str]] = []
        for number, name, value in (
            (n_id, "contract_id", cid),
            (n_code, "partner_code", code),
            (n_email, "seller_email", email),
            (n_start, "start_date", start),
            (n_amount, "amount", ore),
            (n_product, "product", product),
            (n_status, "status", status),
        ):
            if isinstance(value, F.FieldError):
                errors.append((number, name, str(value)))
        if isinstance(code, str) and partner is None:
            errors.append((n_code, "partner_code", f"unknown partner {code}"))
        if isinstance(email, str):
            if seller is None:
                twin = self.look.twin(email)
                look_alike = f" (it looks like the address of seller {twin}: a look-alike)" if twin else ""
                errors.append((n_email, "seller_email", f"unknown seller {email}{look_alike}"))
            elif partner is not None and seller[1] != partner[0]:
                errors.append(
                    (
                        n_email,
                        "seller_email",
                        f"seller {email} belongs to partner {self.look.partner_code[seller[1]]}, not {code}",
                    )
                )
        if status == "started" and isinstance(start, date) and start > self.today:
            errors.append(
                (
                    n_start,
                    "start_date",
                    f"a started contract cannot start in the future ({start} > {self.today})",
                )
            )
        errors.sort(key=lambda e: e[0])
        name, line = self.src.name, record.line
        return [RowError(name, line, number, column, reason) for number, column, reason in errors]

    def _blocked(self, record: Record, code: str, email: str, partner: tuple) -> RowError:
        """Why a valid row may not credit points."""
        if partner[2] != "active":
            return RowError(
                self.src.name, record.line, self.numbers[1], "partner_code", f"partner {code} is suspended"
            )
        return RowError(
            self.src.name, record.line, self.numbers[2], "seller_email", f"seller {email} is inactive"
        )

    def _decimal_comma_in_comma_file(self, record: Record) -> RowError | None:
        """``...,12,50,...`` in a comma file: one field too many, and the amount and
        the next field read together as a decimal-comma number.  Name the amount."""
        src = self.src
        if src.delimiter != "," or len(record.fields) != len(src.header) + 1:
            return None
        i = src.columns["amount"]
        joined = ",".join(record.fields[i : i + 2])
        if not _SPLIT_DECIMAL.fullmatch(joined):
            return None
        return RowError(
            src.name,
            record.line,
            i + 1,
            "amount",
            f"{joined!r} is not an amount (comma files use a point as decimal mark and no thousands "
            "separator: write 12.50)",
        )
