"""``report program`` and ``report liability``: every figure worked out by hand
on a small program, in JSON, CSV and table.

ACME (pooled: anna, arne), BOLT (individual: bo, britt), CIRC (no activity).
Default rules: 10 points per 1 000 SEK + 100 per contract, 1 point = 0.10 SEK.

booked 2026-01-05  C6 ACME anna  2025-12-20  100 000 SEK started    1 100 (last year)
booked 2026-11-22  C1 ACME anna  2026-03-10  200 000 SEK started    2 100
                   C2 ACME arne  2026-03-20  300 000 SEK started    3 100
                   C3 BOLT bo    2026-03-15  100 000 SEK started    1 100
                   C4 BOLT britt 2026-04-02  500 000 SEK started    5 100
                   C5 BOLT britt 2026-03-25   80 000 SEK registered     0
                   quiz Q1 (50 a correct answer): anna 8 on 03-05 = 400, bo 6 on 04-10 = 300
                   lead by bo accepted (valued 11-22): 1 000
                   leaderboard March: arne 3 100, anna 2 100 + 400 = 2 500, bo 1 100:
                     bonuses 5 000, 3 000, 1 000 (valued 03-31): ACME's pool 8 000, bo 1 000
                   adjustment ACME -200 (valued 11-22)
                   bo redeems a MUG: -500; ACME requests 2 MUGs: 1 000 held
"""

from __future__ import annotations

import csv
import io
import json
import os

import pytest
from conftest import build_template
from typer.testing import CliRunner

from loyaltyctl.cli import app

HEADER = "contract_id,partner_code,seller_email,start_date,amount,product,status\n"
PROGRAM_KEYS = [
    "partner",
    "name",
    "contracts",
    "volume_sek",
    "points_contract",
    "points_quiz",
    "points_lead",
    "points_bonus",
    "points_adjustment",
    "points_earned",
    "points_redeemed",
    "points_cost_sek_per_1000",
    "active_sellers",
    "quiz_participants",
]


@pytest.fixture(scope="module")
def built(backend, request, tmp_path_factory):
    return build_template(backend, request, tmp_path_factory, _build)


def _build(target: str) -> None:
    runner = CliRunner()
    saved = {k: os.environ.get(k) for k in ("LOYALTYCTL_DB", "LOYALTYCTL_TODAY")}
    os.environ["LOYALTYCTL_DB"] = target

    def cli(*args: str, input: str | None = None) -> None:
        r = runner.invoke(app, list(args), input=input, catch_exceptions=False)
        assert r.exit_code == 0, (args, r.stdout, r.stderr)

    try:
        os.environ["LOYALTYCTL_TODAY"] = "2026-01-05"
        for code, mode in (("ACME", "pooled"), ("BOLT", "individual"), ("CIRC", "individual")):
            name = f"{code.title()} AB"
            cli("partners", "enroll", code, "--name", name, "--mode", mode, "--consent")
        for email, partner in (
            ("anna@acme.se", "ACME"),
            ("arne@acme.se", "ACME"),
            ("bo@bolt.se", "BOLT"),
            ("britt@bolt.se", "BOLT"),
        ):
            cli("sellers", "add", email, "--partner", partner, "--name", email.split("@")[0].title())
        cli(
            "contracts",
            "import",
            "-",
            input=HEADER + "C6,ACME,anna@acme.se,2025-12-20,100000,leasing,started\n",
        )
        os.environ["LOYALTYCTL_TODAY"] = "2026-11-22"
        cli(
            "contracts",
            "import",
            "-",
            input=HEADER
            + "C1,ACME,anna@acme.se,2026-03-10,200000,leasing,started\n"
            + "C2,ACME,arne@acme.se,2026-03-20,300000,leasing,started\n"
            + "C3,BOLT,bo@bolt.se,2026-03-15,100000,leasing,started\n"
            + "C4,BOLT,britt@bolt.se,2026-04-02,500000,leasing,started\n"
            + "C5,BOLT,britt@bolt.se,2026-03-25,80000,leasing,registered\n",
        )
        cli("quiz", "create", "Q1", "--title", "Leasing", "--questions", "10", "--points-per-correct", "50")
        cli(
            "quiz",
            "award",
            "Q1",
            "-",
            input="seller_email,correct,taken_on\nanna@acme.se,8,2026-03-05\nbo@bolt.se,6,2026-04-10\n",
        )
        cli("leads", "add", "--seller", "bo@bolt.se", "--company", "Nya AB")
        cli("leads", "accept", "1")
        cli("leaderboard", "run", "--month", "2026-03")
        cli("points", "adjust", "ACME", "-200", "--reason", "booth")
        cli("catalog", "import", "-", input="sku,name,points\nMUG,Mug,500\n")
        cli("redemptions", "request", "bo@bolt.se", "MUG", "--id", "B1")
        cli("redemptions", "approve", "B1")
        cli("redemptions", "request", "ACME", "MUG", "--qty", "2", "--id", "A1")
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture
def prog(built, _isolated):
    built.load(_isolated)


