"""Benchmarks: speed goals live here, not in timed tests (`make bench`).

This first cut measures the contract import, the hot path of every nightly
cron job, the way a program office runs it: the real CLI as a subprocess, on a
seeded file, several times, reporting the median wall time, rows per second,
peak memory, and the ratio to the `sqlite3` shell's `.import` of the same file
into a bare table, measured in the same run (the C reference).

    python benchmarks/run.py [--rows 100000] [--repeat 3] [--postgres URL]

With ``--postgres URL`` (or ``$LOYALTYCTL_TEST_POSTGRES_URL``) the same cases run
on PostgreSQL too, against ``psql``'s ``\\copy`` (see postgres.py).

The full suite and its targets (1M rows, re-import, changes file, queries,
start-up) are the speed issue's to add; the numbers this prints are what the
README quotes as the current standing.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CLI = [sys.executable, "-m", "loyaltyctl"]
HEADER = "contract_id,partner_code,seller_email,start_date,amount,product,status\n"


def generate(directory: Path, rows: int, seed: int = 7) -> tuple[Path, Path, Path]:
    """200 partners (every fourth pooled), 5 000 sellers, `rows` contracts of 2026."""
    rnd = random.Random(seed)
    partners, sellers, contracts = (
        directory / "partners.csv",
        directory / "sellers.csv",
        directory / "contracts.csv",
    )
    with partners.open("w") as f:
        f.write("code,name,mode,consent\n")
        for p in range(200):
            f.write(f"P{p:03d},Partner {p} AB,{'pooled' if p % 4 == 0 else 'individual'},yes\n")
    with sellers.open("w") as f:
        f.write("email,name,partner_code,enrolled_on\n")
        for s in range(5000):
            f.write(f"s{s}@p{s % 200:03d}.se,Seller {s},P{s % 200:03d},2025-01-01\n")
    with contracts.open("w") as f:
        f.write(HEADER)
        for i in range(rows):
            s = rnd.randrange(5000)
            amount = round(rnd.lognormvariate(12.5, 0.8), 2)
            amount = min(max(amount, 20000.0), 5_000_000.0)
            status = rnd.choices(("started", "registered", "cancelled"), (90, 6, 4))[0]
            product = rnd.choice(("leasing", "loan", "rental"))
            day = f"2026-{rnd.randint(1, 10):02d}-{rnd.randint(1, 28):02d}"
            f.write(f"K{i:09d},P{s % 200:03d},s{s}@p{s % 200:03d}.se,{day},{amount:.2f},{product},{status}\n")
    return partners, sellers, contracts


def timed(cmd: list[str], env: dict, stdin: Path | None = None) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    with open(stdin or os.devnull, "rb") as inp:
        done = subprocess.run(cmd, env=env, stdin=inp, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if done.returncode:
        sys.exit(f"{' '.join(cmd)} failed:\n{done.stderr.decode()}")
    wall = time.perf_counter() - start
    # ru_maxrss of children is the max over all children so far: use a fresh
    # process per measurement and report the max, which is what a cron box sees.
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return wall, max(peak, before)


def sqlite_reference(csv_path: Path, work: Path) -> float:
    """The sqlite3 shell importing the same file into a bare table."""
    db = work / "reference.db"
    db.unlink(missing_ok=True)
    script = (
        "CREATE TABLE c (contract_id TEXT PRIMARY KEY, partner_code TEXT, seller_email TEXT, "
        "start_date TEXT, amount TEXT, product TEXT, status TEXT);\n"
        f".import --csv --skip 1 {csv_path} c\n"
    )
    start = time.perf_counter()
    subprocess.run(["sqlite3", str(db)], input=script.encode(), check=True)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument(
        "--postgres",
        default=os.environ.get("LOYALTYCTL_TEST_POSTGRES_URL"),
        metavar="URL",
        help="also run the PostgreSQL cases on this server (default: $LOYALTYCTL_TEST_POSTGRES_URL)",
    )
    args = ap.parse_args()
    if not shutil.which("sqlite3"):
        sys.exit("benchmarks need the sqlite3 shell: apt-get install sqlite3")

    with tempfile.TemporaryDirectory(prefix="loyaltyctl-bench-") as tmp:
        work = Path(tmp)
        partners, sellers, contracts = generate(work, args.rows)
        size_mb = contracts.stat().st_size / 1e6
        print(f"contracts file: {args.rows} rows, {size_mb:.1f} MB (seeded)")
        first, again, refs, peaks = [], [], [], []
        for _ in range(args.repeat):
            db = work / "bench.db"
            for suffix in ("", "-wal", "-shm"):
                Path(f"{db}{suffix}").unlink(missing_ok=True)
            env = {**os.environ, "LOYALTYCTL_DB": str(db), "LOYALTYCTL_TODAY": "2026-11-22"}
            subprocess.run(
                [*CLI, "partners", "import", str(partners)], env=env, check=True, stdout=subprocess.DEVNULL
            )
            subprocess.run(
                [*CLI, "sellers", "import", str(sellers)], env=env, check=True, stdout=subprocess.DEVNULL
            )
            wall, peak = timed([*CLI, "contracts", "import", str(contracts)], env)
            first.append(wall)
            peaks.append(peak)
            wall, _ = timed([*CLI, "contracts", "import", str(contracts)], env)
            again.append(wall)
            refs.append(sqlite_reference(contracts, work))
        ref = statistics.median(refs)
        for name, runs in (("first import", first), ("re-import, unchanged", again)):
            med = statistics.median(runs)
            print(
                f"{name:22} median {med:6.2f} s  {args.rows / med:9,.0f} rows/s  "
                f"ratio to sqlite3 .import {med / ref:5.1f}x"
            )
        print(f"{'sqlite3 .import':22} median {ref:6.2f} s  (reference, same file, same run)")
        print(f"peak memory of the import: {max(peaks) / 1024:.0f} MB")
        if args.postgres:
            from postgres import bench_postgres, make_changes

            files = {"partners": partners, "sellers": sellers, "contracts": contracts}
            files["changes"] = make_changes(contracts, work / "changes.csv")
            bench_postgres(args.postgres, files, rows=args.rows, repeat=args.repeat)


if __name__ == "__main__":
    main()
