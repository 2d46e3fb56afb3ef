"""Hostile and broken CSV input, for every command that reads a CSV file.

The matrix runs each case against each of the six CSV commands (``partners
import``, ``sellers import``, ``contracts import``, ``quiz award``, ``catalog
import``, ``redemptions import``), in-process for speed; a few run through a
real subprocess with real pipes.  A rejected case must exit non-zero with ONE
stderr line naming ``file:line:column`` and the reason, the other stderr lines
being only ``error:``/``hint:``/``note:`` lines, and leave every table of the
database exactly as it was.  An accepted case must exit 0 and store the row.

The program (built once per module): ACME pooled (anna, arne), BOLT individual
(bo, britt); contracts C1..C3 give the ACME pool 3 700 points and bo 2 600;
catalog MUG (500 points, 3 in stock) and TRIP (3 000); quiz Q1 with 10
questions at 50 points each.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import TODAY, build_template, raw_sql, table_names
from factories import create_quiz, rewards_program

from loyaltyctl.db import Database, resolve_url

SQL = "x'); DROP TABLE posting; --"
SQL_CODE = "X';DROP/**/TABLE/**/posting;--"  # codes and skus hold no spaces
SQL_EMAIL = "o'hara'--@acme.se"


@dataclass
class Command:
    name: str
    args: list[str]
    good: dict[str, str]  # one valid new row, header order
    table: str  # the table the good row lands in
    key: str  # the id column: the same id twice with other values is an error
    other: str  # a column whose value can differ for the same id
    other_value: str
    numeric: dict[str, dict[str, bool]] = field(default_factory=dict)  # column -> {value: accepted}
    dates: list[str] = field(default_factory=list)
    text: dict[str, str] = field(default_factory=dict)  # text column -> hostile SQL payload
    optional: list[str] = field(default_factory=list)

    def header(self) -> list[str]:
        return list(self.good)

    def row(self, **change: str) -> list[str]:
        return [change.get(c, v) for c, v in self.good.items()]

    def csv(self, *rows: list[str], header: list[str] | None = None, eol: str = "\n") -> str:
        lines = [",".join(header or self.header())] + [",".join(r) for r in rows]
        return eol.join(lines) + eol


# What an amount or count may look like (per column).  None of them takes a sign,
# an exponent, NaN, Infinity, spaces around it or non-ASCII digits.
HOSTILE_NUMBERS = [
    "0",
    "-0",
    "-5",
    "+5",
    "1e3",
    "NaN",
    "Infinity",
    "inf",
    str(2**63),
    str(2**64 + 1),
    " 5 ",
    "５",
    "12.50",
    "12,50",  # quoted: one field (unquoted, see test_a_decimal_comma_in_a_comma_file)
]


def numbers(accept: set[str], more: dict[str, bool] | None = None) -> dict[str, bool]:
    return {v: v in accept for v in HOSTILE_NUMBERS} | (more or {})


COMMANDS = [
    Command(
        "partners",
        ["partners", "import"],
        {
            "code": "NEWP",
            "name": "New Partner",
            "mode": "individual",
            "consent": "yes",
            "email": "info@newp.se",
        },
        table="partner",
        key="code",
        other="name",
        other_value="Other Name",
        text={"code": SQL_CODE, "name": SQL, "email": SQL_EMAIL},
        optional=["mode", "consent", "email"],
    ),
    Command(
        "sellers",
        ["sellers", "import"],
        {"email": "nils@acme.se", "name": "Nils", "partner_code": "ACME", "enrolled_on": "2026-11-01"},
        table="seller",
        key="email",
        other="name",
        other_value="Nisse",
        dates=["enrolled_on"],
        text={"email": SQL_EMAIL, "name": SQL},
        optional=["enrolled_on"],
    ),
    Command(
        "contracts",
        ["contracts", "import"],
        {
            "contract_id": "N1",
            "partner_code": "BOLT",
            "seller_email": "bo@bolt.se",
            "start_date": "2026-02-01",
            "amount": "100000",
            "product": "leasing",
            "status": "started",
        },
        table="contract",
        key="contract_id",
        other="amount",
        other_value="200000",
        numeric={"amount": numbers({"12.50"}, {"1000000000": True, "1000000000.01": False})},
        dates=["start_date"],
        text={"contract_id": SQL, "product": SQL},
    ),
    Command(
        "quiz",
        ["quiz", "award", "Q1"],
        # taken_on today: the sellers enrol today, and no quiz counts from before enrolment.
        {"seller_email": "anna@acme.se", "correct": "7", "taken_on": TODAY},
        table="quiz_award",
        key="seller_email",
        other="correct",
        other_value="8",
        numeric={"correct": numbers({"0"}, {"10": True, "11": False})},
        dates=["taken_on"],
        optional=["taken_on"],
    ),
    Command(
        "catalog",
        ["catalog", "import"],
        {"sku": "CAP", "name": "Cap", "points": "200", "stock": "4", "active": "yes"},
        table="catalog_item",
        key="sku",
        other="points",
        other_value="300",
        numeric={
            "points": numbers(set(), {"1 000": True, "1000000000": True, "1000000001": False}),
            "stock": numbers({"0"}, {"": True, "1 000": True}),
        },
        text={"sku": SQL_CODE, "name": SQL},
        optional=["stock", "active"],
    ),
    Command(
        "redemptions",
        ["redemptions", "import"],
        {"request_id": "RQ1", "account": "ACME", "sku": "MUG", "quantity": "1", "requested_at": "2026-11-20"},
        table="redemption",
        key="request_id",
        other="quantity",
        other_value="2",
        numeric={"quantity": numbers(set(), {"3": True, "4": False})},
        dates=["requested_at"],
        text={"request_id": SQL_CODE},
        optional=["requested_at"],
    ),
]
BY_NAME = {c.name: c for c in COMMANDS}
ALL = pytest.mark.parametrize("cmd", COMMANDS, ids=[c.name for c in COMMANDS])
# Encodings, quotes, NUL bytes, columns and field parsing happen before any
# database is involved: these run once (on SQLite).  The cases whose outcome
# depends on the database (ids seen twice, text stored verbatim, left-out
# columns) run on every backend.
READING_LAYER = pytest.mark.backend_independent("the CSV reading layer is the same code on every database")


@pytest.fixture(scope="module")
def template(backend, request, tmp_path_factory):
    import os

    def build(target: str) -> None:
        old = os.environ.get("LOYALTYCTL_TODAY")
        os.environ["LOYALTYCTL_TODAY"] = TODAY
        try:
            database = Database(resolve_url(target))
            database.init()
            rewards_program(database)
            create_quiz(database, "Q1", questions=10, points=50)
            database.dispose()
        finally:
            if old is None:
                del os.environ["LOYALTYCTL_TODAY"]
            else:
                os.environ["LOYALTYCTL_TODAY"] = old

    return build_template(backend, request, tmp_path_factory, build)


# The dump of a fresh copy, per backend (made once: every copy is the same).
_TEMPLATE_DUMP: dict[str, dict[str, list]] = {}


@pytest.fixture
def prog(template, _isolated, db_url, tmp_path, monkeypatch):
    """A fresh copy of the program (its database URL); ``before_dump(prog)`` is its dump."""
    template.load(_isolated)
    monkeypatch.chdir(tmp_path)
    if template.backend not in _TEMPLATE_DUMP:
        _TEMPLATE_DUMP[template.backend] = dump(db_url)
    return db_url


def before_dump(url: str) -> dict[str, list]:
    return _TEMPLATE_DUMP["sqlite" if url.startswith("sqlite") else "postgresql"]


def dump(url: str) -> dict[str, list]:
    """Every row of every table, in a stable order."""
    return {t: sorted(map(repr, raw_sql(url, f'SELECT * FROM "{t}"'))) for t in table_names(url)}


def write(name: str, data: str | bytes) -> str:
    Path(name).write_bytes(data.encode() if isinstance(data, str) else data)
    return name


def run(cli, cmd: Command, data: str | bytes, *extra: str, name: str = "in.csv"):
    return cli(*cmd.args, write(name, data), *extra)


def rejected(result, db_path: str, before: dict, where: str, reason: str, code: int = 1) -> str:
    """Exit code; one stderr line at ``where`` holding ``reason``; nothing else
    but error/hint/note lines; the database as it was.  Returns the line."""
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert "Traceback" not in result.stderr + result.stdout
    located = [ln for ln in lines if re.search(r"[^:\s]+:\d+:\d+: ", ln)]
    assert len(located) == 1, lines
    line = located[0]
    assert f"{where}: " in line and reason in line, (line, where, reason)
    assert all(ln == line or ln.startswith(("error: ", "hint: ", "note: ")) for ln in lines), lines
    assert dump(db_path) == before
    return line


def accepted(result, db_path: str, before: dict, table: str, added: int = 1) -> dict:
    assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
    after = dump(db_path)
    assert len(after[table]) == len(before[table]) + added, (table, before[table], after[table])
    return after


# -- encodings and line endings: accepted ---------------------------------------------------------


@READING_LAYER
@ALL
@pytest.mark.parametrize(
    "shape",
    ["bom", "crlf", "lone-cr", "no-final-newline", "bom-crlf-no-final", "blank-lines", "reordered", "extra"],
)
def test_accepted_shapes(prog, cli, cmd, shape):
    before = before_dump(prog)
    header, row = cmd.header(), cmd.row()
    if shape == "reordered":
        header, row = header[::-1], row[::-1]
    if shape == "extra":
        header, row = [*header, "Remarks"], [*row, "not read"]
    text = cmd.csv(
        row, header=header, eol="\r\n" if "crlf" in shape else "\r" if shape == "lone-cr" else "\n"
    )
    if "no-final" in shape:
        text = text.rstrip("\r\n")
    if shape == "blank-lines":
        text = "\n" + text.replace("\n", "\n\n")
    data = (b"\xef\xbb\xbf" if "bom" in shape else b"") + text.encode()
    r = run(cli, cmd, data)
    accepted(r, prog, before, cmd.table)
    if shape == "extra":
        assert "note: ignored columns: remarks" in r.stderr


@READING_LAYER
@ALL
@pytest.mark.parametrize("encoding", ["cp1252", "utf-16", "utf-16-le"])
def test_other_encodings_are_read_when_named(prog, cli, cmd, encoding):
    before = before_dump(prog)
    data = cmd.csv(cmd.row()).encode(encoding)
    r = run(cli, cmd, data, "--encoding", encoding)
    accepted(r, prog, before, cmd.table)


@READING_LAYER
@ALL
def test_utf16_without_encoding_is_refused_at_line_1(prog, cli, cmd):
    before = before_dump(prog)
    r = run(cli, cmd, cmd.csv(cmd.row()).encode("utf-16"))
    rejected(r, prog, before, "in.csv:1:1", "the file is UTF-16 encoded")


@READING_LAYER
@ALL
def test_utf16_without_a_bom_is_refused_at_the_first_nul(prog, cli, cmd):
    """UTF-16 without a BOM is valid UTF-8 full of NUL bytes."""
    before = before_dump(prog)
    r = run(cli, cmd, cmd.csv(cmd.row()).encode("utf-16-le"))
    line = rejected(r, prog, before, "in.csv:1:1", "NUL byte in the header")
    assert "pass --encoding utf-16" in r.stderr, line


WITH_TEXT = [c for c in COMMANDS if {"name", "product", "contract_id"} & set(c.text)]


@READING_LAYER
@pytest.mark.parametrize("cmd", WITH_TEXT, ids=[c.name for c in WITH_TEXT])
def test_windows_1252_is_read_as_such(prog, cli, cmd):
    """Not UTF-8, and nothing UTF-8 before the first odd byte: Windows-1252
    (Excel's Swedish CSV), said in a note.  A text column gets an å."""
    before = before_dump(prog)
    col = next(c for c in cmd.text if c in ("name", "product", "contract_id"))
    r = run(cli, cmd, cmd.csv(cmd.row(**{col: "Gård å"})).encode("cp1252"), "--format", "json")
    accepted(r, prog, before, cmd.table)
    assert json.loads(r.stdout)["encoding"] == "cp1252"


@READING_LAYER
@ALL
@pytest.mark.parametrize("skip", [False, True], ids=["strict", "skip-invalid"])
def test_mixed_encodings_name_line_and_column(prog, cli, cmd, skip):
    """UTF-8 ö on line 2, then a Windows-1252 å (0xE5) on line 4, 7th character."""
    before = before_dump(prog)
    good = cmd.csv(cmd.row()).encode()
    data = good.replace(b"\n", "\nöö\n".encode(), 1) + b"abcdef\xe5\n"
    r = run(cli, cmd, data, *(("--skip-invalid", "--rejects", "rej.csv") if skip else ()))
    assert not Path("rej.csv").exists()
    rejected(r, prog, before, "in.csv:4:7", "byte 0xE5 is not UTF-8")


@READING_LAYER
@ALL
def test_a_byte_outside_the_named_encoding(prog, cli, cmd):
    before = before_dump(prog)
    data = cmd.csv(cmd.row()).encode() + b"ab\x81c\n"  # 0x81 has no character in cp1252
    r = run(cli, cmd, data, "--encoding", "cp1252")
    rejected(r, prog, before, "in.csv:3:3", "byte 0x81 cannot be read as cp1252")


# -- structure: refused, even with --skip-invalid --------------------------------------------------


@READING_LAYER
@ALL
@pytest.mark.parametrize("skip", [False, True], ids=["strict", "skip-invalid"])
def test_an_unclosed_quote_does_not_swallow_the_rest(prog, cli, cmd, skip):
    before = before_dump(prog)
    second = cmd.row()
    second[1] = '"' + second[1]
    text = cmd.csv(cmd.row(), second, *[cmd.row(**{cmd.key: f"K{i}"}) for i in range(3)])
    extra = ("--skip-invalid",) if skip else ()
    r = run(cli, cmd, text, *extra)
    rejected(r, prog, before, "in.csv:3:2", "quote opened here is not closed on this line")


@READING_LAYER
@ALL
def test_an_unclosed_quote_on_the_last_line(prog, cli, cmd):
    before = before_dump(prog)
    last = cmd.row()
    last[1] = '"' + last[1]
    r = run(cli, cmd, cmd.csv(last))
    rejected(r, prog, before, "in.csv:2:2", "not closed")


@READING_LAYER
@ALL
def test_text_after_a_closing_quote(prog, cli, cmd):
    before = before_dump(prog)
    bad = cmd.row()
    bad[1] = f'"{bad[1]}"x'
    r = run(cli, cmd, cmd.csv(bad))
    rejected(r, prog, before, "in.csv:2:2", "'x' after a closing quote")


@READING_LAYER
@ALL
@pytest.mark.parametrize("skip", [False, True], ids=["strict", "skip-invalid"])
def test_a_field_over_the_csv_limit(prog, cli, cmd, skip):
    before = before_dump(prog)
    long = cmd.row()
    long[1] = "y" * 131_073
    extra = ("--skip-invalid",) if skip else ()
    r = run(cli, cmd, cmd.csv(cmd.row(), long), *extra)
    rejected(r, prog, before, "in.csv:3:2", "longer than 131072 characters")


@READING_LAYER
@ALL
@pytest.mark.parametrize("skip", [False, True], ids=["strict", "skip-invalid"])
def test_a_nul_byte(prog, cli, cmd, skip):
    before = before_dump(prog)
    bad = cmd.row()
    bad[1] = bad[1][:1] + "\x00" + bad[1][1:]
    extra = ("--skip-invalid",) if skip else ()
    r = run(cli, cmd, cmd.csv(cmd.row(), bad), *extra)
    rejected(r, prog, before, "in.csv:3:2", "NUL byte in field")


@READING_LAYER
@ALL
def test_an_empty_file_has_no_header(prog, cli, cmd):
    before = before_dump(prog)
    r = run(cli, cmd, b"")
    rejected(r, prog, before, "in.csv:1:0", "the file is empty: expected a header line")


@ALL
def test_a_header_only_file_does_nothing(prog, cli, cmd):
    before = before_dump(prog)
    r = run(cli, cmd, cmd.csv(), "--format", "json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["rows"] == 0
    assert dump(prog) == before


@READING_LAYER
@ALL
def test_a_missing_column(prog, cli, cmd):
    before = before_dump(prog)
    header = [c for c in cmd.header() if c != cmd.key]
    row = [v for c, v in cmd.good.items() if c != cmd.key]
    r = run(cli, cmd, cmd.csv(row, header=header))
    rejected(r, prog, before, "in.csv:1:0", f"missing column {cmd.key}")


@ALL
def test_optional_columns_may_be_left_out(prog, cli, cmd):
    before = before_dump(prog)
    header = [c for c in cmd.header() if c not in cmd.optional]
    row = [v for c, v in cmd.good.items() if c not in cmd.optional]
    accepted(run(cli, cmd, cmd.csv(row, header=header)), prog, before, cmd.table)


@READING_LAYER
@ALL
def test_a_duplicate_column(prog, cli, cmd):
    before = before_dump(prog)
    n = len(cmd.header())
    r = run(cli, cmd, cmd.csv([*cmd.row(), cmd.good[cmd.key]], header=[*cmd.header(), cmd.key.upper()]))
    rejected(r, prog, before, f"in.csv:1:{n + 1}", "duplicate column (also column")


@ALL
def test_the_same_id_twice_with_other_values(prog, cli, cmd):
    before = before_dump(prog)
    r = run(cli, cmd, cmd.csv(cmd.row(), cmd.row(**{cmd.other: cmd.other_value})))
    col = cmd.header().index(cmd.key if cmd.name != "quiz" else cmd.other) + 1
    rejected(r, prog, before, f"in.csv:3:{col}", "")


@ALL
def test_the_same_id_twice_with_the_same_values(prog, cli, cmd):
    before = before_dump(prog)
    accepted(run(cli, cmd, cmd.csv(cmd.row(), cmd.row())), prog, before, cmd.table)


@READING_LAYER
@ALL
def test_a_short_and_a_long_row(prog, cli, cmd):
    before = before_dump(prog)
    n = len(cmd.header())
    r = run(cli, cmd, cmd.csv(cmd.row()[:-1]))
    rejected(r, prog, before, f"in.csv:2:{n}", f"{n - 1} fields, the header has {n}")
    r = run(cli, cmd, cmd.csv([*cmd.row(), "extra"]))
    rejected(r, prog, before, f"in.csv:2:{n + 1}", f"{n + 1} fields, the header has {n}")


# -- values ---------------------------------------------------------------------------------------

NUMERIC_CASES = [
    (c, col, v, ok) for c in COMMANDS for col, vals in c.numeric.items() for v, ok in vals.items()
]


@READING_LAYER
@pytest.mark.parametrize(
    ("cmd", "column", "value", "ok"),
    NUMERIC_CASES,
    ids=[f"{c.name}-{col}-{v!r}" for c, col, v, _ in NUMERIC_CASES],
)
def test_numbers(prog, cli, cmd, column, value, ok):
    before = before_dump(prog)
    quoted = f'"{value}"' if "," in value else value
    r = run(cli, cmd, cmd.csv(cmd.row(**{column: quoted})))
    if ok:
        accepted(r, prog, before, cmd.table)
    else:
        col = cmd.header().index(column) + 1
        rejected(r, prog, before, f"in.csv:2:{col}", f"{column}: ")


def test_accepted_numbers_are_stored_as_read(prog, cli):
    cli(
        "catalog",
        "import",
        write("c.csv", 'sku,name,points,stock\nA,A,"1 000",0\nB,B,1000000000,\n'),
        ok=True,
    )
    items = {i["sku"]: i for i in json.loads(cli("catalog", "list", "--all", "-f", "json", ok=True).stdout)}
    assert (items["A"]["points"], items["A"]["stock"]) == (1000, 0)
    assert (items["B"]["points"], items["B"]["stock"]) == (1_000_000_000, None)


WITH_NUMBERS = [c for c in COMMANDS if c.numeric]


@pytest.mark.parametrize("cmd", WITH_NUMBERS, ids=[c.name for c in WITH_NUMBERS])
@pytest.mark.parametrize("value", ["12,50"])
def test_a_decimal_comma_in_a_comma_file(prog, cli, cmd, value):
    """Unquoted, it splits the row: one field too many, named at the amount
    column for contracts and at the first column past the header otherwise."""
    before = before_dump(prog)
    column = next(iter(cmd.numeric))
    r = run(cli, cmd, cmd.csv(cmd.row(**{column: value})))
    n = len(cmd.header())
    col = cmd.header().index(column) + 1 if cmd.name == "contracts" else n + 1
    rejected(r, prog, before, f"in.csv:2:{col}", "")


@READING_LAYER
@pytest.mark.parametrize(
    ("cmd", "column"),
    [(c, d) for c in COMMANDS for d in c.dates],
    ids=[f"{c.name}-{d}" for c in COMMANDS for d in c.dates],
)
@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("2026-02-29", "'2026-02-29' is not a real date"),
        ("2026/1/32", "'2026/1/32' is not a date (write YYYY-MM-DD)"),
        ("2026-13-01", "'2026-13-01' is not a real date"),
        ("2026-1-5", "is not a date (write YYYY-MM-DD)"),
        ("2026-11-01T10:00:00", "is not a date (write YYYY-MM-DD)"),
        ("2026-11-01 10:00", "is not a date (write YYYY-MM-DD)"),
        ("2026-11-01T10:00:00Z", "is not a date (write YYYY-MM-DD)"),
        ("٢٠٢٦-١١-٠١", "is not a date (write YYYY-MM-DD)"),
        ("1999-12-31", "'1999-12-31' is before 2000-01-01 (the program has no earlier dates)"),
        ("0001-01-01", "'0001-01-01' is before 2000-01-01 (the program has no earlier dates)"),
    ],
)
def test_dates(prog, cli, cmd, column, value, reason):
    before = before_dump(prog)
    r = run(cli, cmd, cmd.csv(cmd.row(**{column: value})))
    col = cmd.header().index(column) + 1
    line = rejected(r, prog, before, f"in.csv:2:{col}", reason)
    assert f"in.csv:2:{col}: {column}: " in line


