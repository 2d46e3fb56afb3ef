#!/usr/bin/env python3
"""Generate the sample data that ``make demo`` imports.

    python sample_data/generate.py

writes next to this script:

* ``partners.csv``  - 20 resellers: car dealers, machinery, IT and a few others,
  13 in individual mode with consent, 6 pooled, 1 individual without consent
  (so it has no sellers).
* ``sellers.csv``   - about 300 salespeople, e-mail at their partner's domain,
  enrolled 2025-2026 (none after 2026-11-01).
* ``contracts_2026q1.csv`` .. ``contracts_2026q4.csv`` - a year of financing
  contracts (December 2025 to mid November 2026) as the contract system exports
  them each quarter.  Each file holds the contracts registered in its period,
  as they stand on the export day, plus every earlier contract whose row has
  changed since the previous export: cancellations, registered contracts that
  have started (sometimes on a later date than planned) and a few amount
  corrections.  Q1 also covers December 2025, when the program began.

  Q1-Q3 are UTF-8 with commas and a decimal point.  Q4 is the file as Swedish
  Excel saves "CSV (semikolonavgränsad)": Windows-1252, semicolons, CRLF, a
  decimal comma and a no-break space (U+00A0, byte A0) between thousands.

Standard library only.  The output depends on nothing but ``SEED``: running the
script again reproduces the committed files byte for byte.
"""

from __future__ import annotations

import csv
import io
import math
import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

SEED = 20261122
HERE = Path(__file__).resolve().parent

LAUNCH = date(2025, 12, 1)  # first contract date of the program
LAST_ENROLMENT = date(2026, 11, 1)
# (file, export day): each export holds what was registered since the previous one.
EXPORTS = [
    ("contracts_2026q1.csv", date(2026, 3, 31)),
    ("contracts_2026q2.csv", date(2026, 6, 30)),
    ("contracts_2026q3.csv", date(2026, 9, 30)),
    ("contracts_2026q4.csv", date(2026, 11, 15)),
]
EXCEL_FILE = "contracts_2026q4.csv"

MIN_AMOUNT_ORE = 20_000_00
MAX_AMOUNT_ORE = 5_000_000_00

# Contracts registered per working day, by month (seasonal: slow July and Christmas).
DAILY_RATE = {
    (2025, 12): 15.0,
    (2026, 1): 14.0,
    (2026, 2): 17.0,
    (2026, 3): 20.0,
    (2026, 4): 19.5,
    (2026, 5): 20.5,
    (2026, 6): 19.0,
    (2026, 7): 10.0,
    (2026, 8): 17.0,
    (2026, 9): 20.5,
    (2026, 10): 20.5,
    (2026, 11): 19.5,
}
WEEKDAY_FACTOR = (1.0, 1.05, 1.05, 1.0, 1.1, 0.35, 0.05)  # Mon..Sun; car dealers open Saturdays
HOLIDAYS = {
    date(2025, 12, 24),
    date(2025, 12, 25),
    date(2025, 12, 26),
    date(2025, 12, 31),
    date(2026, 1, 1),
    date(2026, 1, 6),
    date(2026, 4, 3),
    date(2026, 4, 6),
    date(2026, 5, 1),
    date(2026, 5, 14),
    date(2026, 6, 6),
    date(2026, 6, 19),
    date(2026, 10, 31),
}


@dataclass(frozen=True)
class Kind:
    """What a kind of reseller finances: typical amount and product mix."""

    median_sek: int
    sigma: float
    products: tuple[tuple[str, float], ...]
    rate: float  # contracts per seller, relative