def as_json(r) -> dict:
    assert r.exit_code == 0, (r.stdout, r.stderr)
    return json.loads(r.stdout)


def row(partner, name, contracts, volume, kinds, redeemed, cost, active, quiz) -> dict:
    contract, quiz_pts, lead, bonus, adjustment = kinds
    return {
        "partner": partner,
        "name": name,
        "contracts": contracts,
        "volume_sek": volume,
        "points_contract": contract,
        "points_quiz": quiz_pts,
        "points_lead": lead,
        "points_bonus": bonus,
        "points_adjustment": adjustment,
        "points_earned": sum(kinds),
        "points_redeemed": redeemed,
        "points_cost_sek_per_1000": cost,
        "active_sellers": active,
        "quiz_participants": quiz,
    }


def test_program_year_in_json(prog, cli):
    data = as_json(cli("report", "program", "--year", "2026", "--format", "json"))
    assert list(data) == ["period_from", "period_to", "point_value_sek", "partners", "total"]
    assert all(list(r) == PROGRAM_KEYS for r in [*data["partners"], data["total"]])
    assert data == {
        "period_from": "2026-01-01",
        "period_to": "2026-12-31",
        "point_value_sek": "0.10",
        "partners": [
            # ACME: C1 + C2 (C6 started in 2025); earned 5 200 + 400 + 8 000 - 200 = 13 400;
            # 13 400 x 0.10 = 1 340 SEK over 500 x 1 000 SEK = 2.68 a 1 000 SEK.
            row("ACME", "Acme AB", 2, "500000.00", (5200, 400, 0, 8000, -200), 0, "2.68", 2, 1),
            # BOLT: C3 + C4 (C5 only registered); 6 200 + 300 + 1 000 + 1 000 = 8 500;
            # 850 SEK / 600 = 1.4166 -> 1.42.
            row("BOLT", "Bolt AB", 2, "600000.00", (6200, 300, 1000, 1000, 0), 500, "1.42", 2, 1),
            row("CIRC", "Circ AB", 0, "0.00", (0, 0, 0, 0, 0), 0, None, 0, 0),
        ],
        # 21 900 x 0.10 = 2 190 SEK / 1 100 = 1.9909 -> 1.99.
        "total": row("TOTAL", "", 4, "1100000.00", (11400, 700, 1000, 9000, -200), 500, "1.99", 4, 2),
    }


