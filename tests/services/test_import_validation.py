"""Contract import validation and hostile/broken CSV input, through the service.

small_program: ACME pooled (anna, arne), BOLT individual (bo, britt).
Every test starts with one contract already imported (BASE, bo@bolt.se,
250 000 SEK started = 2 600 points), so "nothing was written" is checked
against a database that holds something.

Points with the default rules (no campaign):
    volume = floor(amount * 10 / 1000), count = 100, total = volume + count
    250 000       -> 2 500 + 100 = 2 600
    100 000.50    -> floor(1 000.005) = 1 000 + 100 = 1 100
    1 234 567.50  -> floor(12 345.675) = 12 345 + 100 = 12 445
    1 000         -> 10 + 100 = 110
    999.99        -> floor(9.9999) = 9 + 100 = 109
    0.01          -> 0 + 100 = 100
    1 000 000 000 -> 10 000 000 + 100 = 10 000 100
Columns: 1 contract_id, 2 partner_code, 3 seller_email, 4 start_date,
5 amount, 6 product, 7 status.  Today is pinned to 2026-11-22.
"""

from __future__ import annotations

import csv
import io

import pytest
from conftest import TODAY, build_template
from factories import HEADER, balance, build_program_db, csv_input
from sqlalchemy import inspect, text

from loyaltyctl.errors import RowError, RowsRejected, UsageProblem
from loyaltyctl.importers.csv_source import CHUNK, StructuralError
from loyaltyctl.services import contracts

SEMI_HEADER = HEADER.replace(",", ";")
BASE = "BASE,BOLT,bo@bolt.se,2026-01-10,250000,leasing,started\n"  # 2 600 points for bo
GOOD = "G1,BOLT,bo@bolt.se,2026-01-10,1000,leasing,started\n"  # 110 points for bo
DEFAULTS = {
    "contract_id": "X1",
    "partner_code": "BOLT",
    "seller_email": "bo@bolt.se",
    "start_date": "2026-01-10",
    "amount": "1000",
    "product": "leasing",
    "status": "started",
}
COLUMNS = list(DEFAULTS)
TABLES = ("partner", "seller", "account", "contract", "posting", "batch")


@pytest.fixture(scope="module")
def template(backend, request, tmp_path_factory):
    """The program database, built once; each test gets a copy (building it per
    test would cost most of this file's run time)."""
    return build_template(
        backend, request, tmp_path_factory, lambda t: build_program_db(t, BASE, today=TODAY)
    )


@pytest.fixture
def prog(template, _isolated, request):
    template.load(_isolated)
    return request.getfixturevalue("db")


def row(delimiter: str = ",", **over: str) -> str:
    """One CSV line (quoted where the csv module must quote) with fields overridden."""
    values = {**DEFAULTS, **over}
    buf = io.StringIO()
    csv.writer(buf, delimiter=delimiter, lineterminator="\n").writerow([values[c] for c in COLUMNS])
    return buf.getvalue()


def load(db, data: str | bytes, *, skip_invalid=False, encoding=None, chunk_rows=None, on_reject=None):
    kwargs = {} if chunk_rows is None else {"chunk_rows": chunk_rows}
    with db.session(write=True) as s:
        return contracts.import_contracts(
            session=s,
            src=csv_input(data, encoding=encoding),
            actor="tester",
            skip_invalid=skip_invalid,
            on_reject=on_reject,
            **kwargs,
        )


def snapshot(db) -> dict:
    """What a failed import must leave untouched: row counts, every contract row,
    every account's cached balance and the sum of its postings."""
    with db.engine.connect() as conn:

        def q(sql: str) -> list:
            return [tuple(r) for r in conn.execute(text(sql))]

        return {
            "counts": {t: q(f"SELECT count(*) FROM {t}")[0][0] for t in TABLES},
            "contracts": q(
                "SELECT contract_id, status, amount_ore, revision, posted_points FROM contract ORDER BY id"
            ),
            "balances": q("SELECT id, balance, held FROM account ORDER BY id"),
            "postings": q("SELECT account_id, sum(points) FROM posting GROUP BY account_id ORDER BY 1"),
        }


def rejected(db, data: str | bytes, **kw) -> list[RowError]:
    """The import fails as a whole (RowsRejected), writes nothing, and lists the errors."""
    before = snapshot(db)
    with pytest.raises(RowsRejected) as info:
        load(db, data, **kw)
    assert snapshot(db) == before
    for e in info.value.errors:
        what = f"{e.field}: " if e.field else ""
        assert str(e) == f"contracts.csv:{e.line}:{e.column}: {what}{e.reason}"
    return info.value.errors


def structural(db, data: str | bytes, **kw) -> RowError:
    """A structural error: raised as one StructuralError, nothing written."""
    before = snapshot(db)
    with pytest.raises(StructuralError) as info:
        load(db, data, **kw)
    assert snapshot(db) == before
    assert info.value.exit_code == 1
    return info.value.error