KINDS = {
    "car": Kind(320_000, 0.55, (("leasing", 45), ("loan", 35), ("hire_purchase", 20)), 1.0),
    "machinery": Kind(
        850_000, 0.70, (("leasing", 40), ("hire_purchase", 35), ("rental", 15), ("loan", 10)), 0.55
    ),
    "it": Kind(110_000, 0.80, (("leasing", 50), ("rental", 35), ("loan", 15)), 1.25),
    "medtech": Kind(550_000, 0.60, (("leasing", 60), ("rental", 25), ("hire_purchase", 15)), 0.5),
    "boat": Kind(450_000, 0.60, (("loan", 55), ("hire_purchase", 30), ("leasing", 15)), 0.7),
    "kitchen": Kind(240_000, 0.60, (("leasing", 55), ("rental", 25), ("hire_purchase", 20)), 0.6),
    "print": Kind(380_000, 0.60, (("leasing", 70), ("rental", 30)), 0.6),
}


@dataclass(frozen=True)
class PartnerSpec:
    code: str
    name: str
    email: str  # contact; sellers' e-mail addresses share its domain
    mode: str
    consent: bool
    kind: str
    sellers: int
    joined: date  # its first sellers are enrolled within a month of this day

    @property
    def domain(self) -> str:
        return self.email.split("@")[1]


P = PartnerSpec
# fmt: off
PARTNERS = [
    # Car dealers
    P("BILHALLEN", "Bilhallen i Umeå AB", "info@bilhallen-umea.se",
      "individual", True, "car", 34, date(2025, 1, 20)),
    P("NORRBIL", "Norrlands Bil & Maskin AB", "ekonomi@norrlandsbil.se",
      "individual", True, "car", 26, date(2025, 2, 3)),
    P("GBGBIL", "Göteborgs Bilcenter AB", "partner@gbgbilcenter.se",
      "individual", True, "car", 30, date(2025, 1, 13)),
    P("SKANEBIL", "Skånebil Försäljning AB", "kontakt@skanebil.se",
      "individual", True, "car", 22, date(2025, 3, 10)),
    P("MALARBIL", "Mälardalens Bilhandel AB", "info@malardalensbil.se",
      "individual", True, "car", 18, date(2025, 4, 7)),
    P("DALAFORDON", "Dalarnas Fordon AB", "kansli@dalafordon.se",
      "pooled", True, "car", 14, date(2025, 5, 19)),
    # Machinery
    P("MASKINVAXJO", "Maskinhuset i Växjö AB", "info@maskinhuset.se",
      "individual", True, "machinery", 16, date(2025, 2, 17)),
    P("ENTREOST", "Entreprenadmaskiner Öst AB", "forsaljning@entremaskiner-ost.se",
      "individual", True, "machinery", 14, date(2025, 3, 24)),
    P("LANTJAMT", "Lantbruksmaskiner Jämtland AB", "info@lantmaskinerjamtland.se",
      "pooled", False, "machinery", 10, date(2025, 6, 2)),
    P("VKTRUCK", "Västkustens Truck & Lyft AB", "order@vktruck.se",
      "individual", True, "machinery", 12, date(2025, 8, 25)),
    P("SKOGNORR", "Skogsmaskiner Norr AB", "kontor@skogsmaskinernorr.se",
      "pooled", False, "machinery", 9, date(2025, 9, 15)),
    # IT resellers
    P("KONTORSDATA", "Kontorsdata i Örebro AB", "ekonomi@kontorsdata.se",
      "individual", True, "it", 20, date(2025, 1, 27)),
    P("ITPSUNDSVALL", "IT-Partner Sundsvall AB", "info@itpartner-sundsvall.se",
      "individual", True, "it", 14, date(2025, 4, 22)),
    P("NATVERKSHUSET", "Nätverkshuset Stockholm AB", "partnerprogram@natverkshuset.se",
      "individual", True, "it", 16, date(2025, 6, 9)),
    P("SERVERHALLEN", "Serverhallen Linköping AB", "info@serverhallen.se",
      "individual", True, "it", 9, date(2026, 2, 9)),
    P("DATORLUND", "Datorbutiken i Lund AB", "butik@datorbutiken-lund.se",
      "pooled", True, "it", 8, date(2025, 10, 6)),
    # Others
    P("MEDTEKSYD", "Medicinteknik Syd AB", "ekonomi@medteksyd.se",
      "individual", True, "medtech", 11, date(2026, 8, 17)),
    P("BATCENTRUM", "Båtcentrum Västervik AB", "info@batcentrum.se",
      "pooled", False, "boat", 7, date(2026, 3, 16)),
    P("STORKOK", "Storköksutrustning Norden AB", "order@storkoksnorden.se",
      "pooled", True, "kitchen", 10, date(2025, 11, 3)),
    # Has not consented to its staff taking part, so it has no sellers (yet).
    P("PRINTGAVLE", "Tryckeri & Print i Gävle AB", "info@printgavle.se",
      "individual", False, "print", 0, date(2026, 9, 1)),
]

