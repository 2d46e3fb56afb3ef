"""``contracts import`` through the command line: what a person (or cron) sees.

stdout carries the summary (or JSON), stderr the problems as
``file:line:column: field: reason``; exit codes 0 ok, 1 invalid input, 2 usage,
7 file problem.  No traceback, ever.  The in-process ``cli`` runner covers most
cases; the real subprocess (``sub``) covers stdin through a real pipe.

small_program: ACME pooled (anna, arne), BOLT individual (bo, britt), plus one
contract already imported: BASE, bo@bolt.se, 250 000 SEK started = 2 600 points.
Points (default rules): floor(amount * 10 / 1000) + 100:
250 000 -> 2 600; 100 000.50 -> 1 000 + 100 = 1 100; 1 234 567,50 -> 12 345 + 100 = 12 445.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from conftest import TODAY, build_template
from factories import HEADER, build_program_db

SEMI_HEADER = HEADER.replace(",", ";")
BASE = "BASE,BOLT,bo@bolt.se,2026-01-10,250000,leasing,started\n"
THREE = (
    "A1,BOLT,bo@bolt.se,2026-01-10,250000,leasing,started\n"  # bo: 2 600
    "A2,ACME,anna@acme.se,2026-01-10,100000.50,leasing,started\n"  # ACME pool: 1 100
    "A3,ACME,arne@acme.se,2026-12-10,5,x,registered\n"  # nothing (registered in the future is fine)
)
THREE_SUMMARY = (
    "3 rows, 3 new, 2 credited, 0 reversed, 0 corrected, 0 updated, 0 unchanged, 0 rejected, "
    "+3700 points posted"
)
JSON_KEYS = {
    "rows",
    "new",
    "credited",
    "reversed",
    "corrected",
    "updated",
    "unchanged",
    "rejected",
    "points_posted",
    "dry_run",
    "errors",
    "notes",
    "encoding",
    "delimiter",
}
REJECTED_HINT = "hint: fix the rows, or pass --skip-invalid --rejects FILE to apply the valid ones"


@pytest.fixture(scope="module")
def template(backend, request, tmp_path_factory):
    return build_template(
        backend, request, tmp_path_factory, lambda t: build_program_db(t, BASE, today=TODAY)
    )


@pytest.fixture
def prog(template, _isolated, tmp_path, monkeypatch):
    """A copy of the program database; the working directory is the test's tmp
    dir, so files are named as a person would name them (contracts.csv)."""
    template.load(_isolated)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(name: str, data: str | bytes) -> str:
    Path(name).write_bytes(data.encode() if isinstance(data, str) else data)
    return name


def state(cli) -> tuple:
    """Row counts and every balance that is not zero: what a failed or dry run must
    leave as it was."""
    status = json.loads(cli("db", "status", "--format", "json", ok=True).stdout)
    balances = json.loads(cli("points", "balance", "--format", "json", ok=True).stdout)
    counts = {k: status[k] for k in ("contracts", "postings", "batches", "accounts")}
    return counts, {b["account"]: b["balance"] for b in balances if b["balance"]}


BEFORE = ({"contracts": 1, "postings": 1, "batches": 1, "accounts": 3}, {"bo@bolt.se": 2600})


def failed(result, code: int) -> list[str]:
    """Exit code as expected, one-line messages, no traceback; the stderr lines."""
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert "Traceback" not in result.stdout
    return result.stderr.splitlines()


def show(cli, contract_id: str) -> dict:
    return json.loads(cli("contracts", "show", contract_id, "--format", "json", ok=True).stdout)


# -- success: summary line and JSON ----------------------------------------------------------------


def test_summary_line_on_stdout(prog, cli):
    r = cli("contracts", "import", write("contracts.csv", HEADER + THREE), ok=True)
    assert r.stdout == f"contracts.csv: {THREE_SUMMARY}\n"
    assert r.stderr == ""
    counts, balances = state(cli)
    assert balances == {"ACME": 1100, "bo@bolt.se": 2600 + 2600}
    assert (counts["contracts"], counts["postings"]) == (4, 3)


def test_json_summary(prog, cli):
    r = cli("contracts", "import", write("contracts.csv", HEADER + THREE), "--format", "json", ok=True)
    data = json.loads(r.stdout)
    assert JSON_KEYS <= set(data)
    assert {k: data[k] for k in JSON_KEYS} == {
        "rows": 3,
        "new": 3,
        "credited": 2,
        "reversed": 0,
        "corrected": 0,
        "updated": 0,
        "unchanged": 0,
        "rejected": 0,
        "points_posted": 3700,
        "dry_run": False,
        "errors": [],
        "notes": [],
        "encoding": "utf-8",
        "delimiter": ",",
    }
    assert r.stderr == ""


def test_stdin_in_process_works_like_a_file(prog, cli):
    r = cli("contracts", "import", "-", input=(HEADER + THREE).encode(), ok=True)
    assert r.stdout == f"<stdin>: {THREE_SUMMARY}\n"


# -- all-or-nothing --------------------------------------------------------------------------------


def test_invalid_rows_write_nothing_and_are_all_listed(prog, cli):
    data = (
        HEADER
        + "N1,BOLT,bo@bolt.se,2026-01-10,1000,leasing,started\n"  # 2: valid new
        + "BASE,BOLT,bo@bolt.se,2026-01-10,250000,leasing,cancelled\n"  # 3: valid change (-2 600)
        + 'N2,BOLT,bo@bolt.se,2026-01-10,"12,50",leasing,started\n'  # 4: decimal comma
        + "N3,BOLT,anna@acme.se,2026-01-10,1000,leasing,started\n"  # 5: seller of another partner
        + "N4,BOLT,bo@bolt.se,2026-01-10T10:00:00,1000,leasing,started\n"  # 6: a timestamp
    )
    r = cli("contracts", "import", write("contracts.csv", data))
    assert failed(r, 1) == [
        "contracts.csv:4:5: amount: '12,50' is not an amount "
        "(comma files use a point as decimal mark and no thousands separator)",
        "contracts.csv:5:3: seller_email: seller anna@acme.se belongs to partner ACME, not BOLT",
        "contracts.csv:6:4: start_date: '2026-01-10T10:00:00' is not a date (write YYYY-MM-DD)",
        "error: 3 invalid rows: nothing was written",
        REJECTED_HINT,
    ]
    assert r.stdout == ""
    assert state(cli) == BEFORE
    assert show(cli, "BASE")["status"] == "started"


def test_invalid_rows_with_json_output(prog, cli):
    data = HEADER + BASE.replace("BASE", "N1") + "N2,BOLT,bo@bolt.se,2026-02-29,0,leasing,started\n"
    r = cli("contracts", "import", write("contracts.csv", data), "--format", "json")
    lines = failed(r, 1)
    assert lines[:2] == [
        "contracts.csv:3:4: start_date: '2026-02-29' is not a real date",
        "contracts.csv:3:5: amount: '0' is not positive",
    ]
    assert lines[2] == "error: 1 invalid row: nothing was written"
    out = json.loads(r.stdout)
    assert JSON_KEYS <= set(out)
    assert (out["rows"], out["rejected"], out["committed"], out["dry_run"]) == (2, 1, False, False)
    assert out["errors"] == [
        {
            "file": "contracts.csv",
            "line": 3,
            "column": 4,
            "field": "start_date",
            "reason": "'2026-02-29' is not a real date",
        },
        {"file": "contracts.csv", "line": 3, "column": 5, "field": "amount", "reason": "'0' is not positive"},
    ]
    assert state(cli) == BEFORE


def test_suspended_partner_and_inactive_seller(prog, cli):
    cli("partners", "suspend", "ACME", ok=True)
    cli("sellers", "deactivate", "britt@bolt.se", ok=True)
    data = (
        HEADER
        + "N1,ACME,anna@acme.se,2026-01-10,1000,leasing,started\n"
        + "N2,BOLT,britt@bolt.se,2026-01-10,1000,leasing,started\n"
        + "N3,BOLT,bo@bolt.se,2026-01-10,1000,leasing,started\n"
    )
    r = cli("contracts", "import", write("contracts.csv", data))
    assert failed(r, 1)[:2] == [
        "contracts.csv:2:2: partner_code: partner ACME is suspended",
        "contracts.csv:3:3: seller_email: seller britt@bolt.se is inactive",
    ]
    assert state(cli) == BEFORE


def test_unquoted_decimal_comma_in_a_comma_file(prog, cli):
    data = HEADER + "N1,BOLT,bo@bolt.se,2026-01-10,12,50,leasing,started\n"
    r = cli("contracts", "import", write("contracts.csv", data))
    lines = failed(r, 1)
    assert lines[0] == (
        "contracts.csv:2:5: amount: '12,50' is not an amount (comma files use a point as decimal "
        "mark and no thousands separator: write 12.50)"
    )
    assert state(cli) == BEFORE


def test_more_problems_than_listed_are_counted(prog, cli):
    # 1 500 bad rows: 1 000 problems are listed, the rest counted.
    rows = "".join(f"B{i},BOLT,bo@bolt.se,2026-01-10,0,x,started\n" for i in range(1500))
    r = cli("contracts", "import", write("contracts.csv", HEADER + rows))
    lines = failed(r, 1)
    assert len([x for x in lines if x.startswith("contracts.csv:")]) == 1000
    assert lines[0] == "contracts.csv:2:5: amount: '0' is not positive"
    assert "error: 1500 invalid rows: nothing was written" in lines
    assert state(cli) == BEFORE


def test_problems_left_out_of_the_list_are_mentioned(prog, cli):
    rows = "".join(f"B{i},BOLT,bo@bolt.se,2026-02-30,0,x,started\n" for i in range(600))
    r = cli("contracts", "import", write("contracts.csv", HEADER + rows))
    lines = failed(r, 1)
    assert "error: 600 invalid rows: nothing was written" in lines
    assert "(only the first 1000 of 1200 problems are listed; 600 rows were rejected)" in r.stderr


# -- --skip-invalid and --rejects ------------------------------------------------------------------


def test_skip_invalid_applies_valid_rows_writes_rejects_and_exits_1(prog, cli):
    data = (
        HEADER
        + "N1,BOLT,bo@bolt.se,2026-01-10,250000,leasing,started\n"  # 2: +2 600 bo
        + "N2,BOLT,bo@bolt.se,2026-01-10,1e3,leasing,started\n"  # 3: bad amount
        + "N3,ACME,anna@acme.se,2026-01-10,100000.50,leasing,started\n"  # 4: +1 100 ACME
        + "N4,ACME,nobody@acme.se,2026-01-10,1000,x'); DROP TABLE posting; --,started\n"  # 5: unknown seller
    )
    r = cli("contracts", "import", write("contracts.csv", data), "--skip-invalid", "--rejects", "rejects.csv")
    assert failed(r, 1) == [
        "contracts.csv:3:5: amount: '1e3' is not an amount (write e.g. 250000 or 250000.50)",
        "contracts.csv:5:3: seller_email: unknown seller nobody@acme.se",
    ]
    assert r.stdout == (
        "contracts.csv: 4 rows, 2 new, 2 credited, 0 reversed, 0 corrected, 0 updated, 0 unchanged, "
        "2 rejected, +3700 points posted\n"
    )
    assert state(cli)[1] == {"ACME": 1100, "bo@bolt.se": 2600 + 2600}

    with open("rejects.csv", newline="", encoding="utf-8") as f:
        table = list(csv.reader(f))
    assert table[0] == [*HEADER.strip().split(","), "error"]
    assert [t[:7] for t in table[1:]] == [
        ["N2", "BOLT", "bo@bolt.se", "2026-01-10", "1e3", "leasing", "started"],
        ["N4", "ACME", "nobody@acme.se", "2026-01-10", "1000", "x'); DROP TABLE posting; --", "started"],
    ]
    assert "line 3, column 5: amount: '1e3' is not an amount" in table[1][7]
    assert "line 5, column 3: seller_email: unknown seller nobody@acme.se" in table[2][7]

    # Fix the two rows and import the rejects file as it is: the error column is ignored.
    fixed = Path("rejects.csv").read_text(encoding="utf-8").replace("1e3", "1000").replace("nobody@", "arne@")
    r = cli("contracts", "import", write("fixed.csv", fixed), ok=True)
    assert r.stdout.startswith("fixed.csv: 2 rows, 2 new, 2 credited,")
    assert r.stdout.endswith(", 0 rejected, +220 points posted\n")
    assert "note: ignored columns: error" in r.stderr
    assert state(cli)[1] == {"ACME": 1100 + 110, "bo@bolt.se": 2600 + 2600 + 110}
    assert show(cli, "N4")["product"] == "x'); DROP TABLE posting; --"


def test_skip_invalid_json_counts_the_rejected(prog, cli):
    data = (
        HEADER + "N1,BOLT,bo@bolt.se,2026-01-10,1000,x,started\nN2,BOLT,bo@bolt.se,2026-01-10,NaN,x,started\n"
    )
    r = cli("contracts", "import", write("contracts.csv", data), "--skip-invalid", "--format", "json")
    failed(r, 1)
    out = json.loads(r.stdout)
    assert (out["rows"], out["new"], out["rejected"], out["points_posted"]) == (2, 1, 1, 110)
    assert [(e["line"], e["column"], e["field"]) for e in out["errors"]] == [(3, 5, "amount")]
    assert not Path("rejects.csv").exists()


def test_rejects_of_a_semicolon_file_can_be_reimported(prog, cli):
    data = SEMI_HEADER + "S1;BOLT;nobody@bolt.se;2026-01-10;1 234 567,50;leasing;started\n"
    r = cli("contracts", "import", write("contracts.csv", data), "--skip-invalid", "--rejects", "rejects.csv")
    failed(r, 1)
    fixed = Path("rejects.csv").read_text(encoding="utf-8").replace("nobody@", "britt@")
    r = cli("contracts", "import", write("fixed.csv", fixed))
    assert r.exit_code == 0, r.stderr
    assert r.stdout.endswith("+12445 points posted\n")


def test_rejects_file_puts_the_reason_under_error_for_a_short_row(prog, cli):
    data = HEADER + "S1,BOLT,bo@bolt.se\n"
    r = cli("contracts", "import", write("contracts.csv", data), "--skip-invalid", "--rejects", "rejects.csv")
    assert failed(r, 1) == ["contracts.csv:2:4: 3 fields, the header has 7"]
    with open("rejects.csv", newline="", encoding="utf-8") as f:
        (rec,) = list(csv.DictReader(f))
    assert "3 fields, the header has 7" in (rec.get("error") or "")
    assert rec["start_date"] in ("", None)


def test_structural_error_with_skip_invalid_writes_nothing(prog, cli):
    data = (
        HEADER
        + "N1,BOLT,bo@bolt.se,2026-01-10,1000,x,started\n"
        + "N2,BOLT,bo@bolt.se,2026-01-10,0,x,started\n"
        + 'N3,BOLT,bo@bolt.se,2026-01-10,1000,"x,started\n'  # 4: the quote is never closed
        + "N4,BOLT,bo@bolt.se,2026-01-10,1000,x,started\n"
    )
    r = cli("contracts", "import", write("contracts.csv", data), "--skip-invalid", "--rejects", "rejects.csv")
    lines = failed(r, 1)
    assert "error: contracts.csv:4:6: product: a quote opened here is not closed on this line" in lines
    assert 'hint: close the quote, or double a quote inside a quoted field ("")' in lines
    assert state(cli) == BEFORE
    assert not Path("rejects.csv").exists()
    assert [p.name for p in Path(".").iterdir() if p.name.startswith(".rejects")] == []


def test_rejects_without_skip_invalid_is_a_usage_error(prog, cli):
    r = cli("contracts", "import", write("contracts.csv", HEADER + THREE), "--rejects", "rejects.csv")
    assert failed(r, 2) == ["error: --rejects goes with --skip-invalid"]
    assert state(cli) == BEFORE
    assert not Path("rejects.csv").exists()


@pytest.mark.parametrize(
    "command",
    [
        ["contracts", "import"],
        ["partners", "import"],
        ["sellers", "import"],
        ["catalog", "import"],
        ["redemptions", "import"],
        ["quiz", "award", "Q1"],
    ],
)
def test_an_existing_rejects_file_is_kept_without_force(prog, cli, command):
    """Like every output: an existing file is not replaced unless --force,
    and the import is refused before it starts (exit 7, nothing written)."""
    Path("rejects.csv").write_text("last night's rejects\n", encoding="utf-8")
    data = write("in.csv", HEADER + "N1,BOLT,bo@bolt.se,2026-01-10,1000,x,started\n")
    r = cli(*command, data, "--skip-invalid", "--rejects", "rejects.csv")
    assert failed(r, 7) == ["error: rejects.csv: exists", "hint: pass --force to replace it"]
    assert state(cli) == BEFORE
    assert Path("rejects.csv").read_text(encoding="utf-8") == "last night's rejects\n"


def test_force_replaces_the_rejects_file_and_contracts_reapply_is_its_own_option(prog, cli):
    Path("rejects.csv").write_text("last night's rejects\n", encoding="utf-8")
    data = write("in.csv", HEADER + "N1,BOLT,bo@bolt.se,2026-01-10,0,x,started\n")
    r = cli("contracts", "import", data, "--skip-invalid", "--rejects", "rejects.csv", "--force")
    assert r.exit_code == 1, r.stderr  # the row was rejected
    assert Path("rejects.csv").read_text(encoding="utf-8").startswith("contract_id,")
    assert failed(cli("contracts", "import", data, "--force"), 2) == [
        "error: --force goes with --rejects (it replaces an existing rejects file)"
    ]


def test_rejects_that_cannot_be_written_is_a_file_problem(prog, cli):
    data = (
        HEADER + "N1,BOLT,bo@bolt.se,2026-01-10,1000,x,started\nN2,BOLT,bo@bolt.se,2026-01-10,0,x,started\n"
    )
    r = cli(
        "contracts",
        "import",
        write("contracts.csv", data),
        "--skip-invalid",
        "--rejects",
        "no/such/dir/r.csv",
    )
    lines = failed(r, 7)
    assert lines[0].startswith("error: no/such/dir/r.csv: cannot write")
    assert state(cli) == BEFORE


# -- --dry-run -----------------------------------------------------------------------------------


def test_dry_run_reports_and_writes_nothing(prog, cli):
    name = write("contracts.csv", HEADER + THREE)
    r = cli("contracts", "import", name, "--dry-run", ok=True)
    assert r.stdout == f"contracts.csv: dry run, nothing written: {THREE_SUMMARY}\n"
    assert state(cli) == BEFORE
    r = cli("contracts", "import", name, "--dry-run", "--format", "json", ok=True)
    out = json.loads(r.stdout)
    assert (out["dry_run"], out["committed"], out["new"], out["points_posted"]) == (True, False, 3, 3700)
    assert state(cli) == BEFORE
    # and the real run afterwards does what the dry run said
    r = cli("contracts", "import", name, ok=True)
    assert r.stdout == f"contracts.csv: {THREE_SUMMARY}\n"


def test_dry_run_with_invalid_rows(prog, cli):
    data = HEADER + THREE + "N9,BOLT,bo@bolt.se,2026-11-23,1000,x,started\n"
    r = cli("contracts", "import", write("contracts.csv", data), "--dry-run")
    assert failed(r, 1)[:2] == [
        "contracts.csv:5:4: start_date: "
        "a started contract cannot start in the future (2026-11-23 > 2026-11-22)",
        "error: 1 invalid row: nothing was written",
    ]
    assert state(cli) == BEFORE


# -- files and encodings -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: "missing.csv", "error: missing.csv: no such file"),
        (lambda: Path("adir").mkdir() or "adir", "error: adir: is a directory"),
    ],
    ids=["missing", "directory"],
)
def test_an_input_that_cannot_be_read_is_exit_7(prog, cli, make, message):
    r = cli("contracts", "import", make())
    assert failed(r, 7) == [message]
    assert state(cli) == BEFORE


def test_unknown_encoding_is_a_usage_error(prog, cli):
    r = cli("contracts", "import", write("contracts.csv", HEADER + THREE), "--encoding", "klingon")
    lines = failed(r, 2)
    assert lines[0] == "error: --encoding 'klingon': unknown encoding"
    assert state(cli) == BEFORE


@pytest.mark.parametrize("codec", ["rot13", "base64", "zlib", "hex"])
def test_a_codec_that_is_no_text_encoding_is_a_usage_error(prog, cli, codec):
    """rot13 and friends are codecs Python knows, but not bytes-to-text: they
    crashed the import (exit 70).  A usage error, before anything is read."""
    r = cli("contracts", "import", write("contracts.csv", HEADER + THREE), "--encoding", codec)
    lines = failed(r, 2)
    assert lines[0] == f"error: --encoding {codec!r}: not a text encoding (bytes to text)"
    assert state(cli) == BEFORE


CP1252_SEMI = (SEMI_HEADER + "L1;BOLT;bo@bolt.se;2026-01-10;1 234 567,50;lån;started\n").encode("cp1252")


def test_windows_1252_is_read_with_a_note(prog, cli):
    r = cli("contracts", "import", write("contracts.csv", CP1252_SEMI), ok=True)
    assert r.stdout == (
        "contracts.csv: 1 rows, 1 new, 1 credited, 0 reversed, 0 corrected, 0 updated, 0 unchanged, "
        "0 rejected, +12445 points posted\n"
    )
    assert r.stderr == "note: the file is not UTF-8: read as Windows-1252 (Excel's ANSI CSV)\n"
    assert show(cli, "L1")["product"] == "lån"
    assert show(cli, "L1")["amount_sek"] == "1234567.50"


def test_windows_1252_json_and_the_encoding_option(prog, cli):
    name = write("contracts.csv", CP1252_SEMI)
    out = json.loads(cli("contracts", "import", name, "--dry-run", "-f", "json", ok=True).stdout)
    assert (out["encoding"], out["delimiter"], out["points_posted"]) == ("cp1252", ";", 12445)
    assert out["notes"] == ["the file is not UTF-8: read as Windows-1252 (Excel's ANSI CSV)"]
    r = cli("contracts", "import", name, "--encoding", "cp1252", "--dry-run", "-f", "json", ok=True)
    out = json.loads(r.stdout)
    assert (out["encoding"], out["notes"], out["points_posted"]) == ("cp1252", [], 12445)
    r = cli("contracts", "import", name, "--encoding", "utf-8")
    assert failed(r, 1)[0] == "error: contracts.csv:2:45: byte 0xE5 cannot be read as utf-8"  # the å
    assert state(cli) == BEFORE


def test_utf16_is_refused_unless_asked_for(prog, cli):
    name = write("contracts.csv", (HEADER + THREE).encode("utf-16"))
    r = cli("contracts", "import", name)
    assert failed(r, 1) == [
        "error: contracts.csv:1:1: the file is UTF-16 encoded",
        "hint: save it as UTF-8, or pass --encoding utf-16",
    ]
    assert state(cli) == BEFORE
    r = cli("contracts", "import", name, "--encoding", "utf-16", ok=True)
    assert r.stdout == f"contracts.csv: {THREE_SUMMARY}\n"


def test_utf8_bom_is_accepted(prog, cli):
    r = cli(
        "contracts", "import", write("contracts.csv", b"\xef\xbb\xbf" + (HEADER + THREE).encode()), ok=True
    )
    assert r.stdout == f"contracts.csv: {THREE_SUMMARY}\n"


def test_header_only_does_nothing(prog, cli):
    r = cli("contracts", "import", write("contracts.csv", HEADER), ok=True)
    assert r.stdout == (
        "contracts.csv: 0 rows, 0 new, 0 credited, 0 reversed, 0 corrected, 0 updated, 0 unchanged, "
        "0 rejected, 0 points posted\n"
    )
    assert state(cli) == BEFORE


@pytest.mark.parametrize("data", ["", "\n\n"], ids=["empty", "blank-lines"])
def test_an_empty_file_is_an_error(prog, cli, data):
    r = cli("contracts", "import", write("contracts.csv", data))
    assert failed(r, 1) == [
        "error: contracts.csv:1:0: the file is empty: expected a header line",
        "hint: the header is: contract_id,partner_code,seller_email,start_date,amount,product,status",
    ]
    assert state(cli) == BEFORE


def test_missing_and_duplicate_columns(prog, cli):
    r = cli(
        "contracts", "import", write("a.csv", "contract_id,partner_code,seller_email,start_date,product\n")
    )
    lines = failed(r, 1)
    assert lines[0] == "error: a.csv:1:0: missing columns amount, status"
    assert lines[1].startswith("hint: the header needs: contract_id,partner_code,")
    r = cli("contracts", "import", write("b.csv", HEADER.strip() + ",Product\n"))
    assert failed(r, 1) == ["error: b.csv:1:8: product: duplicate column (also column 6)"]
    assert state(cli) == BEFORE


def test_a_quote_closed_on_a_later_line(prog, cli):
    data = HEADER + 'N1,BOLT,bo@bolt.se,2026-01-10,1000,"lea\nsing",started\n' + THREE
    r = cli("contracts", "import", write("contracts.csv", data))
    assert failed(r, 1) == [
        "error: contracts.csv:2:6: product: a quote opened here is not closed on this line "
        "(the field runs to line 3)",
        "hint: close or remove the quote",
    ]
    assert state(cli) == BEFORE


def test_a_nul_byte(prog, cli):
    data = HEADER + THREE + "N1,BOLT,bo@bolt.se,2026-01-10,1,x\x00,started\n"
    r = cli("contracts", "import", write("contracts.csv", data), "--skip-invalid")
    assert failed(r, 1) == [
        "error: contracts.csv:5:6: product: NUL byte in field",
        "hint: a text file has no NUL bytes: is it UTF-16 (pass --encoding utf-16) or not a CSV file?",
    ]
    assert state(cli) == BEFORE


# -- hostile text is data --------------------------------------------------------------------------


def test_sql_text_is_stored_as_text(prog, cli):
    product = "x'); DROP TABLE posting; --"
    cid = "Q1'; DELETE FROM contract WHERE '1'='1"
    data = HEADER + f'"{cid}",BOLT,bo@bolt.se,2026-01-10,250000,"{product}",started\n'
    r = cli("contracts", "import", write("contracts.csv", data), ok=True)
    assert r.stdout.endswith(
        "1 new, 1 credited, 0 reversed, 0 corrected, 0 updated, 0 unchanged, "
        "0 rejected, +2600 points posted\n"
    )
    got = show(cli, cid)
    assert (got["contract_id"], got["product"], got["points"], got["net_posted"]) == (
        cid,
        product,
        2600,
        2600,
    )
    counts, balances = state(cli)
    assert (counts["contracts"], counts["postings"]) == (2, 2)
    assert balances["bo@bolt.se"] == 2600 + 2600
    cli("db", "check", ok=True)


def test_formula_text_is_neutralised_in_csv_output(prog, cli):
    data = HEADER + 'F1,BOLT,bo@bolt.se,2026-01-10,1000,"=HYPERLINK(""http://x"")",started\n'
    cli("contracts", "import", write("contracts.csv", data), ok=True)
    assert show(cli, "F1")["product"] == '=HYPERLINK("http://x")'
    out = cli("contracts", "show", "F1", "--format", "csv", ok=True).stdout
    (rec,) = list(csv.DictReader(io.StringIO(out)))
    assert rec["product"] == '\'=HYPERLINK("http://x")'


# -- a real process with a real pipe ---------------------------------------------------------------


@pytest.mark.slow  # real processes through a pipe
def test_stdin_pipe_works_like_a_file(prog, sub, cli):
    p = sub("contracts", "import", "-", input=(HEADER + THREE).encode())
    assert (p.returncode, p.stderr) == (0, b"")
    assert p.stdout.decode() == f"<stdin>: {THREE_SUMMARY}\n"
    assert state(cli)[1] == {"ACME": 1100, "bo@bolt.se": 2600 + 2600}


@pytest.mark.slow  # a real process through a pipe
def test_stdin_pipe_windows_1252_semicolon_file(prog, sub, cli):
    p = sub("contracts", "import", "-", input=CP1252_SEMI)
    assert p.returncode == 0, p.stderr
    assert p.stdout.decode().endswith("0 rejected, +12445 points posted\n")
    assert p.stderr.decode() == "note: the file is not UTF-8: read as Windows-1252 (Excel's ANSI CSV)\n"
    assert show(cli, "L1")["product"] == "lån"
    assert state(cli)[1]["bo@bolt.se"] == 2600 + 12445


@pytest.mark.slow  # real processes through a pipe
@pytest.mark.parametrize(
    ("args", "data", "code", "first_line"),
    [
        pytest.param((), b"", 1, "error: <stdin>:1:0: the file is empty: expected a header line", id="empty"),
        pytest.param(
            (),
            (HEADER + THREE + "N1,BOLT,bo@bolt.se,2026-01-10,0,x,started\n").encode(),
            1,
            "<stdin>:5:5: amount: '0' is not positive",
            id="invalid-row",
        ),
        pytest.param(
            ("--skip-invalid",),
            (HEADER + 'N1,BOLT,"bo@bolt.se,2026-01-10,1,x,started\n' + THREE).encode(),
            1,
            "error: <stdin>:2:3: seller_email: a quote opened here is not closed on this line",
            id="unclosed-quote",
        ),
    ],
)
def test_stdin_pipe_failures_are_one_line_no_traceback(prog, sub, cli, args, data, code, first_line):
    p = sub("contracts", "import", "-", *args, input=data)
    err = p.stderr.decode()
    assert p.returncode == code, err
    assert "Traceback" not in err
    assert err.splitlines()[0] == first_line
    assert p.stdout == b""
    assert state(cli) == BEFORE


@pytest.mark.slow  # a real process, a 1 MB field
def test_a_field_over_the_csv_limit_is_refused_without_hanging(prog, sub, cli):
    row = "N1,BOLT,bo@bolt.se,2026-01-10,1000," + "x" * 131073 + ",started\n"
    p = sub("contracts", "import", "-", input=(HEADER + THREE + row).encode(), timeout=30)
    err = p.stderr.decode()
    assert p.returncode == 1
    assert err.splitlines()[0] == "error: <stdin>:5:6: product: field longer than 131072 characters"
    assert "Traceback" not in err
    assert state(cli) == BEFORE
    # 131 072 characters (in an ignored column) is within the limit
    data = HEADER.strip() + ",note\n" + "N2,BOLT,bo@bolt.se,2026-01-10,1000,x,started," + "n" * 131072 + "\n"
    p = sub("contracts", "import", "-", input=data.encode(), timeout=30)
    assert p.returncode == 0, p.stderr


# -- the options every import shares; a transaction the database gave up on ---------------------

IMPORTS = [
    ("contracts", "import"),
    ("partners", "import"),
    ("sellers", "import"),
    ("catalog", "import"),
    ("quiz", "award"),
    ("redemptions", "import"),
]


@pytest.mark.backend_independent("the command tree, before any database")
@pytest.mark.parametrize("path", IMPORTS, ids=" ".join)
def test_every_import_takes_the_shared_options(path):
    import typer

    from loyaltyctl.cli import app

    command = typer.main.get_command(app)
    for name in path:
        command = command.commands[name]
    options = {opt: p.name for p in command.params for opt in p.opts}
    assert {o: options.get(o) for o in ("--dry-run", "--skip-invalid", "--rejects", "--encoding", "-f")} == {
        "--dry-run": "dry_run",
        "--skip-invalid": "skip_invalid",
        "--rejects": "rejects",
        "--encoding": "encoding",
        "-f": "fmt",
    }


def _serialization_failure():
    import psycopg
    from sqlalchemy.exc import OperationalError

    orig = psycopg.errors.SerializationFailure("could not serialize access due to concurrent update")
    return OperationalError("UPDATE account ...", {}, orig)


@pytest.mark.postgresql_only("SQLSTATE 40001")
def test_a_serialization_failure_runs_the_import_again_from_the_start_of_the_file(prog, cli, monkeypatch):
    """The first attempt reads the whole file, writes, and the database gives
    up at the end: it is rolled back, the file is opened again and read from
    its first row; the postings are written once, the rejects file holds each
    rejected row once, and one summary is printed."""
    from loyaltyctl.services import contracts

    real, seen = contracts.import_contracts, []

    def flaky(**kwargs):
        summary = real(**kwargs)
        seen.append(summary.rows)
        if len(seen) == 1:
            raise _serialization_failure()
        return summary

    monkeypatch.setattr(contracts, "import_contracts", flaky)
    data = HEADER + THREE + "A4,BOLT,nobody@bolt.se,2026-01-10,1000,x,started\n"
    r = cli("contracts", "import", write("contracts.csv", data), "--skip-invalid", "--rejects", "rejects.csv")
    assert failed(r, 1) == ["contracts.csv:5:3: seller_email: unknown seller nobody@bolt.se"]
    assert seen == [4, 4]
    assert r.stdout == (
        "contracts.csv: 4 rows, 3 new, 2 credited, 0 reversed, 0 corrected, 0 updated, 0 unchanged, "
        "1 rejected, +3700 points posted\n"
    )
    assert state(cli)[1] == {"bo@bolt.se": 2600 + 2600, "ACME": 1100}
    with open("rejects.csv", newline="", encoding="utf-8") as f:
        assert [row[0] for row in csv.reader(f)] == ["contract_id", "A4"]
