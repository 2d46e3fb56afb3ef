"""What a statement says, worked out by hand on a small program.

ACME (pooled, "Acme Bil AB"), BOLT (individual, "Bolt & Co": bo "Bo Ek" and a
seller named ``<script>alert('x')</script>``, x@bolt.se).  Default rules: 10 points
per 1 000 SEK + 100 per contract; 1 point = 0.10 SEK.

booked 2026-10-20  C1 ACME  1 100 000 SEK, starts 10-05: 11 000 + 100 = 11 100
                   C3 bo      100 000 SEK, starts 10-06:  1 000 + 100 =  1 100
booked 2026-11-05  C2 ACME    100 000 SEK, starts 11-03:                 1 100
                   ACME adjustment +100 (ref ADJ-1, a formula-like reason)
                   x@bolt.se adjustment +50 "welcome"
booked 2026-11-22  C4 ACME     50 000 SEK, starts 10-30 (valued in October): 600
                   R1: 1 MUG (500) requested and approved: -500
                   R2: 1 MUG requested, pending: 500 held
booked 2026-12-01  ACME adjustment +1 000 (after November)
exported 2026-12-02

November, ACME: opening 11 100; +1 100 +100 +600 -500; closing 12 400
= 1 240 SEK.  As of 2026-12-02: balance 13 400, held 500, available 12 900.
bo: opening 1 100, no entries, closing 1 100.  x@bolt.se: 0 + 50 = 50.
"""

from __future__ import annotations

import csv
import io
import json
import os

import pytest
from conftest import build_template
from pypdf import PdfReader
from typer.testing import CliRunner

from loyaltyctl.cli import app

SCRIPT = "<script>alert('x')</script>"
HEADER = "contract_id,partner_code,seller_email,start_date,amount,product,status\n"

ACME_ENTRIES = [
    # date, value date, kind, reference, description, points
    ("2026-11-05", "2026-11-03", "contract", "C2", "leasing 100000.00 SEK", 1100),
    ("2026-11-05", "2026-11-05", "adjustment", "ADJ-1", "=HYPERLINK(1) fair booth", 100),
    ("2026-11-22", "2026-10-30", "contract", "C4", "leasing 50000.00 SEK", 600),
    ("2026-11-22", "2026-11-22", "redemption", "R1", "1 x MUG Mug", -500),
]


@pytest.fixture(scope="module")
def built(backend, request, tmp_path_factory):
    """The program above, built once through the CLI; each test gets a copy."""
    return build_template(backend, request, tmp_path_factory, _build)


def _build(target: str) -> None:
    runner = CliRunner()
    saved = {k: os.environ.get(k) for k in ("LOYALTYCTL_DB", "LOYALTYCTL_TODAY")}
    os.environ["LOYALTYCTL_DB"] = target

    def cli(*args: str, input: str | None = None) -> None:
        r = runner.invoke(app, list(args), input=input, catch_exceptions=False)
        assert r.exit_code == 0, (args, r.stdout, r.stderr)

    def on(day: str) -> None:
        os.environ["LOYALTYCTL_TODAY"] = day

    try:
        on("2026-10-20")
        cli("partners", "enroll", "ACME", "--name", "Acme Bil AB", "--mode", "pooled", "--consent")
        cli("partners", "enroll", "BOLT", "--name", "Bolt & Co", "--mode", "individual", "--consent")
        cli("sellers", "add", "anna@acme.se", "--partner", "ACME", "--name", "Anna")
        cli("sellers", "add", "arne@acme.se", "--partner", "ACME", "--name", "Arne")
        cli("sellers", "add", "bo@bolt.se", "--partner", "BOLT", "--name", "Bo Ek")
        cli("sellers", "add", "x@bolt.se", "--partner", "BOLT", "--name", SCRIPT)
        cli(
            "contracts",
            "import",
            "-",
            input=HEADER
            + "C1,ACME,anna@acme.se,2026-10-05,1100000,leasing,started\n"
            + "C3,BOLT,bo@bolt.se,2026-10-06,100000,leasing,started\n",
        )
        on("2026-11-05")
        cli(
            "contracts",
            "import",
            "-",
            input=HEADER + "C2,ACME,arne@acme.se,2026-11-03,100000,leasing,started\n",
        )
        cli("points", "adjust", "ACME", "100", "--reason", "=HYPERLINK(1) fair booth", "--ref", "ADJ-1")
        cli("points", "adjust", "x@bolt.se", "50", "--reason", "welcome")
        on("2026-11-22")
        cli(
            "contracts",
            "import",
            "-",
            input=HEADER + "C4,ACME,anna@acme.se,2026-10-30,50000,leasing,started\n",
        )
        cli("catalog", "import", "-", input="sku,name,points\nMUG,Mug,500\n")
        cli("redemptions", "request", "ACME", "MUG", "--id", "R1")
        cli("redemptions", "approve", "R1")
        cli("redemptions", "request", "ACME", "MUG", "--id", "R2")
        on("2026-12-01")
        cli("points", "adjust", "ACME", "1000", "--reason", "December")
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture
def prog(built, _isolated, monkeypatch):
    built.load(_isolated)
    monkeypatch.setenv("LOYALTYCTL_TODAY", "2026-12-02")  # the export day