TEXT_CASES = [(c, col, v) for c in COMMANDS for col, v in c.text.items()]


def stored(url: str, table: str) -> list[tuple]:
    return [tuple(r) for r in raw_sql(url, f'SELECT * FROM "{table}" ORDER BY 1')]


@pytest.mark.parametrize(
    ("cmd", "column", "payload"), TEXT_CASES, ids=[f"{c.name}-{col}" for c, col, _ in TEXT_CASES]
)
def test_sql_in_a_text_field_is_stored_verbatim(prog, cli, cmd, column, payload):
    before = before_dump(prog)
    quoted = '"' + payload.replace('"', '""') + '"'
    r = run(cli, cmd, cmd.csv(cmd.row(**{column: quoted})))
    after = accepted(r, prog, before, cmd.table)
    assert set(before) == set(after) and len(after["posting"]) >= len(before["posting"])
    want = payload.upper() if column in ("code", "sku", "request_id") else payload
    want = want.lower() if "email" in column else want
    assert any(want in row for row in stored(prog, cmd.table)), stored(prog, cmd.table)


# -- real pipes ----------------------------------------------------------------------------------


def empty_stdin_lines(cmd: Command) -> list[str]:
    return [
        "error: <stdin>:1:0: the file is empty: expected a header line",
        "hint: the header is: " + ",".join(c for c in cmd.header() if c not in cmd.optional),
    ]