def show(db, contract_id: str) -> dict:
    with db.session() as s:
        return contracts.show_contract(session=s, contract_id=contract_id)


# -- accepted values and the points they earn -------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "amount_sek", "points_"),
    [
        ("250000", "250000.00", 2600),
        ("100000.50", "100000.50", 1100),
        ("999.99", "999.99", 109),
        ("0.01", "0.01", 100),
        ("00100", "100.00", 101),  # floor(1.0) + 100
        ("100.500", "100.50", 101),  # a trailing zero is not a third decimal
        ("1234567.50", "1234567.50", 12445),
        ("1000000000", "1000000000.00", 10_000_100),  # the limit itself is accepted
        ("1000000000.00", "1000000000.00", 10_000_100),
    ],
)
def test_comma_file_amounts_earn_by_the_formula(prog, amount, amount_sek, points_):
    s = load(prog, HEADER + row(amount=amount))
    assert (s.rows, s.counts["new"], s.counts["credited"], s.rejected) == (1, 1, 1, 0)
    assert s.points_posted == points_
    assert balance(prog, "bo@bolt.se") == 2600 + points_
    assert show(prog, "X1")["amount_sek"] == amount_sek
    assert (s.encoding, s.delimiter) == ("utf-8", ",")


@pytest.mark.parametrize(
    ("amount", "amount_sek", "points_"),
    [
        ("1 234 567,50", "1234567.50", 12445),
        ("1.234.567,50", "1234567.50", 12445),
        ("1\u00a0234\u00a0567,50", "1234567.50", 12445),  # no-break space
        ("1\u202f234\u202f567,50", "1234567.50", 12445),  # narrow no-break space
        ("1234567,50", "1234567.50", 12445),
        ("1234567,5", "1234567.50", 12445),
        ("250 000", "250000.00", 2600),
        ("100 000,50", "100000.50", 1100),
        ("1.500", "1500.00", 115),  # a point groups thousands in a semicolon file: 15 + 100
        ("1 000 000 000", "1000000000.00", 10_000_100),
    ],
)
def test_semicolon_file_amounts_use_decimal_comma_and_grouping(prog, amount, amount_sek, points_):
    s = load(prog, SEMI_HEADER + row(";", amount=amount))
    assert s.delimiter == ";"
    assert (s.counts["new"], s.rejected, s.points_posted) == (1, 0, points_)
    assert show(prog, "X1")["amount_sek"] == amount_sek
    assert balance(prog, "bo@bolt.se") == 2600 + points_


@pytest.mark.parametrize(
    ("over", "points_"),
    [
        pytest.param({"contract_id": "C" * 64}, 110, id="contract_id-64-chars"),
        pytest.param({"product": "p" * 64}, 110, id="product-64-chars"),
        pytest.param({"start_date": "2026-11-22"}, 110, id="started-today"),
        pytest.param({"start_date": "2026-11-23", "status": "registered"}, 0, id="registered-in-future"),
        pytest.param({"start_date": "2099-01-01", "status": "cancelled"}, 0, id="cancelled-in-future"),
        pytest.param({"status": "STARTED"}, 110, id="status-any-case"),
        pytest.param({"partner_code": "bolt"}, 110, id="partner-code-any-case"),
        pytest.param({"seller_email": "BO@Bolt.SE"}, 110, id="seller-email-any-case"),
        pytest.param({"start_date": "2024-02-29"}, 110, id="real-leap-day"),
    ],
)
def test_boundary_values_are_accepted(prog, over, points_):
    s = load(prog, HEADER + row(**over))
    assert (s.counts["new"], s.rejected, s.points_posted) == (1, 0, points_)
    assert balance(prog, "bo@bolt.se") == 2600 + points_


def test_the_64_char_ids_are_stored_whole(prog):
    load(prog, HEADER + row(contract_id="C" * 64, product="p" * 64))
    got = show(prog, "C" * 64)
    assert (got["contract_id"], got["product"]) == ("C" * 64, "p" * 64)


# -- rejected values: file:line:column: field: reason, nothing written ----------------------

