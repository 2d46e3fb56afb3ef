"""Whole-number options and arguments take ASCII digits 0-9 only (a '-' in front
only for ``points adjust POINTS``); anything else is a usage error naming the
option and the value, before any database is touched."""

from __future__ import annotations

import inspect
import json
import typing

import pytest
import typer
from factories import balance, small_program

from loyaltyctl.cli import app
from loyaltyctl.cli._common import WholeNumber

V = "{v}"  # where the value goes

# (command, parameter, how errors name it, argv with V, negative allowed)
INT_PARAMS = [
    ("leaderboard show", "top", "--top", ["leaderboard", "show", "--month", "2026-10", "--top", V], False),
    ("catalog list", "max_points", "--max-points", ["catalog", "list", "--max-points", V], False),
    (
        "quiz create",
        "questions",
        "--questions",
        ["quiz", "create", "Q1", "--title", "T", "--questions", V, "--points-per-correct", "5"],
        False,
    ),
    (
        "quiz create",
        "points_per_correct",
        "--points-per-correct",
        ["quiz", "create", "Q1", "--title", "T", "--questions", "5", "--points-per-correct", V],
        False,
    ),
    (
        "quiz award",
        "correct",
        "--correct",
        ["quiz", "award", "Q1", "--seller", "bo@bolt.se", "--correct", V],
        False,
    ),
    ("redemptions request", "qty", "--qty", ["redemptions", "request", "BOLT", "MUG", "--qty", V], False),
    ("report program", "year", "--year", ["report", "program", "--year", V], False),
    ("leads accept", "lead_id", "ID", ["leads", "accept", V], False),
    ("leads reject", "lead_id", "ID", ["leads", "reject", "--reason", "x", V], False),
    ("points adjust", "points", "points", ["points", "adjust", "bo@bolt.se", V, "--reason", "x"], True),
]
IDS = [f"{c.replace(' ', '-')}:{n}" for c, _, n, *_ in INT_PARAMS]
BAD = ["５", "1_000", " 2", "+3", "0x10", "١", "1.0", "2e3", "", "12\n"]

PARSING_ONLY = pytest.mark.backend_independent("option parsing fails before any database is opened")


def _argv(template: list[str], value: str) -> list[str]:
    return [value if a == V else a for a in template]


def _int_params_in_the_tree() -> set[tuple[str, str]]:
    """Every (command, parameter) whose type is int, from the callbacks'
    annotations, with the parser each one was given."""
    found = {}

    def walk(cmd, path):
        for name, sub in getattr(cmd, "commands", {}).items():
            walk(sub, [*path, name])
        if cmd.callback is None:
            return
        hints = typing.get_type_hints(inspect.unwrap(cmd.callback), include_extras=True)
        for pname, hint in hints.items():
            base, *meta = typing.get_args(hint) if typing.get_origin(hint) is typing.Annotated else (hint,)
            if int in (base, *typing.get_args(base)) and base is not bool:
                parsers = [getattr(m, "parser", None) for m in meta]
                found[(" ".join(path), pname)] = parsers

    walk(typer.main.get_command(app), [])
    return found


@PARSING_ONLY
def test_every_int_parameter_uses_the_shared_parser_and_is_tested_here():
    found = _int_params_in_the_tree()
    assert set(found) == {(c, p) for c, p, *_ in INT_PARAMS}
    for key, parsers in found.items():
        assert any(isinstance(p, WholeNumber) for p in parsers), key


@PARSING_ONLY
@pytest.mark.parametrize("value", BAD, ids=repr)
@pytest.mark.parametrize(("command", "param", "name", "argv", "negative"), INT_PARAMS, ids=IDS)
def test_non_ascii_digits_are_a_usage_error_naming_the_option(
    cli, tmp_path, monkeypatch, command, param, name, argv, negative, value
):
    # A database that does not exist: opening it would be exit 6, not 2.
    monkeypatch.setenv("LOYALTYCTL_DB", str(tmp_path / "none.db"))
    r = cli(*_argv(argv, value))
    rule = "digits 0-9, with '-' in front if negative" if negative else "digits 0-9 only"
    assert (r.exit_code, r.stderr, r.stdout) == (
        2,
        f"error: {name} {value!r}: a whole number in {rule}\n",
        "",
    )
    assert not (tmp_path / "none.db").exists()  # refused while parsing: no database opened, let alone made


@PARSING_ONLY
@pytest.mark.parametrize(
    ("command", "param", "name", "argv", "negative"),
    [p for p in INT_PARAMS if not p[4]],
    ids=[i for i, p in zip(IDS, INT_PARAMS, strict=True) if not p[4]],
)
def test_a_minus_sign_is_refused_where_negative_makes_no_sense(cli, command, param, name, argv, negative):
    if not name.startswith("--"):  # an argument: "--" first, or click takes "-1" for an unknown option
        argv = [*argv[:-1], "--", V]
    for value in ("-1", "-0"):
        r = cli(*_argv(argv, value))
        assert (r.exit_code, r.stderr) == (2, f"error: {name} {value!r}: a whole number in digits 0-9 only\n")


@PARSING_ONLY
@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            ["redemptions", "request", "BOLT", "MUG", "--qty", "0"],
            "error: --qty 0: must be a whole number of at least 1\n",
        ),
        (
            ["report", "program", "--year", "1999"],
            "error: --year 1999: must be a whole number from 2000 to 2999\n",
        ),
        (
            # The years a leaderboard period may be in, too: 3000 is a typo.
            ["report", "program", "--year", "3000"],
            "error: --year 3000: must be a whole number from 2000 to 2999\n",
        ),
        (["leads", "accept", "9" * 5000], "error: ID: a number of 5000 digits is too long\n"),
    ],
)
def test_range_limits_still_hold(cli, argv, expected):
    r = cli(*argv)
    assert (r.exit_code, r.stderr) == (2, expected)


@PARSING_ONLY
def test_help_still_says_int(cli):
    def helps(*args: str) -> str:
        return " ".join(cli(*args, "-h", ok=True).stdout.split())  # boxed or plain, one line

    year = helps("report", "program")
    assert "--year <int range>" in year and "2000<=x<=2999" in year
    assert "--qty <int range>" in helps("redemptions", "request")
    assert "--top <int>" in helps("leaderboard", "show")
    assert "ID <int>" in helps("leads", "accept")
    assert "points <int>" in helps("points", "adjust")


def test_plain_digits_are_accepted_and_a_negative_adjustment_too(db, cli):
    small_program(db)  # bo@bolt.se starts at 0
    r = cli("points", "adjust", "bo@bolt.se", "0500", "--reason", "fair", ok=True)
    assert "+500 points posted; balance 500" in r.stdout
    r = cli("points", "adjust", "bo@bolt.se", "-200", "--reason", "typo", ok=True)
    assert "-200 points posted; balance 300" in r.stdout
    assert balance(db, "bo@bolt.se") == 300  # 500 - 200
    r = cli("leaderboard", "show", "--month", "2026-11", "--top", "1", "-f", "csv", ok=True)
    assert r.stdout.splitlines() == ["rank,seller,name,partner,points,bonus"]  # adjustments do not rank
    assert json.loads(cli("catalog", "list", "--max-points", "0", "-f", "json", ok=True).stdout) == []
    assert json.loads(cli("report", "program", "--year", "2026", "-f", "json", ok=True).stdout)["total"]
    r = cli("leads", "accept", "007")
    assert (r.exit_code, r.stderr.splitlines()[0]) == (3, "error: no lead tip #7")