@READING_LAYER
@ALL
def test_empty_stdin(prog, cli, cmd):
    before = before_dump(prog)
    r = cli(*cmd.args, "-", input=b"")
    assert (r.exit_code, r.stdout, r.stderr.splitlines()) == (1, "", empty_stdin_lines(cmd))
    assert dump(prog) == before


@READING_LAYER
@pytest.mark.parametrize("cmd", [BY_NAME["contracts"], BY_NAME["quiz"]], ids=["contracts", "quiz"])
def test_empty_stdin_through_a_real_pipe(prog, sub, cmd):
    before = before_dump(prog)
    r = sub(*cmd.args, "-", input=b"")
    assert (r.returncode, r.stdout, r.stderr.decode().splitlines()) == (1, b"", empty_stdin_lines(cmd))
    assert dump(prog) == before


@READING_LAYER
def test_a_structural_error_through_a_real_pipe(prog, sub):
    before = before_dump(prog)
    cmd = BY_NAME["contracts"]
    bad = cmd.row()
    bad[5] = "le\x00asing"
    r = sub(*cmd.args, "-", "--skip-invalid", input=cmd.csv(cmd.row(), bad).encode())
    assert r.returncode == 1
    assert r.stderr.decode().splitlines()[0] == "error: <stdin>:3:6: product: NUL byte in field"
    assert dump(prog) == before