def test_program_month_in_csv(prog, cli):
    # March: C1, C2, C3; anna's quiz; the March bonuses (valued 03-31); nothing else.
    # ACME 5 200 + 400 + 8 000 = 13 600: 1 360 / 500 = 2.72; BOLT 1 100 + 1 000 = 2 100: 210 / 100 = 2.10;
    # total 15 700: 1 570 / 600 = 2.6166 -> 2.62.
    r = cli("report", "program", "--year", "2026", "--month", "2026-03", "--format", "csv", ok=True)
    assert list(csv.reader(io.StringIO(r.stdout))) == [
        PROGRAM_KEYS,
        [
            "ACME",
            "Acme AB",
            "2",
            "500000.00",
            "5200",
            "400",
            "0",
            "8000",
            "0",
            "13600",
            "0",
            "2.72",
            "2",
            "1",
        ],
        ["BOLT", "Bolt AB", "1", "100000.00", "1100", "0", "0", "1000", "0", "2100", "0", "2.10", "1", "0"],
        ["CIRC", "Circ AB", "0", "0.00", "0", "0", "0", "0", "0", "0", "0", "", "0", "0"],
        ["TOTAL", "", "3", "600000.00", "6300", "400", "0", "9000", "0", "15700", "0", "2.62", "3", "1"],
    ]
    # November: the lead, the adjustment and the redemption only (valued 11-22).
    nov = as_json(cli("report", "program", "--year", "2026", "--month", "2026-11", "-f", "json"))
    assert nov["total"] == row("TOTAL", "", 0, "0.00", (0, 0, 1000, 0, -200), 500, None, 0, 0)


def test_program_table_has_grouped_figures_and_a_total_row(prog, cli):
    r = cli("report", "program", "--year", "2026", ok=True)
    lines = r.stdout.splitlines()
    assert lines[0] == "Program 2026-01-01 to 2026-12-31"
    total = lines[-1].split()
    assert total[:2] == ["TOTAL", "4"] and "1100000.00" in total
    assert "11 400" in lines[-1] and "21 900" in lines[-1] and "1.99" in lines[-1]


def test_liability_today_in_json(prog, cli):
    data = as_json(cli("report", "liability", "--format", "json"))
    # ACME: 1 100 + 5 200 + 400 + 8 000 - 200 = 14 500, 1 000 held by A1;
    # BOLT: 6 200 + 300 + 1 000 + 1 000 - 500 = 8 000.
    assert data == {
        "on": "2026-11-22",
        "point_value_sek": "0.10",
        "partners": [
            _liab("ACME", "Acme AB", 14500, 1000, "1450.00", "100.00"),
            _liab("BOLT", "Bolt AB", 8000, 0, "800.00", "0.00"),
            _liab("CIRC", "Circ AB", 0, 0, "0.00", "0.00"),
        ],
        "total": _liab("TOTAL", "", 22500, 1000, "2250.00", "100.00"),
    }
    assert list(data["total"]) == [
        "partner",
        "name",
        "outstanding",
        "held",
        "available",
        "outstanding_sek",
        "held_sek",
    ]


def test_liability_on_an_earlier_day_as_table_and_csv(prog, cli):
    # On 2026-06-30 only C6 (booked 2026-01-05) was on the books: 1 100 points = 110 SEK.
    r = cli("report", "liability", "--on", "2026-06-30", ok=True)
    assert r.stdout.splitlines()[0] == "Points liability on 2026-06-30 (1 point = 0.10 SEK)"
    assert r.stdout.splitlines()[-1].split() == ["TOTAL", "1", "100", "0", "1", "100", "110.00", "0.00"]
    c = cli("report", "liability", "--on", "2026-06-30", "--format", "csv", ok=True)
    assert list(csv.reader(io.StringIO(c.stdout)))[1:] == [
        ["ACME", "Acme AB", "1100", "0", "1100", "110.00", "0.00"],
        ["BOLT", "Bolt AB", "0", "0", "0", "0.00", "0.00"],
        ["CIRC", "Circ AB", "0", "0", "0", "0.00", "0.00"],
        ["TOTAL", "", "1100", "0", "1100", "110.00", "0.00"],
    ]


def _liab(partner, name, outstanding, held, outstanding_sek, held_sek) -> dict:
    return {
        "partner": partner,
        "name": name,
        "outstanding": outstanding,
        "held": held,
        "available": outstanding - held,
        "outstanding_sek": outstanding_sek,
        "held_sek": held_sek,
    }
