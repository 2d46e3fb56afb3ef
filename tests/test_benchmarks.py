"""`make bench` keeps working: the benchmark suite runs end to end on a tiny file.

Speed goals live in benchmarks/, not in timed tests: this test asserts no time.
It runs ``benchmarks/run.py`` on 2 000 rows, once, and checks that every case
and floor is measured and reported against the `sqlite3` shell (the script
itself fails when a re-import of the unchanged file writes a posting).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # the benchmark suite end to end (20-40 s)

RUN = Path(__file__).resolve().parent.parent / "benchmarks" / "run.py"
RATIO = r"\s+[0-9.]+ s\s+[0-9,]+ rows/s\s+[0-9.]+x reference"
LINES = [
    "contracts import, first" + RATIO + r"\s+peak [0-9]+ MB",
    "contracts import, unchanged" + RATIO + r"\s+writes nothing, peak [0-9]+ MB",
    "contracts import, changes file" + RATIO + r"\s+peak [0-9]+ MB",
    r"hash chain of the first import\s+[0-9.]+ s\s+[0-9,]+ rows/s\s+[0-9.]+% of the first import",
    r"Python start-up \+ csv.reader" + RATIO,
    r"\.\.\. \+ SELECT of the stored contracts" + RATIO,
    "SQLite writes of the first import" + RATIO,
    "SQLite writes of the changes file" + RATIO,
    r"statements export, csv\s+[0-9.]+ s\s+[0-9]+ statements",
    r"statements export, json\s+[0-9.]+ s\s+[0-9]+ statements",
    r"python -c 'import sqlmodel'\s+[0-9.]+ s",
    r"leaderboard --month 2026-10\s+[0-9.]+ ms",
    r"SEARCH posting USING COVERING INDEX ix_posting_seller_value",
    r"statement, one seller, a month\s+[0-9.]+ ms",
]


@pytest.mark.sqlite_only("the benchmarks compare with the sqlite3 shell")
def test_the_benchmark_suite_runs_and_reports_every_case(tmp_path):
    if shutil.which("sqlite3") is None:
        if os.environ.get("CI"):  # .ci/run installs it: a skip there would hide a broken make bench
            pytest.fail("no sqlite3 shell: .ci/run should have installed it")
        pytest.skip("no sqlite3 shell here (make bench installs it)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOYALTYCTL_")}
    done = subprocess.run(
        [sys.executable, str(RUN), "--rows", "2000", "--repeat", "1", "--keep", str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    for pattern in LINES:
        assert re.search(pattern, done.stdout), f"{pattern!r} not in:\n{done.stdout}"
    assert sorted(p.name for p in tmp_path.glob("*.csv")) == [
        "changes.csv",
        "contracts.csv",
        "partners.csv",
        "sellers.csv",
    ]
