"""``db backup``: a consistent copy made while another process writes, written
whole or not at all, never over an existing file without --force."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys

import pytest
from conftest import ROOT
from factories import HEADER, small_program

ROWS = 1_500

pytestmark = pytest.mark.sqlite_only("db backup copies SQLite files (PostgreSQL: pg_dump)")


def contract_file(path, n: int) -> None:
    """File n: 1 500 started contracts of 100 000 SEK for bo@bolt.se; each earns
    100 000 * 10 / 1000 + 100 = 1 100 points, so a file is 1 650 000 points."""
    path.write_text(
        HEADER
        + "".join(f"F{n}-{i:05d},BOLT,bo@bolt.se,2026-01-10,100000,leasing,started\n" for i in range(ROWS)),
        encoding="utf-8",
    )


def counts(path) -> tuple[int, int, int]:
    with sqlite3.connect(path) as con:
        return (
            con.execute("SELECT count(*) FROM contract").fetchone()[0],
            con.execute("SELECT coalesce(sum(points), 0) FROM posting").fetchone()[0],
            con.execute("SELECT coalesce(sum(balance), 0) FROM account").fetchone()[0],
        )


@pytest.mark.slow  # concurrency: a real import while backing up
def test_backup_while_another_process_imports(db, tmp_path, sub, cli):
    small_program(db)
    db.dispose()
    files = []
    for n in range(2):
        files.append(tmp_path / f"c{n}.csv")
        contract_file(files[-1], n)
    script = " && ".join(f"{sys.executable} -m loyaltyctl contracts import {f}" for f in files)
    writer = subprocess.Popen(["sh", "-c", script], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    copies = []
    during = 0  # backups started while the writer was running
    try:
        while (writer.poll() is None and len(copies) < 4) or not copies:
            target = tmp_path / f"backup-{len(copies)}.db"
            during += writer.poll() is None
            r = sub("db", "backup", str(target))
            assert r.returncode == 0, r.stderr.decode()
            assert r.stderr.decode().startswith(f"backed up {tmp_path / 'loyalty.db'} to {target}")
            copies.append(target)
    finally:
        out, err = writer.communicate(timeout=120)
    assert writer.returncode == 0, err.decode()
    assert during >= 1

    for copy in copies:
        n_contracts, posted, balances = counts(copy)
        # each import is one transaction: a copy holds 0, 1 or 2 whole files
        assert n_contracts % ROWS == 0, n_contracts
        assert posted == balances == n_contracts * 1_100
        assert stat.S_IMODE(os.stat(copy).st_mode) == 0o600
        cli("--db", str(copy), "db", "check", ok=True)
    assert not list(tmp_path.glob("*.partial"))
    # and the last one, made after the writer finished, has everything
    final = tmp_path / "final.db"
    assert sub("db", "backup", str(final)).returncode == 0
    assert counts(final) == (2 * ROWS, 2 * ROWS * 1_100, 2 * ROWS * 1_100)
    cli("--db", str(final), "db", "check", ok=True)


def test_an_existing_file_is_kept_without_force(db, tmp_path, cli):
    small_program(db)
    db.dispose()
    target = tmp_path / "backup.db"
    target.write_text("yesterday's backup")
    r = cli("db", "backup", str(target))
    assert r.exit_code == 7
    assert r.stderr.splitlines() == [f"error: {target}: exists", "hint: pass --force to replace it"]
    assert target.read_text() == "yesterday's backup"
    r = cli("db", "backup", str(target), "--force", "--format", "json")
    assert r.exit_code == 0, r.stderr
    assert f'"backup": "{target}"' in r.stdout
    with sqlite3.connect(target) as con:
        assert con.execute("SELECT count(*) FROM seller").fetchone()[0] == 4
    assert not (tmp_path / "backup.db.partial").exists()


def test_a_symlink_target_and_the_database_itself_are_refused(db, db_path, tmp_path, cli):
    small_program(db)
    db.dispose()
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    link = tmp_path / "link.db"
    link.symlink_to(victim)
    r = cli("db", "backup", str(link), "--force")
    assert r.exit_code == 7 and "symbolic link" in r.stderr
    assert victim.read_text() == "keep me"
    r = cli("db", "backup", str(db_path), "--force")
    assert r.exit_code == 7 and "is the database itself" in r.stderr


def test_backup_of_a_missing_database_or_postgresql_is_refused(tmp_path, cli):
    r = cli("--db", str(tmp_path / "nope.db"), "db", "backup", str(tmp_path / "b.db"))
    assert r.exit_code == 6 and "does not exist" in r.stderr and "loyaltyctl db init" in r.stderr
    assert not (tmp_path / "nope.db").exists() and not (tmp_path / "b.db").exists()
    r = cli("--db", "postgresql://office:secret@db.example/loyalty", "db", "backup", str(tmp_path / "b.db"))
    assert r.exit_code == 4
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and "use pg_dump" in lines[0] and "secret" not in lines[0]


def test_an_old_schema_can_be_backed_up_before_the_upgrade(db_path, tmp_path, cli):
    """Commands refuse a database at an older schema until `db upgrade`; the
    README says to back it up first, so db backup must work on it."""
    from factories import at_schema

    at_schema(str(db_path), "0001")
    assert cli("points", "balance").exit_code == 6  # "is at schema 0001, ... needs 0004"
    target = tmp_path / "before-upgrade.db"
    cli("db", "backup", str(target), ok=True)
    with sqlite3.connect(target) as con:
        assert con.execute("SELECT version_num FROM alembic_version").fetchone() == ("0001",)


def test_a_partial_file_left_by_a_killed_backup_is_replaced(db, tmp_path, cli):
    small_program(db)
    db.dispose()
    target = tmp_path / "b.db"
    (tmp_path / "b.db.partial").write_bytes(b"half a backup")
    cli("db", "backup", str(target), ok=True)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("b.db")) == ["b.db"]
    with sqlite3.connect(target) as con:
        assert con.execute("SELECT count(*) FROM partner").fetchone()[0] == 2


def _limited() -> None:
    import resource
    import signal

    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def test_disk_full_while_writing_the_backup(db, tmp_path):
    """A file size limit of 64 KiB: the copy (about 200 KiB) cannot be written.
    Exit 7, one line naming the backup (not the database), no file left."""
    small_program(db)
    db.dispose()
    target = tmp_path / "out" / "b.db"
    target.parent.mkdir()
    r = subprocess.run(
        [sys.executable, "-m", "loyaltyctl", "db", "backup", str(target)],
        cwd=ROOT,
        capture_output=True,
        preexec_fn=_limited,
    )
    assert r.returncode == 7, r.stderr.decode()
    lines = r.stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        f"error: {target}: cannot write, disk full or file too large"
    )
    assert list(target.parent.iterdir()) == []
