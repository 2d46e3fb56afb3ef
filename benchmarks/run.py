"""Benchmarks: speed goals live here, not in timed tests (`make bench`).

Every case runs the real CLI as a subprocess on seeded files (see
generate.py), several times, and prints the median wall time, rows per second
where it applies, peak memory, and the ratio to a reference measured in the
same run: the `sqlite3` shell's `.import` of the same file into a bare table
(for the changes file: into a table already holding the same contracts, same
unique key, via a temporary table and INSERT OR REPLACE).  Query times are
measured inside Python (the service call only) and reported apart from wall
time, with SQLite's EXPLAIN QUERY PLAN of each query.

    python benchmarks/run.py [--rows 1000000] [--repeat 3] [--quick] [--all-individual] [--postgres URL]

With ``--postgres URL`` (or ``$LOYALTYCTL_TEST_POSTGRES_URL``) the import cases
also run on PostgreSQL, against ``psql``'s ``\\copy`` (see postgres.py).

--quick is a 100 000-row smoke run with one repetition; --all-individual makes
every partner individual, so the statements export covers 5 000 accounts.  Needs the sqlite3
shell (Debian: apt-get install -y sqlite3).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from generate import generate  # noqa: E402

CLI = [sys.executable, "-m", "loyaltyctl"]
TODAY = "2026-11-22"
EXPORT = ["statements", "export", "--month", "2026-11", "-f"]
COLUMNS = (
    "contract_id TEXT PRIMARY KEY, partner_code TEXT, seller_email TEXT, "
    "start_date TEXT, amount TEXT, product TEXT, status TEXT"
)


def measure(
    cmd: list[str], env: dict | None = None, stdin: bytes | None = None
) -> tuple[float, float, float]:
    """Wall seconds, peak RSS (MB) and CPU seconds (user + system) of this one
    child process: wait4's own rusage, not RUSAGE_CHILDREN's over every child
    so far.  CPU next to wall: the shell waits on the disk, Python on the CPU."""
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            cmd,
            env=env,
            stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
        if stdin is not None:
            proc.stdin.write(stdin)
            proc.stdin.close()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode:
            err.seek(0)
            sys.exit(f"{' '.join(map(str, cmd))} failed ({proc.returncode}):\n{err.read().decode()[-2000:]}")
    return wall, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


def run(cmd: list[str], env: dict | None = None, stdin: bytes | None = None) -> float:
    return measure(cmd, env, stdin)[0]


def fresh(db: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)


def postings(db: Path) -> int:
    con = sqlite3.connect(db)
    try:
        return con.execute("SELECT count(*) FROM posting").fetchone()[0]
    finally:
        con.close()


def sqlite_import(csv_path: Path, db: Path) -> float:
    """The C reference: the sqlite3 shell importing the file into a bare table."""
    fresh(db)
    script = f"CREATE TABLE c ({COLUMNS});\n.import --csv --skip 1 {csv_path} c\n"
    return run(["sqlite3", str(db)], stdin=script.encode())


def sqlite_changes(contracts: Path, changes: Path, db: Path) -> float:
    """The reference for the changes file: the same contracts loaded (not timed),
    then the changes imported into a temporary table and merged by key (timed)."""
    sqlite_import(contracts, db)
    script = (
        f"CREATE TEMP TABLE t ({COLUMNS});\n.import --csv --skip 1 {changes} t\n"
        "INSERT OR REPLACE INTO c SELECT * FROM t;\n"
    )
    return run(["sqlite3", str(db)], stdin=script.encode())


# The floors.  Each runs in a child process like the CLI (start-up included),
# except the write floors, which time only the transaction: their rows are
# read from the imported database first, so the figure is SQLite's own cost of
# storing what an import stored (the first import, the changes file), with the
# tool's pragmas, constraints, foreign keys, indexes and synchronous commit.
READ_FLOOR = "import csv, sys\nfor _ in csv.reader(open(sys.argv[1], newline='')): pass"
COMPARE_FLOOR = (
    "import csv, sqlite3, sys\n"
    "con = sqlite3.connect(sys.argv[2])\n"
    "stored = {r[0]: r for r in con.execute("
    "'SELECT contract_id, partner_id, seller_id, start_date, amount_ore, product, status FROM contract')}\n"
    "for f in csv.reader(open(sys.argv[1], newline='')): stored.get(f[0])"
)


def floor_in_child(*, source: Path, base: Path, target: Path) -> float:
    """``write_floor`` in a child process:
    its rows (a gigabyte at 1M) must not stay in this process, whose every
    later child would start out as big."""
    code = (
        f"import sys; sys.path.insert(0, {str(HERE)!r})\n"
        "from pathlib import Path\nfrom run import write_floor\n"
        "print(write_floor(source=Path(sys.argv[1]), base=Path(sys.argv[2]), target=Path(sys.argv[3])))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(source), str(base), str(target)], capture_output=True, text=True
    )
    if done.returncode:
        sys.exit(f"the write floor failed:\n{done.stderr[-2000:]}")
    return float(done.stdout)


def copy_db(source: Path, target: Path) -> None:
    """A consistent copy (SQLite's backup API: the WAL's pages too)."""
    fresh(target)
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()


def write_floor(*, source: Path, base: Path, target: Path) -> float:
    """Seconds SQLite takes to store what the latest contracts import stored
    in ``source``: its new contracts, its changed ones (every column, by id),
    its postings and the accounts' balances, as ready tuples, written into a
    copy of ``base``, the database as it was before that import.  After a
    first import every contract is new."""
    copy_db(base, target)
    before = sqlite3.connect(base)
    src = sqlite3.connect(source)
    try:
        top = before.execute("SELECT coalesce(max(id), 0) FROM contract").fetchone()[0]
        columns = [c[1] for c in before.execute("PRAGMA table_info(contract)").fetchall()]
        batch = src.execute(
            "SELECT * FROM batch WHERE command = 'contracts import' ORDER BY id DESC LIMIT 1"
        ).fetchone()
        rows = src.execute(
            "SELECT * FROM contract WHERE last_batch_id = ? ORDER BY id", (batch[0],)
        ).fetchall()
        entries = src.execute("SELECT * FROM posting WHERE batch_id = ? ORDER BY id", (batch[0],)).fetchall()
        balances = src.execute("SELECT balance, id, balance FROM account").fetchall()
    finally:
        src.close()
        before.close()
    new = [r for r in rows if r[0] > top]
    changed = [(*r[1:], r[0]) for r in rows if r[0] <= top]
    update = f"UPDATE contract SET {', '.join(f'{c} = ?' for c in columns[1:])} WHERE id = ?"
    con = sqlite3.connect(target, isolation_level=None)
    try:
        for pragma in (
            "journal_mode = WAL",
            "synchronous = FULL",
            "foreign_keys = ON",
            "cell_size_check = ON",
        ):
            con.execute(f"PRAGMA {pragma}")
        con.execute("PRAGMA cache_size = -32768")  # as the import sets it
        start = time.perf_counter()
        con.execute("BEGIN IMMEDIATE")
        con.execute(f"INSERT INTO batch VALUES ({', '.join('?' * len(batch))})", batch)
        con.executemany(f"INSERT INTO contract VALUES ({', '.join('?' * len(columns))})", new)
        con.executemany(update, changed)
        con.executemany(f"INSERT INTO posting VALUES ({', '.join('?' * len(entries[0]))})", entries)
        con.executemany("UPDATE account SET balance = ? WHERE id = ? AND balance <> ?", balances)
        con.execute("COMMIT")
        return time.perf_counter() - start
    finally:
        con.close()


# The chain's share of the first import: the import's own hashing loop
# (Ledger.post_many calls chain.link once per posting, in the loop that
# builds the rows), timed alone over the postings the import wrote, read
# from the database first (not timed).
CHAIN_COST = """
import sqlite3, sys, time
from loyaltyctl.chain import GENESIS, link
con = sqlite3.connect(sys.argv[1])
rows = con.execute(
    "SELECT account_id, points, kind, value_date, booking_date, idem_key, actor, batch_id FROM posting "
    "WHERE batch_id = (SELECT max(id) FROM batch WHERE command = 'contracts import') ORDER BY id"
).fetchall()
con.close()
start = time.perf_counter()
prev = GENESIS
for account, points, kind, value, booking, key, actor, batch in rows:
    prev = link(prev, account, points, kind, value, booking, key, actor, batch)
