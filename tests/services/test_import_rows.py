"""The one parser of a contracts file (``services/contracts/rows.py``), field by field.

Partner codes, emails, dates, products and statuses are parsed once per
distinct text and remembered; the contract id and the amount, which do not
repeat, are read in their plain form without the field parser.  Whatever the
text, the parser gives the value or the reason ``importers.fields`` gives,
the first time and every time after.  No database is involved: the program
is a stub (``Lookups``' three tables and its look-alikes).
"""

from __future__ import annotations

import csv
import io
from datetime import date
from types import SimpleNamespace

import pytest
from factories import HEADER, csv_input
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from loyaltyctl.identities import Lookalikes
from loyaltyctl.importers import fields as F
from loyaltyctl.services.contracts import REQUIRED, Parser

pytestmark = pytest.mark.backend_independent("the parser reads records against a stub program")

TODAY = date(2026, 11, 22)
SELLERS = {"bo@bolt.se": (20, 2, True), "bert@bolt.se": (21, 2, False), "sven@susp.se": (30, 3, True)}
LOOK = SimpleNamespace(
    partners={"BOLT": (2, "individual", "active"), "SUSP": (3, "individual", "suspended")},
    sellers=SELLERS,
    partner_code={2: "BOLT", 3: "SUSP"},
    twin=Lookalikes(SELLERS).twin,
)
BASE = ["K1", "BOLT", "bo@bolt.se", "2026-03-01", "250000", "leasing", "started"]


def line(fields: list[str], delimiter: str = ",") -> str:
    buf = io.StringIO()
    csv.writer(buf, delimiter=delimiter, lineterminator="\n").writerow(fields)
    return buf.getvalue()


def parse_all(rows: list[list[str]], delimiter: str = ","):
    """Every row of one file through one parser (what it remembers carries over)."""
    src = csv_input(HEADER.replace(",", delimiter) + "".join(line(r, delimiter) for r in rows))
    records = src.records(REQUIRED)
    first = next(records, None)
    if first is None:
        return []
    parse = Parser(src, LOOK, TODAY).parse  # type: ignore[arg-type]
    return [parse(r) for r in [first, *records]]


def field_reason(parse, text: str):
    """What the field parser says: the value, or the reason."""
    try:
        return ("value", parse(text))
    except F.FieldError as exc:
        return ("error", str(exc))


def parsed_column(result, column: str):
    """The parser's verdict on one column of a row: its value, or its reason."""
    if isinstance(result, list):
        reasons = [e.reason for e in result if e.field == column]
        return ("error", reasons[0]) if reasons else None
    value = getattr(result, {"amount": "amount_ore"}.get(column, column))
    return ("value", value)


# Texts a contracts file may hold in one field: plain ones, and each way a
# field can go wrong (spaces, quotes, formula guards, control characters,
# other digits, signs, exponents, decimal commas, lengths).
TEXT = st.text(
    alphabet=st.sampled_from(list("K0123456789 .,'=-+e\t\x01\x7fåé١٢") + ["\u2028", "\u00a0"]), max_size=70
)
AMOUNT = st.one_of(
    TEXT,
    st.from_regex(r"-?[0-9]{1,12}(\.[0-9]{0,4})?", fullmatch=True),
    st.from_regex(r"[0-9]{1,3}( [0-9]{3})*(,[0-9]{1,3})?", fullmatch=True),
)


@settings(max_examples=400, deadline=None)
@given(text=TEXT)
def test_a_contract_id_reads_as_the_text_field_parser_reads_it(text):
    (result,) = parse_all([[text, *BASE[1:]]])
    expected = field_reason(lambda t: F.parse_text(t, max_len=64), text)
    assert parsed_column(result, "contract_id") == expected


@settings(max_examples=400, deadline=None)
@given(text=AMOUNT, delimiter=st.sampled_from([",", ";"]))
def test_an_amount_reads_as_the_amount_parser_reads_it(text, delimiter):
    rows = parse_all([[*BASE[:4], text, *BASE[5:]]], delimiter)
    assume(rows)  # (never empty: the other fields are not blank)
    (result,) = rows
    # An unquoted delimiter split the field: a width error, not an amount.
    assume(not (isinstance(result, list) and result[0].field == ""))
    expected = field_reason(lambda t: F.parse_amount(t, decimal_comma=delimiter == ";"), text)
    if expected[0] == "value":
        expected = ("value", int(expected[1] * 100))
    assert parsed_column(result, "amount") == expected


@settings(max_examples=200, deadline=None)
@given(texts=st.lists(st.tuples(TEXT, TEXT, TEXT), min_size=1, max_size=6))
def test_remembered_fields_give_what_they_gave_the_first_time(texts):
    """Codes, emails and dates repeat; each row still gets the field parser's
    verdict for its own text (the remembered one is the same)."""
    rows = [
        [f"K{i}", code, email, day, "1000", "leasing", "registered"]
        for i, (code, email, day) in enumerate(texts)
    ]
    for (code, email, day), result in zip(texts, parse_all(rows + rows), strict=False):
        assert parsed_column(result, "start_date") == field_reason(F.parse_date, day)
        code_says = field_reason(lambda t: F.parse_code(t, what="partner code"), code)
        if code_says[0] == "error":
            assert parsed_column(result, "partner_code") == code_says
        email_says = field_reason(F.parse_email, email)
        if email_says[0] == "error":
            assert parsed_column(result, "seller_email") == email_says


