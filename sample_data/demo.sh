#!/bin/sh
# `make demo`: build a fresh program database from sample_data/ and take a short tour.
# Usage: sh sample_data/demo.sh [DIR]   (default DIR: demo, in the project directory)
# Needs loyaltyctl on PATH (make puts the venv's bin first); works from any directory.
# The data is a year of contracts up to mid November 2026 (sample_data/generate.py).
# tests/test_docs.py runs it too, and runs the documentation's examples on what it builds.
set -eu
cd "$(dirname "$0")/.."

DIR="${1:-demo}"
# Only ever replace a directory this script made (or an empty one).
if [ -e "$DIR" ] && [ ! -e "$DIR/loyalty.db" ] && [ -n "$(ls -A "$DIR" 2>/dev/null)" ]; then
    echo "error: $DIR exists and is not a demo directory; not touching it" >&2
    exit 1
fi
rm -rf "$DIR"
mkdir -p "$DIR"
export LOYALTYCTL_DB="$DIR/loyalty.db"
export LOYALTYCTL_ACTOR=demo
# The sample data runs to mid November 2026: pin "today" so the tour reads the
# same on any machine, whatever its clock says (override to replay another day).
export LOYALTYCTL_TODAY="${LOYALTYCTL_TODAY:-2026-11-22}"

step() {
    printf '\n== %s\n' "$*"
}

step "A new program database (only db init creates one; every other command refuses a missing database)"
loyaltyctl db init

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
loyaltyctl points balance --format csv >"$DIR/balances.csv"
printf '%8s %10s  %-13s %s\n' points value_sek partner seller
awk -F, 'NR > 1 && $4 == "individual"' "$DIR/balances.csv" | LC_ALL=C sort -t, -k5,5nr -k1,1 | head -n 10 |
    awk -F, '{ printf "%8s %10s  %-13s %s\n", $5, $8, $3, $2 }'

step "What a 250 000 SEK contract earns today, and during the Midsommar campaign"
loyaltyctl points calc --amount 250000
loyaltyctl points calc --amount 250000 --date 2026-06-20

step "Engagement: a quiz and its results, the welcome quiz, lead tips, October's leaderboard"
# (the records these commands print go to /dev/null; their one-line outcome is on stderr)
loyaltyctl quiz create Q2026-11 --title "Leasing för företagskunder" --questions 10 --points-per-correct 50 >/dev/null
loyaltyctl quiz award Q2026-11 sample_data/quiz_results.csv
echo "The same file again changes nothing (each seller is awarded once per quiz):"
loyaltyctl quiz award Q2026-11 sample_data/quiz_results.csv
loyaltyctl quiz create VALKOMMEN --title "Välkommen till programmet" --questions 5 --points-per-correct 100 --welcome >/dev/null
# Maria Lindahl enrolled on 2026-10-25: the welcome quiz counts for her first 90 days.
loyaltyctl quiz award VALKOMMEN --seller maria.lindahl@gbgbilcenter.se --correct 5 --date 2026-11-02
loyaltyctl leads add --seller lars.strom@skanebil.se --company "Österlens Lantbruk AB" --org-number 556123-4567 >/dev/null
loyaltyctl leads add --seller erik.larsson@dalafordon.se --company "Österlens Lantbruk" --org-number 5561234567 >/dev/null
loyaltyctl leads accept 1 >/dev/null
loyaltyctl leads reject 2 --reason "Tipsad av Skånebil först (lead 1)" >/dev/null
loyaltyctl leads list
loyaltyctl leaderboard show --month 2026-10
loyaltyctl leaderboard run --month 2026-10
echo "Cron retries the run: nothing more is awarded, exit 0:"
loyaltyctl leaderboard run --month 2026-10
echo "November has not ended; the run is refused with the day it can run from (exit 4):"
loyaltyctl leaderboard run --month 2026-11 || echo "(exit $?)"

step "Rewards: the catalog, requests (points held at once), the office's decisions"
loyaltyctl catalog import sample_data/catalog.csv
loyaltyctl redemptions import sample_data/redemptions.csv
loyaltyctl redemptions approve WEB-1001 WEB-1002 WEB-1003
loyaltyctl redemptions reject WEB-1004 --reason "Muggen är slut i den färgen"
loyaltyctl redemptions list
echo "WEB-1005 stays pending: its 60 000 points are held (see held in the liability below)"

step "November statements, one PDF per account plus an index, and the liability"
loyaltyctl statements export --month 2026-11 --format pdf --out "$DIR/statements"
loyaltyctl report liability

step "The ledger adds up"
loyaltyctl db check

cat <<EOF

== Where to go next
The demo database is $LOYALTYCTL_DB, as of $LOYALTYCTL_TODAY; its November statements are in $DIR/statements/.
Try it (the same "today" keeps the figures as above):

    export LOYALTYCTL_DB=$LOYALTYCTL_DB LOYALTYCTL_TODAY=$LOYALTYCTL_TODAY PATH="$(dirname "$(command -v loyaltyctl)"):\$PATH"
    loyaltyctl points history DALAFORDON --from 2026-11-01
    loyaltyctl points calc --amount 250000 --date 2026-06-20
    loyaltyctl leaderboard show --month 2026-10
    loyaltyctl redemptions list --status pending
    loyaltyctl --help

Read on: README.md (a day in the office, cron), then docs/ (docs/index.md lists the pages;
docs/commands.md is every command and option). make test runs the test suite.
EOF
