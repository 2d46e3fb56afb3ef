"""Seeded benchmark data: partners, sellers, contracts and a changes file.

    python benchmarks/generate.py DIR [--rows 100000] [--seed 7] [--pooled-every 4]

Writes DIR/partners.csv (200 partners, every fourth pooled; ``--pooled-every 0``:
none), DIR/sellers.csv (5 000 sellers), DIR/contracts.csv (``rows`` contracts of 2026: log-normal
amounts between 20 000 and 5 000 000 SEK, three products, 90 % started, 6 %
registered, 4 % cancelled) and DIR/changes.csv: 10 % of ``rows`` lines, half of
them existing contracts cancelled or amended (amount, product or start date),
half new contracts.  The same seed gives the same files.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

HEADER = "contract_id,partner_code,seller_email,start_date,amount,product,status\n"
PARTNERS = 200
SELLERS = 5000
PRODUCTS = ("leasing", "loan", "rental")


def _contract(rnd: random.Random, i: int) -> list[str]:
    s = rnd.randrange(SELLERS)
    amount = min(max(round(rnd.lognormvariate(12.5, 0.8), 2), 20000.0), 5_000_000.0)
    status = rnd.choices(("started", "registered", "cancelled"), (90, 6, 4))[0]
    day = f"2026-{rnd.randint(1, 10):02d}-{rnd.randint(1, 28):02d}"
    p = s % PARTNERS
    return [f"K{i:09d}", f"P{p:03d}", f"s{s}@p{p:03d}.se", day, f"{amount:.2f}", rnd.choice(PRODUCTS), status]


def generate(directory: Path, rows: int, seed: int = 7, *, pooled_every: int = 4) -> dict[str, Path]:
    """``pooled_every``: every n-th partner keeps one pooled account for its
    team (0: none, so each of the 5 000 sellers has an account of its own)."""
    directory.mkdir(parents=True, exist_ok=True)
    rnd = random.Random(seed)
    paths = {name: directory / f"{name}.csv" for name in ("partners", "sellers", "contracts", "changes")}
    with paths["partners"].open("w") as f:
        f.write("code,name,mode,consent\n")
        for p in range(PARTNERS):
            mode = "pooled" if pooled_every and p % pooled_every == 0 else "individual"
            f.write(f"P{p:03d},Partner {p} AB,{mode},yes\n")
    with paths["sellers"].open("w") as f:
        f.write("email,name,partner_code,enrolled_on\n")
        for s in range(SELLERS):
            f.write(f"s{s}@p{s % PARTNERS:03d}.se,Seller {s},P{s % PARTNERS:03d},2025-01-01\n")
    changed = set(rnd.sample(range(rows), rows // 20))
    amended: list[list[str]] = []
    with paths["contracts"].open("w") as f:
        f.write(HEADER)
        for i in range(rows):
            row = _contract(rnd, i)
            f.write(",".join(row) + "\n")
            if i in changed:
                amended.append(_amend(rnd, row))
    with paths["changes"].open("w") as f:
        f.write(HEADER)
        news = [_contract(rnd, rows + j) for j in range(rows // 20)]
        mixed = amended + news
        rnd.shuffle(mixed)
        for row in mixed:
            f.write(",".join(row) + "\n")
    return paths


def _amend(rnd: random.Random, row: list[str]) -> list[str]:
    """The same contract, cancelled or with another amount, product or start date."""
    row = list(row)
    what = rnd.choice(("cancel", "amount", "product", "date"))
    if what == "cancel" or row[6] == "cancelled":
        row[6] = "cancelled" if row[6] != "cancelled" else "started"
    elif what == "amount":
        row[4] = f"{float(row[4]) * rnd.uniform(0.8, 1.2) + 1:.2f}"
    elif what == "product":
        row[5] = rnd.choice([p for p in PRODUCTS if p != row[5]])
    else:
        row[3] = f"2026-{rnd.randint(1, 10):02d}-{rnd.randint(1, 28):02d}"
        row[6] = "started"
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("directory", type=Path)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--pooled-every", type=int, default=4, help="every n-th partner pooled (0: none)")
    args = ap.parse_args()
    for name, path in generate(args.directory, args.rows, args.seed, pooled_every=args.pooled_every).items():
        print(f"{name:10} {path} ({path.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
