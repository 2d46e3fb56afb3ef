"""``--out`` never writes outside the directory it names, never through a
planted symbolic link, and never over an existing file without --force."""

from __future__ import annotations

import os
import stat

import pytest
from factories import import_contracts, small_program

from loyaltyctl.errors import FileProblem
from loyaltyctl.safe_files import AtomicFile, OutDir, safe_name

EXPORT = ("statements", "export", "--month", "2026-11", "-f", "csv")


@pytest.fixture
def prog(db):
    small_program(db)
    import_contracts(db, "C1,ACME,anna@acme.se,2026-11-10,250000,leasing,started\n")
    db.dispose()
    return db


@pytest.fixture
def victim(tmp_path):
    path = tmp_path / "victim.txt"
    path.write_text("keep me")
    return path


def test_single_file_through_a_planted_symlink_is_refused(prog, sub, tmp_path, victim):
    link = tmp_path / "acme.csv"
    link.symlink_to(victim)
    for extra in ((), ("--force",)):
        r = sub(*EXPORT, "--account", "ACME", "--out", str(link), *extra)
        assert r.returncode == 7
        assert r.stderr.decode() == f"error: {link}: is a symbolic link; refusing to write through it\n"
    assert victim.read_text() == "keep me" and os.path.islink(link)


def test_a_dangling_symlink_is_refused_too(prog, cli, tmp_path):
    link = tmp_path / "acme.csv"
    link.symlink_to(tmp_path / "created-elsewhere.csv")
    r = cli(*EXPORT, "--account", "ACME", "--out", str(link), "--force")
    assert r.exit_code == 7 and "symbolic link" in r.stderr
    assert not (tmp_path / "created-elsewhere.csv").exists()


def test_a_symlink_planted_at_the_index_is_refused(prog, cli, tmp_path, victim):
    out = tmp_path / "st"
    out.mkdir()
    (out / "index.csv").symlink_to(victim)
    r = cli(*EXPORT, "--out", str(out), "--force")
    assert r.exit_code == 7 and f"{out}/index.csv: is a symbolic link" in r.stderr
    assert victim.read_text() == "keep me"


def test_an_out_directory_that_is_a_symlink_is_refused(prog, cli, tmp_path):
    real = tmp_path / "elsewhere"
    real.mkdir()
    (tmp_path / "st").symlink_to(real)
    r = cli(*EXPORT, "--out", str(tmp_path / "st"))
    assert r.exit_code == 7 and "is a symbolic link; name the real directory" in r.stderr
    assert list(real.iterdir()) == []


def test_an_existing_file_is_kept_without_force(prog, sub, tmp_path):
    target = tmp_path / "acme.csv"
    target.write_text("last month")
    r = sub(*EXPORT, "--account", "ACME", "--out", str(target))
    assert r.returncode == 7
    assert r.stderr.decode().splitlines() == [f"error: {target}: exists", "hint: pass --force to replace it"]
    assert target.read_text() == "last month"
    r = sub(*EXPORT, "--account", "ACME", "--out", str(target), "--force")
    assert r.returncode == 0, r.stderr.decode()
    assert "2026-11-10" in target.read_text(encoding="utf-8-sig")
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


@pytest.mark.parametrize("name", ["..", ".", "../evil.csv", "a/b.csv", "..\\evil.csv", "x\0y", ""])
def test_names_outside_the_directory_are_refused(tmp_path, name):
    out = OutDir(tmp_path / "out")
    with pytest.raises(FileProblem, match="not a plain file name"):
        out.write(name, b"data")
    assert list((tmp_path / "out").iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "loyalty.db") == ["out"]  # (the test's db)


@pytest.mark.parametrize(
    "ref,expected",
    [
        ("../../etc/passwd", "_.._etc_passwd"),
        ("..", "_"),
        (".hidden@x.se", "hidden@x.se"),
        ("a/b\\c d", "a_b_c_d"),
        ("anna@acme.se", "anna@acme.se"),
    ],
)
def test_derived_names_have_no_path_in_them(ref, expected):
    assert safe_name(ref) == expected


def test_a_file_created_meanwhile_is_not_overwritten(tmp_path):
    """Without --force the finished file is published with link(), which fails
    if the name exists: a file that appears between the check and the end of
    the write is kept, and the temp file goes."""
    target = tmp_path / "report.csv"
    f = AtomicFile(target)
    f.open()
    f.write(b"new")
    target.write_bytes(b"someone else's")
    with pytest.raises(FileProblem, match="exists"):
        f.commit()
    assert target.read_bytes() == b"someone else's"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "loyalty.db") == ["report.csv"]


def test_a_symlink_planted_meanwhile_is_replaced_not_followed(tmp_path, victim):
    """With --force the file is renamed over the name: a symlink planted there
    after the check is replaced itself; its target is never written."""
    target = tmp_path / "report.csv"
    f = AtomicFile(target, force=True)
    f.open()
    f.write(b"new")
    target.symlink_to(victim)
    f.commit()
    assert not target.is_symlink() and target.read_bytes() == b"new"
    assert victim.read_text() == "keep me"


def test_staged_files_appear_together_or_not_at_all(tmp_path):
    """A directory export stages every file, then publishes them in one go: a
    file that cannot be written (here one that exists, without --force) leaves
    none of the files staged before it, and no temp file."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "c.csv").write_bytes(b"last month")
    with OutDir(out) as d:
        d.stage("a.csv", b"A")
        d.stage("b.csv", b"B")
        assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == ["c.csv"]
        with pytest.raises(FileProblem, match="exists"):
            d.stage("c.csv", b"C")
    assert sorted(p.name for p in out.iterdir()) == ["c.csv"]
    assert (out / "c.csv").read_bytes() == b"last month"

    with OutDir(out, force=True) as d:
        for name, data in (("a.csv", b"A"), ("b.csv", b"B"), ("c.csv", b"C")):
            d.stage(name, data)
        assert d.publish() == [out / "a.csv", out / "b.csv", out / "c.csv"]
    assert {p.name: p.read_bytes() for p in out.iterdir()} == {"a.csv": b"A", "b.csv": b"B", "c.csv": b"C"}
    assert {stat.S_IMODE(os.stat(p).st_mode) for p in out.iterdir()} == {0o600}


def test_a_name_taken_while_staged_is_kept(tmp_path):
    """Without --force, publishing links each file into place: a name taken
    between staging and publishing is kept as it is."""
    out = tmp_path / "out"
    with OutDir(out) as d:
        d.stage("a.csv", b"A")
        d.stage("b.csv", b"B")
        (out / "b.csv").write_bytes(b"someone else's")
        with pytest.raises(FileProblem, match="exists"):
            d.publish()
    assert (out / "b.csv").read_bytes() == b"someone else's"
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]
