"""Stress: kill -9 a large import at random points, then prove nothing was lost
or doubled (`make stress`; not part of `make test`).

    python benchmarks/stress.py [--rows 200000] [--kills 5] [--seed 1]

The seeded data of `make bench` (200 partners, 5 000 sellers, ROWS contracts).
A reference database gets the import once, undisturbed.  The stressed database
gets it started KILLS times and killed with SIGKILL when it has read a random
share of the file (the last kills may land after the last row, while it
commits).  After every kill: `db check` passes, and the database holds the
import wholly (the reference's counts and totals) or not at all.  Finally the
import runs to the end and the stressed database must equal the reference:
contracts, postings, the sum of postings and of every account's balance.
Exit 0 when all holds, 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from run import generate  # noqa: E402  (the seeded data of `make bench`)

CLI = [sys.executable, "-m", "loyaltyctl"]


def cli(db: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*CLI, "--db", str(db), *args], capture_output=True, text=True, env={**os.environ, "NO_COLOR": "1"}
    )


def must(db: Path, *args: str) -> None:
    r = cli(db, *args)
    if r.returncode:
        sys.exit(f"loyaltyctl {' '.join(args)} failed ({r.returncode}): {r.stderr.strip()}")


def state(db: Path) -> tuple[int, int, int, int]:
    """(contracts, postings, sum of postings, sum of balances)"""
    with sqlite3.connect(db) as con:
        return tuple(
            con.execute(q).fetchone()[0]
            for q in (
                "SELECT count(*) FROM contract",
                "SELECT count(*) FROM posting",
                "SELECT coalesce(sum(points), 0) FROM posting",
                "SELECT coalesce(sum(balance), 0) FROM account",
            )
        )


def read_position(pid: int, path: Path) -> int:
    """How far process ``pid`` has read into ``path`` (Linux /proc); 0 if not open."""
    fd_dir = f"/proc/{pid}/fd"
    try:
        for fd in os.listdir(fd_dir):
            if os.path.realpath(os.path.join(fd_dir, fd)) == str(path):
                with open(f"/proc/{pid}/fdinfo/{fd}") as info:
                    return int(info.readline().split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--kills", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    if not os.path.isdir("/proc/self/fdinfo"):
        sys.exit("stress.py needs Linux /proc to see how far the import has read")

    with tempfile.TemporaryDirectory(prefix="loyalty-stress-") as tmp:
        work = Path(tmp)
        partners, sellers, contracts = generate(work, args.rows)
        size = contracts.stat().st_size
        reference, stressed = work / "reference.db", work / "stressed.db"
        for db in (reference, stressed):
            must(db, "db", "init")
            must(db, "partners", "import", str(partners))
            must(db, "sellers", "import", str(sellers))

        t0 = time.monotonic()
        must(reference, "contracts", "import", str(contracts))
        full_time = time.monotonic() - t0
        want = state(reference)
        nothing = (0, 0, 0, 0)
        print(f"reference: {args.rows} rows imported in {full_time:.1f} s: {want}")

        rng = random.Random(args.seed)
        failures = 0
        for k in range(1, args.kills + 1):
            share = rng.uniform(0.05, 1.0)
            proc = subprocess.Popen(
                [*CLI, "--db", str(stressed), "contracts", "import", str(contracts)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            t0 = time.monotonic()
            while proc.poll() is None and read_position(proc.pid, contracts) < share * size:
                time.sleep(0.005)
            proc.kill()
            proc.wait()
            got = state(stressed)
            check = cli(stressed, "db", "check")
            verdict = "none" if got == nothing else "all" if got == want else "PARTIAL"
            ok = verdict != "PARTIAL" and check.returncode == 0
            failures += not ok
            print(
                f"kill {k}: at {share:.0%} of the file after {time.monotonic() - t0:.1f} s: "
                f"import happened {verdict}; db check {'ok' if check.returncode == 0 else 'FAILED'}"
            )
            if check.returncode:
                print(check.stdout + check.stderr)

        r = cli(stressed, "contracts", "import", str(contracts))
        got = state(stressed)
        check = cli(stressed, "db", "check")
        final_ok = r.returncode == 0 and got == want and check.returncode == 0
        failures += not final_ok
        print(f"final run: exit {r.returncode}, {got}, db check exit {check.returncode}")
        print("OK: nothing lost, nothing doubled" if not failures else f"FAILED: {failures} problems")
        return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
