"""No traceback ever reaches a user: every failure is one line (plus a hint) on
stderr and a documented exit code."""

from __future__ import annotations

import os
import shutil
import sqlite3

import pytest
from factories import import_contracts, small_program


def one_error(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line]
    assert "Traceback" not in stderr
    assert lines and lines[0].startswith(("error: ", "internal error: ")), stderr
    assert len(lines) <= 2 and all(line.startswith("hint: ") for line in lines[1:]), stderr
    return lines[0]


@pytest.mark.sqlite_only("a file that is not a SQLite database")
def test_a_file_that_is_not_a_database(tmp_path, sub):
    path = tmp_path / "notes.txt"
    path.write_text("shopping list\n" * 100)
    r = sub("--db", str(path), "points", "balance")
    assert r.returncode == 6
    assert "is not a SQLite database" in one_error(r.stderr.decode())
    assert path.read_text() == "shopping list\n" * 100  # untouched


@pytest.mark.sqlite_only("flipped bytes in a SQLite file")
def test_a_database_with_flipped_bytes(db, db_path, tmp_path, sub):
    small_program(db)
    import_contracts(
        db, "".join(f"C{i},BOLT,bo@bolt.se,2026-01-10,250000,leasing,started\n" for i in range(400))
    )
    db.dispose()
    readers = (("points", "balance"), ("contracts", "show", "C7"), ("partners", "list"))
    before = {args: sub(*args) for args in readers}
    assert all(r.returncode == 0 for r in before.values())
    # Aim at a leaf page of the posting table (not at an offset, which moves with the schema).
    con = sqlite3.connect(db_path)
    page_size = con.execute("PRAGMA page_size").fetchone()[0]
    pages = [
        n for (n,) in con.execute("SELECT pageno FROM dbstat WHERE name = 'posting' AND pagetype = 'leaf'")
    ]
    con.close()
    with open(db_path, "r+b") as f:  # checkpointed into the main file by dispose()
        f.seek((sorted(pages)[len(pages) // 2] - 1) * page_size + 100)  # into the postings' pages
        f.write(b"\xff" * 2000)
    for wal in ("-wal", "-shm"):
        if os.path.exists(str(db_path) + wal):
            os.unlink(str(db_path) + wal)
    r = sub("db", "check")
    assert r.returncode == 6
    assert "Traceback" not in r.stdout.decode() + r.stderr.decode()
    assert r.stdout.decode().startswith("FAIL integrity: ")
    assert one_error(r.stderr.decode()).startswith(
        f"error: database {db_path} is corrupt: db check failed: integrity, "
    )
    # Any other command either answers as before the damage (it read no damaged
    # page) or stops with one line: never an answer built from what was left.
    for args in readers:
        r = sub(*args)
        if r.returncode == 0:
            assert (r.stdout, r.stderr) == (before[args].stdout, before[args].stderr), args
        else:
            assert r.returncode == 6, (args, r.stderr)
            assert one_error(r.stderr.decode()).startswith(f"error: database {db_path} is corrupt"), args


@pytest.mark.sqlite_only("the directory of a SQLite file")
def test_a_database_directory_that_cannot_be_created(tmp_path, cli):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    r = cli("--db", str(blocker / "sub" / "loyalty.db"), "db", "init")
    assert r.exit_code == 7
    assert one_error(r.stderr).startswith("error: cannot create database")


def test_a_bug_is_one_line_with_exit_70(cli, monkeypatch):
    from loyaltyctl.services import points

    def boom(**_):
        raise RuntimeError("something nobody expected")

    monkeypatch.setattr(points, "balances", boom)
    r = cli("points", "balance")
    assert r.exit_code == 70
    line = one_error(r.stderr)
    assert line.startswith("internal error: RuntimeError: something nobody expected")
    assert "LOYALTYCTL_DEBUG=1" in line


def test_debug_shows_the_traceback(cli, monkeypatch):
    from loyaltyctl.services import points

    monkeypatch.setattr(points, "balances", lambda **_: 1 / 0)
    monkeypatch.setenv("LOYALTYCTL_DEBUG", "1")
    with pytest.raises(ZeroDivisionError):
        cli("points", "balance")


def test_usage_errors_exit_2_plain_when_piped(sub):
    r = sub("points", "adjust", "bo@bolt.se", "10")  # no --reason
    assert r.returncode == 2
    err = r.stderr.decode()
    assert "Missing option '--reason'" in err and "╭" not in err and "Traceback" not in err


def test_output_to_a_closed_pipe_is_not_an_error(db, tmp_path):
    small_program(db)
    import subprocess
    import sys

    from conftest import ROOT

    if not shutil.which("head"):
        pytest.skip("no head")
    # `... | head -n 1`: loyaltyctl's own exit status (the pipeline's is head's).
    cmd = f"{{ {sys.executable} -m loyaltyctl sellers list --format csv; echo $? >status; }} | head -n 1"
    r = subprocess.run(["sh", "-c", cmd], capture_output=True, cwd=tmp_path)
    assert b"Traceback" not in r.stderr and b"BrokenPipe" not in r.stderr
    assert r.stdout == b"email,name,partner,mode,active,enrolled_on,balance\r\n"
    assert (tmp_path / "status").read_text() == "0\n"
    # The reader gone before the first byte is written (head may have read it
    # all before exiting, above): the write fails with EPIPE, for certain.
    proc = subprocess.Popen(
        [sys.executable, "-m", "loyaltyctl", "sellers", "list", "--format", "csv"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=60) == 0, err
    assert err == b""


def read_position(pid: int, path) -> int:
    """How far process ``pid`` has read into ``path`` (Linux /proc), 0 if not open."""
    fd_dir = f"/proc/{pid}/fd"
    try:
        for fd in os.listdir(fd_dir):
            if os.path.realpath(os.path.join(fd_dir, fd)) == str(path):
                with open(f"/proc/{pid}/fdinfo/{fd}") as info:
                    return int(info.readline().split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def test_an_interrupted_import_writes_nothing(db, sql):
    """Ctrl-C in the middle of a long import: exit 130, one line, and the
    database exactly as before (one transaction per command).  The rows come
    through a pipe that stays open, so the import is surely mid-way (it has
    read 20 000 rows and waits for more) when the signal arrives, however busy
    the machine is."""
    import signal
    import subprocess
    import sys
    import time

    from conftest import ROOT
    from factories import HEADER

    small_program(db)
    proc = subprocess.Popen(
        [sys.executable, "-m", "loyaltyctl", "contracts", "import", "-"],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    rows = "".join(f"I{i},BOLT,bo@bolt.se,2026-03-01,{100000 + i},loan,started\n" for i in range(20_000))
    # write() returns once the import has taken all but the last pipe buffer.
    proc.stdin.write((HEADER + rows).encode())
    proc.stdin.flush()
    time.sleep(0.5)
    assert proc.poll() is None, "the import ended although its input is still open"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert (
        one_error(err.decode()) == "error: interrupted; nothing was written (the transaction was rolled back)"
    )
    assert sql("SELECT count(*) FROM contract") == [(0,)]
    assert sql("SELECT count(*) FROM posting") == [(0,)]


@pytest.mark.backend_independent("how the CLI edge reads LOYALTYCTL_DEBUG")
@pytest.mark.parametrize("value", ["0", "no", "false", "off", "", "NO"])
def test_a_false_debug_value_shows_no_traceback(cli, monkeypatch, value):
    from loyaltyctl.services import points

    monkeypatch.setattr(points, "balances", lambda **_: 1 / 0)
    monkeypatch.setenv("LOYALTYCTL_DEBUG", value)
    r = cli("points", "balance")
    assert r.exit_code == 70
    assert one_error(r.stderr).startswith("internal error: ZeroDivisionError")


@pytest.mark.backend_independent("how the CLI edge reads LOYALTYCTL_DEBUG")
@pytest.mark.parametrize("value", ["1", "yes", "true", "on", "TRUE"])
def test_a_true_debug_value_shows_the_traceback(cli, monkeypatch, value):
    from loyaltyctl.services import points

    monkeypatch.setattr(points, "balances", lambda **_: 1 / 0)
    monkeypatch.setenv("LOYALTYCTL_DEBUG", value)
    with pytest.raises(ZeroDivisionError):
        cli("points", "balance")