@READING_LAYER
def test_a_bom_crlf_file_without_final_newline_through_a_real_pipe(prog, sub):
    before = before_dump(prog)
    cmd = BY_NAME["catalog"]
    data = b"\xef\xbb\xbf" + cmd.csv(cmd.row(), eol="\r\n").rstrip("\r\n").encode()
    r = sub(*cmd.args, "-", "--format", "json", input=data)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["new"] == 1
    assert len(dump(prog)["catalog_item"]) == len(before["catalog_item"]) + 1


# -- the reading layer on its own: exact messages -------------------------------------------------


@READING_LAYER
@pytest.mark.parametrize(
    ("text", "result"),
    [
        ("0", 0),
        ("250", 250),
        ("1 000", 1000),
        ("1\u00a0000\u00a0000", 1_000_000),
        ("-5", -5),
        ("1000000000", 1_000_000_000),
        ("", "empty"),
        (" 5", "' 5' has spaces around it"),
        ("+5", "'+5': write the number without a sign"),
        ("-0", "'-0': write the number without a sign"),
        ("1e3", "'1e3' is not a whole number (write e.g. 250 or 1 000)"),
        ("12.50", "'12.50' is not a whole number (write e.g. 250 or 1 000)"),
        ("NaN", "'NaN' is not a whole number (write e.g. 250 or 1 000)"),
        ("Infinity", "'Infinity' is not a whole number (write e.g. 250 or 1 000)"),
        ("1_000", "'1_000' is not a whole number (write e.g. 250 or 1 000)"),
        ("10 00", "'10 00' is not a whole number (write e.g. 250 or 1 000)"),
        ("１", "'１' is not a whole number (write e.g. 250 or 1 000)"),
        ("1000000001", "'1000000001' is above the limit of 1 000 000 000"),
        (str(2**63), f"'{2**63}' is above the limit of 1 000 000 000"),
    ],
)
def test_parse_whole(text, result):
    from loyaltyctl.importers.fields import FieldError, parse_whole

    if isinstance(result, int):
        assert parse_whole(text) == result
    else:
        with pytest.raises(FieldError) as exc:
            parse_whole(text)
        assert str(exc.value) == result


