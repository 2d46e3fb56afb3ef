"""A stateful property test of the whole program, at the service level.

Hypothesis drives random sequences of every command that moves points (enrol
partners and sellers, switch a partner's mode, contract files with new, changed
and cancelled rows and re-runs of the same file, quiz awards, lead tips
accepted, the October leaderboard, redemption requests approved and rejected,
adjustments, catalog price changes) against a plain Python model of balances,
holds and stock.  After every step the model equals the database and every
``db check`` passes.  Every step is run twice: the second run changes nothing.

The model's earning rule is the default one: a started contract of A SEK earns
A / 100 + 100 points (10 per 1 000 SEK plus 100 per contract); every start date
is in October 2026 and "today" is 2026-11-22, so the monthly leaderboard of
2026-10 counts exactly the contracts' points (quizzes and leads are valued
today, in November).  Bonuses 5 000, 3 000, 1 000 by competition rank.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import pytest
from factories import copy_db, create_quiz, csv_input, load_catalog
from hypothesis import HealthCheck, Phase, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, select

from loyaltyctl.db import Database, resolve_url
from loyaltyctl.errors import Refused, RowsRejected
from loyaltyctl.models import (
    Account,
    CatalogItem,
    Contract,
    Lead,
    LeaderboardRun,
    Partner,
    Posting,
    QuizAward,
    Redemption,
    Seller,
)
from loyaltyctl.services import (
    catalog,
    contracts,
    dbadmin,
    leaderboard,
    leads,
    partners,
    points,
    quizzes,
    redemptions,
    sellers,
)

PARTNERS = ["P0", "P1", "P2"]
# seller i belongs to partner i % 3
SELLERS = [f"s{i}@p{i % 3}.se" for i in range(6)]
AMOUNTS = [100_000, 250_000, 300_000, 1_234_567]  # earn 1 100, 2 600, 3 100, 12 445
STATUSES = ["registered", "started", "cancelled"]
BONUS = [5000, 3000, 1000]
QUIZ_POINTS = 50  # per correct answer, 10 questions
LEAD_POINTS = 1000
REASONS = ["fair booth", "goodwill"]
ADJUSTMENTS = [-700, -200, 300, 1500]
PRICES = [400, 500, 600]
HEADER = "contract_id,partner_code,seller_email,start_date,amount,product,status,file_no\n"

CATALOG = "sku,name,points,stock\nMUG,Mug,500,4\nTRIP,Trip,3000,\n"
_template: Path | None = None


def template() -> Path:
    """An empty program with quiz Q1 and the catalog (MUG 500, 4 in stock; TRIP
    3 000, unlimited), built once and copied for every example."""
    global _template
    if _template is None:
        where = Path(tempfile.mkdtemp(prefix="loyalty-stateful-"))
        atexit.register(shutil.rmtree, where, True)
        path = where / "template.db"
        db = Database(resolve_url(str(path)))
        db.init()
        create_quiz(db, "Q1", questions=10, points=QUIZ_POINTS)
        load_catalog(db, CATALOG)
        db.dispose()
        _template = path
    return _template


def earns(amount: int, status: str) -> int:
    return amount // 100 + 100 if status == "started" else 0


def ranks(totals: list[int]) -> list[int]:
    out: list[int] = []
    for i, t in enumerate(totals):
        out.append(out[-1] if i and totals[i - 1] == t else i + 1)
    return out


def program_on_sqlite(where: Path) -> Database:
    """A fresh program for one example: a copy of the SQLite template."""
    path = where / "loyalty.db"
    copy_db(template(), path)
    return Database(resolve_url(str(path)))


class Program(RuleBasedStateMachine):
    # How each example gets its fresh program; test_program sets it per backend.
    fresh: Callable[[Path], Database] = staticmethod(program_on_sqlite)

    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="loyalty-example-"))
        self.db = type(self).fresh(self.dir)
        # the model
        self.mode: dict[str, str] = {}  # partner code -> mode
        self.sellers: list[str] = []  # enrolled, in order
        self.contracts: dict[str, tuple[str, int, str, str]] = {}  # id -> (seller, amount, status, start)
        # Points other than contract points, by (account, the seller they are
        # attributed to or None): a mode switch moves them by attribution.
        self.fixed: dict[tuple, int] = defaultdict(int)
        self.held: dict[tuple, int] = defaultdict(int)
        self.price = {"MUG": 500, "TRIP": 3000}
        self.stock: dict[str, int | None] = {"MUG": 4, "TRIP": None}
        self.reserved = {"MUG": 0, "TRIP": 0}
        self.requests: dict[str, list] = {}  # id -> [account, sku, qty, points, status]
        self.quiz: dict[str, int] = {}  # seller -> correct
        self.tips: dict[tuple[str, str], int] = {}  # (seller, company) -> lead id
        self.accepted: set[int] = set()
        self.adjusted: set[tuple] = set()
        self.awarded = False
        self.files: list[str] = []

    def teardown(self) -> None:
        self.db.dispose()
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- the model's routing --------------------------------------------------
    @staticmethod
    def partner_of(email: str) -> str:
        return f"P{int(email[1]) % 3}"

    def account_of(self, email: str) -> tuple:
        partner = self.partner_of(email)
        return ("P", partner) if self.mode[partner] == "pooled" else ("S", email)

    @staticmethod
    def owner(account: tuple) -> str | None:
        """Whom a posting on ``account`` is attributed to: its seller, or nobody (a pool)."""
        return account[1] if account[0] == "S" else None

    def balances(self) -> dict[tuple, int]:
        out: dict[tuple, int] = defaultdict(int)
        for (account, _who), amount in self.fixed.items():
            out[account] += amount
        for email, amount, status, _ in self.contracts.values():
            out[self.account_of(email)] += earns(amount, status)
        return out

    def available(self, account: tuple) -> int:
        return self.balances()[account] - self.held[account]

    def holders(self) -> list[tuple]:
        """Accounts a command line can name today: pools and individual sellers."""
        pools = [("P", p) for p in PARTNERS if self.mode.get(p) == "pooled"]
        return pools + [("S", s) for s in self.sellers if self.mode[self.partner_of(s)] == "individual"]

    # -- running a step twice ---------------------------------------------------
    def snapshot(self) -> tuple:
        with self.db.session() as s:
            return (
                sorted(s.exec(select(Account.id, Account.balance, Account.held)).all()),
                sorted(
                    s.exec(
                        select(CatalogItem.sku, CatalogItem.points, CatalogItem.stock, CatalogItem.reserved)
                    ).all()
                ),
                s.exec(select(func.count(), func.coalesce(func.sum(Posting.points), 0))).one(),
                sorted(s.exec(select(Redemption.id, Redemption.status)).all()),
                sorted(s.exec(select(Lead.id, Lead.status)).all()),
                sorted(s.exec(select(Contract.contract_id, Contract.revision, Contract.status)).all()),
                s.exec(select(func.count()).select_from(QuizAward)).scalar(),
                s.exec(select(func.count()).select_from(LeaderboardRun)).scalar(),
                s.exec(select(func.count()).select_from(Partner)).scalar(),
                s.exec(select(func.count()).select_from(Seller)).scalar(),
            )

    def twice(self, step, *, refused: bool = False, error: type[Exception] = Refused):
        """Run ``step(session)`` in a write transaction; then again, which must change
        nothing.  ``refused``: the model expects a refusal (``error``: exit 4, or a
        rejected row), and nothing written."""
        event(f"{getattr(step, '__qualname__', '?').split('.')[1]}: {'refused' if refused else 'done'}")
        before = self.snapshot() if refused else None
        results = []
        for attempt in range(2):
            if refused:
                with pytest.raises(error):
                    with self.db.session(write=True) as s:
                        step(s)
                assert self.snapshot() == before
            else:
                with self.db.session(write=True) as s:
                    results.append(step(s))
                if attempt == 0:
                    after = self.snapshot()
                else:
                    assert self.snapshot() == after, "re-running the step changed the database"
        return results[0] if results else None

    # -- rules ------------------------------------------------------------------
    @initialize(modes=st.tuples(*[st.sampled_from(["pooled", "individual"])] * 2), contracts=st.booleans())
    def start(self, modes, contracts):
        """Most examples start with two partners, four sellers and a first file,
        so the steps reach the interesting states; P2 and s2, s5 come later."""
        for partner, mode in zip(PARTNERS, modes, strict=False):
            self.enrol_partner(partner, mode)
        for i in (0, 1, 3, 4):
            self.add_seller(i)
        if contracts:
            self.import_contracts(
                [(0, 0, 250_000, "started", 5), (1, 1, 300_000, "started", 6), (2, 2, 100_000, "started", 7)]
            )

    @rule(partner=st.sampled_from(PARTNERS), mode=st.sampled_from(["pooled", "individual"]))
    def enrol_partner(self, partner, mode):
        refused = partner in self.mode and self.mode[partner] != mode
        self.twice(
            lambda s: partners.enroll(
                session=s,
                partner_in=partners.PartnerIn(
                    code=partner, name=f"Partner {partner}", mode=mode, consent=True
                ),
            ),
            refused=refused,
        )
        self.mode.setdefault(partner, mode)

    @precondition(lambda self: bool(self.mode))
    @rule(data=st.data())
    def switch_mode(self, data):
        """A switch moves every point by attribution (services/modes.py): to the
        pool, each seller's whole balance; to the sellers, what the pool holds
        for each.  Refused while a request is pending on the partner's accounts,
        or (to individual) when the pool spent more than its own points."""
        partner = data.draw(st.sampled_from(sorted(self.mode)))
        mode = "individual" if self.mode[partner] == "pooled" else "pooled"
        text = f"code,name,mode,consent\n{partner},Partner {partner},{mode},yes\n"
        pool = ("P", partner)
        mine = {pool} | {("S", s) for s in SELLERS if self.partner_of(s) == partner}
        pending = any(r[4] == "pending" and r[0] in mine for r in self.requests.values())
        spent = (
            mode == "individual"
            and sum(v for (a, who), v in self.fixed.items() if a == pool and who is None) < 0
        )
        refused = pending or spent

        self.twice(
            lambda s: partners.import_partners(
                session=s, src=csv_input(text, name="partners.csv"), skip_invalid=False, actor="tester"
            ),
            refused=refused,
            error=RowsRejected,  # a refused row (column mode): nothing written
        )
        if refused:
            return
        self.mode[partner] = mode  # contract points follow the mode (the one rule)
        for (account, who), amount in list(self.fixed.items()):
            if mode == "pooled" and account != pool and account in mine:
                target = (pool, account[1])
            elif mode == "individual" and account == pool and who is not None:
                target = (("S", who), who)
            else:
                continue
            del self.fixed[account, who]
            self.fixed[target] += amount

    @precondition(lambda self: bool(self.mode))
    @rule(i=st.integers(0, len(SELLERS) - 1))
    def add_seller(self, i):
        email = SELLERS[i]
        if self.partner_of(email) not in self.mode:
            return
        self.twice(
            lambda s: sellers.add(
                session=s,
                seller_in=sellers.SellerIn(
                    email=email, name=f"Seller {i}", partner_code=self.partner_of(email), enrolled_on=None
                ),
            )
        )
        if email not in self.sellers:
            self.sellers.append(email)

    @precondition(lambda self: bool(self.sellers))
    @rule(
        rows=st.lists(
            st.tuples(
                st.integers(0, 5),  # contract
                st.integers(0, 5),  # seller (among those enrolled)
                st.sampled_from(AMOUNTS),
                st.sampled_from(STATUSES),
                st.integers(1, 31),  # day in October
            ),
            min_size=1,
            max_size=4,
            unique_by=lambda r: r[0],
        )
    )
    def import_contracts(self, rows):
        lines = []
        for c, i, amount, status, day in rows:
            email = self.sellers[i % len(self.sellers)]
            start = f"2026-10-{day:02d}"
            lines.append(f"C{c},{self.partner_of(email)},{email},{start},{amount},leasing,{status}")
            self.contracts[f"C{c}"] = (email, amount, status, start)
        # a file number column (ignored by the import) makes every new file a new file
        text = HEADER + "".join(f"{line},{len(self.files)}\n" for line in lines)
        self.files.append(text)
        self.rerun_last_file()

    @precondition(lambda self: bool(self.files))
    @rule()
    def rerun_last_file(self):
        text = self.files[-1]
        self.twice(
            lambda s: contracts.import_contracts(
                session=s, src=csv_input(text), actor="tester", skip_invalid=False
            )
        )

    @precondition(lambda self: bool(self.sellers))
    @rule(data=st.data(), correct=st.integers(0, 10))
    def quiz_award(self, data, correct):
        email = data.draw(st.sampled_from(self.sellers))
        refused = email in self.quiz and self.quiz[email] != correct
        self.twice(
            lambda s: quizzes.award_one(
                session=s, code="Q1", email=email, correct=correct, taken_on=None, actor="tester"
            ),
            refused=refused,
        )
        if email not in self.quiz:
            self.quiz[email] = correct
            self.fixed[self.account_of(email), email] += correct * QUIZ_POINTS

    @precondition(lambda self: bool(self.sellers))
    @rule(data=st.data(), company=st.sampled_from(["Cykel AB", "Bil AB"]), accept=st.booleans())
    def lead_tip(self, data, company, accept):
        email = data.draw(st.sampled_from(self.sellers))
        r = self.twice(
            lambda s: leads.add(
                session=s, email=email, company=company, org_number=None, note=None, actor="tester"
            )
        )
        self.tips.setdefault((email, company), r["id"])
        assert self.tips[(email, company)] == r["id"]
        if accept:
            self.accept_lead(email, r["id"])

    @precondition(lambda self: bool(self.tips))
    @rule(data=st.data())
    def lead_accept(self, data):
        (email, _), lead_id = data.draw(st.sampled_from(sorted(self.tips.items())))
        self.accept_lead(email, lead_id)

    def accept_lead(self, email: str, lead_id: int) -> None:
        self.twice(lambda s: leads.accept(session=s, lead_id=lead_id, actor="tester"))
        if lead_id not in self.accepted:
            self.accepted.add(lead_id)
            self.fixed[self.account_of(email), email] += LEAD_POINTS

    @rule()
    def leaderboard_run(self):
        period = leaderboard.period_of(month="2026-10", year=None)
        self.twice(
            lambda s: leaderboard.run(session=s, period=period, force=False, dry_run=False, actor="tester")
        )
        if self.awarded:
            return
        self.awarded = True
        total: dict[str, int] = defaultdict(int)
        for email, amount, status, _ in self.contracts.values():
            total[email] += earns(amount, status)
        ranked = sorted(((-t, e) for e, t in total.items() if t > 0))
        for (_, email), r in zip(ranked, ranks([t for t, _ in ranked]), strict=True):
            if r <= len(BONUS):
                self.fixed[self.account_of(email), email] += BONUS[r - 1]

    @precondition(lambda self: bool(self.holders()))
    @rule(
        data=st.data(),
        sku=st.sampled_from(["MUG", "TRIP"]),
        qty=st.integers(1, 3),
        then=st.sampled_from([None, True, False]),
    )
    def redemption_request(self, data, sku, qty, then):
        account = data.draw(st.sampled_from(self.holders()))
        rid = f"R{len(self.requests) + 1}"
        cost = self.price[sku] * qty
        stock = self.stock[sku]
        refused = cost > self.available(account) or (stock is not None and self.reserved[sku] + qty > stock)
        self.twice(
            lambda s: redemptions.request(
                session=s, ref=account[1], sku=sku, quantity=qty, actor="tester", request_id=rid
            ),
            refused=refused,
        )
        if not refused:
            self.requests[rid] = [account, sku, qty, cost, "pending"]
            self.held[account] += cost
            self.reserved[sku] += qty
            if then is not None:
                self.decide(rid, then)

    @precondition(lambda self: bool(self.requests))
    @rule(data=st.data(), approve=st.booleans())
    def redemption_decide(self, data, approve):
        self.decide(data.draw(st.sampled_from(sorted(self.requests))), approve)

    def decide(self, rid: str, approve: bool) -> None:
        account, sku, qty, cost, status = self.requests[rid]
        want = "approved" if approve else "rejected"
        # An approval never takes a balance below zero (a clawback may have
        # taken back the points a request held).
        short = approve and status == "pending" and self.balances()[account] < cost
        refused = status not in ("pending", want) or short
        self.twice(
            lambda s: redemptions.decide(
                session=s, ids=[rid], approve=approve, actor="tester", reason=None if approve else "no"
            ),
            refused=refused,
        )
        if status == "pending" and not refused:
            self.requests[rid][4] = want
            self.held[account] -= cost
            self.reserved[sku] -= qty
            if approve:
                self.fixed[account, self.owner(account)] -= cost
                if self.stock[sku] is not None:
                    self.stock[sku] -= qty

    @precondition(lambda self: bool(self.holders()))
    @rule(data=st.data(), amount=st.sampled_from(ADJUSTMENTS), reason=st.sampled_from(REASONS))
    def adjust(self, data, amount, reason):
        account = data.draw(st.sampled_from(self.holders()))
        key = (account, amount, reason)
        refused = key not in self.adjusted and amount < 0 and self.available(account) + amount < 0
        self.twice(
            lambda s: points.adjust(
                session=s, ref=account[1], points=amount, reason=reason, actor="tester", reference=None
            ),
            refused=refused,
        )
        if not refused and key not in self.adjusted:
            self.adjusted.add(key)
            self.fixed[account, self.owner(account)] += amount

    @rule(price=st.sampled_from(PRICES))
    def catalog_price(self, price):
        text = f"sku,name,points\nMUG,Mug,{price}\n"
        self.twice(
            lambda s: catalog.import_catalog(
                session=s, src=csv_input(text, name="catalog.csv"), skip_invalid=False
            )
        )
        self.price["MUG"] = price  # pending requests keep the price they were made at

    # -- after every step --------------------------------------------------------
    @invariant()
    def database_equals_the_model(self):
        with self.db.session() as s:
            rows = points.balances(session=s, ref=None, on=None)
            items = {i.sku: (i.points, i.stock, i.reserved) for i in s.exec(select(CatalogItem)).scalars()}
        got = {
            ("S" if r["type"] == "individual" else "P", r["account"]): (r["balance"], r["held"])
            for r in rows
            if (r["balance"], r["held"]) != (0, 0)
        }
        balances = self.balances()
        want = {
            a: (balances[a], self.held[a])
            for a in set(balances) | set(self.held)
            if (balances[a], self.held[a]) != (0, 0)
        }
        assert got == want
        assert items == {k: (self.price[k], self.stock[k], self.reserved[k]) for k in self.price}

    @invariant()
    def db_check_passes(self):
        with self.db.session() as s:
            failed = [r.as_dict() for r in dbadmin.check(session=s, db=self.db) if not r.ok]
        assert failed == []


SETTINGS = settings(
    derandomize=True,  # the same examples on every run and in CI
    max_examples=10,
    stateful_step_count=25,
    deadline=None,
    database=None,
    # Shrinking a failure of this machine takes minutes; the unshrunk steps are
    # printed all the same.  LOYALTYCTL_SHRINK=1 turns it on for debugging.
    phases=list(Phase) if os.environ.get("LOYALTYCTL_SHRINK") else [Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@pytest.mark.slow  # the hypothesis state machine (20-40 s)
def test_program(backend, request):
    """The machine on each backend.  On PostgreSQL every example empties the
    test database and builds the same small program as the SQLite template."""
    if backend == "postgresql":
        pg = request.getfixturevalue("pg_server")

        def on_postgresql(where: Path) -> Database:
            pg.reset()
            db = Database(resolve_url(pg.url))
            create_quiz(db, "Q1", questions=10, points=QUIZ_POINTS)
            load_catalog(db, CATALOG)
            return db

        Program.fresh = staticmethod(on_postgresql)
    else:
        Program.fresh = staticmethod(program_on_sqlite)
    try:
        run_state_machine_as_test(Program, settings=SETTINGS)
    finally:
        Program.fresh = staticmethod(program_on_sqlite)


def test_the_model_knows_what_a_contract_earns():
    # 250 000 SEK: 2 500 + 100; registered and cancelled earn nothing
    assert [earns(250_000, s) for s in STATUSES] == [0, 2600, 0]
    assert [earns(a, "started") for a in AMOUNTS] == [1100, 2600, 3100, 12445]
    assert ranks([9, 7, 7, 3]) == [1, 2, 2, 4]