def test_a_plain_row_is_a_row():
    (row,) = parse_all([["K1", "BOLT", "bo@bolt.se", "2026-03-01", "250000.5", "leasing", "started"]])
    assert (row.contract_id, row.partner_id, row.seller_id, row.amount_ore, row.start_date) == (
        "K1",
        2,
        20,
        25_000_050,
        date(2026, 3, 1),
    )
    assert (row.product, row.status, row.blocked) == ("leasing", "started", None)


def test_spellings_are_normalised_and_a_formula_guard_taken_off():
    (row,) = parse_all([[" '=K1 ", " bolt", "BO@Bolt.se ", "2026-03-01", "1000", "'-leasing", " STARTED"]])
    assert (row.contract_id, row.partner_id, row.seller_id, row.product, row.status) == (
        "=K1",
        2,
        20,
        "-leasing",
        "started",
    )


def test_an_inactive_seller_or_a_suspended_partner_is_a_row_that_may_not_credit():
    bert, sven = parse_all(
        [
            ["K1", "BOLT", "bert@bolt.se", "2026-03-01", "1000", "leasing", "started"],
            ["K2", "SUSP", "sven@susp.se", "2026-03-01", "1000", "leasing", "started"],
        ]
    )
    assert str(bert.blocked) == "contracts.csv:2:3: seller_email: seller bert@bolt.se is inactive"
    assert str(sven.blocked) == "contracts.csv:3:2: partner_code: partner SUSP is suspended"


def test_every_problem_of_a_row_is_named_in_column_order():
    (errors,) = parse_all([["", "ACME", "bo@bolt.se", "2026-11-23", "0", "x" * 65, "done"]])
    assert [str(e) for e in errors] == [
        "contracts.csv:2:1: contract_id: empty",
        "contracts.csv:2:2: partner_code: unknown partner ACME",
        "contracts.csv:2:5: amount: '0' is not positive",
        "contracts.csv:2:6: product: longer than 64 characters",
        "contracts.csv:2:7: status: 'done' is not a status (registered, started or cancelled)",
    ]
    (errors,) = parse_all([["K1", "SUSP", "bo@bolt.se", "2026-11-23", "1000", "leasing", "started"]])
    assert [str(e) for e in errors] == [
        "contracts.csv:2:3: seller_email: seller bo@bolt.se belongs to partner BOLT, not SUSP",
        "contracts.csv:2:4: start_date: a started contract cannot start in the future "
        "(2026-11-23 > 2026-11-22)",
    ]


def test_an_unknown_seller_that_looks_like_a_known_one_is_named_as_a_look_alike():
    cyrillic_o = "b\u043e@bolt.se"
    lookalike, unknown = parse_all(
        [
            ["K1", "BOLT", cyrillic_o, "2026-03-01", "1000", "leasing", "started"],
            ["K2", "BOLT", "nobody@bolt.se", "2026-03-01", "1000", "leasing", "started"],
        ]
    )
    assert [str(e) for e in lookalike] == [
        f"contracts.csv:2:3: seller_email: unknown seller {cyrillic_o} "
        "(it looks like the address of seller bo@bolt.se: a look-alike)"
    ]
    assert [str(e) for e in unknown] == ["contracts.csv:3:3: seller_email: unknown seller nobody@bolt.se"]


def test_a_surplus_or_missing_field_is_named_once():
    surplus, missing, split = parse_all([BASE + ["x"], BASE[:-1], BASE[:4] + ["12", "50"] + BASE[5:]])
    assert [str(e) for e in surplus] == [
        "contracts.csv:2:8: 8 fields, the header has 7 "
        "(a decimal comma or an unquoted comma in a value? use a point as decimal mark)"
    ]
    assert [str(e) for e in missing] == ["contracts.csv:3:7: 6 fields, the header has 7"]
    assert [str(e) for e in split] == [
        "contracts.csv:4:5: amount: '12,50' is not an amount (comma files use a point as decimal mark "
        "and no thousands separator: write 12.50)"
    ]


# -- lines, as the CSV layer splits them (moved here with the import's tests) ------------------


def _reference_lines(text: str) -> list[str]:
    """Lines with their endings (LF, CRLF, a lone CR), one character at a time."""
    lines, line_ = [], ""
    for i, c in enumerate(text):
        line_ += c
        if c == "\n" or (c == "\r" and text[i + 1 : i + 2] != "\n"):
            lines.append(line_)
            line_ = ""
    return lines + [line_] if line_ else lines


@settings(max_examples=200, deadline=None)
@given(
    text=st.lists(st.sampled_from(["a", ",", '"', "é", "\r", "\n", "\r\n"]), max_size=30).map("".join),
    chunk=st.integers(1, 9),
)
def test_lines_split_as_one_character_at_a_time(text, chunk):
    """Whatever the read size (a CR at a chunk's end, CRLF or a UTF-8
    character across chunks, a line over several chunks)."""
    from loyaltyctl.importers import csv_source

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(csv_source, "CHUNK", chunk)
        assert list(csv_input(text)._lines()) == _reference_lines(text)