ROW_CASES = [
    # partner / seller
    ({"partner_code": "NOPE"}, 2, "partner_code", "unknown partner NOPE"),
    ({"partner_code": ""}, 2, "partner_code", "empty"),
    ({"partner_code": "BO LT"}, 2, "partner_code", "may not contain spaces"),
    ({"seller_email": "nobody@bolt.se"}, 3, "seller_email", "unknown seller nobody@bolt.se"),
    ({"seller_email": "anna@acme.se"}, 3, "seller_email", "belongs to partner ACME, not BOLT"),
    ({"seller_email": "bo@"}, 3, "seller_email", "'bo@' is not an email address"),
    ({"seller_email": ""}, 3, "seller_email", "empty"),
    # dates: ISO only, real, a started contract not in the future
    ({"start_date": "2026-02-29"}, 4, "start_date", "'2026-02-29' is not a real date"),
    ({"start_date": "2026-13-01"}, 4, "start_date", "'2026-13-01' is not a real date"),
    ({"start_date": "2026/1/32"}, 4, "start_date", "'2026/1/32' is not a date (write YYYY-MM-DD)"),
    ({"start_date": "2026-01-10T10:00:00"}, 4, "start_date", "is not a date (write YYYY-MM-DD)"),
    ({"start_date": "2026-1-5"}, 4, "start_date", "is not a date (write YYYY-MM-DD)"),
    ({"start_date": "20260110"}, 4, "start_date", "is not a date (write YYYY-MM-DD)"),
    ({"start_date": "10/01/2026"}, 4, "start_date", "is not a date (write YYYY-MM-DD)"),
    ({"start_date": " 2026-01-10"}, 4, "start_date", "is not a date (write YYYY-MM-DD)"),
    ({"start_date": ""}, 4, "start_date", "empty"),
    (
        {"start_date": "2026-11-23"},
        4,
        "start_date",
        "a started contract cannot start in the future (2026-11-23 > 2026-11-22)",
    ),
    # amounts: a positive finite number, at most two decimals, at most 1 000 000 000
    ({"amount": "0"}, 5, "amount", "'0' is not positive"),
    ({"amount": "-0"}, 5, "amount", "'-0' is not positive"),
    ({"amount": "0.00"}, 5, "amount", "'0.00' is not positive"),
    ({"amount": "-5"}, 5, "amount", "'-5' is not positive"),
    ({"amount": "1e3"}, 5, "amount", "'1e3' is not an amount"),
    ({"amount": "NaN"}, 5, "amount", "'NaN' is not an amount"),
    ({"amount": "Infinity"}, 5, "amount", "'Infinity' is not an amount"),
    ({"amount": "-Infinity"}, 5, "amount", "'-Infinity' is not an amount"),
    ({"amount": "inf"}, 5, "amount", "'inf' is not an amount"),
    ({"amount": "+5"}, 5, "amount", "'+5' is not an amount"),
    ({"amount": "0x10"}, 5, "amount", "'0x10' is not an amount"),
    ({"amount": ".5"}, 5, "amount", "'.5' is not an amount"),
    ({"amount": "9223372036854775808"}, 5, "amount", "is above the limit of 1 000 000 000 SEK"),
    ({"amount": "1000000000.01"}, 5, "amount", "'1000000000.01' is above the limit of 1 000 000 000 SEK"),
    ({"amount": " 100"}, 5, "amount", "' 100' has spaces around it"),
    ({"amount": "100 "}, 5, "amount", "'100 ' has spaces around it"),
    ({"amount": "0.001"}, 5, "amount", "'0.001' has more than two decimals"),
    ({"amount": "12,50"}, 5, "amount", "'12,50' is not an amount (comma files use a point as decimal mark"),
    ({"amount": "1,234.50"}, 5, "amount", "comma files use a point as decimal mark"),
    ({"amount": "1 000"}, 5, "amount", "'1 000' is not an amount"),
    ({"amount": ""}, 5, "amount", "empty"),
    # status
    ({"status": "active"}, 7, "status", "'active' is not a status (registered, started or cancelled)"),
    ({"status": "start"}, 7, "status", "'start' is not a status"),
    ({"status": ""}, 7, "status", "'' is not a status"),
    # contract_id and product: 1-64 characters, no control characters
    ({"contract_id": ""}, 1, "contract_id", "empty"),
    ({"contract_id": "   "}, 1, "contract_id", "empty"),
    ({"contract_id": "C" * 65}, 1, "contract_id", "longer than 64 characters"),
    ({"contract_id": "C\x01"}, 1, "contract_id", "contains control characters"),
    ({"product": ""}, 6, "product", "empty"),
    ({"product": "p" * 65}, 6, "product", "longer than 64 characters"),
    ({"product": "x\ty"}, 6, "product", "contains control characters"),
]


@pytest.mark.parametrize(
    ("over", "column", "field", "reason"),
    [pytest.param(*c, id=f"{next(iter(c[0]))}={next(iter(c[0].values()))!r}") for c in ROW_CASES],
)
def test_an_invalid_field_is_named_and_nothing_is_written(prog, over, column, field, reason):
    # line 1 header, line 2 a valid row, line 3 the bad one
    errors = rejected(prog, HEADER + GOOD + row(**over))
    assert [(e.source, e.line, e.column, e.field) for e in errors] == [("contracts.csv", 3, column, field)]
    assert reason in errors[0].reason


def test_amount_digits_must_be_ascii(prog):
    errors = rejected(prog, HEADER + GOOD + row(amount="１０００") + row(contract_id="X2", amount="١٠٠٠"))
    assert [(e.line, e.column, e.field) for e in errors] == [(3, 5, "amount"), (4, 5, "amount")]


