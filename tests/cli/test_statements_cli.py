"""``statements export``: balances that reconcile with the ledger, in four formats.

October (booked 2026-10-20): C1 gives ACME's pool 250 000 * 10 / 1000 + 100 = 2 600.
November (booked 2026-11-22): C2 +1 100, an adjustment -200, MUG approved -500,
another MUG pending (500 held).  November for ACME: opening 2 600,
closing 2 600 + 1 100 - 200 - 500 = 3 000, held 500, available 2 500;
3 000 * 0.10 SEK = 300 SEK.
"""

from __future__ import annotations

import csv
import io
import json
import os
import stat

import pytest
from factories import import_contracts, load_catalog, small_program
from pypdf import PdfReader

REASON = "=SUM(A1) <b>bold</b>"


@pytest.fixture
def prog(db, cli, monkeypatch):
    monkeypatch.setenv("LOYALTYCTL_TODAY", "2026-10-20")
    small_program(db)
    import_contracts(db, "C1,ACME,anna@acme.se,2026-01-10,250000,leasing,started\n")
    monkeypatch.setenv("LOYALTYCTL_TODAY", "2026-11-22")
    import_contracts(db, "C2,ACME,arne@acme.se,2026-01-11,100000,leasing,started\n")
    load_catalog(db, "sku,name,points\nMUG,Mug,500\n")
    cli("points", "adjust", "ACME", "-200", "--reason", REASON, ok=True)
    rid = cli("redemptions", "request", "ACME", "MUG", ok=True).stdout.strip()
    cli("redemptions", "approve", rid, ok=True)
    cli("redemptions", "request", "ACME", "MUG", ok=True)
    return db


def statements_json(cli, *args) -> list:
    r = cli("statements", "export", "--month", "2026-11", "--format", "json", "--out", "-", *args)
    assert r.exit_code == 0, (r.stdout, r.stderr)
    return json.loads(r.stdout)


def test_opening_plus_entries_is_closing_and_matches_the_ledger(prog, cli):
    docs = {d["account"]: d for d in statements_json(cli)}
    assert set(docs) == {"ACME", "bo@bolt.se", "britt@bolt.se"}
    acme = docs["ACME"]
    assert acme["opening_balance"] == 2600
    assert [(e["kind"], e["points"]) for e in acme["entries"]] == [
        ("contract", 1100),
        ("adjustment", -200),
        ("redemption", -500),
    ]
    assert acme["closing_balance"] == 3000
    assert (acme["held"], acme["available"]) == (500, 2500)
    assert acme["value"] == "3 000 points = 300 SEK"
    assert acme["entries"][0]["reference"] == "C2"
    balances = {
        b["account"]: b["balance"]
        for b in json.loads(cli("points", "balance", "--on", "2026-11-30", "-f", "json", ok=True).stdout)
    }
    for account, d in docs.items():
        assert d["opening_balance"] + sum(e["points"] for e in d["entries"]) == d["closing_balance"]
        assert d["closing_balance"] == balances[account]
    # October alone: 0 + 2 600 = 2 600, which is November's opening.
    oct_ = cli(
        "statements", "export", "--from", "2026-10-01", "--to", "2026-10-31", "-f", "json", "-o", "-", ok=True
    )
    acme_oct = {d["account"]: d for d in json.loads(oct_.stdout)}["ACME"]
    assert (acme_oct["opening_balance"], acme_oct["closing_balance"]) == (0, 2600)


def test_csv_per_account_with_index_neutralises_formulas(prog, cli, tmp_path):
    out = tmp_path / "st"
    r = cli("statements", "export", "--month", "2026-11", "--format", "csv", "--out", str(out))
    assert r.exit_code == 0, r.stderr
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "index.csv",
        "statement-2026-11-ACME.csv",
        "statement-2026-11-bo@bolt.se.csv",
        "statement-2026-11-britt@bolt.se.csv",
    ]
    raw = (out / "statement-2026-11-ACME.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs to read UTF-8
    assert stat.S_IMODE(os.stat(out / "statement-2026-11-ACME.csv").st_mode) == 0o600
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    facts = dict(r for r in rows if len(r) == 2)
    assert (facts["opening_balance"], facts["closing_balance"]) == ("2600", "3000")
    adjustment = next(r for r in rows if len(r) == 6 and r[2] == "adjustment")
    assert adjustment[4] == "'" + REASON  # neutralised: no cell starts with =
    assert adjustment[5] == "-200"  # a number stays a number
    assert not any(cell.startswith(("=", "+", "@")) for row in rows for cell in row)
    index = list(csv.DictReader(io.StringIO((out / "index.csv").read_text("utf-8-sig"))))
    assert [(i["account"], i["closing_balance"]) for i in index] == [
        ("ACME", "3000"),
        ("bo@bolt.se", "0"),
        ("britt@bolt.se", "0"),
    ]
    # Existing files are kept unless --force.
    again = cli("statements", "export", "--month", "2026-11", "--format", "csv", "--out", str(out))
    assert again.exit_code == 7 and "exists" in again.stderr and "--force" in again.stderr
    forced = cli("statements", "export", "--month", "2026-11", "-f", "csv", "--out", str(out), "--force")
    assert forced.exit_code == 0


def test_pdf_parses_and_shows_the_closing_balance(prog, cli, tmp_path):
    target = tmp_path / "acme.pdf"
    cli("statements", "export", "--month", "2026-11", "--account", "ACME", "-o", str(target), ok=True)
    text = "\n".join(page.extract_text() for page in PdfReader(str(target)).pages)
    assert "closing balance 3 000" in text
    assert "3 000 points = 300 SEK" in text


def test_html_escapes_every_text(prog, cli):
    r = cli("statements", "export", "--month", "2026-11", "--account", "ACME", "-f", "html", "-o", "-")
    assert r.exit_code == 0
    assert "=SUM(A1) &lt;b&gt;bold&lt;/b&gt;" in r.stdout and "<b>bold" not in r.stdout
    assert "3 000 points = 300 SEK" in r.stdout


def test_a_planted_symlink_is_refused(prog, cli, tmp_path):
    out = tmp_path / "st"
    out.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (out / "statement-2026-11-ACME.json").symlink_to(victim)
    r = cli("statements", "export", "--month", "2026-11", "-f", "json", "--out", str(out), "--force")
    assert r.exit_code == 7 and "symbolic link" in r.stderr
    assert victim.read_text() == "keep me"


def test_a_bad_period_is_a_usage_error(prog, cli):
    r = cli("statements", "export", "--month", "2026-13", "-o", "-")
    assert r.exit_code == 2 and "2026-13" in r.stderr
