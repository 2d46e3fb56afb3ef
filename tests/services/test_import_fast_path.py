"""The contract import's fast paths change nothing but speed.

* A row of plain values is parsed by a few checks (``_FastParse``); any other
  row by ``_parse``.  For any row, both give the same contract or the same
  errors.
* On SQLite, contracts and postings are written with the driver's
  executemany; with that switched off (the SQLAlchemy Core path other
  databases use) the same imports store the same rows.
"""

from __future__ import annotations

import csv
import io
import sqlite3
from datetime import date

import pytest
from factories import HEADER, add_seller, csv_input, enroll, import_contracts, small_program
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from loyaltyctl import ledger
from loyaltyctl.db import Database, resolve_url
from loyaltyctl.services import contracts as svc
from loyaltyctl.services import partners

pytestmark = pytest.mark.sqlite_only("SQLite's fast write path (driver executemany)")

TODAY = date(2026, 11, 22)

# Plain values (the fast path's) and odd ones (the full parse's), per column.
PLAIN = {
    "contract_id": ["K1", "x" * 64, "Kå", "K 3"],
    "start_date": ["2026-03-01", "2026-11-22"],
    "amount": ["1000", "1000.5", "1000.50", "0.01", "1000000000", "250000"],
    "product": ["leasing", "hyra"],
    "status": ["started", "registered", "cancelled"],
}
ODD = {
    "contract_id": [" K2 ", "", "K\x01", "x" * 65, "K\u2028", "'=K1", "'K1", "=K1", "''=K1"],
    "partner_code": ["acme", " BOLT", "BOLT ", "NOPE", "", "AC ME", "SUSP", "'BOLT", "'=BOLT"],
    "seller_email": [
        "ANNA@acme.se ",
        "nobody@x.se",
        "no-email",
        "",
        "sven@susp.se",
        "bo@bolt.se",
        "'bo@bolt.se",
    ],
    "start_date": ["2026-11-23", "2027-01-01", "2026-02-30", "2026-3-1", " 2026-03-01", "", "２026-03-01"],
    "amount": [
        "1000.505",
        "1000.500",
        "0",
        "0.00",
        "-5",
        "+5",
        " 5",
        "5 ",
        "1e5",
        "1000000000.01",
        "99999999999",
    ]
    + ["12,50", "1 000", "１０", "5.", ".5", "", "0001000.10"],
    "product": [" loan ", "", "p\x07", "y" * 65, "'=loan", "'-loan", "'loan", "-loan"],
    "status": ["STARTED", " registered", "done", ""],
}
PAIRS = [
    ("SUSP", "sven@susp.se"),
    ("ACME", "anna@acme.se"),
    ("ACME", "arne@acme.se"),
    ("BOLT", "bo@bolt.se"),
    ("BOLT", "britt@bolt.se"),
]
BASE = ["K1", "BOLT", "bo@bolt.se", "2026-03-01", "250000", "leasing", "started"]