SEMI_CASES = [
    ("12.50", "'12.50' is not an amount (semicolon files write 1 234 567,50 or 1234567,50)"),
    ("1.5", "'1.5' is not an amount"),
    ("1 234.567,50", "'1 234.567,50' is not an amount"),  # mixed group separators
    ("1234 567,50", "'1234 567,50' is not an amount"),  # a group of four
    ("1  234,50", "'1  234,50' is not an amount"),  # two spaces
    ("12 34,50", "'12 34,50' is not an amount"),  # a group of two
    ("1e3", "'1e3' is not an amount"),
    ("1,005", "'1,005' has more than two decimals"),
    ("-1,00", "'-1,00' is not positive"),
    (" 1 234,50", "' 1 234,50' has spaces around it"),
    ("1 000 000 000,01", "'1 000 000 000,01' is above the limit of 1 000 000 000 SEK"),
]


@pytest.mark.parametrize(("amount", "reason"), SEMI_CASES, ids=[c[0] for c in SEMI_CASES])
def test_semicolon_file_bad_amounts(prog, amount, reason):
    good = GOOD.replace(",", ";")
    errors = rejected(prog, SEMI_HEADER + good + row(";", amount=amount))
    assert [(e.line, e.column, e.field) for e in errors] == [(3, 5, "amount")]
    assert reason in errors[0].reason


def test_suspended_partner_and_inactive_seller_are_refused(prog):
    with prog.session(write=True) as s:
        from loyaltyctl.services import partners, sellers

        partners.set_status(session=s, code="ACME", status="suspended")
        sellers.set_active(session=s, email="britt@bolt.se", active=False)
    errors = rejected(
        prog,
        HEADER
        + GOOD
        + row(contract_id="X1", partner_code="ACME", seller_email="anna@acme.se")
        + row(contract_id="X2", seller_email="britt@bolt.se"),
    )
    assert [(e.line, e.column, e.field, e.reason) for e in errors] == [
        (3, 2, "partner_code", "partner ACME is suspended"),
        (4, 3, "seller_email", "seller britt@bolt.se is inactive"),
    ]


def test_a_row_with_the_wrong_number_of_fields(prog):
    errors = rejected(
        prog,
        HEADER
        + "S1,BOLT,bo@bolt.se\n"  # line 2: 3 fields, the first missing one is column 4
        + "S2,BOLT,bo@bolt.se,2026-01-10,12,50,leasing,started\n"  # line 3: unquoted decimal comma
        + GOOD,
    )
    # The unquoted "12,50" splits the amount in two: the error names the amount column.
    assert [(e.line, e.column, e.field) for e in errors] == [(2, 4, ""), (3, 5, "amount")]
    assert errors[0].reason == "3 fields, the header has 7"
    assert errors[1].reason.startswith("'12,50' is not an amount (comma files use a point")
    assert str(errors[1]).startswith("contracts.csv:3:5: amount: '12,50'")


def test_one_field_too_many_without_a_split_amount_names_the_extra_column(prog):
    errors = rejected(prog, HEADER + "S2,BOLT,bo@bolt.se,2026-01-10,1250,leasing,started,extra\n" + GOOD)
    assert [(e.line, e.column, e.field) for e in errors] == [(2, 8, "")]
    assert errors[0].reason.startswith("8 fields, the header has 7 (a decimal comma")


def test_every_problem_of_a_row_is_listed(prog):
    errors = rejected(prog, HEADER + GOOD + "X9,NOPE,nobody@bolt.se,2026-02-30,0,,bogus\n")
    assert sorted((e.line, e.column, e.field) for e in errors) == [
        (3, 2, "partner_code"),
        (3, 3, "seller_email"),
        (3, 4, "start_date"),
        (3, 5, "amount"),
        (3, 6, "product"),
        (3, 7, "status"),
    ]


def test_every_bad_row_is_listed_and_valid_ones_are_not_written(prog):
    data = (
        HEADER
        + GOOD  # 2
        + "BASE,BOLT,bo@bolt.se,2026-01-10,250000,leasing,cancelled\n"  # 3: valid change
        + row(contract_id="B1", amount="0")  # 4
        + "\n"  # 5: blank, skipped but counted
        + row(contract_id="B2", start_date="2026-02-30")  # 6
        + row(contract_id="G2")  # 7
        + row(contract_id="B3", status="done")  # 8
    )
    errors = rejected(prog, data)
    assert [(e.line, e.column) for e in errors] == [(4, 5), (6, 4), (8, 7)]
    assert show(prog, "BASE")["status"] == "started"
    assert balance(prog, "bo@bolt.se") == 2600


def test_rows_rejected_message_and_exit_code(prog):
    with pytest.raises(RowsRejected) as info:
        load(prog, HEADER + row(contract_id="B1", amount="0") + row(contract_id="B2", amount="-1"))
    assert info.value.exit_code == 1
    assert str(info.value) == "2 invalid rows: nothing was written"
    assert "--skip-invalid" in info.value.hint


def test_rows_rejected_message_counts_rows_not_errors(prog):
    with pytest.raises(RowsRejected) as info:
        load(prog, HEADER + row(amount="0", start_date="2026-02-30"))
    assert str(info.value) == "1 invalid row: nothing was written"


# -- the same contract twice in one file ------------------------------------------------------