print(time.perf_counter() - start, len(rows))
"""


def chain_in_child(db: Path) -> tuple[float, int]:
    """Seconds the first import's hash chain costs, and how many postings."""
    done = subprocess.run([sys.executable, "-c", CHAIN_COST, str(db)], capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"the chain's cost failed:\n{done.stderr[-2000:]}")
    seconds, n = done.stdout.split()
    return float(seconds), int(n)


def line(name: str, walls: list[float], *, rows: int = 0, ref: float = 0.0, extra: str = "") -> str:
    med = statistics.median(walls)
    text = f"{name:34} {med:8.2f} s"
    if rows:
        text += f"  {rows / med:10,.0f} rows/s"
    if ref:
        text += f"  {med / ref:6.1f}x reference"
    return text + (f"  {extra}" if extra else "")


QUERIES = r"""
import json, statistics, sys, time
from datetime import date
from sqlalchemy import event
from loyaltyctl.db import Database, resolve_url
from loyaltyctl.services import leaderboard, points, statements

email, repeat = sys.argv[1], int(sys.argv[2])
db = Database(resolve_url(None))
out = {}
with db.session() as session:
    seen = []
    conn = session.connection()

    def spy(conn_, cursor, statement, params, context, executemany):
        seen.append((statement, params))

    cases = {
        "leaderboard --month 2026-10": lambda: leaderboard.live_standings(
            session, leaderboard.period_of(month="2026-10", year=None)),
        "leaderboard --year 2026": lambda: leaderboard.live_standings(
            session, leaderboard.period_of(month=None, year="2026")),
        "points balance EMAIL": lambda: points.balances(session=session, ref=email, on=None),
        "points balance (all accounts)": lambda: points.balances(session=session, ref=None, on=None),
        "statement, one seller, a month": lambda: statements.statements(
            session=session, date_from=date(2026, 11, 1), date_to=date(2026, 11, 30), ref=email),
        "statements, every account, a month": lambda: statements.statements(
            session=session, date_from=date(2026, 11, 1), date_to=date(2026, 11, 30)),
    }
    for name, call in cases.items():
        call()  # warm: the first call loads rules and caches
        times = []
        for _ in range(1 if "every account" in name else repeat):
            start = time.perf_counter()
            call()
            times.append(time.perf_counter() - start)
        seen.clear()
        event.listen(conn, "before_cursor_execute", spy)
        call()
        event.remove(conn, "before_cursor_execute", spy)
        plans = []
        raw = conn.connection.dbapi_connection.cursor()
        for statement, params in seen:
            if statement.lstrip().upper().startswith("SELECT") and "posting" in statement:
                rows = raw.execute("EXPLAIN QUERY PLAN " + statement, params).fetchall()
                plans.append([r[-1] for r in rows])
        out[name] = {"ms": statistics.median(times) * 1000, "plans": plans}
print(json.dumps(out))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="a 100 000-row smoke run, one repetition")
    ap.add_argument(
        "--all-individual",
        action="store_true",
        help="no pooled partner: each of the 5 000 sellers has an account (5 000 statements)",
    )
    ap.add_argument("--keep", type=Path, help="keep the files and databases in this directory")
    ap.add_argument(
        "--postgres",
        default=os.environ.get("LOYALTYCTL_TEST_POSTGRES_URL"),
        metavar="URL",
        help="also run the import cases on this PostgreSQL server (default: $LOYALTYCTL_TEST_POSTGRES_URL)",
    )
    args = ap.parse_args()
    if args.quick:
        args.rows, args.repeat = 100_000, 1
    if not shutil.which("sqlite3"):
        sys.exit("benchmarks need the sqlite3 shell: apt-get install -y sqlite3")

    tmp = None
    if args.keep:
        work = args.keep
        work.mkdir(parents=True, exist_ok=True)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="loyaltyctl-bench-")
        work = Path(tmp.name)
    try:
        bench(args, work)
    finally:
        if tmp is not None:
            tmp.cleanup()


def bench(args, work: Path) -> None:
    files = generate(work, args.rows, pooled_every=0 if args.all_individual else 4)
    contracts, changes = files["contracts"], files["changes"]
    n_changes = sum(1 for _ in changes.open()) - 1
    version = subprocess.run(["sqlite3", "--version"], capture_output=True, text=True).stdout.split()[0]
    print(
        f"{time.strftime('%Y-%m-%d %H:%M')} {os.uname().nodename}, {os.cpu_count()} cores, "
        f"Python {sys.version.split()[0]}, sqlite3 shell {version}"
    )
    print(
        f"contracts file: {args.rows:,} rows, {contracts.stat().st_size / 1e6:.1f} MB; "
        f"changes file: {n_changes:,} rows (seeded); median of {args.repeat}\n"
    )
    db = work / "bench.db"
    env = {**os.environ, "LOYALTYCTL_DB": str(db), "LOYALTYCTL_TODAY": TODAY}
    env.pop("LOYALTYCTL_DEBUG", None)

    def load_people() -> None:
        fresh(db)
        run([*CLI, "db", "init"], env)
        run([*CLI, "partners", "import", str(files["partners"])], env)
        run([*CLI, "sellers", "import", str(files["sellers"])], env)

    first, again, change, refs, change_refs = [], [], [], [], []
    cpu: dict[str, list[float]] = {"first": [], "again": [], "change": []}
    peak_first = peak_again = peak_change = 0.0
    people = work / "people.db"
    loaded = work / "loaded.db"
    floor_writes: list[float] = []
    chain_cost: list[tuple[float, int]] = []
    floor_changes: list[float] = []
    for _ in range(args.repeat):
        load_people()
        copy_db(db, people)
        wall, rss, used = measure([*CLI, "contracts", "import", str(contracts)], env)
        first.append(wall)
        cpu["first"].append(used)
        peak_first = max(peak_first, rss)
        floor_writes.append(floor_in_child(source=db, base=people, target=work / "floor.db"))
        chain_cost.append(chain_in_child(db))
        before = postings(db)
        wall, rss, used = measure([*CLI, "contracts", "import", str(contracts)], env)
        again.append(wall)
        cpu["again"].append(used)
        peak_again = max(peak_again, rss)
        if postings(db) != before:
            sys.exit("re-importing the unchanged file wrote postings")
        copy_db(db, loaded)
        wall, rss, used = measure([*CLI, "contracts", "import", str(changes)], env)
        change.append(wall)
        cpu["change"].append(used)
        peak_change = max(peak_change, rss)
        floor_changes.append(floor_in_child(source=db, base=loaded, target=work / "floor.db"))
        refs.append(sqlite_import(contracts, work / "reference.db"))
        change_refs.append(sqlite_changes(contracts, changes, work / "reference.db"))
    fresh(work / "reference.db")
    for scratch in ("floor.db", "people.db", "loaded.db"):
        fresh(work / scratch)
    ref, change_ref = statistics.median(refs), statistics.median(change_refs)
    floor_read = [run([sys.executable, "-c", READ_FLOOR, str(contracts)]) for _ in range(args.repeat)]
    floor_compare = [
        run([sys.executable, "-c", COMPARE_FLOOR, str(contracts), str(db)]) for _ in range(args.repeat)
    ]

    def cpu_of(case: str) -> str:
        return f"cpu {statistics.median(cpu[case]):.2f} s"

    print(
        "import (wall time; peak RSS of the command's own process, the highest of its runs; "
        "its CPU seconds, median)"
    )
    print(
        line(
            "contracts import, first",
            first,
            rows=args.rows,
            ref=ref,
            extra=f"peak {peak_first:.0f} MB, {cpu_of('first')}",
        )
    )
    print(
        line(
            "contracts import, unchanged",
            again,
            rows=args.rows,
            ref=ref,
            extra=f"writes nothing, peak {peak_again:.0f} MB, {cpu_of('again')}",
        )
    )
    print(
        line(
            "contracts import, changes file",
            change,
            rows=n_changes,
            ref=change_ref,
            extra=f"peak {peak_change:.0f} MB, {cpu_of('change')}",
        )
    )
    print(line("sqlite3 .import (reference)", refs, rows=args.rows))
    print(line("sqlite3 changes (reference)", change_refs, rows=n_changes))
    chain_walls = [seconds for seconds, _ in chain_cost]
    share = statistics.median(chain_walls) / statistics.median(first)
    print(
        line(
            "hash chain of the first import",
            chain_walls,
            rows=chain_cost[0][1],
            extra=f"{share:.1%} of the first import (chain.link per posting, alone)",
        )
    )
    print("\nfloors: what this design pays before any of loyaltyctl's own work")
    print(
        line(
            "Python start-up + csv.reader",
            floor_read,
            rows=args.rows,
            ref=ref,
            extra="reads the rows, no checks",
        )
    )
    print(
        line(
            "... + SELECT of the stored contracts",
            floor_compare,
            rows=args.rows,
            ref=ref,
            extra="the least an unchanged re-import does",
        )
    )
    print(
        line(
            "SQLite writes of the first import",
            floor_writes,
            rows=args.rows,
            ref=ref,
            extra="its contract and posting rows as ready tuples, same pragmas",
        )
    )
    print(
        line(
            "SQLite writes of the changes file",
            floor_changes,
            rows=n_changes,
            ref=change_ref,
            extra="its new and changed contracts and postings as ready tuples",
        )
    )

    # The database now holds the contracts and the changes: the commands.
    email = "s17@p017.se"
    out = work / "statements"
    print("\ncommands over the loaded database (wall time)")
    cases = [
        ("leaderboard show --month", ["leaderboard", "show", "--month", "2026-10"]),
        ("leaderboard show --year", ["leaderboard", "show", "--year", "2026"]),
        ("points balance (all accounts)", ["points", "balance", "--format", "csv"]),
        ("points balance EMAIL", ["points", "balance", email]),
        ("statements export, csv", [*EXPORT, "csv", "--force", "-o"]),
        ("statements export, json", [*EXPORT, "json", "--force", "-o"]),
        ("db check", ["db", "check"]),
        ("loyaltyctl --help", ["--help"]),
    ]
    for name, argv in cases:
        if argv[-1] == "-o":
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir()
            argv = [*argv, str(out)]
        walls = [run([*CLI, *argv], env) for _ in range(args.repeat)]
        extra = ""
        if name.startswith("statements"):
            extra = f"{len(list(out.iterdir())) - 1} statements"
        print(line(name, walls, extra=extra))
    walls = [run([sys.executable, "-c", "import sqlmodel"]) for _ in range(args.repeat)]
    print(line("python -c 'import sqlmodel'", walls, extra="(start-up yardstick)"))

    print("\nquery time inside Python (the service call only, median), and SQLite's plan")
    done = subprocess.run(
        [sys.executable, "-c", QUERIES, email, str(max(args.repeat, 5))],
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode:
        sys.exit(done.stderr[-2000:])
    for name, r in json.loads(done.stdout).items():
        print(f"{name:34} {r['ms']:8.1f} ms")
        for plan in r["plans"]:
            for step in plan:
                print(f"{'':38}{step}")

    if args.postgres:
        from postgres import bench_postgres

        bench_postgres(args.postgres, files, rows=args.rows, repeat=args.repeat)


if __name__ == "__main__":
    main()