def export(cli, *args: str):
    r = cli("statements", "export", *args)
    assert r.exit_code == 0, (r.exit_code, r.stdout, r.stderr)
    return r


def docs(cli, *args: str) -> dict[str, dict]:
    """By account.  One account (--account naming one) prints one object, else a list."""
    data = json.loads(export(cli, "--format", "json", "--out", "-", *args).stdout)
    return {d["account"]: d for d in (data if isinstance(data, list) else [data])}


def test_every_figure_of_the_november_statements(prog, cli):
    got = docs(cli, "--month", "2026-11")
    assert list(got) == ["ACME", "bo@bolt.se", "x@bolt.se"]
    acme = got["ACME"]
    assert acme == {
        "account": "ACME",
        "holder": "Acme Bil AB",
        "partner": "ACME",
        "period_from": "2026-11-01",
        "period_to": "2026-11-30",
        "opening_balance": 11100,
        "entries": [
            dict(zip(["date", "value_date", "kind", "reference", "description", "points"], e, strict=True))
            for e in ACME_ENTRIES
        ],
        "closing_balance": 12400,
        "as_of": "2026-12-02",
        "held": 500,
        "available": 12900,
        "point_value_sek": "0.10",
        "value_sek": "1240.00",
        "value": "12 400 points = 1 240 SEK",
    }
    bo, x = got["bo@bolt.se"], got["x@bolt.se"]
    assert (bo["holder"], bo["partner"], bo["opening_balance"], bo["entries"], bo["closing_balance"]) == (
        "Bo Ek",
        "BOLT",
        1100,
        [],
        1100,
    )
    assert bo["value"] == "1 100 points = 110 SEK"
    assert (x["holder"], x["opening_balance"], x["closing_balance"], x["value"]) == (
        SCRIPT,
        0,
        50,
        "50 points = 5 SEK",
    )
    assert [(e["kind"], e["reference"], e["description"], e["points"]) for e in x["entries"]] == [
        ("adjustment", None, "welcome", 50)
    ]


def test_month_equals_from_to_and_a_shorter_period_opens_later(prog, cli):
    month = docs(cli, "--month", "2026-11")
    assert docs(cli, "--from", "2026-11-01", "--to", "2026-11-30") == month
    # From 11-06 to 11-22: opening 11 100 + 1 100 + 100 = 12 300; C4 and R1; closing 12 400.
    part = docs(cli, "--from", "2026-11-06", "--to", "2026-11-22")["ACME"]
    assert (part["opening_balance"], part["closing_balance"]) == (12300, 12400)
    assert [e["reference"] for e in part["entries"]] == ["C4", "R1"]
    # December: 12 400 + 1 000 = 13 400.
    dec = docs(cli, "--month", "2026-12")["ACME"]
    assert (dec["opening_balance"], [e["points"] for e in dec["entries"]], dec["closing_balance"]) == (
        12400,
        [1000],
        13400,
    )