CHUNKINGS = [
    pytest.param(None, id="one-chunk"),
    pytest.param(1, id="chunk-per-row"),
]


@pytest.mark.parametrize("chunk_rows", CHUNKINGS)
def test_same_contract_twice_with_the_same_values_is_fine(prog, chunk_rows):
    s = load(prog, HEADER + row() + GOOD + row(), chunk_rows=chunk_rows)
    assert (s.rows, s.counts["new"], s.counts["unchanged"], s.rejected) == (3, 2, 1, 0)
    assert s.points_posted == 220
    assert balance(prog, "bo@bolt.se") == 2600 + 220


@pytest.mark.parametrize("chunk_rows", CHUNKINGS)
def test_same_contract_twice_with_other_values_is_an_error(prog, chunk_rows):
    errors = rejected(prog, HEADER + row() + GOOD + row(amount="2000"), chunk_rows=chunk_rows)
    assert [(e.line, e.column, e.field) for e in errors] == [(4, 1, "contract_id")]
    assert "contract X1 appears" in errors[0].reason
    assert errors[0].reason.endswith("with other values")
    if chunk_rows is None:
        assert "on line 2" in errors[0].reason


@pytest.mark.parametrize("chunk_rows", CHUNKINGS)
def test_same_contract_twice_skip_invalid_keeps_the_first(prog, chunk_rows):
    s = load(prog, HEADER + row() + row(amount="2000"), chunk_rows=chunk_rows, skip_invalid=True)
    assert (s.counts["new"], s.rejected, s.points_posted) == (1, 1, 110)
    assert show(prog, "X1")["amount_sek"] == "1000.00"


# -- --skip-invalid at the service level ----------------------------------------------------------


def test_skip_invalid_applies_the_valid_rows_and_reports_the_rest(prog):
    seen = []
    s = load(
        prog,
        HEADER + GOOD + row(contract_id="B1", amount="0") + row(contract_id="G2", amount="250000"),
        skip_invalid=True,
        on_reject=lambda src, record, errors: seen.append((record.line, record.fields[0], errors)),
    )
    assert (s.rows, s.counts["new"], s.rejected, s.points_posted) == (3, 2, 1, 110 + 2600)
    assert [(line, cid) for line, cid, _ in seen] == [(3, "B1")]
    assert [(e.line, e.column, e.field) for e in s.errors] == [(3, 5, "amount")]
    assert balance(prog, "bo@bolt.se") == 2600 + 110 + 2600


# -- SQL text is data -----------------------------------------------------------------------------


def test_sql_in_fields_is_stored_as_text(prog):
    product = "x'); DROP TABLE posting; --"
    cid = "Q1'; DELETE FROM contract; --"
    s = load(prog, HEADER + row(contract_id=cid, product=product))
    assert (s.counts["new"], s.points_posted) == (1, 110)
    got = show(prog, cid)
    assert (got["contract_id"], got["product"], got["points"]) == (cid, product, 110)
    with prog.engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
    assert {"posting", "contract", "account", "partner", "seller"} <= tables
    counts = snapshot(prog)["counts"]
    assert (counts["contract"], counts["posting"]) == (2, 2)


# -- header ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        "status,product,amount,start_date,seller_email,partner_code,contract_id",
        " Contract_ID , PARTNER_CODE ,Seller_Email,Start_Date,AMOUNT,Product,Status",
        '"contract_id","partner_code","seller_email","start_date","amount","product","status"',
    ],
    ids=["reversed", "case-and-spaces", "quoted"],
)
def test_columns_in_any_order_and_any_case(prog, header):
    names = [h.strip().strip('"').lower() for h in header.split(",")]
    values = {**DEFAULTS, "amount": "250000"}
    s = load(prog, header + "\n" + ",".join(values[n] for n in names) + "\n")
    assert (s.counts["new"], s.points_posted, s.ignored_columns) == (1, 2600, [])


def test_extra_columns_are_ignored_and_named(prog):
    data = "note,contract_id,partner_code,seller_email,start_date,amount,product,status,error\n"
    data += "hello,X1,BOLT,bo@bolt.se,2026-01-10,250000,leasing,started,old reason\n"
    s = load(prog, data)
    assert (s.counts["new"], s.points_posted) == (1, 2600)
    assert s.ignored_columns == ["note", "error"]


def test_an_unknown_column_may_repeat(prog):
    s = load(prog, HEADER.strip() + ",note,note\n" + row().strip() + ",a,b\n")
    assert (s.counts["new"], s.ignored_columns) == (1, ["note", "note"])


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("contract_id,partner_code,seller_email,start_date,product,status", "missing column amount"),
        ("contract_id,partner_code,seller_email,start_date,product", "missing columns amount, status"),
        ("contract_id\tpartner_code\tseller_email\tstart_date\tamount\tproduct\tstatus", "missing columns"),
        ("id,partner,seller,date,amount,product,status", "missing columns contract_id, partner_code"),
    ],
    ids=["one", "two", "tab-delimited", "other-names"],
)
def test_a_missing_column_is_named(prog, header, reason):
    err = structural(prog, header + "\n" + GOOD)
    assert (err.line, err.column) == (1, 0)
    assert reason in err.reason
    assert str(err) == f"contracts.csv:1:0: {err.reason}"