FIRST_NAMES = [
    # (name, weight): common Swedish first names, a few from newer Swedes.
    ("Anna", 6), ("Eva", 4), ("Maria", 5), ("Karin", 4), ("Sara", 4), ("Emma", 4), ("Lena", 3),
    ("Kristina", 3), ("Elin", 3), ("Johanna", 3), ("Linnéa", 2), ("Åsa", 3), ("Märta", 1),
    ("Malin", 3), ("Ida", 3), ("Sofia", 3), ("Hanna", 3), ("Ebba", 1), ("Maja", 1), ("Agneta", 2),
    ("Birgitta", 1), ("Ulrika", 2), ("Therese", 2), ("Jenny", 2), ("Anna-Karin", 1), ("Annelie", 1),
    ("Frida", 2), ("Matilda", 1), ("Louise", 1), ("Mona", 1), ("Yasmin", 1), ("Leyla", 1),
    ("Erik", 6), ("Lars", 5), ("Karl", 4), ("Anders", 5), ("Johan", 5), ("Per", 4), ("Mikael", 5),
    ("Jan", 3), ("Peter", 4), ("Thomas", 4), ("Daniel", 4), ("Fredrik", 4), ("Magnus", 4),
    ("Björn", 3), ("Göran", 2), ("Håkan", 2), ("Jonas", 4), ("Marcus", 3), ("Niklas", 3),
    ("Mattias", 3), ("Andreas", 4), ("Stefan", 3), ("Henrik", 3), ("Oskar", 2), ("Viktor", 2),
    ("Gustav", 2), ("Jörgen", 1), ("Örjan", 1), ("Östen", 1), ("Åke", 1), ("Mårten", 1),
    ("Per-Olof", 1), ("Karl-Johan", 1), ("Joakim", 2), ("Robin", 2), ("Emil", 2), ("Linus", 1),
    ("Ali", 1), ("Mohammed", 1), ("Ahmed", 1), ("Mehmet", 1), ("Dragan", 1), ("Tuomas", 1),
]
LAST_NAMES = [
    ("Andersson", 8), ("Johansson", 8), ("Karlsson", 7), ("Nilsson", 7), ("Eriksson", 6),
    ("Larsson", 6), ("Olsson", 5), ("Persson", 5), ("Svensson", 5), ("Gustafsson", 4),
    ("Pettersson", 4), ("Jonsson", 4), ("Jansson", 3), ("Hansson", 3), ("Bengtsson", 3),
    ("Jönsson", 3), ("Lindberg", 2), ("Lindström", 2), ("Lindqvist", 2), ("Lindgren", 2),
    ("Berglund", 2), ("Fredriksson", 2), ("Sandberg", 2), ("Henriksson", 2), ("Forsberg", 2),
    ("Sjöberg", 2), ("Wallin", 2), ("Engström", 2), ("Eklund", 2), ("Danielsson", 2),
    ("Lundin", 2), ("Håkansson", 2), ("Björk", 1), ("Bergström", 2), ("Gunnarsson", 1),
    ("Holm", 1), ("Wikström", 1), ("Samuelsson", 1), ("Isaksson", 1), ("Fransson", 1),
    ("Bergqvist", 1), ("Nyström", 1), ("Holmberg", 1), ("Arvidsson", 1), ("Löfgren", 1),
    ("Söderberg", 1), ("Nyberg", 1), ("Blomqvist", 1), ("Claesson", 1), ("Nordström", 1),
    ("Mårtensson", 1), ("Lundström", 1), ("Viklund", 1), ("Björklund", 1), ("Eliasson", 1),
    ("Pålsson", 1), ("Berggren", 1), ("Sandström", 1), ("Nordin", 1), ("Ström", 1),
    ("Åberg", 1), ("Hermansson", 1), ("Ekström", 1), ("Holmgren", 1), ("Sundberg", 1),
    ("Hedlund", 1), ("Dahlberg", 1), ("Hellström", 1), ("Sjögren", 1), ("Öberg", 1),
    ("Åström", 1), ("Månsson", 1), ("Söderström", 1), ("Östlund", 1), ("Lindahl", 1),
    ("Mattsson", 1), ("Jakobsson", 1), ("Ali", 1), ("Hassan", 1), ("Yilmaz", 1), ("Nguyen", 1),
    ("Kovačević", 1), ("Virtanen", 1),
]
# fmt: on

