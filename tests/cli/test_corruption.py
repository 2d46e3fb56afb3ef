"""A database with flipped bytes: every command reports corruption in one line
(exit 6), never a traceback and never an answer made of the rows it could read.

The damage is built once per module: a small program with contracts, a
catalog, redemptions and an awarded leaderboard month, then 64 bytes of every
b-tree page of every table and index (but the schema and its version, so
each command gets as far as its own queries) XOR 0xff.
SQLite's ``cell_size_check`` (on in db.py) turns such pages into "malformed"
as soon as they are read."""

from __future__ import annotations

import os
import shutil
import sqlite3

import pytest
from factories import HEADER, import_contracts, load_catalog, small_program
from test_errors import one_error

from loyaltyctl.db import Database, resolve_url

pytestmark = pytest.mark.sqlite_only("flipped bytes in the pages of a SQLite file")


@pytest.fixture(scope="module")
def damaged(tmp_path_factory):
    base = tmp_path_factory.mktemp("damaged")
    good = base / "good.db"
    old = os.environ.get("LOYALTYCTL_TODAY")
    os.environ["LOYALTYCTL_TODAY"] = "2026-11-22"
    try:
        db = Database(resolve_url(str(good)))
        db.init()
        small_program(db)
        import_contracts(
            db,
            "".join(
                f"C{i},BOLT,bo@bolt.se,2026-10-{1 + i % 28:02d},250000,leasing,started\n" for i in range(300)
            ),
        )
        load_catalog(db, "sku,name,points,stock\nMUG,Mug,500,30\n")
        from loyaltyctl.services import leaderboard, redemptions

        with db.session(write=True) as s:
            for _ in range(5):
                redemptions.request(session=s, ref="bo@bolt.se", sku="MUG", quantity=1, actor="tester")
        with db.session(write=True) as s:
            period = leaderboard.period_of(month="2026-10", year=None)
            leaderboard.run(session=s, period=period, force=False, dry_run=False, actor="tester")
        db.dispose()  # checkpoints the WAL into the file
    finally:
        if old is None:
            del os.environ["LOYALTYCTL_TODAY"]
        else:
            os.environ["LOYALTYCTL_TODAY"] = old

    bad = base / "bad.db"
    shutil.copyfile(good, bad)
    con = sqlite3.connect(bad)
    page_size = con.execute("PRAGMA page_size").fetchone()[0]
    pages = sorted(
        {
            n
            for (n,) in con.execute(
                "SELECT pageno FROM dbstat WHERE name NOT IN ('sqlite_schema', 'alembic_version')"
            )
            if n != 1
        }
    )
    con.close()
    assert len(pages) > 20
    with open(bad, "r+b") as f:
        for n in pages:
            f.seek((n - 1) * page_size + 8)
            chunk = f.read(64)
            f.seek((n - 1) * page_size + 8)
            f.write(bytes(b ^ 0xFF for b in chunk))
    return bad


COMMANDS = {
    "db check": ("db", "check"),
    "db status": ("db", "status"),
    "db backup": ("db", "backup", "{tmp}/copy.db"),
    "points balance": ("points", "balance"),
    "points history": ("points", "history", "bo@bolt.se"),
    "contracts import": ("contracts", "import", "{tmp}/new.csv"),
    "contracts show": ("contracts", "show", "C7"),
    "leaderboard show": ("leaderboard", "show", "--month", "2026-10"),
    "statements export": ("statements", "export", "--month", "2026-11", "-f", "csv", "--out", "{tmp}/st"),
    "redemptions list": ("redemptions", "list"),
    "partners list": ("partners", "list"),
    "sellers list": ("sellers", "list"),
    "report liability": ("report", "liability"),
}
REAL_PROCESS = {"db check", "points balance", "contracts import", "leaderboard show", "statements export"}


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_command_reports_corruption_in_one_line(name, damaged, db_path, tmp_path, sub, cli):
    shutil.copyfile(damaged, db_path)
    (tmp_path / "new.csv").write_text(HEADER + "N1,BOLT,bo@bolt.se,2026-11-10,100000,leasing,started\n")
    args = [a.format(tmp=tmp_path) for a in COMMANDS[name]]
    if name in REAL_PROCESS:
        r = sub(*args)
        code, stdout, stderr = r.returncode, r.stdout.decode(), r.stderr.decode()
    else:
        r = cli(*args)
        code, stdout, stderr = r.exit_code, r.stdout, r.stderr
    assert code == 6, (stdout, stderr)
    line = one_error(stderr)
    assert line.startswith(f"error: database {db_path} is corrupt"), line
    assert "Traceback" not in stdout
    if name == "db check":
        assert "FAIL integrity" in stdout
    else:
        assert stdout == ""
    # nothing was written anywhere
    assert not (tmp_path / "copy.db").exists() and not (tmp_path / "copy.db.partial").exists()
    assert not (tmp_path / "st").exists()  # statements export fails before making its directory