def test_a_missing_column_hint_names_the_header_and_delimiter(prog):
    with pytest.raises(StructuralError) as info:
        load(prog, "contract_id;partner_code\n")
    assert "contract_id,partner_code,seller_email,start_date,amount,product,status" in info.value.hint
    assert "delimiter read as ';'" in info.value.hint


@pytest.mark.parametrize(
    ("extra", "column", "field", "first"),
    [(",amount", 8, "amount", 5), (", Contract_ID ", 8, "contract_id", 1), (",status", 8, "status", 7)],
)
def test_a_duplicate_column_is_an_error(prog, extra, column, field, first):
    err = structural(prog, HEADER.strip() + extra + "\n" + GOOD.strip() + ",x\n")
    assert (err.line, err.column, err.field) == (1, column, field)
    assert err.reason == f"duplicate column (also column {first})"


# -- structural problems: one error, nothing written, even with skip_invalid -----------------


@pytest.mark.parametrize("skip_invalid", [False, True], ids=["all-or-nothing", "skip-invalid"])
@pytest.mark.parametrize(
    ("data", "line", "column", "reason"),
    [
        pytest.param(
            HEADER + GOOD + 'X2,BOLT,"bo@bolt.se,2026-01-10,1,x,started\n' + row(contract_id="X3") + GOOD,
            3,
            3,
            "a quote opened here is not closed on this line",
            id="quote-never-closed-mid-file",
        ),
        pytest.param(
            HEADER + GOOD + 'X2,BOLT,bo@bolt.se,2026-01-10,1,"x,started\n',
            3,
            6,
            "a quote opened here is not closed on this line",
            id="quote-never-closed-last-line",
        ),
        pytest.param(
            HEADER + GOOD + 'X2,BOLT,bo@bolt.se,2026-01-10,1,"x\ny",started\n' + row(contract_id="X3"),
            3,
            6,
            "a quote opened here is not closed on this line (the field runs to line 4)",
            id="quote-closed-on-a-later-line",
        ),
        pytest.param(
            HEADER + GOOD + 'X2,BOLT,bo@bolt.se,2026-01-10,1,"x\n\n\ny",started\n' + GOOD,
            3,
            6,
            "(the field runs to line 6)",
            id="quote-swallowing-blank-lines",
        ),
        pytest.param(
            HEADER + GOOD + "X2,BOLT,bo@bolt.se,2026-01-10,1,x\x00y,started\n",
            3,
            6,
            "NUL byte in field",
            id="nul-in-field",
        ),
        pytest.param(
            HEADER + GOOD + 'X2,BOLT,bo@bolt.se,2026-01-10,1,"x\x00y",started\n',
            3,
            6,
            "NUL byte in field",
            id="nul-in-quoted-field",
        ),
        pytest.param(
            HEADER + GOOD + "\x00\n",
            3,
            1,
            "NUL byte in field",
            id="nul-alone-on-a-line",
        ),
    ],
)
def test_structural_errors_stop_the_import(prog, data, line, column, reason, skip_invalid):
    err = structural(prog, data, skip_invalid=skip_invalid)
    assert (err.source, err.line, err.column) == ("contracts.csv", line, column)
    assert reason in err.reason


@pytest.fixture
def field_limit():
    """A small csv field limit, so the limit is tested without 131 072-character
    lines (those are tested for real through the CLI, tests/cli/test_import_cli.py)."""
    old = csv.field_size_limit(200)
    yield 200
    csv.field_size_limit(old)


@pytest.mark.parametrize("skip_invalid", [False, True], ids=["all-or-nothing", "skip-invalid"])
def test_a_field_over_the_csv_limit_stops_the_import(prog, field_limit, skip_invalid):
    data = HEADER.strip() + ",note\n" + GOOD.strip() + ",n\n" + row().strip() + "," + "n" * 201 + "\n"
    err = structural(prog, data, skip_invalid=skip_invalid)
    assert (err.line, err.column, err.field) == (3, 8, "note")
    assert err.reason == "field longer than 200 characters"


def test_a_field_of_exactly_the_csv_limit_is_read(prog, field_limit):
    s = load(prog, HEADER.strip() + ",note\n" + row().strip() + "," + "n" * 200 + "\n")
    assert (s.counts["new"], s.points_posted) == (1, 110)


def test_a_quote_that_never_closes_does_not_swallow_the_rest(prog):
    # Without the check, the csv module would read lines 3-5 as one field and
    # import nothing of them, silently.
    data = HEADER + GOOD + 'X2,BOLT,bo@bolt.se,2026-01-10,1,"x,started\n' + row(contract_id="X3") + GOOD
    err = structural(prog, data)
    assert err.line == 3
    assert snapshot(prog)["counts"]["contract"] == 1


