"""quiz, leads and leaderboard through the CLI: exit codes, stdin and rejects
files, plain output in pipes and medals on a terminal, and two real processes
racing to award the same month."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date

import pytest
from conftest import ROOT
from factories import balance, contract, import_contracts, posting_keys, small_program


@pytest.fixture
def prog(db):
    small_program(db, enrolled_on=date(2026, 1, 1))  # ACME pooled (anna, arne), BOLT individual (bo, britt)
    import_contracts(
        db,
        contract("C1", "BOLT", "bo@bolt.se", "2026-10-05", 400000)  # 4100
        + contract("C2", "BOLT", "britt@bolt.se", "2026-10-06", 300000)  # 3100
        + contract("C3", "ACME", "anna@acme.se", "2026-10-07", 300000)  # 3100
        + contract("C4", "ACME", "arne@acme.se", "2026-10-08", 200000),  # 2100
    )
    return db


@pytest.mark.slow  # concurrency: two real processes
def test_two_processes_racing_award_the_month_once(prog):
    cmd = [sys.executable, "-m", "loyaltyctl", "leaderboard", "run", "--month", "2026-10", "-f", "json"]
    procs = [
        subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT, env=dict(os.environ))
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    results = sorted(json.loads(out)["result"] for out, _ in outs)
    assert results == ["already awarded", "awarded"]
    # 5000 (bo) + 3000 (britt) + 3000 (anna, to the ACME pool), posted once.
    assert sorted(p for p, _ in posting_keys(prog, "bonus:").values()) == [3000, 3000, 5000]
    assert balance(prog, "ACME") == 3100 + 2100 + 3000


@pytest.mark.slow  # real processes
def test_run_refused_before_settle_days_with_the_date_then_forced(prog, sub):
    early = {"LOYALTYCTL_TODAY": "2026-11-03"}
    r = sub("leaderboard", "run", "--month", "2026-10", env=early)
    assert r.returncode == 4
    assert b"can be awarded from 2026-11-05" in r.stderr and b"--force" in r.stderr
    assert b"Traceback" not in r.stderr
    r = sub("leaderboard", "run", "--month", "2026-10", "--force", env=early)
    assert r.returncode == 0, r.stderr
    assert b"2026-10: awarded 11000 bonus points" in r.stderr
    r = sub("leaderboard", "run", "--month", "2026-10")  # cron retries: exit 0, shows the stored result
    assert r.returncode == 0 and b"already awarded on 2026-11-03" in r.stderr
    assert b"bo@bolt.se" in r.stdout


def test_show_piped_is_plain_json_is_a_list_and_an_awarded_period_is_marked(prog, sub, cli):
    r = sub("leaderboard", "show", "--month", "2026-10")
    assert r.returncode == 0
    out = r.stdout.decode()
    assert "🥇" not in out and "\x1b[" not in out and "┃" not in out
    lines = out.splitlines()
    assert lines[0] == "Leaderboard 2026-10 (2026-10-01 to 2026-10-31)"
    assert lines[3].split() == ["1", "bo@bolt.se", "Bo", "BOLT", "4", "100", "5", "000"]
    assert b"not awarded yet" in r.stderr
    cli("leaderboard", "run", "--month", "2026-10", ok=True)
    import_contracts(prog, contract("C9", "ACME", "arne@acme.se", "2026-10-20", 900000))  # late: 9100
    r = cli("leaderboard", "show", "--month", "2026-10", "--format", "json", ok=True)
    rows = json.loads(r.stdout)
    assert [(x["rank"], x["seller"], x["partner"], x["points"], x["bonus"]) for x in rows] == [
        (1, "bo@bolt.se", "BOLT", 4100, 5000),
        (2, "anna@acme.se", "ACME", 3100, 3000),
        (2, "britt@bolt.se", "BOLT", 3100, 3000),
        (4, "arne@acme.se", "ACME", 2100, 0),
    ]
    assert "awarded on 2026-11-22" in r.stderr and "today's figures differ" in r.stderr
    # live: arne 2100 + 9100 = 11 200 is now first
    r = cli("leaderboard", "show", "--month", "2026-10", "--live", "--top", "1", "-f", "csv", ok=True)
    assert r.stdout.splitlines() == [
        "rank,seller,name,partner,points,bonus",
        "1,arne@acme.se,Arne,ACME,11200,5000",
    ]


@pytest.mark.slow  # a real pseudo-terminal
def test_a_terminal_gets_medals(prog):
    import pexpect

    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    child = pexpect.spawn(
        sys.executable,
        ["-m", "loyaltyctl", "leaderboard", "show", "--month", "2026-10"],
        env=env,
        cwd=str(ROOT),
        encoding="utf-8",
        timeout=60,
        dimensions=(40, 120),
    )
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert "🥇" in child.before and "🥈" in child.before and "🥉" not in child.before  # 1, 2, 2, 4
    rows = [line for line in child.before.splitlines() if line.startswith("│")]  # a rich table's body
    assert [row.split("│")[1:3] for row in rows] == [
        [" 🥇 1 ", " bo@bolt.se    "],
        [" 🥈 2 ", " anna@acme.se  "],
        [" 🥈 2 ", " britt@bolt.se "],
        ["    4 ", " arne@acme.se  "],
    ]


def test_quiz_award_from_stdin_with_rejects_round_trip(prog, cli, tmp_path):
    cli(
        "quiz",
        "create",
        "q1",
        "--title",
        "Leasing basics",
        "--questions",
        "5",
        "--points-per-correct",
        "20",
        ok=True,
    )
    data = "seller_email,correct\nbo@bolt.se,5\nnobody@bolt.se,2\nanna@acme.se,6\n"
    r = cli("quiz", "award", "Q1", "-", input=data)
    assert r.exit_code == 1
    assert "<stdin>:3:1: seller_email: no seller with email 'nobody@bolt.se'" in r.stderr
    assert "<stdin>:4:2: correct: 6 correct answers, but quiz Q1 has 5 questions" in r.stderr
    assert balance(prog, "bo@bolt.se") == 4100  # nothing written
    rejects = tmp_path / "rejects.csv"
    r = cli("quiz", "award", "Q1", "-", "--skip-invalid", "--rejects", str(rejects), input=data)
    assert r.exit_code == 1
    assert "3 rows, 1 awarded, 0 unchanged, 2 rejected, +100 points posted" in r.stdout  # 5 x 20
    assert rejects.read_text().splitlines()[1:] == [
        "nobody@bolt.se,2,\"line 3, column 1: seller_email: no seller with email 'nobody@bolt.se'\"",
        'anna@acme.se,6,"line 4, column 2: correct: 6 correct answers, but quiz Q1 has 5 questions"',
    ]
    r = cli("quiz", "award", "Q1", "--seller", "bo@bolt.se", "--correct", "5", "--date", "2026-01-01")
    assert r.exit_code == 0 and "already awarded" in r.stderr
    r = cli("quiz", "award", "Q1", "--seller", "bo@bolt.se", "--correct", "4")
    assert r.exit_code == 4 and "already awarded quiz Q1 for 5" in r.stderr
    r = cli("quiz", "award", "Q1", "--seller", "britt@bolt.se", "--correct", "3", "--dry-run")
    assert r.exit_code == 0 and "dry run, nothing written" in r.stdout
    assert balance(prog, "britt@bolt.se") == 3100
    r = cli("quiz", "create", "Q2", "--title", "T", "--questions", "11", "--points-per-correct", "5")
    assert r.exit_code == 2 and "5 to 10 questions" in r.stderr


def test_leads_through_the_cli(prog, cli):
    r = cli(
        "leads", "add", "--seller", "britt@bolt.se", "--company", "Fabrik AB", "--org-number", "556677-8899"
    )
    assert r.exit_code == 0 and "lead #1: recorded" in r.stderr
    cli(
        "leads", "add", "--seller", "bo@bolt.se", "--company", "Fabrik", "--org-number", "5566778899", ok=True
    )
    r = cli("leads", "accept", "2")
    assert r.exit_code == 4 and "britt@bolt.se tipped org number 5566778899 first (lead #1" in r.stderr
    r = cli("leads", "accept", "1", "-f", "json", ok=True)
    assert json.loads(r.stdout)["points"] == 1000
    r = cli("leads", "accept", "1")
    assert r.exit_code == 0 and "already accepted" in r.stderr
    assert balance(prog, "britt@bolt.se") == 3100 + 1000
    cli("leads", "reject", "2", "--reason", "tipped by someone else", ok=True)
    r = cli("leads", "list", "--status", "pending", "-f", "json", ok=True)
    assert json.loads(r.stdout) == []
    assert cli("leads", "accept", "7").exit_code == 3


@pytest.mark.parametrize(
    ("option", "value", "reason"),
    [
        ("--month", "0000-01", "the year must be 2000 to 2999"),
        ("--month", "2026-13", "is not a month"),
        ("--month", "2026-00", "is not a month"),
        ("--month", "２０２６-01", "is not a month"),  # full-width digits
        ("--month", "2026-1", "is not a month"),
        ("--month", " 2026-10", "is not a month"),
        ("--month", "2026-10 ", "is not a month"),
        ("--month", "2026/10", "is not a month"),
        ("--month", "9999-12", "the year must be 2000 to 2999"),
        ("--year", "9999", "the year must be 2000 to 2999"),
        ("--year", "0", "is not a year"),
        ("--year", "0000", "the year must be 2000 to 2999"),
        ("--year", "２０２６", "is not a year"),
        ("--year", " 2026", "is not a year"),
        ("--year", "26", "is not a year"),
    ],
)
def test_a_bad_period_is_a_usage_error_naming_the_option(cli, option, value, reason):
    for verb in ("show", "run"):
        r = cli("leaderboard", verb, option, value)
        assert r.exit_code == 2, (verb, r.stderr)
        assert r.stderr.startswith(f"error: {option} {value!r}") and reason in r.stderr
        assert len(r.stderr.splitlines()) == 1


@pytest.mark.slow  # real processes through a pipe
def test_bad_periods_through_a_real_pipe_one_line_no_traceback(prog, sub):
    r = sub("leaderboard", "run", "--year", "9999")
    assert (r.returncode, r.stderr) == (2, b"error: --year '9999': the year must be 2000 to 2999\n")
    r = sub("leaderboard", "run", "--month", "0000-01", "-f", "json")
    assert r.returncode == 2 and r.stdout == b"" and b"Traceback" not in r.stderr
    # A real month that has not ended, or not settled: refused (4) with the date it can run from.
    r = sub("leaderboard", "run", "--month", "2026-11")
    assert r.returncode == 4
    assert r.stderr.splitlines()[0] == (
        b"error: 2026-11 has not ended (it ends on 2026-11-30); it can be awarded from 2026-12-05"
    )
    r = sub("leaderboard", "run", "--year", "2999")
    assert r.returncode == 4 and b"it can be awarded from 3000-01-05" in r.stderr


@pytest.mark.slow  # four real processes
def test_month_last_and_year_last_follow_loyaltyctl_today(prog, sub):
    # today 2026-11-22: last month is October, settled since 2026-11-05.
    r = sub("leaderboard", "run", "--month", "last", "-f", "json")
    assert r.returncode == 0, r.stderr
    assert (json.loads(r.stdout)["period"], json.loads(r.stdout)["bonus_points"]) == ("2026-10", 11000)
    # On 2027-01-03 last month is December 2026 and last year 2026: neither is settled yet.
    r = sub("leaderboard", "run", "--month", "last", env={"LOYALTYCTL_TODAY": "2027-01-03"})
    assert r.returncode == 4 and b"2026-12 can be awarded from 2027-01-05" in r.stderr
    r = sub("leaderboard", "run", "--year", "last", env={"LOYALTYCTL_TODAY": "2027-01-03"})
    assert r.returncode == 4 and b"2026 can be awarded from 2027-01-05" in r.stderr
    r = sub("leaderboard", "show", "--year", "last", "-f", "csv", env={"LOYALTYCTL_TODAY": "2027-01-06"})
    assert r.returncode == 0 and r.stdout.splitlines()[1] == b"1,bo@bolt.se,Bo,BOLT,4100,20000"


@pytest.mark.parametrize(
    "value", ["2026-W47-1", "2026-11-1", "2026-02-30", "２０２６-11-01", "20261101", " 2026-11-01"]
)
def test_quiz_award_date_is_strict_iso(prog, cli, value):
    cli("quiz", "create", "Q1", "--title", "T", "--questions", "5", "--points-per-correct", "20", ok=True)
    r = cli("quiz", "award", "Q1", "--seller", "bo@bolt.se", "--correct", "3", "--date", value)
    assert r.exit_code == 2 and r.stderr == f"error: --date {value!r} is not a date (YYYY-MM-DD)\n"
    assert balance(prog, "bo@bolt.se") == 4100


def test_quiz_file_correct_and_taken_on_are_strict(prog, cli):
    cli("quiz", "create", "Q1", "--title", "T", "--questions", "5", "--points-per-correct", "20", ok=True)
    data = (
        "seller_email,correct,taken_on\n"
        "bo@bolt.se,+3,2026-11-01\n"
        "britt@bolt.se,３,2026-11-01\n"
        "anna@acme.se,1_0,2026-11-01\n"
        "arne@acme.se,3,2026-W44-7\n"
        "bo@bolt.se,99999999999999999999999999999,2026-11-01\n"
    )
    r = cli("quiz", "award", "Q1", "-", input=data)
    assert r.exit_code == 1
    assert r.stderr.splitlines()[:5] == [
        "<stdin>:2:2: correct: '+3': write the number without a sign",
        "<stdin>:3:2: correct: '３' is not a whole number (write e.g. 250 or 1 000)",
        "<stdin>:4:2: correct: '1_0' is not a whole number (write e.g. 250 or 1 000)",
        "<stdin>:5:3: taken_on: '2026-W44-7' is not a date (write YYYY-MM-DD)",
        "<stdin>:6:2: correct: '99999999999999999999999999999' is above the limit of 1 000 000 000",
    ]


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        ("welcome_quiz_days", "-1", "may not be negative"),
        ("welcome_quiz_days", "3651", "is more than 3 650 days"),
        ("welcome_quiz_days", "９０", "must be a whole number"),
        ("welcome_quiz_days", "+90", "must be a whole number"),
        ("welcome_quiz_days", "1e3", "must be a whole number"),
        ("lead_points", "1000001", "is more than 1 000 000 points"),
        ("lead_points", str(2**63), "is more than 1 000 000 000"),
        ("lead_points", "1" + "0" * 30, "is more than 1 000 000 000"),
        ("leaderboard_settle_days", "366", "is more than 365 days"),
        ("review_confirm_points", "1000000001", "is more than 1 000 000 000"),
        ("review_confirm_points", "-1", "may not be negative"),
        ("monthly_bonus", "5000,3000,0", "must be positive whole numbers"),
        (
            "monthly_bonus",
            "1000,3000",
            "gives rank 2 more than rank 1 (3000 > 1000); prizes may not increase",
        ),
        ("monthly_bonus", "5000,3000,3500", "gives rank 3 more than rank 2"),
        ("monthly_bonus", "1000001", "has a prize above 1 000 000 points"),
        ("yearly_bonus", ",".join(["10"] * 101), "has 101 prizes; at most 100 ranks get one"),
        ("points_per_contract", str(10**30), "is more than 1 000 000 000"),
    ],
)
def test_rules_set_refuses_engagement_values_out_of_bounds(db, cli, key, value, reason):
    r = cli("rules", "set", "--from", "2026-01-01", key, "--", value)  # "--": "-1" is a value
    assert r.exit_code == 2, r.stderr
    assert r.stderr.startswith(f"error: rule {key}: {value!r} {reason}") and r.stderr.count("\n") == 1
    assert "set" not in cli("rules", "show", "-f", "csv").stdout.split(key)[1].splitlines()[0]


def test_rules_set_accepts_the_edges(db, cli):
    for key, value in [
        ("welcome_quiz_days", "0"),
        ("welcome_quiz_days", "3650"),
        ("lead_points", "0"),
        ("lead_points", "1_000_000"),
        ("leaderboard_settle_days", "365"),
        ("review_confirm_points", "0"),
        ("review_confirm_points", "1_000_000_000"),
        ("monthly_bonus", "5000,5000,1000"),  # equal prizes are fine
        ("yearly_bonus", ",".join(["1000000"] * 100)),
    ]:
        r = cli("rules", "set", key, value, "--from", f"2026-0{1 + len(value) % 9}-01")
        assert r.exit_code == 0, (key, value, r.stderr)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--questions", str(2**63)], "error: --questions 9223372036854775808: a quiz has 5 to 10 questions"),
        (["--questions", "1" + "0" * 30], "a quiz has 5 to 10 questions"),
        (["--points-per-correct", str(2**63)], "error: --points-per-correct 9223372036854775808: must be"),
        (["--points-per-correct", "100001"], "must be a whole number from 1 to 100 000"),
        (["--points-per-correct", "0"], "must be a whole number from 1 to 100 000"),
    ],
)
def test_quiz_create_refuses_huge_numbers_naming_the_option(db, cli, args, expected):
    base = {"--questions": "5", "--points-per-correct": "20"}
    base[args[0]] = args[1]
    r = cli("quiz", "create", "Q1", "--title", "T", *[x for kv in base.items() for x in kv])
    assert r.exit_code == 2 and expected in r.stderr and len(r.stderr.splitlines()) == 1
    assert cli("quiz", "list", "-f", "json").stdout.strip() == "[]"


def test_huge_correct_top_and_lead_id_are_clear_errors_not_overflows(prog, cli, sub):
    big, huge = str(2**63), "1" + "0" * 30
    cli("quiz", "create", "Q1", "--title", "T", "--questions", "5", "--points-per-correct", "20", ok=True)
    r = sub("quiz", "award", "Q1", "--seller", "bo@bolt.se", "--correct", big)  # the real thing, once
    assert (r.returncode, r.stderr) == (
        1,
        f"error: --correct: {big} correct answers, but quiz Q1 has 5 questions\n".encode(),
    )
    r = cli("quiz", "award", "Q1", "--seller", "bo@bolt.se", "--correct", huge)
    assert r.exit_code == 1 and r.stderr.startswith(f"error: --correct: {huge} correct answers"), r.stderr
    r = cli("quiz", "award", "Q1", "--seller", "bo@bolt.se", "--correct", "-1")  # no sign: a usage error
    assert (r.exit_code, r.stderr) == (2, "error: --correct '-1': a whole number in digits 0-9 only\n")
    for n in (big, huge, "0"):
        r = cli("leaderboard", "show", "--month", "2026-10", "--top", n)
        assert r.exit_code == 2
        assert r.stderr == f"error: --top {n}: must be a whole number from 1 to 1 000 000\n"
    r = cli("leaderboard", "show", "--month", "2026-10", "--top", "1000000", "-f", "csv", ok=True)
    assert len(r.stdout.splitlines()) == 5  # header + 4 sellers
    for verb in (["accept"], ["reject", "--reason", "x"]):
        r = cli("leads", *verb, big)
        assert (r.exit_code, r.stderr.splitlines()[0]) == (3, f"error: no lead tip #{big}")
    assert balance(prog, "bo@bolt.se") == 4100


def test_leads_refusals_and_unknowns_have_their_exit_codes(prog, cli):
    r = cli("leads", "add", "--seller", "nobody@bolt.se", "--company", "Ny AB")
    assert (r.exit_code, r.stderr.splitlines()[0]) == (3, "error: no seller with email 'nobody@bolt.se'")
    cli("leads", "add", "--seller", "bo@bolt.se", "--company", "Fabrik AB", ok=True)
    cli("partners", "suspend", "BOLT", ok=True)
    r = cli("leads", "accept", "1")
    assert r.exit_code == 4
    assert r.stderr.splitlines() == [
        "error: lead #1: bo@bolt.se's partner BOLT is suspended and cannot be credited",
        "hint: the tip stays pending; accept it when the partner is active again, or reject it",
    ]
    assert balance(prog, "bo@bolt.se") == 4100


def test_run_csv_is_one_row_per_winner_and_json_is_the_documented_object(prog, cli):
    r = cli("leaderboard", "run", "--month", "2026-10", "--dry-run", "-f", "csv")
    assert r.exit_code == 0, r.stderr
    # 4100 > 3100 = 3100 > 2100: ranks 1, 2, 2, 4; arne (4th) wins nothing and is not listed.
    assert r.stdout.splitlines() == [
        "period,result,rank,seller,name,partner,points,bonus",
        "2026-10,would award,1,bo@bolt.se,Bo,BOLT,4100,5000",
        "2026-10,would award,2,anna@acme.se,Anna,ACME,3100,3000",
        "2026-10,would award,2,britt@bolt.se,Britt,BOLT,3100,3000",
    ]
    assert posting_keys(prog, "bonus:") == {}
    r = cli("leaderboard", "run", "--month", "2026-10", "-f", "json")
    assert json.loads(r.stdout) == {
        "period": "2026-10",
        "first_day": "2026-10-01",
        "last_day": "2026-10-31",
        "result": "awarded",
        "awarded_on": "2026-11-22",
        "forced": False,
        "bonus_points": 11000,
        "dry_run": False,
        "winners": [
            {
                "rank": 1,
                "seller": "bo@bolt.se",
                "name": "Bo",
                "partner": "BOLT",
                "points": 4100,
                "bonus": 5000,
            },
            {
                "rank": 2,
                "seller": "anna@acme.se",
                "name": "Anna",
                "partner": "ACME",
                "points": 3100,
                "bonus": 3000,
            },
            {
                "rank": 2,
                "seller": "britt@bolt.se",
                "name": "Britt",
                "partner": "BOLT",
                "points": 3100,
                "bonus": 3000,
            },
        ],
    }
    r = cli("leaderboard", "run", "--month", "2026-10", "-f", "csv")
    assert r.exit_code == 0 and r.stdout.splitlines()[1] == (
        "2026-10,already awarded,1,bo@bolt.se,Bo,BOLT,4100,5000"
    )
    r = cli("leaderboard", "run", "--month", "2026-09", "-f", "csv")  # nobody earned: header only
    assert r.exit_code == 0 and r.stdout.splitlines() == [
        "period,result,rank,seller,name,partner,points,bonus"
    ]


def test_option_errors_name_the_option(prog, cli):
    def err(*args):
        r = cli(*args)
        assert r.exit_code == 2, (args, r.stderr)
        return r.stderr.splitlines()[0]

    q = ("quiz", "create")
    assert err(*q, "Q 1", "--title", "T", "--questions", "5", "--points-per-correct", "5") == (
        "error: quiz code: 'Q 1': a quiz code may not contain spaces or control characters"
    )
    assert (
        err(*q, "Q1", "--title", " ", "--questions", "5", "--points-per-correct", "5")
        == "error: --title: empty"
    )
    assert err(*q, "Q1", "--title", "T" * 201, "--questions", "5", "--points-per-correct", "5") == (
        "error: --title: longer than 200 characters"
    )
    cli(*q, "Q1", "--title", "T", "--questions", "5", "--points-per-correct", "5", ok=True)
    assert err("quiz", "award", "Q1", "--seller", "bo", "--correct", "3").startswith(
        "error: --seller: 'bo' is not an email address ("
    )
    tip = ("leads", "add", "--seller", "bo@bolt.se")
    assert err(*tip, "--company", "") == "error: --company: empty"
    assert err(*tip, "--company", "X", "--note", "a\x07b") == "error: --note: contains control characters"
    assert err(*tip, "--company", "X", "--org-number", "55/66") == (
        "error: --org-number '55/66': letters A-Z and digits 0-9 only (spaces and dashes are ignored)"
    )
    assert err(*tip, "--company", "X", "--org-number", "５５６６７７-８８９９").startswith(
        "error: --org-number '５５６６７７-８８９９': letters A-Z and digits 0-9 only"
    )
    assert (
        err("leads", "list", "--status", "open")
        == "error: --status 'open': one of pending, accepted, rejected"
    )
    assert err("leads", "reject", "1", "--reason", " ") == "error: --reason must say why"
    assert err("leaderboard", "show") == "error: give --month YYYY-MM or --year YYYY"
    assert err("leaderboard", "run", "--month", "2026-10", "--year", "2026") == (
        "error: give --month YYYY-MM or --year YYYY"
    )
