"""PostgreSQL cases of `make bench`: the contract import on a server database.

The real CLI as a subprocess (``--db postgresql+psycopg://...``) on the same
seeded files as the SQLite cases: first import, re-import of the unchanged
file, the changes file; each against a fresh database, median of the runs.
The reference, measured in the same run, is ``psql``'s ``\\copy`` of the same
file into a bare table (for the changes file: the contracts loaded untimed,
then ``\\copy`` into a temporary table and ``INSERT ... ON CONFLICT DO UPDATE``,
timed).

    python benchmarks/postgres.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres \\
        [--rows 100000] [--repeat 3]

``benchmarks/run.py --postgres URL`` (or ``$LOYALTYCTL_TEST_POSTGRES_URL``) runs
these cases after the SQLite ones, on the same files (generate.py).  URL names a server database the user may
connect to; the benchmark creates and drops its own databases next to it
(``loyaltyctl_bench``, ``loyaltyctl_bench_ref``).  Needs psql and psycopg.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import CLI, COLUMNS, TODAY, line, measure  # noqa: E402

BENCH_DB = "loyaltyctl_bench"
REF_DB = "loyaltyctl_bench_ref"


def libpq(url: str, database: str | None = None) -> str:
    """A SQLAlchemy URL as a libpq URI for psql, optionally for another database."""
    from sqlalchemy.engine import make_url

    u = make_url(url).set(drivername="postgresql")
    if database is not None:
        u = u.set(database=database)
    return u.render_as_string(hide_password=False)


def sqlalchemy_url(url: str, database: str) -> str:
    from sqlalchemy.engine import make_url

    return (
        make_url(url)
        .set(drivername="postgresql+psycopg", database=database)
        .render_as_string(hide_password=False)
    )


def psql(uri: str, script: str) -> float:
    """Run a psql script (stop at the first error); its wall time."""
    start = time.perf_counter()
    done = subprocess.run(
        ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", uri],
        input=script.encode(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    wall = time.perf_counter() - start
    if done.returncode:
        sys.exit(f"psql failed:\n{done.stderr.decode()[-2000:]}")
    return wall


def recreate(admin: str, name: str) -> None:
    psql(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE);\nCREATE DATABASE "{name}";\n')


def drop(admin: str, name: str) -> None:
    psql(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE);\n')


def postings(url: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT count(*) FROM posting")).scalar_one()
    finally:
        engine.dispose()


def copy_reference(ref: str, contracts: Path) -> float:
    """psql's \\copy of the file into a bare table (a fresh table each time)."""
    script = f"DROP TABLE IF EXISTS c;\nCREATE TABLE c ({COLUMNS});\n\\copy c FROM '{contracts}' CSV HEADER\n"
    return psql(ref, script)


def changes_reference(ref: str, contracts: Path, changes: Path) -> float:
    copy_reference(ref, contracts)  # untimed: the contracts are there before
    cols = ("partner_code", "seller_email", "start_date", "amount", "product", "status")
    sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in cols)
    return psql(
        ref,
        "CREATE TEMP TABLE t (LIKE c);\n"
        f"\\copy t FROM '{changes}' CSV HEADER\n"
        f"INSERT INTO c SELECT * FROM t ON CONFLICT (contract_id) DO UPDATE SET {sets};\n",
    )


def bench_postgres(url: str, files: dict[str, Path], *, rows: int, repeat: int) -> dict[str, float]:
    """The PostgreSQL cases; prints their lines and returns the medians' ratios."""
    if not shutil.which("psql"):
        sys.exit("the PostgreSQL benchmarks need psql (Debian: apt-get install -y postgresql-client)")
    admin = libpq(url)
    contracts, changes = files["contracts"], files["changes"]
    n_changes = sum(1 for _ in changes.open()) - 1
    bench_url = sqlalchemy_url(url, BENCH_DB)
    env = {**os.environ, "LOYALTYCTL_DB": bench_url, "LOYALTYCTL_TODAY": TODAY}
    env.pop("LOYALTYCTL_DEBUG", None)
    version = subprocess.run(["psql", "--version"], capture_output=True, text=True).stdout.strip()
    print(f"\nPostgreSQL ({version}; server {libpq(url, BENCH_DB).split('@')[-1]}), median of {repeat}")
    first, again, change, refs, change_refs = [], [], [], [], []
    peak = 0.0
    cpu: list[float] = []  # the client's CPU seconds (the server's are not counted)
    try:
        for _ in range(repeat):
            recreate(admin, BENCH_DB)
            measure([*CLI, "db", "init"], env)
            measure([*CLI, "partners", "import", str(files["partners"])], env)
            measure([*CLI, "sellers", "import", str(files["sellers"])], env)
            wall, rss, used = measure([*CLI, "contracts", "import", str(contracts)], env)
            first.append(wall)
            cpu.append(used)
            peak = max(peak, rss)
            before = postings(bench_url)
            again.append(measure([*CLI, "contracts", "import", str(contracts)], env)[0])
            if postings(bench_url) != before:
                sys.exit("re-importing the unchanged file wrote postings")
            change.append(measure([*CLI, "contracts", "import", str(changes)], env)[0])
            recreate(admin, REF_DB)
            refs.append(copy_reference(libpq(url, REF_DB), contracts))
            change_refs.append(changes_reference(libpq(url, REF_DB), contracts, changes))
    finally:
        drop(admin, BENCH_DB)
        drop(admin, REF_DB)
    ref, change_ref = statistics.median(refs), statistics.median(change_refs)
    print(
        line(
            "contracts import, first",
            first,
            rows=rows,
            ref=ref,
            extra=f"peak {peak:.0f} MB, client cpu {statistics.median(cpu):.2f} s",
        )
    )
    print(line("contracts import, unchanged", again, rows=rows, ref=ref, extra="writes nothing"))
    print(line("contracts import, changes file", change, rows=n_changes, ref=change_ref))
    print(line("psql \\copy (reference)", refs, rows=rows))
    print(line("psql \\copy changes (reference)", change_refs, rows=n_changes))
    return {
        "first": statistics.median(first) / ref,
        "unchanged": statistics.median(again) / ref,
        "changes": statistics.median(change) / change_ref,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--postgres", default=os.environ.get("LOYALTYCTL_TEST_POSTGRES_URL"), metavar="URL")
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    if not args.postgres:
        sys.exit("name a server: --postgres URL (or set LOYALTYCTL_TEST_POSTGRES_URL)")
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from generate import generate

    with tempfile.TemporaryDirectory(prefix="loyaltyctl-bench-") as tmp:
        files = generate(Path(tmp), args.rows)
        contracts = files["contracts"]
        print(f"contracts file: {args.rows:,} rows, {contracts.stat().st_size / 1e6:.1f} MB (seeded)")
        bench_postgres(args.postgres, files, rows=args.rows, repeat=args.repeat)


if __name__ == "__main__":
    main()