def test_nul_in_header(prog):
    err = structural(prog, "contract_id,partner_code\x00\n")
    assert (err.line, err.reason) == (1, "NUL byte in the header")


def test_nul_in_header_names_the_csv_column(prog):
    err = structural(prog, "contract_id,partner_code\x00\n")
    assert err.column == 2


@pytest.mark.parametrize("data", ["", "\n", "\n\n  \n", "\r\n\r\n", "   "], ids=repr)
def test_an_empty_file_is_an_error(prog, data):
    err = structural(prog, data)
    assert (err.line, err.column) == (1, 0)
    assert err.reason == "the file is empty: expected a header line"


@pytest.mark.parametrize("data", [HEADER, HEADER.strip(), HEADER + "\n\n", "\n" + HEADER], ids=repr)
def test_a_header_only_file_does_nothing(prog, data):
    before = snapshot(prog)
    s = load(prog, data)
    assert (s.rows, s.rejected, s.points_posted, s.batch_id) == (0, 0, 0, None)
    assert not s.changed
    assert snapshot(prog) == before


# -- line endings ---------------------------------------------------------------------------------

THREE = [
    "A1,BOLT,bo@bolt.se,2026-01-10,250000,leasing,started",  # bo 2 600
    "A2,ACME,anna@acme.se,2026-01-10,100000.50,leasing,started",  # ACME pool 1 100
    "A3,ACME,arne@acme.se,2026-12-10,5,x,registered",  # nothing
]


@pytest.mark.parametrize("final", [True, False], ids=["final-newline", "no-final-newline"])
@pytest.mark.parametrize("eol", ["\n", "\r\n", "\r"], ids=["LF", "CRLF", "CR"])
def test_line_endings_give_the_same_result(prog, eol, final):
    data = eol.join([HEADER.strip(), *THREE]) + (eol if final else "")
    s = load(prog, data)
    assert (s.rows, s.counts["new"], s.counts["credited"], s.rejected, s.points_posted) == (3, 3, 2, 0, 3700)
    assert balance(prog, "bo@bolt.se") == 2600 + 2600
    assert balance(prog, "ACME") == 1100


@pytest.mark.parametrize("eol", ["\n", "\r\n", "\r"], ids=["LF", "CRLF", "CR"])
def test_line_numbers_count_blank_lines_with_any_line_ending(prog, eol):
    lines = [HEADER.strip(), GOOD.strip(), "", row(contract_id="B1", amount="0").strip(), "", ""]
    lines.append(row(contract_id="B2", status="x").strip())  # line 7, no final newline
    errors = rejected(prog, eol.join(lines))
    assert [(e.line, e.column) for e in errors] == [(4, 5), (7, 7)]


def test_mixed_line_endings_in_one_file(prog):
    data = HEADER.strip() + "\r\n" + GOOD.strip() + "\r" + "\r\n" + "\n" + row(amount="-1").strip() + "\r"
    # line 1 ends CRLF, line 2 CR, line 3 (blank) CRLF, line 4 (blank) LF, line 5 the bad row
    errors = rejected(prog, data)
    assert [(e.line, e.column) for e in errors] == [(5, 5)]


def _straddle(special: bytes, *, rest: bytes) -> tuple[bytes, int]:
    """A file whose bytes ``special`` start on the last byte of the first read
    chunk: the header, blank lines, row P1 ending in ``special``, then ``rest``.
    Returns the data and the line number of the first line of ``rest``."""
    head = (HEADER.strip() + ",note\r\n").encode()
    p1 = b"P1,BOLT,bo@bolt.se,2026-01-10,1000,leasing,started,"
    blank = CHUNK - 1 - len(head) - len(p1)
    data = head + b"\n" * blank + p1 + special
    assert data[CHUNK - 1 : CHUNK - 1 + len(special)] == special
    return data + rest, 1 + blank + 2


def test_crlf_split_across_read_chunks_is_one_line_ending(prog):
    data, line = _straddle(b"\r\n", rest=b"B1,BOLT,bo@bolt.se,2026-01-10,0,x,started,\r\n")
    errors = rejected(prog, data)
    assert [(e.line, e.column, e.field) for e in errors] == [(line, 5, "amount")]


def test_utf8_character_split_across_read_chunks_stays_utf8(prog):
    data, line = _straddle(
        "å\r\n".encode(), rest="Å1,BOLT,bo@bolt.se,2026-01-10,-1,lån,started,\r\n".encode()
    )
    errors = rejected(prog, data)
    assert [(e.line, e.column, e.reason) for e in errors] == [(line, 5, "'-1' is not positive")]
    s = load(prog, data.replace(b",-1,", b",1000,"))
    assert (s.encoding, s.notes, s.counts["new"], s.points_posted) == ("utf-8", [], 2, 220)
    assert show(prog, "Å1")["product"] == "lån"


