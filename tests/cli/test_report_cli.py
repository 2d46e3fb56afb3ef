"""``report liability`` and ``report program``.

rewards_program: ACME pool 2 600 (C1, 250 000 SEK) + 1 100 (C2, 100 000 SEK) = 3 700;
bo 2 600 (C3, 250 000 SEK); contracts start 2026-01-10..12, booked 2026-11-22.
Then: ACME requests 2 x MUG (2 x 500 = 1 000 held, requested 2026-11-20);
bo redeems one MUG (500, approved 2026-11-22).
"""

from __future__ import annotations

import csv
import io
import json

import pytest
from factories import rewards_program


@pytest.fixture
def prog(db, cli):
    rewards_program(db)
    cli(
        "redemptions",
        "import",
        "-",
        input="request_id,account,sku,quantity,requested_at\nA1,ACME,MUG,2,2026-11-20\nB1,bo@bolt.se,MUG,1,\n",
        ok=True,
    )
    cli("redemptions", "approve", "B1", ok=True)
    return db


def as_json(r) -> dict:
    assert r.exit_code == 0, (r.stdout, r.stderr)
    return json.loads(r.stdout)


def test_liability_per_partner_and_total(prog, cli):
    data = as_json(cli("report", "liability", "--format", "json"))
    rows = {r["partner"]: r for r in data["partners"]}
    # ACME: 3 700 outstanding, 1 000 held; 3 700 * 0.10 = 370.00 SEK, 1 000 * 0.10 = 100.00.
    assert (rows["ACME"]["outstanding"], rows["ACME"]["held"], rows["ACME"]["available"]) == (
        3700,
        1000,
        2700,
    )
    assert (rows["ACME"]["outstanding_sek"], rows["ACME"]["held_sek"]) == ("370.00", "100.00")
    # BOLT: 2 600 - 500 redeemed = 2 100 = 210.00 SEK.
    assert (rows["BOLT"]["outstanding"], rows["BOLT"]["held"], rows["BOLT"]["outstanding_sek"]) == (
        2100,
        0,
        "210.00",
    )
    # Total: 3 700 + 2 100 = 5 800 = 580.00 SEK.
    assert (data["total"]["outstanding"], data["total"]["held"], data["total"]["outstanding_sek"]) == (
        5800,
        1000,
        "580.00",
    )
    # The day before the bookings: nothing outstanding, but A1 (requested 2026-11-20) was held.
    before = as_json(cli("report", "liability", "--on", "2026-11-21", "-f", "json"))
    acme = {r["partner"]: r for r in before["partners"]}["ACME"]
    assert (acme["outstanding"], acme["held"]) == (0, 1000)
    assert before["total"]["outstanding"] == 0


def test_program_year_and_month(prog, cli):
    data = as_json(cli("report", "program", "--year", "2026", "-f", "json"))
    rows = {r["partner"]: r for r in data["partners"]}
    assert (rows["ACME"]["contracts"], rows["ACME"]["volume_sek"], rows["ACME"]["points_contract"]) == (
        2,
        "350000.00",
        3700,
    )
    # Cost per 1 000 SEK financed: ACME 3 700 * 0.10 / 350 = 1.057 -> 1.06; BOLT 260 / 250 = 1.04.
    assert (rows["ACME"]["points_cost_sek_per_1000"], rows["BOLT"]["points_cost_sek_per_1000"]) == (
        "1.06",
        "1.04",
    )
    assert (rows["BOLT"]["points_redeemed"], rows["ACME"]["points_redeemed"]) == (500, 0)
    assert (rows["ACME"]["active_sellers"], rows["BOLT"]["active_sellers"]) == (2, 1)
    total = data["total"]
    # 6 300 points * 0.10 = 630 SEK over 600 000 SEK = 1.05 per 1 000.
    assert (total["contracts"], total["points_earned"], total["points_cost_sek_per_1000"]) == (
        3,
        6300,
        "1.05",
    )
    assert (total["points_redeemed"], total["active_sellers"], total["quiz_participants"]) == (500, 3, 0)
    # January holds the contracts (valued at their start dates) but not November's redemption.
    jan = as_json(cli("report", "program", "--year", "2026", "--month", "2026-01", "-f", "json"))
    assert (jan["total"]["points_contract"], jan["total"]["points_redeemed"]) == (6300, 0)
    feb = as_json(cli("report", "program", "--year", "2026", "--month", "2026-02", "-f", "json"))
    assert (feb["total"]["contracts"], feb["total"]["points_cost_sek_per_1000"]) == (0, None)


def test_program_csv_has_a_total_row_and_a_wrong_month_is_refused(prog, cli):
    r = cli("report", "program", "--year", "2026", "--format", "csv", ok=True)
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert [x["partner"] for x in rows] == ["ACME", "BOLT", "TOTAL"]
    assert rows[-1]["points_earned"] == "6300"
    bad = cli("report", "program", "--year", "2026", "--month", "2025-01")
    assert bad.exit_code == 2 and "not in --year 2026" in bad.stderr