_ASCII = str.maketrans(
    {"å": "a", "ä": "a", "ö": "o", "é": "e", "è": "e", "ü": "u", "č": "c", "ć": "c", "ø": "o"}
)


@dataclass
class Seller:
    email: str
    name: str
    partner: PartnerSpec
    enrolled_on: date
    weight: float  # how many contracts they write, relative


@dataclass
class Contract:
    contract_id: str
    partner: PartnerSpec
    seller: Seller
    registered: date  # the day it appeared in the contract system
    planned_start: date
    start: date  # the actual start (later than planned if delivery slipped)
    amount_ore: int
    product: str
    fate: str  # started | cancelled_before_start | cancelled_after_start
    cancelled_on: date | None = None
    corrected_on: date | None = None
    corrected_ore: int | None = None
    history: list[tuple] = field(default_factory=list)  # rows as exported, oldest first

    def row(self, export: date) -> tuple | None:
        """The contract as the export of that day shows it (None: not registered yet)."""
        if self.registered > export:
            return None
        amount = self.amount_ore
        if self.corrected_on is not None and self.corrected_on <= export:
            assert self.corrected_ore is not None
            amount = self.corrected_ore
        if self.cancelled_on is not None and self.cancelled_on <= export:
            status = "cancelled"
            start = self.start if self.fate == "cancelled_after_start" else self.planned_start
        elif self.fate != "cancelled_before_start" and self.start <= export:
            status, start = "started", self.start
        else:
            status, start = "registered", self.planned_start
        return (
            self.contract_id,
            self.partner.code,
            self.seller.email,
            start,
            amount,
            self.product,
            status,
        )


def weighted(rng: random.Random, pairs) -> str:
    names = [p[0] for p in pairs]
    weights = [p[1] for p in pairs]
    return rng.choices(names, weights=weights)[0]


def days_between(rng: random.Random, first: date, last: date) -> date:
    return first + timedelta(days=rng.randint(0, (last - first).days))