def test_cp1252_byte_at_a_read_chunk_boundary_falls_back(prog):
    rest = "Å1,BOLT,bo@bolt.se,2026-01-10,-1,lån,started,\r\n".encode("cp1252")
    data, line = _straddle(b"\xe5\r\n", rest=rest)  # cp1252 'å' is the last byte of chunk 1
    errors = rejected(prog, data)
    assert [(e.line, e.column, e.reason) for e in errors] == [(line, 5, "'-1' is not positive")]
    s = load(prog, data.replace(b",-1,", b",1000,"))
    assert (s.encoding, s.counts["new"], s.points_posted) == ("cp1252", 2, 220)
    assert show(prog, "Å1")["product"] == "lån"


# -- encodings ------------------------------------------------------------------------------------

CP1252_SEMI = (SEMI_HEADER + "L1;BOLT;bo@bolt.se;2026-01-10;1 234 567,50;lån;started\n").encode("cp1252")


def test_utf8_with_bom(prog):
    s = load(prog, b"\xef\xbb\xbf" + (HEADER + row(product="lån")).encode())
    assert (s.encoding, s.notes, s.counts["new"], s.points_posted) == ("utf-8", [], 1, 110)
    assert show(prog, "X1")["product"] == "lån"


def test_not_utf8_is_read_as_windows_1252_with_a_note(prog):
    s = load(prog, CP1252_SEMI)
    assert (s.encoding, s.delimiter, s.points_posted) == ("cp1252", ";", 12445)
    assert s.notes == ["the file is not UTF-8: read as Windows-1252 (Excel's ANSI CSV)"]
    assert show(prog, "L1")["product"] == "lån"
    assert balance(prog, "bo@bolt.se") == 2600 + 12445


def test_cp1252_euro_sign(prog):
    # 0x80 is the euro sign in Windows-1252
    s = load(prog, (HEADER + row(product="5€ deal")).encode("cp1252"))
    assert (s.encoding, show(prog, "X1")["product"]) == ("cp1252", "5€ deal")


@pytest.mark.parametrize("encoding", ["cp1252", "windows-1252", "latin-1"])
def test_encoding_option_overrides_without_a_note(prog, encoding):
    s = load(prog, CP1252_SEMI, encoding=encoding)
    assert s.notes == []
    assert (s.counts["new"], s.points_posted) == (1, 12445)
    assert show(prog, "L1")["product"] == "lån"


def test_forcing_utf8_on_a_cp1252_file_names_the_line(prog):
    err = structural(prog, CP1252_SEMI, encoding="utf-8")
    assert (err.line, err.reason) == (2, "byte 0xE5 cannot be read as utf-8")


def test_forcing_utf8_on_a_file_with_bom(prog):
    s = load(prog, b"\xef\xbb\xbf" + (HEADER + row()).encode(), encoding="utf-8")
    assert s.counts["new"] == 1


def test_forcing_utf8_sig_on_a_file_with_bom(prog):
    s = load(prog, b"\xef\xbb\xbf" + (HEADER + row()).encode(), encoding="utf-8-sig")
    assert s.counts["new"] == 1


def test_mixed_utf8_and_cp1252_is_refused(prog):
    data = (HEADER + row(product="lån")).encode() + row(contract_id="X2", product="lån").encode("cp1252")
    err = structural(prog, data)
    assert err.line == 3
    assert "byte 0xE5 is not UTF-8, but UTF-8 text came before it (mixed encodings)" in err.reason


def test_a_byte_undefined_in_cp1252_is_refused(prog):
    data = (HEADER + row(product="lån")).encode("cp1252") + b"X2,BOLT,bo@bolt.se,2026-01-10,1,\x81,started\n"
    err = structural(prog, data)
    assert (err.line, err.reason) == (3, "byte 0x81 cannot be read as cp1252")


def test_a_file_ending_inside_a_forced_multibyte_character(prog):
    err = structural(prog, (HEADER + row()).encode() + b"X2,l\xc3", encoding="utf-8")
    assert "the file ends inside a utf-8 character" in err.reason


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_is_refused_with_a_hint(prog, codec):
    bom = {"utf-16": b"", "utf-16-le": b"\xff\xfe", "utf-16-be": b"\xfe\xff"}[codec]
    before = snapshot(prog)
    with pytest.raises(StructuralError) as info:
        load(prog, bom + (HEADER + row()).encode(codec))
    assert snapshot(prog) == before
    assert (info.value.error.line, info.value.error.reason) == (1, "the file is UTF-16 encoded")
    assert "--encoding utf-16" in info.value.hint


def test_utf16_with_the_encoding_option(prog):
    s = load(prog, (HEADER + row(product="lån")).encode("utf-16"), encoding="utf-16")
    assert (s.encoding, s.counts["new"], s.points_posted) == ("utf-16", 1, 110)
    assert show(prog, "X1")["product"] == "lån"


def test_unknown_encoding(prog):
    before = snapshot(prog)
    with pytest.raises(UsageProblem, match="--encoding 'klingon': unknown encoding"):
        load(prog, HEADER + row(), encoding="klingon")
    assert snapshot(prog) == before
