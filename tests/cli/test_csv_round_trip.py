"""CSV exports that are safe to open in a spreadsheet and import back as they were.

Exports put a ``'`` before a text cell that starts with = + - @ tab CR LF (or
with quotes before one of those); text columns on import take exactly one such
``'`` off again.  Numbers are never neutralised.  Checked both ways, through
the CLI: ``partners list``/``partners import``, ``catalog list``/``catalog
import``, and a ``--rejects`` file fed back to the import that wrote it.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loyaltyctl.importers.fields import FORMULA_START, neutralise, neutralise_raw, unneutralise

# (as written in the imported file, as stored, as a CSV export writes it)
NAMES = [
    ("=SUM(A1)", "=SUM(A1)", "'=SUM(A1)"),
    ("+46 70 123 45 67", "+46 70 123 45 67", "'+46 70 123 45 67"),
    ("-5", "-5", "-5"),  # a plain number: a spreadsheet reads a number, never a formula
    ("-5 points", "-5 points", "'-5 points"),
    ("@x", "@x", "'@x"),
    ("'=SUM(A2)", "=SUM(A2)", "'=SUM(A2)"),  # an export's cell imports as the text
    ("''+two", "'+two", "''+two"),  # a text that starts with ' before + keeps it
    ("'plain", "'plain", "'plain"),  # a quote before anything else is text
    ("Plain AB", "Plain AB", "Plain AB"),
]


def rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def write_csv(path: Path, header: list[str], body: list[list[str]]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows([header, *body])
    path.write_text(buf.getvalue(), encoding="utf-8")
    return str(path)


def as_json(result) -> object:
    assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
    return json.loads(result.stdout)


def test_partners_list_round_trips_through_partners_import(db, cli, tmp_path):
    body = [[f"P{i}", file, "individual", "no", ""] for i, (file, _, _) in enumerate(NAMES)]
    body.append(["-P9", "Minus", "pooled", "yes", "-sales@p9.se"])
    cli(
        "partners",
        "import",
        write_csv(tmp_path / "in.csv", ["code", "name", "mode", "consent", "email"], body),
        ok=True,
    )
    listed = as_json(cli("partners", "list", "-f", "json"))
    by_code = {p["code"]: p for p in listed}
    assert [by_code[f"P{i}"]["name"] for i in range(len(NAMES))] == [stored for _, stored, _ in NAMES]
    assert (by_code["-P9"]["email"], by_code["-P9"]["mode"]) == ("-sales@p9.se", "pooled")

    export = cli("partners", "list", "-f", "csv", ok=True).stdout
    cells = {r[0]: r for r in rows(export)[1:]}
    assert [cells[f"P{i}"][1] for i in range(len(NAMES))] == [out for _, _, out in NAMES]
    assert cells["'-P9"][:5] == ["'-P9", "Minus", "pooled", "yes", "'-sales@p9.se"]
    assert cells["'-P9"][7] == "0"  # points: a number, never quoted

    # Into a new database: the same partners.
    path = tmp_path / "export.csv"
    path.write_text(export, encoding="utf-8")
    other = str(tmp_path / "other.db")
    cli("--db", other, "db", "init", ok=True)
    r = cli("--db", other, "partners", "import", str(path), ok=True)
    assert "note: ignored columns: status, sellers, points" in r.stderr
    assert as_json(cli("--db", other, "partners", "list", "-f", "json")) == listed
    # Into the same one: nothing changes.
    again = as_json(cli("partners", "import", str(path), "-f", "json"))
    assert (again["new"], again["updated"], again["unchanged"]) == (0, 0, len(NAMES) + 1)


def test_sellers_list_round_trips_through_sellers_import(db, cli, tmp_path):
    """`sellers list` writes the partner code under `partner`, which `sellers
    import` takes for `partner_code`."""
    partners = [["-P9", "Minus", "pooled"], ["ACME", "Acme", "pooled"]]
    cli("partners", "import", write_csv(tmp_path / "p.csv", ["code", "name", "mode"], partners), ok=True)
    body = [[f"s{i}@acme.se", file, "ACME", "2026-11-01"] for i, (file, _, _) in enumerate(NAMES)]
    body.append(["-x@p9.se", "@me", "-P9", "2026-10-01"])
    f = write_csv(tmp_path / "in.csv", ["email", "name", "partner_code", "enrolled_on"], body)
    cli("sellers", "import", f, ok=True)
    listed = as_json(cli("sellers", "list", "-f", "json"))
    by_email = {s["email"]: s for s in listed}
    assert [by_email[f"s{i}@acme.se"]["name"] for i in range(len(NAMES))] == [
        stored for _, stored, _ in NAMES
    ]

    export = cli("sellers", "list", "-f", "csv", ok=True).stdout
    cells = {r[0]: r for r in rows(export)[1:]}
    assert rows(export)[0][:3] == ["email", "name", "partner"]
    assert [cells[f"s{i}@acme.se"][1] for i in range(len(NAMES))] == [out for _, _, out in NAMES]
    assert cells["'-x@p9.se"][:3] == ["'-x@p9.se", "'@me", "'-P9"]

    path = tmp_path / "export.csv"
    path.write_text(export, encoding="utf-8")
    other = str(tmp_path / "other.db")
    cli("--db", other, "db", "init", ok=True)
    cli("--db", other, "partners", "import", str(tmp_path / "p.csv"), ok=True)
    r = cli("--db", other, "sellers", "import", str(path), ok=True)
    assert "note: ignored columns: mode, active, balance" in r.stderr
    assert as_json(cli("--db", other, "sellers", "list", "-f", "json")) == listed
    again = as_json(cli("sellers", "import", str(path), "-f", "json"))
    assert (again["new"], again["updated"], again["unchanged"]) == (0, 0, len(NAMES) + 1)
    # Both names at once is a duplicate column.
    both = write_csv(
        tmp_path / "both.csv",
        ["email", "name", "partner", "partner_code"],
        [["a@acme.se", "A", "ACME", "ACME"]],
    )
    r = cli("sellers", "import", both)
    assert r.exit_code == 1
    assert r.stderr.splitlines()[0] == f"error: {both}:1:4: partner_code: duplicate column (also column 3)"


def test_catalog_list_round_trips_through_catalog_import(db, cli, tmp_path):
    body = [
        [f"S{i}", file, str(100 + i), "" if i % 2 else str(i), "yes"] for i, (file, _, _) in enumerate(NAMES)
    ]
    body.append(["-X5", "@SUM(1)", "250", "0", "no"])
    cli(
        "catalog",
        "import",
        write_csv(tmp_path / "in.csv", ["sku", "name", "points", "stock", "active"], body),
        ok=True,
    )
    listed = as_json(cli("catalog", "list", "--all", "-f", "json"))
    by_sku = {i["sku"]: i for i in listed}
    assert [by_sku[f"S{i}"]["name"] for i in range(len(NAMES))] == [stored for _, stored, _ in NAMES]
    assert [by_sku[f"S{i}"]["stock"] for i in range(3)] == [0, None, 2]
    assert (by_sku["-X5"]["name"], by_sku["-X5"]["points"], by_sku["-X5"]["active"]) == (
        "@SUM(1)",
        250,
        False,
    )

    export = cli("catalog", "list", "--all", "-f", "csv", ok=True).stdout
    cells = {r[0]: r for r in rows(export)[1:]}
    assert [cells[f"S{i}"][1] for i in range(len(NAMES))] == [out for _, _, out in NAMES]
    assert cells["'-X5"] == ["'-X5", "'@SUM(1)", "250", "0", "0", "0", "no"]

    path = tmp_path / "export.csv"
    path.write_text(export, encoding="utf-8")
    other = str(tmp_path / "other.db")
    cli("--db", other, "db", "init", ok=True)
    cli("--db", other, "catalog", "import", str(path), ok=True)
    assert as_json(cli("--db", other, "catalog", "list", "--all", "-f", "json")) == listed
    again = as_json(cli("catalog", "import", str(path), "-f", "json"))
    assert (again["new"], again["updated"], again["unchanged"]) == (0, 0, len(NAMES) + 1)


def test_a_rejects_file_is_safe_to_open_and_imports_back(db, cli, tmp_path):
    src = write_csv(
        tmp_path / "in.csv",
        ["sku", "name", "points"],
        [["OK", "=SUM(A1)", "10"], ["BAD", "@evil", "-5"], ["Q", "'=quoted", "x"]],
    )
    r = cli("catalog", "import", src, "--skip-invalid", "--rejects", str(tmp_path / "rej.csv"))
    assert r.exit_code == 1, r.stderr
    rejects = rows((tmp_path / "rej.csv").read_text(encoding="utf-8"))
    assert rejects[0] == ["sku", "name", "points", "error"]
    assert [r[:3] for r in rejects[1:]] == [["BAD", "'@evil", "'-5"], ["Q", "'=quoted", "x"]]
    assert not any(cell.startswith(FORMULA_START) for r in rejects for cell in r)
    # The office fixes the points and imports the rejects file as it is.
    fixed = (tmp_path / "rej.csv").read_text(encoding="utf-8").replace(",'-5,", ",7,").replace(",x,", ",8,")
    (tmp_path / "rej.csv").write_text(fixed, encoding="utf-8")
    cli("catalog", "import", str(tmp_path / "rej.csv"), ok=True)
    items = {i["sku"]: (i["name"], i["points"]) for i in as_json(cli("catalog", "list", "-f", "json"))}
    assert items == {"OK": ("=SUM(A1)", 10), "BAD": ("@evil", 7), "Q": ("=quoted", 8)}


def test_numbers_and_dates_are_not_unquoted(db, cli, tmp_path):
    """Only text columns take a quote off: a number or date with one is refused."""
    f = write_csv(
        tmp_path / "c.csv",
        ["sku", "name", "points", "stock"],
        [["A", "A", "'10", ""], ["B", "B", "5", "'-1"]],
    )
    r = cli("catalog", "import", f)
    assert r.exit_code == 1
    assert r.stderr.splitlines()[:2] == [
        f'{f}:2:3: points: "\'10" is not a whole number (write e.g. 250 or 1 000)',
        f'{f}:3:4: stock: "\'-1" is not a whole number (write e.g. 250 or 1 000)',
    ]


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "-1"),  # numbers stay numbers (a negative value in SEK: -100.00)
        ("-100.00", "-100.00"),
        ("-1e3", "'-1e3"),
        ("-1 000", "'-1 000"),
        ("@A1", "'@A1"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("\nx", "'\nx"),
        ("'=x", "''=x"),
        ("'x", "'x"),
        ("x=1", "x=1"),
        ("", ""),
        ("'", "'"),
    ],
)
def test_neutralise_and_its_inverse(value, cell):
    assert neutralise(value) == cell
    assert unneutralise(cell) == value


@given(st.text(alphabet=st.sampled_from("'=+-@\t\r\nax "), max_size=6))
def test_export_then_import_is_the_identity(text):
    cell = neutralise(text)
    assert not cell.startswith(FORMULA_START)
    assert unneutralise(cell) == text
    # A field copied from a file (a rejects file) reads back as the field did.
    raw = neutralise_raw(text)
    assert not raw.startswith(FORMULA_START)
    assert unneutralise(raw) == unneutralise(text)
