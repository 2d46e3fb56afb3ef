"""What a person at a terminal sees, versus cron and pipes: driven through a
real pseudo-terminal (pexpect) and real pipes."""

from __future__ import annotations

import os
import re
import sys

import pexpect
import pytest
from conftest import ROOT
from factories import HEADER, small_program

ROWS = "".join(
    f"T{i},BOLT,bo@bolt.se,2026-03-{1 + i % 28:02d},{100000 + i},leasing,started\n" for i in range(300)
)


@pytest.fixture
def contracts_file(db, tmp_path):
    small_program(db)
    path = tmp_path / "contracts.csv"
    path.write_text(HEADER + ROWS, encoding="utf-8")
    return path


def in_terminal(*args: str) -> tuple[str, int]:
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    child = pexpect.spawn(
        sys.executable,
        ["-m", "loyaltyctl", *args],
        env=env,
        cwd=str(ROOT),
        encoding="utf-8",
        timeout=60,
        dimensions=(40, 120),
    )
    child.expect(pexpect.EOF)
    child.close()
    return child.before, child.exitstatus


def test_a_terminal_gets_a_progress_bar_and_a_rich_table(contracts_file):
    out, code = in_terminal("contracts", "import", str(contracts_file))
    assert code == 0
    assert "reading " in out and "━" in out  # the bar, drawn while reading
    assert "300 rows, 300 new, 300 credited" in out
    out, code = in_terminal("points", "balance", "BOLT")
    assert code == 0
    # a rich table: a heavy box around the (bold) header, a light one around the rows
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", line) for line in out.splitlines()]
    assert any(line.startswith("┃ account ") for line in lines), lines
    assert any(
        line.startswith("│ bo@bolt.se    │ Bo     │ BOLT    │ individual │ 330 300 │") for line in lines
    )


def test_pipes_get_no_progress_bar_no_colour_no_boxes(contracts_file, sub):
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    r = sub("contracts", "import", "-", input=contracts_file.read_bytes(), env=env)
    assert r.returncode == 0, r.stderr
    for stream in (r.stdout, r.stderr):
        assert b"\x1b" not in stream and b"reading " not in stream
    assert b"300 rows, 300 new, 300 credited" in r.stdout
    r = sub("points", "balance", "BOLT", env=env)
    assert b"\x1b" not in r.stdout and "┃".encode() not in r.stdout
    assert r.stdout.splitlines()[1].split() == [
        b"account",
        b"holder",
        b"partner",
        b"type",
        b"balance",
        b"held",
        b"available",
        b"value_sek",
    ]
