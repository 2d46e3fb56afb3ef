#!/bin/sh
# `make demo`: build a fresh program database from sample_data/ and take a short tour.
# Needs loyaltyctl on PATH (make puts the venv's bin first); works from any directory.
# The data is a year of contracts up to mid November 2026 (sample_data/generate.py).
set -eu
cd "$(dirname "$0")/.."

rm -rf demo
mkdir demo
export LOYALTYCTL_DB=demo/loyalty.db
export LOYALTYCTL_ACTOR=demo
# The sample data runs to mid November 2026: pin "today" so the tour reads the
# same on any machine, whatever its clock says (override to replay another day).
export LOYALTYCTL_TODAY="${LOYALTYCTL_TODAY:-2026-11-22}"

step() {
    printf '\n== %s\n' "$*"
}

step "Partners and their sellers"
loyaltyctl partners import sample_data/partners.csv
loyaltyctl sellers import sample_data/sellers.csv

step "Program terms, set before any contract earns points"
loyaltyctl campaigns add "Midsommar 2026" --from 2026-06-15 --to 2026-06-28 --multiplier 1.5
loyaltyctl rules set points_per_contract 150 --from 2026-07-01

step "Contracts, one quarterly export at a time (later files carry cancellations and corrections)"
loyaltyctl contracts import sample_data/contracts_2026q1.csv
loyaltyctl contracts import sample_data/contracts_2026q2.csv
loyaltyctl contracts import sample_data/contracts_2026q3.csv
echo "Q4 as Swedish Excel saved it (Windows-1252, semicolons, 1 234 567,50), read from stdin:"
loyaltyctl contracts import - <sample_data/contracts_2026q4.csv

# The latest export, not an older one: files are applied in the order given, so
# importing Q1 again now would undo the cancellations and corrections that came later.
step "Importing the latest export again changes nothing"
loyaltyctl contracts import sample_data/contracts_2026q4.csv

step "Partners"
loyaltyctl partners list

step "Top 10 sellers by balance (pooled partners' points are in the list above)"
loyaltyctl points balance --format csv >demo/balances.csv
printf '%8s %10s  %-13s %s\n' points value_sek partner seller
awk -F, 'NR > 1 && $4 == "individual"' demo/balances.csv | LC_ALL=C sort -t, -k5,5nr -k1,1 | head -n 10 |
    awk -F, '{ printf "%8s %10s  %-13s %s\n", $5, $8, $3, $2 }'

step "What a 250 000 SEK contract earns today, and during the Midsommar campaign"
loyaltyctl points calc --amount 250000
loyaltyctl points calc --amount 250000 --date 2026-06-20

step "Rewards: the catalog, requests (points held at once), the office's decisions"
loyaltyctl catalog import sample_data/catalog.csv
loyaltyctl redemptions import sample_data/redemptions.csv
loyaltyctl redemptions approve WEB-1001 WEB-1002 WEB-1003
loyaltyctl redemptions reject WEB-1004 --reason "Muggen är slut i den färgen"
loyaltyctl redemptions list
echo "WEB-1005 stays pending: its 60 000 points are held (see held in the liability below)"

step "November statements, one PDF per account plus an index, and the liability"
loyaltyctl statements export --month 2026-11 --format pdf --out demo/statements
loyaltyctl report liability

step "The ledger adds up"
loyaltyctl db check

printf '\nThe demo database is %s; try: LOYALTYCTL_DB=%s loyaltyctl points history DALAFORDON\n' \
    "$LOYALTYCTL_DB" "$LOYALTYCTL_DB"