def test_account_by_email_by_pooled_partner_code_and_by_individual_partner(prog, cli, tmp_path):
    assert list(docs(cli, "--month", "2026-11", "--account", "bo@bolt.se")) == ["bo@bolt.se"]
    assert list(docs(cli, "--month", "2026-11", "--account", "acme")) == ["ACME"]  # the pool
    # An individual partner's code: each of its sellers' accounts.
    assert list(docs(cli, "--month", "2026-11", "--account", "BOLT")) == ["bo@bolt.se", "x@bolt.se"]
    r = cli("statements", "export", "--month", "2026-11", "--account", "BOLT", "-f", "pdf", "-o", "-")
    assert r.exit_code == 2 and "2 accounts" in r.stderr
    # A pooled partner's seller holds no account: the refusal names the partner code.
    r = cli(
        "statements", "export", "--month", "2026-11", "--account", "anna@acme.se", "-f", "json", "-o", "-"
    )
    assert r.exit_code == 4 and "ACME" in r.stderr
    r = cli(
        "statements", "export", "--month", "2026-11", "--account", "nobody@acme.se", "-f", "json", "-o", "-"
    )
    assert r.exit_code == 3
    # --out FILE with one account.
    target = tmp_path / "bo.json"
    export(cli, "--month", "2026-11", "--account", "bo@bolt.se", "-f", "json", "--out", str(target))
    assert json.loads(target.read_text())["closing_balance"] == 1100


def test_one_file_per_account_and_an_index(prog, cli, tmp_path):
    for fmt in ("json", "html", "csv"):
        export(cli, "--month", "2026-11", "--format", fmt, "--out", str(tmp_path / fmt))
    names = sorted(p.name for p in (tmp_path / "json").iterdir())
    assert names == [
        "index.json",
        "statement-2026-11-ACME.json",
        "statement-2026-11-bo@bolt.se.json",
        "statement-2026-11-x@bolt.se.json",
    ]
    index = json.loads((tmp_path / "json" / "index.json").read_text())
    assert index == [
        {
            "account": "ACME",
            "holder": "Acme Bil AB",
            "partner": "ACME",
            "file": "statement-2026-11-ACME.json",
            "opening_balance": 11100,
            "closing_balance": 12400,
        },
        {
            "account": "bo@bolt.se",
            "holder": "Bo Ek",
            "partner": "BOLT",
            "file": "statement-2026-11-bo@bolt.se.json",
            "opening_balance": 1100,
            "closing_balance": 1100,
        },
        {
            "account": "x@bolt.se",
            "holder": SCRIPT,
            "partner": "BOLT",
            "file": "statement-2026-11-x@bolt.se.json",
            "opening_balance": 0,
            "closing_balance": 50,
        },
    ]
    one = json.loads((tmp_path / "json" / "statement-2026-11-ACME.json").read_text())
    assert one == docs(cli, "--month", "2026-11")["ACME"]
    rows = list(csv.DictReader(io.StringIO((tmp_path / "csv" / "index.csv").read_text("utf-8-sig"))))
    assert [(r["account"], r["file"], r["opening_balance"], r["closing_balance"]) for r in rows] == [
        ("ACME", "statement-2026-11-ACME.csv", "11100", "12400"),
        ("bo@bolt.se", "statement-2026-11-bo@bolt.se.csv", "1100", "1100"),
        ("x@bolt.se", "statement-2026-11-x@bolt.se.csv", "0", "50"),
    ]
    page = (tmp_path / "html" / "index.html").read_text()
    assert '<a href="statement-2026-11-ACME.html">ACME</a>' in page
    assert "&lt;script&gt;" in page and "<script>" not in page


def test_csv_has_the_summary_the_labels_and_every_entry(prog, cli):
    raw = export(cli, "--month", "2026-11", "--account", "ACME", "-f", "csv", "-o", "-").stdout
    rows = list(csv.reader(io.StringIO(raw.removeprefix("\ufeff"))))
    facts = dict(r for r in rows if len(r) == 2)
    assert facts == {
        "field": "value",
        "account": "ACME",
        "holder": "Acme Bil AB",
        "partner": "ACME",
        "period": "2026-11-01 to 2026-11-30",
        "opening_balance": "11100",
        "closing_balance": "12400",
        "held_as_of_2026-12-02": "500",
        "available_as_of_2026-12-02": "12900",
        "value": "12 400 points = 1 240 SEK",
    }
    table = [r for r in rows if len(r) == 6]
    assert table[0] == ["date", "value_date", "kind", "reference", "description", "points"]
    assert [tuple(r[:4]) + (r[5],) for r in table[1:]] == [
        (d, v, k, ref, str(p)) for d, v, k, ref, _, p in ACME_ENTRIES
    ]


