"""The contract import against a reference model, on random files, on both backends.

Hypothesis writes a history of contract files (new, changed, cancelled and
repeated rows, invalid fields, wrong field counts, inactive sellers and a
suspended partner, spellings the parser normalises), imports them one after
another with random chunk sizes, ``skip_invalid``, ``reapply`` and dry runs, and
re-imports earlier files (the same bytes: a re-run, or an older file after
newer ones).  After every import the summary, the errors, the rejected rows
(in file order) and the outcome (written, rejected as a whole, refused), and
every contract, posting (each column that is the same on every run) and
balance equal what the model below says; ``db check`` passes at the end.

The model is the reference the import is proven against: one row at a time,
no chunks, no database, the fields read with ``importers.fields`` and the rule
written out again from the README.  The test runs on each backend (its own
store: SQLite's driver, PostgreSQL's COPY), so both are proven equal to it.

The program: ACME pooled (anna, arne), BOLT individual (bo, britt, and bert,
deactivated after the first import), SUSP individual (sven; suspended after
the first import).  Default rules: a started contract of A SEK earns
floor(A x 10 / 1000) + 100; the campaign Midsommar multiplies leasing
contracts starting 2026-06-15..28 by 1.5.  Today is 2026-11-22.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
from dataclasses import dataclass, field
from datetime import date

import pytest
from conftest import TODAY, build_template
from factories import HEADER, add_seller, csv_input, enroll, import_contracts, small_program
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from loyaltyctl.db import Database
from loyaltyctl.errors import Refused, RowError, RowsRejected
from loyaltyctl.importers import fields as F
from loyaltyctl.models import Account, Batch, Contract, Partner, Posting, Seller
from loyaltyctl.services import campaigns, dbadmin, partners, sellers
from loyaltyctl.services.contracts import import_contracts as run_import

DAY = date.fromisoformat(TODAY)
SOURCE = "contracts.csv"
PARTNERS = {"ACME": "pooled", "BOLT": "individual", "SUSP": "individual"}
SELLERS = {
    "anna@acme.se": "ACME",
    "arne@acme.se": "ACME",
    "bo@bolt.se": "BOLT",
    "britt@bolt.se": "BOLT",
    "bert@bolt.se": "BOLT",
    "sven@susp.se": "SUSP",
}
CAMPAIGN = (date(2026, 6, 15), date(2026, 6, 28))  # x1.5 on leasing
OUTCOMES = ("new", "credited", "reversed", "corrected", "updated", "unchanged")
# Imported while everyone is active; then SUSP is suspended and bert deactivated.
INITIAL = [
    ["K1", "BOLT", "bo@bolt.se", "2026-03-01", "250000", "leasing", "started"],
    ["K3", "ACME", "anna@acme.se", "2026-06-20", "120000.50", "leasing", "registered"],
    ["K6", "SUSP", "sven@susp.se", "2026-03-01", "5000", "loan", "started"],
    ["K7", "BOLT", "bert@bolt.se", "2026-06-20", "7000.70", "leasing", "started"],
    ["K8", "ACME", "arne@acme.se", "2026-09-30", "80000", "loan", "started"],
]


def as_csv(rows: list[list[str]]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return HEADER + buf.getvalue()


# -- the model ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Place:
    account: str | None  # a partner code (pool) or a seller's email
    seller: str | None
    value_date: date | None
    points: int


NOWHERE = Place(None, None, None, 0)


@dataclass(frozen=True)
class Kept:
    partner: str
    seller: str
    start: date
    ore: int
    product: str
    status: str
    revision: int
    at: Place
    batch: int  # rank of the batch that last changed it

    def values(self) -> tuple:
        return (self.partner, self.seller, self.start, self.ore, self.product, self.status)


@dataclass
class Model:
    suspended: set[str] = field(default_factory=set)
    inactive: set[str] = field(default_factory=set)
    contracts: dict[str, Kept] = field(default_factory=dict)
    postings: list[tuple] = field(default_factory=list)
    batches: list[str] = field(default_factory=list)  # sha256 of each committed batch's file, by rank

    def balances(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for p in self.postings:
            out[p[1]] = out.get(p[1], 0) + p[4]
        return {k: v for k, v in out.items() if v}


def earns(ore: int, start: date, product: str) -> int:
    base = ore * 10 // 100_000 + 100
    if product.lower() == "leasing" and CAMPAIGN[0] <= start <= CAMPAIGN[1]:
        return base * 3 // 2
    return base


def sek(ore: int) -> str:
    return f"{ore // 100}.{ore % 100:02d}"


def error(line: int, column: int, name: str, reason: str) -> RowError:
    return RowError(SOURCE, line, column, name, reason)


def parse(fields: list[str], line: int, model: Model):
    """A row as the README says it is read: its values, or its errors."""
    if len(fields) != 7:
        n = len(fields)
        if n > 7:
            hint = " (a decimal comma or an unquoted comma in a value? use a point as decimal mark)"
            return [error(line, 8, "", f"{n} fields, the header has 7{hint}")]
        return [error(line, n + 1, "", f"{n} fields, the header has 7")]
    problems: list[RowError] = []

    def read(column: int, name: str, parse_field):
        try:
            return parse_field(fields[column - 1])
        except F.FieldError as exc:
            problems.append(error(line, column, name, str(exc)))
            return None

    cid = read(1, "contract_id", lambda t: F.parse_text(t, max_len=64))
    code = read(2, "partner_code", lambda t: F.parse_code(t, what="partner code"))
    email = read(3, "seller_email", F.parse_email)
    start = read(4, "start_date", F.parse_date)
    amount = read(5, "amount", lambda t: F.parse_amount(t, decimal_comma=False))
    product = read(6, "product", lambda t: F.parse_text(t, max_len=64))
    status = fields[6].strip().lower()
    if status not in ("registered", "started", "cancelled"):
        problems.append(
            error(line, 7, "status", f"{fields[6]!r} is not a status (registered, started or cancelled)")
        )
    if code is not None and code not in PARTNERS:
        problems.append(error(line, 2, "partner_code", f"unknown partner {code}"))
    if email is not None:
        if email not in SELLERS:
            problems.append(error(line, 3, "seller_email", f"unknown seller {email}"))
        elif code in PARTNERS and SELLERS[email] != code:
            reason = f"seller {email} belongs to partner {SELLERS[email]}, not {code}"
            problems.append(error(line, 3, "seller_email", reason))
    if status == "started" and start is not None and start > DAY:
        reason = f"a started contract cannot start in the future ({start} > {DAY})"
        problems.append(error(line, 4, "start_date", reason))
    if problems:
        return sorted(problems, key=lambda e: e.column)
    blocked = None
    if code in model.suspended:
        blocked = error(line, 2, "partner_code", f"partner {code} is suspended")
    elif email in model.inactive:
        blocked = error(line, 3, "seller_email", f"seller {email} is inactive")
    return cid, (code, email, start, int(amount * 100), product, status), blocked


def place(values: tuple) -> Place:
    code, email, start, ore, product, status = values
    if status != "started":
        return NOWHERE
    return Place(code if PARTNERS[code] == "pooled" else email, email, start, earns(ore, start, product))


def spot(p: Place) -> tuple:
    return (p.account, p.seller, p.value_date)


def legs(old: Place, new: Place) -> list[tuple[str, Place, int]]:
    if not old.points and not new.points:
        return []
    if not old.points:
        return [("delta", new, new.points)]
    if not new.points:
        return [("delta", old, -old.points)]
    if spot(old) == spot(new):
        return [("delta", new, new.points - old.points)] if new.points != old.points else []
    return [("out", old, -old.points), ("in", new, new.points)]


def changed_memo(old: Kept, values: tuple) -> str:
    code, email, start, ore, product, status = values
    parts = []
    if old.status != status:
        parts.append(f"{old.status} -> {status}")
    if old.ore != ore:
        parts.append(f"amount {sek(old.ore)} -> {sek(ore)}")
    if old.seller != email:
        parts.append(f"seller {old.seller} -> {email}")
    if old.start != start:
        parts.append(f"start {old.start} -> {start}")
    if old.product != product:
        parts.append(f"product {old.product} -> {product}")
    return ", ".join(parts)


@dataclass
class Outcome:
    result: str  # written, rejected (as a whole), refused, dry run
    summary: dict | None
    rejects: list[tuple]
    message: str | None = None


def model_import(model: Model, text: str, *, skip_invalid: bool, reapply: bool, dry_run: bool) -> Outcome:
    """What importing ``text`` does, one row at a time; updates ``model``
    when the import commits."""
    rows = list(csv.reader(io.StringIO(text)))[1:]
    sha = hashlib.sha256(text.encode()).hexdigest()
    counts = dict.fromkeys(OUTCOMES, 0)
    rejects: list[tuple] = []
    errors: list[RowError] = []
    first: dict[str, tuple[int, tuple]] = {}
    state = dict(model.contracts)
    entries: list[tuple] = []
    touched: list[tuple[int, str]] = []
    rank = len(model.batches) + 1
    writes = False

    def reject(line: int, fields: list[str], problems: list[RowError]) -> None:
        rejects.append((line, fields, [str(p) for p in problems]))
        errors.extend(problems)

    for line, fields in enumerate(rows, 2):
        parsed = parse(fields, line, model)
        if isinstance(parsed, list):
            reject(line, fields, parsed)
            continue
        cid, values, blocked = parsed
        if cid in first:
            if first[cid][1] == values:
                counts["unchanged"] += 1
            else:
                reason = f"contract {cid} appears on line {first[cid][0]} with other values"
                reject(line, fields, [error(line, 1, "contract_id", reason)])
            continue
        first[cid] = (line, values)
        old = model.contracts.get(cid)
        if old is not None and old.values() == values:
            counts["unchanged"] += 1
            continue
        new = place(values)
        was = None if old is None else old.at
        credits = was is None or (new.points and (new.points > was.points or spot(was) != spot(new)))
        if blocked is not None and credits:
            reject(line, fields, [blocked])
            continue
        writes = True
        code, email, start, ore, product, status = values
        if old is None:
            counts["new"] += 1
            state[cid] = Kept(*values, 1, new, rank)
            if new.points:
                counts["credited"] += 1
                memo = f"{product} {sek(ore)} SEK"
                entries.append((f"contract:{cid}:1:in", new, new.points, cid, memo))
            continue
        revision = old.revision + 1
        touched.append((old.batch, cid))
        for leg, at, points in legs(old.at, new):
            entries.append((f"contract:{cid}:{revision}:{leg}", at, points, cid, changed_memo(old, values)))
        if not old.at.points and new.points:
            counts["credited"] += 1
        elif old.at.points and not new.points:
            counts["reversed"] += 1
        elif old.at.points and (new.points != old.at.points or spot(old.at) != spot(new)):
            counts["corrected"] += 1
        else:
            counts["updated"] += 1
        state[cid] = Kept(*values, revision, new, rank)

    points_posted = sum(e[2] for e in entries)
    changed = any(n for k, n in counts.items() if k != "unchanged") or bool(points_posted)
    earlier = max((r for r, s in enumerate(model.batches, 1) if s == sha), default=None)
    notes = []
    if earlier is not None and changed and not reapply:
        later = sorted(cid for r, cid in touched if r > earlier)
        if later:
            shown = ", ".join(later[:5]) + (f" and {len(later) - 5} more" if len(later) > 5 else "")
            message = (
                f"{SOURCE} was imported before (batch #{earlier}); since then later imports changed "
                f"{len(later)} of its contracts ({shown}), and importing it again would undo those changes; "
                "nothing was written"
            )
            return Outcome("refused", None, rejects, message)
    if earlier is not None and not changed:
        notes.append(f"this file was imported before (batch #{earlier})")
    errors.sort(key=lambda e: (e.line, e.column))
    summary = {
        "command": "contracts import",
        "source": SOURCE,
        "encoding": "utf-8",
        "delimiter": ",",
        "rows": len(rows),
        **counts,
        "rejected": len(rejects),
        "problems": len(errors),
        "points_posted": points_posted,
        "dry_run": False,
        "committed": False,
        "batch_id": rank if writes else None,
        "ignored_columns": [],
        "notes": notes,
        "errors": [e.as_dict() for e in errors],
    }
    if rejects and not skip_invalid:
        return Outcome("rejected", {**summary, "batch_id": writes}, rejects)
    if dry_run:
        return Outcome("dry run", {**summary, "batch_id": writes}, rejects)
    model.contracts = state
    for key, at, points, cid, memo in entries:
        model.postings.append(
            (
                key,
                at.account,
                at.seller,
                cid,
                points,
                "contract",
                at.value_date,
                DAY,
                cid,
                memo,
                "tester",
                rank,
            )
        )
    if writes:
        model.batches.append(sha)
    return Outcome("written", summary, rejects)


# -- the database, read back in the model's terms ---------------------------------------------


def ranks(db: Database) -> dict[int, int]:
    """Batch id -> its rank among the committed batches (ids differ between backends)."""
    with db.session() as s:
        return {bid: i for i, bid in enumerate(s.exec(select(Batch.id).order_by(Batch.id)).scalars(), 1)}


def read_back(db: Database, *, check: bool = False) -> dict:
    rank = ranks(db)
    with db.session() as s:
        shas = [sha for sha in s.exec(select(Batch.source_sha256).order_by(Batch.id)).scalars()]
        codes = dict(s.exec(select(Partner.id, Partner.code)).all())
        emails = dict(s.exec(select(Seller.id, Seller.email)).all())
        names = {
            a.id: emails[a.seller_id] if a.seller_id is not None else codes[a.partner_id]
            for a in s.exec(select(Account)).scalars()
        }
        ids = {}
        contracts = {}
        for c in s.exec(select(Contract)).scalars():
            ids[c.id] = c.contract_id
            at = Place(
                names.get(c.posted_account_id),
                emails.get(c.posted_seller_id),
                c.posted_value_date,
                c.posted_points,
            )
            contracts[c.contract_id] = Kept(
                codes[c.partner_id],
                emails[c.seller_id],
                c.start_date,
                c.amount_ore,
                c.product,
                c.status,
                c.revision,
                at,
                rank[c.last_batch_id],
            )
        postings = [
            (
                p.idem_key,
                names[p.account_id],
                emails.get(p.seller_id),
                ids.get(p.contract_pk),
                p.points,
                p.kind,
                p.value_date,
                p.booking_date,
                p.reference,
                p.memo,
                p.actor,
                rank[p.batch_id],
            )
            for p in s.exec(select(Posting).order_by(Posting.id)).scalars()
        ]
        balances = {names[a.id]: a.balance for a in s.exec(select(Account)).scalars() if a.balance}
        failed = [r.as_dict() for r in dbadmin.check(session=s, db=db) if not r.ok] if check else []
    return {
        "batches": shas,
        "contracts": contracts,
        "postings": postings,
        "balances": balances,
        "failed checks": failed,
    }


def batch_ranks(text: str, rank: dict[int, int]) -> str:
    """``(batch 7, 2026-11-22 10:41)`` -> ``(batch #3)``: ids and times differ between runs."""
    return re.sub(r"\(batch (\d+), [^)]*\)", lambda m: f"(batch #{rank[int(m.group(1))]})", text)


def db_import(db: Database, text: str, *, chunk_rows: int, skip_invalid: bool, reapply: bool, dry_run: bool):
    rejects: list[tuple] = []

    def sink(src, record, errors) -> None:
        rejects.append((record.line, list(record.fields), [str(e) for e in errors]))

    try:
        with db.session(write=True, dry_run=dry_run) as s:
            summary = run_import(
                session=s,
                src=csv_input(text),
                actor="tester",
                skip_invalid=skip_invalid,
                on_reject=sink,
                chunk_rows=chunk_rows,
                reapply=reapply,
            )
        result = "dry run" if dry_run else "written"
    except RowsRejected as exc:
        result, summary = "rejected", exc.summary
    except Refused as exc:
        return Outcome("refused", None, rejects, batch_ranks(exc.message, ranks(db)))
    got = summary.as_dict()
    rank = ranks(db)
    if result == "written":
        got["batch_id"] = rank.get(got["batch_id"]) if got["batch_id"] is not None else None
    else:
        got["batch_id"] = got["batch_id"] is not None  # rolled back: whether there was one
    got["notes"] = [batch_ranks(n, rank) for n in got["notes"]]
    return Outcome(result, got, rejects)


# -- the program --------------------------------------------------------------------------------


def build(target: str) -> None:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LOYALTYCTL_TODAY", TODAY)
        _build(target)


def _build(target: str) -> None:
    db = Database(target if "://" in target else f"sqlite:///{target}")
    db.init()
    small_program(db)
    add_seller(db, "bert@bolt.se", "BOLT")
    enroll(db, "SUSP")
    add_seller(db, "sven@susp.se", "SUSP")
    with db.session(write=True) as s:
        campaigns.add_campaign(
            session=s,
            name="Midsommar",
            valid_from=CAMPAIGN[0],
            valid_to=CAMPAIGN[1],
            multiplier="1.5",
            product="leasing",
            actor="tester",
        )
    import_contracts(db, as_csv(INITIAL), header="")
    with db.session(write=True) as s:
        partners.set_status(session=s, code="SUSP", status="suspended")
        sellers.set_active(session=s, email="bert@bolt.se", active=False)
    db.dispose()


def initial_model() -> Model:
    model = Model()
    outcome = model_import(model, as_csv(INITIAL), skip_invalid=False, reapply=False, dry_run=False)
    assert outcome.result == "written" and outcome.summary["new"] == 5
    model.suspended.add("SUSP")
    model.inactive.add("bert@bolt.se")
    return model


@pytest.fixture(scope="module")
def template(backend, request, tmp_path_factory):
    return build_template(backend, request, tmp_path_factory, build)


# -- random files -------------------------------------------------------------------------------

VALID = {
    "contract_id": ["K1", "K2", "K3", "K6", "K7", "K8", "K9", " K2"],
    "who": [
        ("ACME", "anna@acme.se"),
        ("ACME", "arne@acme.se"),
        ("BOLT", "bo@bolt.se"),
        ("BOLT", "britt@bolt.se"),
        ("bolt", "Bo@Bolt.se"),
        ("SUSP", "sven@susp.se"),
        ("BOLT", "bert@bolt.se"),
    ],
    "start_date": ["2026-03-01", "2026-06-20", "2026-09-30", "2026-11-22", "2026-11-23"],
    "amount": ["250000", "1000.50", "0.01", "999999999.99", "300000", "7000.7"],
    "product": ["leasing", "loan", "Leasing"],
    "status": ["started", "started", "registered", "cancelled", "STARTED", " started"],
}
INVALID = {
    "contract_id": ["", "x" * 65, "K\x01"],
    "who": [("ACME", "bo@bolt.se"), ("NOPE", "bo@bolt.se"), ("BOLT", "nobody@bolt.se"), ("", "no-email")],
    "start_date": ["2026-02-30", "", "2026-3-1"],
    "amount": ["0", "12,50", "-5", "1e3", " 5", "1000000000.01"],
    "product": ["", "y" * 65],
    "status": ["done", ""],
}
COLUMNS = list(VALID)


@st.composite
def rows(draw) -> list[str]:
    values = {c: draw(st.sampled_from(VALID[c])) for c in COLUMNS}
    invalid = draw(st.sampled_from([None] * 30 + COLUMNS))  # about one row in six
    if invalid is not None:
        values[invalid] = draw(st.sampled_from(INVALID[invalid]))
    code, email = values.pop("who")
    fields = [values["contract_id"], code, email, *(values[c] for c in COLUMNS[2:])]
    shape = draw(st.sampled_from(["as is"] * 38 + ["extra", "short"]))
    return fields + ["x"] if shape == "extra" else fields[:-1] if shape == "short" else fields


# A step: a new file, or an earlier one again (its very bytes: 0 is the first
# file, imported with the program), with the options.  The history starts with
# a new file, so that files imported again have something to undo.
options = (
    st.sampled_from([1, 2, 3, 2000]),  # chunk_rows
    st.booleans(),  # skip_invalid
    st.sampled_from([False, False, False, True]),  # reapply
    st.sampled_from([False, False, False, True]),  # dry run
)
new_file = st.lists(rows(), min_size=1, max_size=8)
steps = st.tuples(
    st.tuples(new_file, *options),
    st.lists(st.tuples(st.one_of(new_file, st.sampled_from([0, 0, 1, 2])), *options), min_size=1, max_size=5),
).map(lambda h: [h[0], *h[1]])


@pytest.mark.slow  # a hypothesis property over whole import histories, per backend
@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,  # the same examples on every run and in CI
    database=None,
    # A failure prints its steps unshrunk (shrinking takes minutes);
    # LOYALTYCTL_SHRINK=1 shrinks them to the shortest.
    phases=list(Phase) if os.environ.get("LOYALTYCTL_SHRINK") else [Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(history=steps)
def test_imports_do_what_the_model_says(template, _isolated, db_url, history):
    template.load(_isolated)
    db = Database(db_url)
    model = initial_model()
    files = [as_csv(INITIAL)]
    try:
        for content, chunk_rows, skip_invalid, reapply, dry_run in history:
            text = files[content % len(files)] if isinstance(content, int) else as_csv(content)
            files.append(text)
            options = {"skip_invalid": skip_invalid, "reapply": reapply, "dry_run": dry_run}
            want = model_import(model, text, **options)
            got = db_import(db, text, chunk_rows=chunk_rows, **options)
            event(f"outcome: {want.result}")
            event(f"rejected rows: {'some' if want.rejects else 'none'}")
            if want.summary and want.summary["notes"]:
                event("imported before")
            assert got == want
            now = read_back(db)
            assert now["contracts"] == model.contracts
            assert now["postings"] == model.postings
            assert now["balances"] == model.balances()
            assert now["batches"] == model.batches
        assert read_back(db, check=True)["failed checks"] == []
    finally:
        db.dispose()


def test_the_model_reads_the_initial_file_as_the_import_did(template, _isolated, db_url):
    """The model's starting point is the template's first import, row by row:
    K1 2 600 to bo, K6 150 to sven, K7 floor((70 + 100) x 1.5) = 255 to bert,
    K8 900 to ACME's pool; K3 registered earns nothing."""
    template.load(_isolated)
    db = Database(db_url)
    try:
        model = initial_model()
        now = read_back(db)
        assert now["contracts"] == model.contracts
        assert now["postings"] == model.postings
        assert model.balances() == {"bo@bolt.se": 2600, "sven@susp.se": 150, "bert@bolt.se": 255, "ACME": 900}
        assert now["balances"] == model.balances()
    finally:
        db.dispose()


def test_the_model_agrees_with_the_readme_on_a_hand_worked_history():
    """A few steps worked by hand, so the model itself is checked."""
    model = initial_model()
    # K1 cancelled: -2 600 from bo; K9 new for britt: 1 000.50 SEK -> 10 + 100 = 110.
    text = as_csv(
        [
            ["K1", "BOLT", "bo@bolt.se", "2026-03-01", "250000", "leasing", "cancelled"],
            ["K9", "BOLT", "britt@bolt.se", "2026-03-01", "1000.50", "loan", "started"],
            ["K9", "BOLT", "britt@bolt.se", "2026-03-01", "1000.50", "loan", "started"],  # the same again
            ["K9", "BOLT", "britt@bolt.se", "2026-03-01", "2000", "loan", "started"],  # other values
            ["K6", "SUSP", "sven@susp.se", "2026-03-01", "9000", "loan", "started"],  # more for a suspended
        ]
    )
    out = model_import(model, text, skip_invalid=True, reapply=False, dry_run=False)
    assert out.result == "written"
    assert [r[0] for r in out.rejects] == [5, 6]
    assert out.rejects[0][2] == [
        "contracts.csv:5:1: contract_id: contract K9 appears on line 3 with other values"
    ]
    assert out.rejects[1][2] == ["contracts.csv:6:2: partner_code: partner SUSP is suspended"]
    assert {k: out.summary[k] for k in OUTCOMES} == {
        "new": 1,
        "credited": 1,
        "reversed": 1,
        "corrected": 0,
        "updated": 0,
        "unchanged": 1,
    }
    assert out.summary["points_posted"] == -2600 + 110
    assert model.balances() == {"britt@bolt.se": 110, "sven@susp.se": 150, "bert@bolt.se": 255, "ACME": 900}
    assert model.postings[-2][:5] == ("contract:K1:2:delta", "bo@bolt.se", "bo@bolt.se", "K1", -2600)
    assert model.postings[-2][9] == "started -> cancelled"
    # The first file again: it would start K1 again, which batch 2 cancelled.
    again = model_import(model, as_csv(INITIAL), skip_invalid=False, reapply=False, dry_run=False)
    assert again.result == "refused" and "changed 1 of its contracts (K1)" in again.message
    forced = model_import(model, as_csv(INITIAL), skip_invalid=False, reapply=True, dry_run=False)
    assert forced.result == "written" and forced.summary["points_posted"] == 2600
    assert model.contracts["K1"].revision == 3
