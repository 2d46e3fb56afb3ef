"""Faults, in real subprocesses: a full disk under the database or under an
export, and the file modes of everything the tool creates."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import sys
import time

import pytest
from conftest import ROOT
from factories import HEADER, add_seller, enroll, import_contracts, small_program
from test_errors import one_error

from loyaltyctl.db import Database, resolve_url

ROWS = 1_000


def contracts_csv(path, n: int = ROWS, prefix: str = "C") -> None:
    """n started contracts of 100 000 SEK for bo@bolt.se: 1 100 points each."""
    path.write_text(
        HEADER
        + "".join(f"{prefix}{i},BOLT,bo@bolt.se,2026-01-10,100000,leasing,started\n" for i in range(n)),
        encoding="utf-8",
    )


def table_counts(db_path) -> tuple[int, int, int, int]:
    with sqlite3.connect(db_path) as con:
        return tuple(
            con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("contract", "posting", "batch", "account")
        )


def page_count(db_path) -> int:
    with sqlite3.connect(db_path) as con:
        return con.execute("PRAGMA page_count").fetchone()[0]


@pytest.mark.sqlite_only("max_page_count: a full SQLite file")
def test_disk_full_during_an_import(db, db_path, tmp_path, sub):
    small_program(db)
    db.dispose()
    big = tmp_path / "contracts.csv"
    contracts_csv(big)
    before = table_counts(db_path)
    assert before == (0, 0, 0, 3)  # BOLT's two sellers and ACME's pool
    # Ten pages more than the database has now: 1 000 contracts and their
    # postings need far more, so the import hits the cap halfway.
    cap = str(page_count(db_path) + 10)
    r = sub("contracts", "import", str(big), env={"LOYALTYCTL_MAX_PAGES": cap})
    assert r.returncode == 7, r.stderr.decode()
    line = one_error(r.stderr.decode())
    assert line == f"error: database {db_path}: disk full (database or disk is full); nothing was written"
    assert r.stdout == b""
    assert table_counts(db_path) == before
    r = sub("db", "check")
    assert r.returncode == 0, r.stdout.decode()
    # Without the cap the same import goes through, exactly once.
    r = sub("contracts", "import", str(big))
    assert r.returncode == 0, r.stderr.decode()
    assert f"{ROWS} new".encode() in r.stdout and b"+1100000 points posted" in r.stdout
    assert table_counts(db_path) == (ROWS, ROWS, 1, 3)


@pytest.mark.sqlite_only("LOYALTYCTL_MAX_PAGES applies to SQLite")
def test_a_bad_page_cap_is_one_line(cli, monkeypatch):
    monkeypatch.setenv("LOYALTYCTL_MAX_PAGES", "lots")
    r = cli("points", "balance")
    assert r.exit_code == 6
    line = one_error(r.stderr)
    assert line == "error: LOYALTYCTL_MAX_PAGES='lots' is not a positive number of pages"


@pytest.mark.sqlite_only("a SQLite error message")
def test_describe_db_error_maps_sqlite_full():
    from loyaltyctl.db import describe_db_error
    from loyaltyctl.errors import FileProblem

    err = describe_db_error(sqlite3.OperationalError("database or disk is full"), "sqlite:////srv/l.db")
    assert isinstance(err, FileProblem) and err.exit_code == 7
    assert err.message == "database /srv/l.db: disk full (database or disk is full); nothing was written"


# -- a full disk under an export ------------------------------------------------
# RLIMIT_FSIZE makes write() fail with EFBIG past LIMIT bytes, exactly like a
# full disk would fail it with ENOSPC (Python ignores SIGXFSZ, so the process is
# not killed).  The database (opened read-only by an export) is not affected;
# 64 KiB leaves room for SQLite's 32 KiB -shm file.
LIMIT = 64 * 1024


def _limited() -> None:
    import resource
    import signal

    resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, LIMIT))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def run_limited(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "loyaltyctl", *args],
        capture_output=True,
        cwd=cwd or ROOT,
        preexec_fn=_limited,
        timeout=60,
    )


@pytest.fixture
def big_account(db, db_url):
    """bo@bolt.se with 1 500 postings: a statement of well over 64 KiB."""
    small_program(db)
    import_contracts(
        db, "".join(f"C{i},BOLT,bo@bolt.se,2026-11-10,100000,leasing,started\n" for i in range(1_500))
    )
    db.dispose()
    return db_url


def leftovers(directory) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_disk_full_during_a_statement_export(big_account, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    target = out / "bo.csv"
    r = run_limited(
        "statements",
        "export",
        "--month",
        "2026-11",
        "--account",
        "bo@bolt.se",
        "-f",
        "csv",
        "--out",
        str(target),
    )
    assert r.returncode == 7, r.stderr.decode()
    assert one_error(r.stderr.decode()) == (
        f"error: {target}: cannot write, disk full or file too large (File too large); nothing was written"
    )
    assert leftovers(out) == []  # no truncated file, no temp file
    # An existing file is left as it was, even with --force.
    target.write_text("last month's statement")
    r = run_limited(
        "statements",
        "export",
        "--month",
        "2026-11",
        "--account",
        "bo@bolt.se",
        "-f",
        "csv",
        "--out",
        str(target),
        "--force",
    )
    assert r.returncode == 7
    assert leftovers(out) == ["bo.csv"] and target.read_text() == "last month's statement"


def test_disk_full_during_a_directory_export(big_account, tmp_path):
    out = tmp_path / "st"
    r = run_limited("statements", "export", "--month", "2026-11", "-f", "json", "--out", str(out))
    assert r.returncode == 7, r.stderr.decode()
    line = one_error(r.stderr.decode())
    assert line.startswith(f"error: {out}/statement-2026-11-bo@bolt.se.json: cannot write, disk full")
    # Only whole files: the small statements written before it, no temp file, no index.
    names = leftovers(out)
    assert not [n for n in names if n.startswith(".") or n.endswith(".tmp")], names
    assert "index.json" not in names and "statement-2026-11-bo@bolt.se.json" not in names
    for name in names:
        json.loads((out / name).read_text())


def test_disk_full_while_writing_rejects(db, tmp_path):
    small_program(db)
    db.dispose()
    bad = tmp_path / "bad.csv"
    # 1 000 rows with an unknown seller and a long product name: > 64 KiB of rejects
    bad.write_text(
        HEADER
        + "".join(f"X{i},BOLT,nobody@bolt.se,2026-01-10,100000,{'p' * 80},started\n" for i in range(1_000))
    )
    out = tmp_path / "rej"
    out.mkdir()
    r = run_limited("contracts", "import", str(bad), "--skip-invalid", "--rejects", str(out / "r.csv"))
    assert r.returncode == 7, r.stderr.decode()
    assert "cannot write, disk full or file too large" in one_error(r.stderr.decode())
    assert leftovers(out) == []


# -- file modes -----------------------------------------------------------------


def _umask_000() -> None:
    os.umask(0)


@pytest.mark.sqlite_only("file modes of the SQLite file, its -wal and -shm, and a backup")
def test_everything_is_created_0600_whatever_the_umask(tmp_path):
    """With umask 000 a careless program creates world-writable files.  The
    database (and its directory), its -wal and -shm files, a statements
    export, a rejects file and a backup are all readable by the owner only."""
    home = tmp_path / "new" / "deeper"
    env = {**os.environ, "LOYALTYCTL_DB": str(home / "loyalty.db")}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "loyaltyctl", *args],
            capture_output=True,
            cwd=ROOT,
            env=env,
            preexec_fn=_umask_000,
            timeout=60,
        )

    big = tmp_path / "contracts.csv"
    contracts_csv(big, 20_000)
    # `db init` creates the database and every folder above it; an import
    # writes through the WAL, and killed then it leaves its -wal and -shm
    # files behind to look at.
    assert run("db", "init").returncode == 0
    made = Database(resolve_url(str(home / "loyalty.db")))
    enroll(made, "BOLT")
    add_seller(made, "bo@bolt.se", "BOLT")
    made.dispose()
    proc = subprocess.Popen(
        [sys.executable, "-m", "loyaltyctl", "contracts", "import", str(big)],
        cwd=ROOT,
        env=env,
        preexec_fn=_umask_000,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wal = home / "loyalty.db-wal"
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:
        if wal.exists() and wal.stat().st_size > 0:
            break
        time.sleep(0.02)
    proc.kill()
    proc.wait()
    modes = {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in [home.parent, home, *home.iterdir()]}
    assert modes == {
        "new": "0o700",
        "deeper": "0o700",
        "loyalty.db": "0o600",
        "loyalty.db-wal": "0o600",
        "loyalty.db-shm": "0o600",
    }

    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "X1,NOPE,nobody@nope.se,2026-01-10,100000,leasing,started\n")
    r = run("contracts", "import", str(bad), "--skip-invalid", "--rejects", str(tmp_path / "rejects.csv"))
    assert r.returncode == 1, r.stderr.decode()
    r = run("statements", "export", "--month", "2026-11", "-f", "csv", "--out", str(tmp_path / "st" / "nov"))
    assert r.returncode == 0, r.stderr.decode()
    assert run("db", "backup", str(tmp_path / "backup.db")).returncode == 0

    modes = {
        p.relative_to(tmp_path).as_posix(): oct(stat.S_IMODE(p.stat().st_mode))
        for p in [
            home / "loyalty.db",
            tmp_path / "st",
            tmp_path / "st" / "nov",
            *(tmp_path / "st" / "nov").iterdir(),
        ]
        + [tmp_path / "rejects.csv", tmp_path / "backup.db"]
    }
    assert modes == {
        "new/deeper/loyalty.db": "0o600",
        "st": "0o700",
        "st/nov": "0o700",
        "st/nov/index.csv": "0o600",
        "st/nov/statement-2026-11-bo@bolt.se.csv": "0o600",
        "rejects.csv": "0o600",
        "backup.db": "0o600",
    }


@pytest.mark.sqlite_only("a file size limit under the SQLite file")
def test_a_file_size_limit_under_the_database_during_an_import(db, db_path, tmp_path):
    """The write-ahead log cannot grow past the limit: SQLite reports a disk I/O
    error; exit 7, one line, nothing written, and the import works afterwards."""
    small_program(db)
    db.dispose()
    big = tmp_path / "contracts.csv"
    contracts_csv(big, 500)  # a WAL of well over 64 KiB
    r = run_limited("contracts", "import", str(big))
    assert r.returncode == 7, r.stderr.decode()
    assert one_error(r.stderr.decode()) == (
        f"error: database {db_path}: disk I/O error (a full disk, a file size limit or a failing disk); "
        "nothing was written"
    )
    assert table_counts(db_path) == (0, 0, 0, 3)
    r = subprocess.run(
        [sys.executable, "-m", "loyaltyctl", "contracts", "import", str(big)], cwd=ROOT, capture_output=True
    )
    assert r.returncode == 0
    assert table_counts(db_path) == (500, 500, 1, 3)


def _no_room() -> None:
    """Not one byte more may be written to any file: a disk that is full."""
    import resource
    import signal

    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


@pytest.mark.sqlite_only("the -shm file of a SQLite database in WAL mode")
def test_read_commands_answer_on_a_full_disk(db, db_path, cli):
    """A reader in WAL mode maps the 32 KiB -shm file, which SQLite creates and
    writes on first use; with no room for it every read failed with exit 7.
    Reads keep the WAL index in memory then: the same answers as with room,
    exit 0; a write under the same limit still fails whole (exit 7)."""
    small_program(db)
    import_contracts(db, "C1,BOLT,bo@bolt.se,2026-01-10,100000,leasing,started\n")
    db.dispose()
    assert not os.path.exists(f"{db_path}-shm")  # the last connection removed it

    def no_room(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "loyaltyctl", *args],
            capture_output=True,
            cwd=ROOT,
            preexec_fn=_no_room,
            timeout=60,
        )

    for args in (
        ("points", "balance", "-f", "json"),
        ("report", "liability", "-f", "json"),
        ("db", "check", "-f", "json"),
    ):
        roomy = cli(*args, ok=True)
        full = no_room(*args)
        assert (full.returncode, full.stderr.decode(), full.stdout.decode()) == (0, "", roomy.stdout), args
    write = no_room("points", "adjust", "bo@bolt.se", "100", "--reason", "x")
    assert write.returncode == 7, write.stderr.decode()
    assert table_counts(db_path) == (1, 1, 1, 3)
    cli("db", "check", ok=True)