def _line(fields: list[str]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(fields)
    return buf.getvalue()


def _both(look, fields: list[str]):
    src = csv_input(HEADER + _line(fields))
    records = list(src.records(svc.REQUIRED))
    if not records:
        return None  # an all-blank line is skipped before any parsing
    (record,) = records
    return _outcome(svc._FastParse(src, look, TODAY)(record)), _outcome(svc._parse(src, record, look, TODAY))


@pytest.fixture(scope="module")
def lookups(tmp_path_factory):
    """small_program plus SUSP, a suspended partner with one seller (blocked rows)."""
    database = Database(resolve_url(str(tmp_path_factory.mktemp("fast") / "loyalty.db")))
    database.init()
    small_program(database)
    enroll(database, "SUSP")
    add_seller(database, "sven@susp.se", "SUSP")
    with database.session(write=True) as s:
        partners.set_status(session=s, code="SUSP", status="suspended")
    with database.session() as s:
        look = svc.Lookups(s)
    assert look.partners["SUSP"][2] == "suspended"
    yield look
    database.dispose()


def _outcome(result):
    if isinstance(result, list):
        return ("errors", result)
    return (
        "row",
        result.contract_id,
        result.partner_id,
        result.seller_id,
        result.start_date,
        result.amount_ore,
        result.product,
        result.status,
        result.blocked,
    )


@pytest.mark.parametrize(
    ("column", "value"), [(c, v) for c, values in ODD.items() for v in values], ids=lambda v: repr(v)[:20]
)
def test_one_odd_value_gives_what_the_full_parse_gives(lookups, column, value):
    fields = list(BASE)
    fields[svc.REQUIRED.index(column)] = value
    fast, full = _both(lookups, fields)
    assert fast == full


def test_a_suspended_partners_row_gives_what_the_full_parse_gives(lookups):
    fast, full = _both(lookups, ["K9", "SUSP", "sven@susp.se", *BASE[3:]])
    assert fast == full
    assert fast[0] == "row" and "suspended" in fast[-1].reason


def test_a_surplus_or_missing_field_gives_what_the_full_parse_gives(lookups):
    for fields in (BASE + ["x"], BASE[:-1], BASE[:4] + ["12", "50"] + BASE[5:]):
        fast, full = _both(lookups, fields)
        assert fast == full and fast[0] == "errors"


COLUMNS = list(svc.REQUIRED)


@st.composite
def rows(draw) -> list[str]:
    code, email = draw(st.sampled_from(PAIRS))
    fields = [
        draw(st.sampled_from(PLAIN["contract_id"])),
        code,
        email,
        *(draw(st.sampled_from(PLAIN[c])) for c in COLUMNS[3:]),
    ]
    for column in draw(st.sets(st.sampled_from(COLUMNS), max_size=2)):
        fields[COLUMNS.index(column)] = draw(st.sampled_from(ODD[column]))
    return fields


@settings(max_examples=300, deadline=None)
@given(rows())
def test_fast_parse_agrees_with_the_full_parse(lookups, fields):
    both = _both(lookups, fields)
    assume(both is not None)  # an all-blank line is skipped before either parse
    assert both[0] == both[1]


def test_plain_rows_take_the_fast_path(lookups, monkeypatch):
    calls = []
    monkeypatch.setattr(svc, "_parse", lambda *a: calls.append(a) or [])
    src = csv_input(HEADER + "K1,BOLT,bo@bolt.se,2026-03-01,250000.5,leasing,started\n")
    (record,) = src.records(svc.REQUIRED)
    row = svc._FastParse(src, lookups, TODAY)(record)
    assert calls == []
    assert (row.contract_id, row.amount_ore, row.start_date) == ("K1", 25_000_050, date(2026, 3, 1))


ROWS = (
    "K1,ACME,anna@acme.se,2026-03-01,250000,leasing,started\n"
    "K2,BOLT,bo@bolt.se,2026-04-10,120000.50,loan,started\n"
    "K3,BOLT,britt@bolt.se,2026-05-05,80000,rental,registered\n"
    "K4,ACME,arne@acme.se,2026-06-30,999999.99,leasing,started\n"
)
CHANGES = (
    "K1,ACME,anna@acme.se,2026-03-01,250000,leasing,cancelled\n"
    "K2,BOLT,bo@bolt.se,2026-04-11,130000,loan,started\n"
    "K3,BOLT,britt@bolt.se,2026-05-05,80000,rental,started\n"
    "K5,BOLT,bo@bolt.se,2026-07-01,50000,loan,started\n"
)


def _dump(path) -> dict:
    con = sqlite3.connect(path)
    try:
        return {
            "contract": con.execute(
                "SELECT id, contract_id, partner_id, seller_id, start_date, amount_ore, product, status, "
                "revision, posted_account_id, posted_seller_id, posted_value_date, posted_points, "
                "last_batch_id, typeof(start_date), typeof(updated_at), length(updated_at) "
                "FROM contract ORDER BY id"
            ).fetchall(),
            "posting": con.execute(
                "SELECT id, idem_key, account_id, seller_id, contract_pk, points, kind, value_date, "
                "booking_date, reference, memo, actor, batch_id, typeof(value_date), length(booked_at) "
                "FROM posting ORDER BY id"
            ).fetchall(),
            "account": con.execute(
                "SELECT id, holder, seller_id, partner_id, balance FROM account ORDER BY id"
            ).fetchall(),
        }
    finally:
        con.close()


def _program(path, driver: bool, monkeypatch) -> dict:
    monkeypatch.setattr(ledger, "DRIVER_BULK", driver)
    database = Database(resolve_url(str(path)))
    database.init()
    try:
        small_program(database)
        assert import_contracts(database, ROWS).counts["new"] == 4
        summary = import_contracts(database, CHANGES)
        assert (summary.counts["new"], summary.counts["reversed"]) == (1, 1)
        assert import_contracts(database, CHANGES).counts["unchanged"] == 4
    finally:
        database.dispose()
    return _dump(path)


def test_both_write_paths_store_the_same_rows(tmp_path, monkeypatch):
    fast = _program(tmp_path / "driver.db", True, monkeypatch)
    core = _program(tmp_path / "core.db", False, monkeypatch)
    assert fast == core
    assert [r[1] for r in fast["contract"]] == ["K1", "K2", "K3", "K4", "K5"]
    # Dates stored as ISO text, timestamps as SQLAlchemy writes them (26 chars).
    assert {(r[14], r[15], r[16]) for r in fast["contract"]} == {("text", "text", 26)}
    assert {(r[13], r[14]) for r in fast["posting"]} == {("text", 26)}
    assert fast["contract"][0][4] == "2026-03-01"
    # K1 credited, then reversed by its cancellation; K2 moved: out and in.
    keys = [r[1] for r in fast["posting"]]
    assert "contract:K1:1:in" in keys and "contract:K1:2:delta" in keys
    assert "contract:K2:2:out" in keys and "contract:K2:2:in" in keys
