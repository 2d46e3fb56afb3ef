"""The re-import path (SQLite) changes nothing but speed.

A row whose fields are exactly its stored contract's canonical text is taken
as that contract without parsing (``contracts._COMPARE_RAW``); every other row
is parsed as before.  On random files mixing exact copies, other spellings of
the same values, changes, duplicates within and across chunks, unknown and
blocked sellers, future starts and blank fields, an import with the path on
and one with it off give the same summary, errors, rejects and tables.
"""

from __future__ import annotations

import csv
import io
import shutil
import sqlite3

import pytest
from factories import HEADER, add_seller, csv_input, enroll, small_program
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loyaltyctl.db import Database, resolve_url
from loyaltyctl.errors import RowsRejected
from loyaltyctl.services import contracts as svc
from loyaltyctl.services import partners, sellers

pytestmark = pytest.mark.sqlite_only("the re-import path reads ahead with SQLite's driver")

# The stored contracts: started, registered (one starting after today),
# cancelled, one of a partner suspended after the import, one of a seller
# deactivated after it, and a decimal-comma-free amount without öre.
INITIAL = [
    ["K1", "BOLT", "bo@bolt.se", "2026-03-01", "250000.00", "leasing", "started"],
    ["K2", "ACME", "anna@acme.se", "2026-04-10", "120000.50", "loan", "started"],
    ["K3", "BOLT", "britt@bolt.se", "2026-05-05", "80000.00", "rental", "registered"],
    ["K4", "ACME", "arne@acme.se", "2026-12-01", "999999.99", "leasing", "registered"],
    ["K5", "BOLT", "bo@bolt.se", "2026-06-30", "0.01", "loan", "cancelled"],
    ["K6", "SUSP", "sven@susp.se", "2026-02-02", "5000.00", "leasing", "started"],
    ["K7", "BOLT", "bert@bolt.se", "2026-07-07", "7000.70", "loan", "started"],
    ["K8", "ACME", "anna@acme.se", "2026-08-08", "8000.00", "rental", "started"],
]
# Other spellings of a field, changed values and invalid ones, per column.
VARIANTS = {
    0: [" K1", "K1 ", "K9", "K10", "", "'K2"],
    1: ["bolt", " BOLT ", "Bolt", "ACME", "NOPE", "", "SUSP"],
    2: ["Bo@bolt.se", " bo@bolt.se", "britt@bolt.se", "anna@acme.se", "nobody@x.se", "", "bert@bolt.se"],
    3: ["2026-03-02", "2026-11-23", "2026-02-30", "2026-3-1", " 2026-03-01", ""],
    4: ["250000", "250000.0", " 250000.00", "1000.5", "1000.50", "12,50", "0", "-5", ""],
    5: [" leasing", "loan", "", "'loan"],
    6: ["Started", " started", "STARTED", "registered", "cancelled", "started", "done", ""],
}