def make_sellers(rng: random.Random) -> list[Seller]:
    sellers: list[Seller] = []
    for p in PARTNERS:
        names_taken: list[str] = []
        for i in range(p.sellers):
            while True:
                first, last = weighted(rng, FIRST_NAMES), weighted(rng, LAST_NAMES)
                name = f"{first} {last}"
                if name not in names_taken:
                    break
            names_taken.append(name)
            email = f"{first}.{last}@{p.domain}".lower().translate(_ASCII)
            if i < max(2, p.sellers // 2):
                # The first team comes in within a month of the partner joining.
                enrolled = days_between(rng, p.joined, p.joined + timedelta(days=30))
            else:
                enrolled = days_between(rng, p.joined + timedelta(days=31), LAST_ENROLMENT)
            enrolled = min(enrolled, LAST_ENROLMENT)
            weight = rng.lognormvariate(0.0, 0.6) * KINDS[p.kind].rate
            sellers.append(Seller(email, name, p, enrolled, weight))
    return sellers


def poisson(rng: random.Random, mean: float) -> int:
    limit, k, prod = math.exp(-mean), 0, rng.random()
    while prod > limit:
        k += 1
        prod *= rng.random()
    return k


def amount_for(rng: random.Random, kind: Kind) -> int:
    """A financed amount in öre: log-normal around the kind's median, rounded the way
    price lists and down payments round."""
    while True:
        sek = kind.median_sek * rng.lognormvariate(0.0, kind.sigma)
        if MIN_AMOUNT_ORE <= sek * 100 <= MAX_AMOUNT_ORE:
            break
    r = rng.random()
    if r < 0.45:
        ore = round(sek / 1000) * 1000 * 100
    elif r < 0.60:
        ore = round(sek / 100) * 100 * 100
    elif r < 0.85:
        ore = round(sek) * 100
    else:
        ore = round(sek * 100)  # with öre (VAT-exclusive prices, exchange rates)
    return min(max(ore, MIN_AMOUNT_ORE), MAX_AMOUNT_ORE)


def make_contracts(rng: random.Random, sellers: list[Seller]) -> list[Contract]:
    contracts: list[Contract] = []
    serial = {2025: 4817, 2026: 0}  # the contract system's running number per year
    last_day = EXPORTS[-1][1]
    day = LAUNCH
    while day <= last_day:
        mean = DAILY_RATE[(day.year, day.month)] * WEEKDAY_FACTOR[day.weekday()]
        if day in HOLIDAYS:
            mean *= 0.05
        eligible = [s for s in sellers if s.enrolled_on <= day]
        weights = [s.weight for s in eligible]
        for _ in range(poisson(rng, mean)):
            seller = rng.choices(eligible, weights=weights)[0]
            kind = KINDS[seller.partner.kind]
            serial[day.year] += rng.choices((1, 2, 3), weights=(80, 15, 5))[0]  # gaps: not every deal
            contract_id = f"K-{day.year}-{serial[day.year]:06d}"
            lag = rng.random()
            if lag < 0.70:
                planned = day
            elif lag < 0.92:
                planned = day + timedelta(days=rng.randint(1, 10))
            else:
                planned = day + timedelta(days=rng.randint(11, 40))
            start = planned
            if planned > day and rng.random() < 0.15:
                start = planned + timedelta(days=rng.randint(2, 20))  # delivery slipped
            fate_roll = rng.random()
            if fate_roll < 0.035:
                fate, cancelled = "cancelled_before_start", day + timedelta(days=rng.randint(0, 40))
            elif fate_roll < 0.065:
                fate, cancelled = "cancelled_after_start", start + timedelta(days=rng.randint(3, 75))
            else:
                fate, cancelled = "started", None
            c = Contract(
                contract_id=contract_id,
                partner=seller.partner,
                seller=seller,
                registered=day,
                planned_start=planned,
                start=start,
                amount_ore=amount_for(rng, kind),
                product=weighted(rng, kind.products),
                fate=fate,
                cancelled_on=cancelled,
            )
            if fate == "started" and rng.random() < 0.007:
                c.corrected_on = max(day, start) + timedelta(days=rng.randint(10, 90))
                if rng.random() < 0.5:
                    change = round(c.amount_ore * rng.uniform(-0.08, 0.04) / 100) * 100  # renegotiated
                else:
                    change = rng.choice((-1, 1)) * rng.choice((9_00, 90_00, 900_00))  # a typo fixed
                c.corrected_ore = min(max(c.amount_ore + change, MIN_AMOUNT_ORE), MAX_AMOUNT_ORE)
            contracts.append(c)
        day += timedelta(days=1)
    return contracts


def sek_point(ore: int) -> str:
    return f"{ore // 100}.{ore % 100:02d}"


def sek_excel(ore: int) -> str:
    """Swedish Excel's "# ##0,00": no-break space between thousands, decimal comma."""
    return f"{ore // 100:,}".replace(",", "\u00a0") + f",{ore % 100:02d}"


def write_csv(path: Path, header: list[str], rows: list[list[str]], *, excel: bool = False) -> None:
    buf = io.StringIO()
    if excel:
        writer = csv.writer(buf, delimiter=";", lineterminator="\r\n")
    else:
        writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes(buf.getvalue().encode("cp1252" if excel else "utf-8"))


def main() -> None:
    rng = random.Random(SEED)
    sellers = make_sellers(rng)
    contracts = make_contracts(rng, sellers)
    _check(contracts)

    write_csv(
        HERE / "partners.csv",
        ["code", "name", "mode", "consent", "email"],
        [[p.code, p.name, p.mode, "yes" if p.consent else "no", p.email] for p in PARTNERS],
    )
    ordered = sorted(sellers, key=lambda s: (s.partner.code, s.enrolled_on, s.email))
    write_csv(
        HERE / "sellers.csv",
        ["email", "name", "partner_code", "enrolled_on"],
        [[s.email, s.name, s.partner.code, s.enrolled_on.isoformat()] for s in ordered],
    )

    header = ["contract_id", "partner_code", "seller_email", "start_date", "amount", "product", "status"]
    previous: date | None = None
    for name, export in EXPORTS:
        rows = []
        changes: dict[str, int] = {}
        for c in contracts:
            now = c.row(export)
            if now is None:
                continue
            before = c.row(previous) if previous is not None else None
            if before == now:
                continue
            if before is not None:
                what = _change(before, now)
                changes[what] = changes.get(what, 0) + 1
            rows.append(now)
        excel = name == EXCEL_FILE
        money = sek_excel if excel else sek_point
        write_csv(
            HERE / name,
            header,
            [
                [cid, code, email, start.isoformat(), money(ore), product, status]
                for cid, code, email, start, ore, product, status in rows
            ],
            excel=excel,
        )
        statuses = {s: sum(1 for r in rows if r[6] == s) for s in ("started", "registered", "cancelled")}
        print(
            f"{name}: {len(rows)} rows ({', '.join(f'{n} {s}' for s, n in statuses.items())}); "
            f"earlier contracts changed: {sum(changes.values())}"
            + (" (" + ", ".join(f"{n} {w}" for w, n in sorted(changes.items())) + ")" if changes else "")
        )
        previous = export
    print(f"partners.csv: {len(PARTNERS)} rows; sellers.csv: {len(sellers)} rows")


def _change(before: tuple, now: tuple) -> str:
    if before[6] != now[6]:
        moved = " (start date moved)" if before[3] != now[3] else ""
        return f"{before[6]} -> {now[6]}{moved}"
    if before[4] != now[4]:
        return "amount corrected"
    return "other"


def _check(contracts: list[Contract]) -> None:
    """What the importer (and common sense) demand of every row."""
    ids = [c.contract_id for c in contracts]
    assert len(set(ids)) == len(ids) and ids == sorted(ids)
    for c in contracts:
        assert c.seller.partner is c.partner and c.seller.enrolled_on <= c.registered
        assert c.registered <= c.planned_start <= c.start
        for export in (e for _, e in EXPORTS):
            row = c.row(export)
            if row is None:
                continue
            assert MIN_AMOUNT_ORE <= row[4] <= MAX_AMOUNT_ORE
            assert row[6] != "started" or row[3] <= export


if __name__ == "__main__":
    main()
