"""Memory stays bounded whatever the width of the rows: measured on a real
process (its peak resident set, from wait4), against the bound the README
documents (``MEMORY_BOUND_MB``, Reliability).

The import is started by a small Python process that waits for it with
``os.wait4``: a child's peak RSS on Linux includes what its parent held when it
forked, so pytest itself (a few hundred MB) must not be that parent."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import ROOT
from factories import small_program

from loyaltyctl.importers.csv_source import MAX_FIELDS

# The README's figure: an import's peak memory, whatever its rows' width
# (an ordinary file peaks at about 75 MB).
MEMORY_BOUND_MB = 128

HEADER = "contract_id,partner_code,seller_email,start_date,amount,product,status"

_MEASURE = """
import os, subprocess, sys
with open(sys.argv[1], "rb") as fin:
    p = subprocess.Popen(
        [sys.executable, "-m", "loyaltyctl", *sys.argv[2:]],
        stdin=fin, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    err = p.stderr.read()
    _, status, usage = os.wait4(p.pid, 0)
sys.stderr.buffer.write(err)
print(os.waitstatus_to_exitcode(status), usage.ru_maxrss)
"""


def peak(stdin_path, *args: str) -> tuple[int, float, str]:
    """Run ``loyaltyctl ARGS`` with ``stdin_path`` as its stdin: (exit code,
    peak RSS in MB, stderr)."""
    r = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(stdin_path), *args],
        capture_output=True,
        cwd=ROOT,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr.decode()
    code, kib = r.stdout.split()
    return int(code), int(kib) / 1024, r.stderr.decode()


@pytest.mark.backend_independent("the line is refused by the CSV reading layer")
def test_sixty_lines_of_a_million_commas_are_refused_at_the_first(db, tmp_path):
    """60 MB on stdin took 523 MB (1 000 such lines: 7.9 GB): each line became
    a million fields.  Now the line is refused before it is split, a
    structural error naming it, and the import holds no more than usual."""
    small_program(db)
    db.dispose()
    path = tmp_path / "commas.csv"
    with path.open("w", encoding="ascii") as f:
        f.write(HEADER + "\n")
        line = "," * 1_000_000 + "\n"
        for _ in range(60):
            f.write(line)
    try:
        code, mb, err = peak(path, "contracts", "import", "-")
    finally:
        path.unlink()
    assert code == 1, err
    assert (
        err.splitlines()[0] == f"error: <stdin>:2:{MAX_FIELDS + 1}: more than {MAX_FIELDS} fields on one line"
    )
    assert mb < MEMORY_BOUND_MB, f"peak {mb:.0f} MB"


def test_rows_with_wide_ignored_columns_are_held_by_bytes_not_only_by_count(db, tmp_path, sql):
    """150 rows of almost 1 MB each (eight ignored columns of 120 000
    characters): valid rows, imported.  The import holds rows for a batch by
    their number (2 000) and by the input they came from (4 MiB), so memory
    does not grow with them (it grew by some 1 MB a row)."""
    small_program(db)
    db.dispose()
    path = tmp_path / "wide.csv"
    big = ",".join(["y" * 120_000] * 8)
    with path.open("w", encoding="ascii") as f:
        f.write(HEADER + "," + ",".join(f"x{i}" for i in range(8)) + "\n")
        for n in range(150):
            f.write(f"W{n},BOLT,bo@bolt.se,2026-01-10,100000,leasing,started,{big}\n")
    try:
        code, mb, err = peak(path, "contracts", "import", "-")
    finally:
        path.unlink()
    assert code == 0, err
    assert sql("SELECT count(*) FROM contract") == [(150,)]
    assert mb < MEMORY_BOUND_MB, f"peak {mb:.0f} MB"


def test_a_line_with_too_many_fields_is_a_structural_error_even_with_skip_invalid(cli, tmp_path):
    """Counted as the csv module splits: commas inside quotes are no fields."""
    quoted = '"' + "," * 5000 + '"'
    ok = tmp_path / "ok.csv"
    ok.write_text(f"code,name\nQ1,{quoted}\n", encoding="utf-8")
    r = cli("partners", "import", str(ok), "--dry-run")
    assert "more than" not in r.stderr  # (the name is too long: a row error, not this)
    wide = tmp_path / "wide.csv"
    wide.write_text("code,name\nW1,W\n" + "W2,W" + ",x" * MAX_FIELDS + "\n", encoding="utf-8")
    r = cli("partners", "import", str(wide), "--skip-invalid")
    assert r.exit_code == 1
    assert r.stderr.splitlines()[0] == (
        f"error: {wide}:3:{MAX_FIELDS + 1}: more than {MAX_FIELDS} fields on one line"
    )
    assert json.loads(cli("partners", "list", "-f", "json").stdout) == []  # the file stopped: nothing