def read_all(data: bytes, encoding: str | None = None):
    import io

    from loyaltyctl.importers.csv_source import CsvInput

    src = CsvInput(stream=io.BytesIO(data), name="f.csv", encoding=encoding)
    return [r.fields for r in src.records(["a"], ["b", "c"])]


@READING_LAYER
@pytest.mark.parametrize(
    ("data", "where", "reason"),
    [
        # semicolon file: the third field's closing quote is followed by x
        (b'a;b;c\n1;2;3\n1;2;"3""4"x\n', "f.csv:3:3: c: ", "'x' after a closing quote"),
        # the header, too
        (b'a,"b\n1,2\n', "f.csv:1:2: ", "bad header: a quote opened here is not closed on this line"),
        # a doubled quote inside is fine; the quote opened in column 2 is not closed
        (b'a,b,c\n1,"2"",3\n', "f.csv:2:2: b: ", "a quote opened here is not closed on this line"),
        # UTF-8 on line 2, then 70 000 ASCII characters (past a 64 KiB read) and a cp1252 byte
        ("a\nö\n".encode() + b"x" * 70_000 + b"\xe5\n", "f.csv:3:70001: ", "byte 0xE5 is not UTF-8"),
        # a forced encoding: the bad byte after a 70 000-character line
        (b"a\n" + b"x" * 70_000 + b"\n" + b"yz\x81\n", "f.csv:3:3: ", "byte 0x81 cannot be read as cp1252"),
    ],
)
def test_structural_errors_point_at_the_column(data, where, reason):
    from loyaltyctl.importers.csv_source import StructuralError

    with pytest.raises(StructuralError) as exc:
        read_all(data, encoding="cp1252" if b"\x81" in data else None)
    assert str(exc.value.error).startswith(where) and reason in str(exc.value.error), str(exc.value.error)