def test_html_is_printable_with_the_figures_and_escaped_names(prog, cli):
    page = export(cli, "--month", "2026-11", "--account", "ACME", "-f", "html", "-o", "-").stdout
    assert "@media print" in page
    for text in [
        "<dt>opening balance</dt><dd>11 100</dd>",
        "<dt>closing balance</dt><dd>12 400</dd>",
        "<dt>held as of 2026-12-02</dt><dd>500</dd>",
        "<dt>available as of 2026-12-02</dt><dd>12 900</dd>",
        "<dt>value</dt><dd>12 400 points = 1 240 SEK</dd>",
        "<td>2026-11-22</td><td>2026-10-30</td><td>contract</td><td>C4</td>",
        '<td class="n">-500</td>',
    ]:
        assert text in page, text
    x = export(cli, "--month", "2026-11", "--account", "x@bolt.se", "-f", "html", "-o", "-").stdout
    assert "<script>" not in x
    assert "<h1>Points statement: &lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;</h1>" in x
    bolt = export(cli, "--month", "2026-11", "--account", "bo@bolt.se", "-f", "html", "-o", "-").stdout
    assert "Bo Ek" in bolt


def test_pdf_parses_and_has_the_same_figures(prog, cli, tmp_path):
    target = tmp_path / "acme.pdf"
    export(cli, "--month", "2026-11", "--account", "ACME", "--out", str(target))  # pdf is the default
    assert target.read_bytes().startswith(b"%PDF-")
    lines = "\n".join(p.extract_text() for p in PdfReader(str(target)).pages).splitlines()
    for line in [
        "Points statement: Acme Bil AB",
        "holder Acme Bil AB",
        "partner ACME",
        "period 2026-11-01 to 2026-11-30",
        "opening balance 11 100",
        "closing balance 12 400",
        "held as of 2026-12-02 500",
        "available as of 2026-12-02 12 900",
        "value 12 400 points = 1 240 SEK",
        "2026-11-05 2026-11-03 contract C2 leasing 100000.00 SEK 1 100",
        "2026-11-05 2026-11-05 adjustment ADJ-1 =HYPERLINK(1) fair booth 100",
        "2026-11-22 2026-10-30 contract C4 leasing 50000.00 SEK 600",
        "2026-11-22 2026-11-22 redemption R1 1 x MUG Mug -500",
    ]:
        assert line in lines, (line, lines)
    x = tmp_path / "x.pdf"
    export(cli, "--month", "2026-11", "--account", "x@bolt.se", "--out", str(x))
    text = "\n".join(p.extract_text() for p in PdfReader(str(x)).pages)
    assert f"holder {SCRIPT}" in text and "closing balance 50" in text


def test_the_value_uses_point_value_sek_with_grouped_digits(prog, cli, monkeypatch):
    # 0.125 SEK a point from 2026-11-04 (the value is taken at the period's end):
    # 12 400 x 0.125 = 1 550 SEK; 50 x 0.125 = 6.25 SEK.
    cli("rules", "set", "point_value_sek", "0.125", "--from", "2026-11-04", ok=True)
    got = docs(cli, "--month", "2026-11")
    assert (got["ACME"]["value"], got["ACME"]["value_sek"], got["ACME"]["point_value_sek"]) == (
        "12 400 points = 1 550 SEK",
        "1550.00",
        "0.125",
    )
    assert (got["x@bolt.se"]["value"], got["x@bolt.se"]["value_sek"]) == ("50 points = 6.25 SEK", "6.25")


def test_pdf_keeps_swedish_letters_and_plains_the_others(prog, cli, tmp_path):
    # Helvetica has å, ä, ö (Latin-1); other letters lose their accents instead of becoming "?".
    cli("sellers", "add", "z@bolt.se", "--partner", "BOLT", "--name", "Łukasz Nguyễn Åström", ok=True)
    cli("points", "adjust", "z@bolt.se", "10", "--reason", "Välkommen – “tack”", ok=True)
    target = tmp_path / "z.pdf"
    export(cli, "--month", "2026-12", "--account", "z@bolt.se", "--out", str(target))
    text = "\n".join(p.extract_text() for p in PdfReader(str(target)).pages)
    assert "holder Lukasz Nguyen Åström" in text
    assert 'Välkommen - "tack" 10' in text
    page = export(cli, "--month", "2026-12", "--account", "z@bolt.se", "-f", "html", "-o", "-").stdout
    assert "Łukasz Nguyễn Åström" in page  # HTML is UTF-8: every letter as it is