def _csv(rows: list[list[str]]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()


@st.composite
def files(draw) -> list[list[str]]:
    rows = []
    for _ in range(draw(st.integers(0, 14))):
        row = list(draw(st.sampled_from(INITIAL)))
        for column in draw(st.lists(st.integers(0, 6), max_size=2)):
            row[column] = draw(st.sampled_from(VARIANTS[column]))
        rows.append(row)
    # Exact copies again further on: duplicates within and across chunks.
    if rows and draw(st.booleans()):
        rows.extend(draw(st.lists(st.sampled_from(rows), max_size=4)))
    return draw(st.permutations(rows)) if draw(st.booleans()) else rows


_BASE: dict[str, object] = {}


def _base(tmp_path_factory) -> object:
    if "path" not in _BASE:
        path = tmp_path_factory.mktemp("reimport") / "base.db"
        database = Database(resolve_url(str(path)))
        database.init()
        try:
            small_program(database)
            enroll(database, "SUSP")
            add_seller(database, "sven@susp.se", "SUSP")
            add_seller(database, "bert@bolt.se", "BOLT")
            with database.session(write=True) as s:
                summary = svc.import_contracts(
                    session=s, src=csv_input(HEADER + _csv(INITIAL)), actor="tester", skip_invalid=False
                )
            assert summary.counts["new"] == 8
            with database.session(write=True) as s:
                partners.set_status(session=s, code="SUSP", status="suspended")
                sellers.set_active(session=s, email="bert@bolt.se", active=False)
        finally:
            database.dispose()
        _BASE["path"] = path
    return _BASE["path"]


def _dump(path) -> dict:
    con = sqlite3.connect(path)
    try:
        return {
            "contract": con.execute(
                "SELECT id, contract_id, partner_id, seller_id, start_date, amount_ore, product, status, "
                "revision, posted_account_id, posted_seller_id, posted_value_date, posted_points, "
                "last_batch_id FROM contract ORDER BY id"
            ).fetchall(),
            "posting": con.execute(
                "SELECT id, idem_key, account_id, seller_id, contract_pk, points, kind, value_date, "
                "booking_date, reference, memo, actor, batch_id FROM posting ORDER BY id"
            ).fetchall(),
            "batch": con.execute(
                "SELECT id, command, source_sha256, summary FROM batch ORDER BY id"
            ).fetchall(),
        }
    finally:
        con.close()


def _run(path, text: str, *, compare: bool, chunk_rows: int, skip_invalid: bool, monkeypatch) -> tuple:
    monkeypatch.setattr(svc, "_COMPARE_RAW", compare)
    rejects: list[tuple] = []

    def sink(src, record, errors) -> None:
        rejects.append((record.line, list(record.fields), [str(e) for e in errors]))

    database = Database(resolve_url(str(path)))
    try:
        try:
            with database.session(write=True) as s:
                summary = svc.import_contracts(
                    session=s,
                    src=csv_input(text),
                    actor="tester",
                    skip_invalid=skip_invalid,
                    on_reject=sink,
                    chunk_rows=chunk_rows,
                )
        except RowsRejected as exc:
            summary = exc.summary
        outcome = summary.as_dict()
    finally:
        database.dispose()
    return outcome, rejects, _dump(path)


@pytest.mark.slow  # a hypothesis property over whole files
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=files(),
    chunk_rows=st.sampled_from([1, 2, 3, 5, 2000]),
    prefetch=st.sampled_from([1, 3, 4, 2000]),
    skip_invalid=st.booleans(),
)
def test_the_re_import_path_gives_what_parsing_every_row_gives(
    tmp_path_factory, monkeypatch, rows, chunk_rows, prefetch, skip_invalid
):
    base = _base(tmp_path_factory)
    work = tmp_path_factory.mktemp("run")
    text = HEADER + _csv(rows)
    monkeypatch.setattr(svc, "PREFETCH_ROWS", prefetch)
    outcomes = []
    for compare in (True, False):
        path = work / f"{compare}.db"
        shutil.copy(base, path)
        outcomes.append(
            _run(
                path,
                text,
                compare=compare,
                chunk_rows=chunk_rows,
                skip_invalid=skip_invalid,
                monkeypatch=monkeypatch,
            )
        )
    assert outcomes[0] == outcomes[1]


def test_an_unchanged_file_is_taken_without_parsing_a_row(tmp_path_factory, tmp_path, monkeypatch):
    """The initial file again: every row but K6 (suspended partner), K7
    (inactive seller) and K4 (whose id is spelled ' K4') is an exact copy of
    its contract, and is not parsed."""
    path = tmp_path / "again.db"
    shutil.copy(_base(tmp_path_factory), path)  # built before the spy: its own import parses every row
    parsed = []
    fast = svc._FastParse.__call__
    monkeypatch.setattr(
        svc._FastParse, "__call__", lambda self, record: parsed.append(record.line) or fast(self, record)
    )
    rows = [list(r) for r in INITIAL]
    rows[3][0] = " K4"
    summary, rejects, _ = _run(
        path, HEADER + _csv(rows), compare=True, chunk_rows=3, skip_invalid=False, monkeypatch=monkeypatch
    )
    assert (summary["unchanged"], summary["rejected"], summary["batch_id"]) == (8, 0, None)
    assert rejects == []
    assert parsed == [5, 7, 8]  # K4, K6, K7 (line 1 is the header)


def _reference_lines(text: str) -> list[str]:
    """Lines with their endings (LF, CRLF, a lone CR), one character at a time."""
    lines, line = [], ""
    for i, c in enumerate(text):
        line += c
        if c == "\n" or (c == "\r" and text[i + 1 : i + 2] != "\n"):
            lines.append(line)
            line = ""
    return lines + [line] if line else lines


@pytest.mark.backend_independent("splitting a byte stream into lines")
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
