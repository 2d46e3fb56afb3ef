"""One address, one seller (issue 15, item 6): look-alike addresses (a
zero-width space, a Cyrillic letter, a fullwidth letter, a soft hyphen, the NFD
spelling of an NFC one) became separate sellers and earned apart.  Everywhere
an address comes in it is normalised (NFC, case-folded), an invisible or
format character is refused, and a new address that looks like a seller's
(UTS #39 confusable skeleton) is refused, naming that seller."""

from __future__ import annotations

import json

import pytest
from factories import HEADER, balance, create_quiz, import_contracts, rewards_program

ZWSP = "b\u200bo@bolt.se"  # bo with a zero-width space
SHY = "b\u00ado@bolt.se"  # ... a soft hyphen
CYRILLIC = "b\u043e@bolt.se"  # Cyrillic о
FULLWIDTH = "\uff42o@bolt.se"  # fullwidth ｂ
NFC, NFD = "j\u00f6rg@bolt.se", "jo\u0308rg@bolt.se"


@pytest.fixture
def prog(db):
    rewards_program(db)  # bo@bolt.se 2 600, ACME pool 3 700, catalog MUG/TRIP
    return db


def sellers(cli) -> list[str]:
    return [s["email"] for s in json.loads(cli("sellers", "list", "-f", "json").stdout)]


BEFORE = ["anna@acme.se", "arne@acme.se", "bo@bolt.se", "britt@bolt.se"]


@pytest.mark.parametrize(
    ("email", "invisible"), [(ZWSP, "ZERO WIDTH SPACE, U+200B"), (SHY, "SOFT HYPHEN, U+00AD")]
)
def test_an_invisible_character_is_refused_everywhere(prog, cli, tmp_path, email, invisible):
    reason = f"{email!r} contains an invisible or format character ({invisible}): type the address again"
    r = cli("sellers", "add", email, "--partner", "BOLT", "--name", "Bo Again")
    assert (r.exit_code, r.stderr.splitlines()[0]) == (2, f"error: seller {email!r}: {reason}")
    f = tmp_path / "s.csv"
    f.write_text(f"email,name,partner_code\n{email},Bo Again,BOLT\n", encoding="utf-8")
    r = cli("sellers", "import", str(f))
    assert (r.exit_code, r.stderr.splitlines()[0]) == (1, f"{f}:2:1: email: {reason}")
    # A contract row naming it creates and credits nothing.
    c = tmp_path / "c.csv"
    c.write_text(HEADER + f"Z1,BOLT,{email},2026-02-01,100000,leasing,started\n", encoding="utf-8")
    r = cli("contracts", "import", str(c), "--skip-invalid")
    assert (r.exit_code, r.stderr.splitlines()[0]) == (1, f"{c}:2:3: seller_email: {reason}")
    # On the command line: no such seller, and why.
    r = cli("points", "balance", email)
    assert (r.exit_code, r.stderr.splitlines()[0]) == (3, f"error: no such seller: {reason}")
    # A partner's address.
    r = cli("partners", "enroll", "NEW", "--name", "New AB", "--email", email)
    assert r.exit_code == 2 and invisible in r.stderr
    assert sellers(cli) == BEFORE
    assert balance(prog, "bo@bolt.se") == 2600
    assert cli("contracts", "show", "Z1").exit_code == 3  # no such contract


@pytest.mark.parametrize("email", [CYRILLIC, FULLWIDTH])
def test_a_look_alike_of_a_seller_is_refused_naming_the_seller(prog, cli, tmp_path, email):
    reason = (
        f"{email} looks like the address of existing seller bo@bolt.se (a look-alike: the same to the "
        "eye, Unicode's confusable skeleton, UTS #39)"
    )
    r = cli("sellers", "add", email, "--partner", "BOLT", "--name", "Bo Again")
    assert (r.exit_code, r.stderr.splitlines()[0]) == (4, f"error: {reason}")
    f = tmp_path / "s.csv"
    f.write_text(f"email,name,partner_code\n{email},Bo Again,BOLT\n", encoding="utf-8")
    r = cli("sellers", "import", str(f))
    assert (r.exit_code, r.stderr.splitlines()[0]) == (1, f"{f}:2:1: email: {reason}")
    assert sellers(cli) == BEFORE
    # Contract rows, quiz results and redemption requests naming it reach no one,
    # and say whom it looks like.
    look = "it looks like the address of seller bo@bolt.se"
    c = tmp_path / "c.csv"
    c.write_text(HEADER + f"Z1,BOLT,{email},2026-02-01,100000,leasing,started\n", encoding="utf-8")
    r = cli("contracts", "import", str(c))
    assert (
        r.exit_code == 1
        and f"{c}:2:3: seller_email: unknown seller {email} ({look}: a look-alike)" in r.stderr
    )
    create_quiz(prog, "Q1")
    q = tmp_path / "q.csv"
    q.write_text(f"seller_email,correct\n{email},3\n", encoding="utf-8")
    r = cli("quiz", "award", "Q1", str(q))
    assert r.exit_code == 1 and f"no seller with email {email!r}; {look} (a look-alike)" in r.stderr
    red = tmp_path / "r.csv"
    red.write_text(f"request_id,account,sku,quantity\nR1,{email},MUG,1\n", encoding="utf-8")
    r = cli("redemptions", "import", str(red))
    assert r.exit_code == 1 and f"no seller with email {email!r}; {look} (a look-alike)" in r.stderr
    r = cli("points", "balance", email)
    assert (r.exit_code, r.stderr.splitlines()[0]) == (
        3,
        f"error: no seller with email {email!r}; {look} (a look-alike)",
    )
    assert balance(prog, "bo@bolt.se") == 2600
    assert cli("redemptions", "list", "-f", "json").stdout.strip() == "[]"


def test_nfc_nfd_and_case_are_one_seller(prog, cli, tmp_path):
    cli("sellers", "add", NFC, "--partner", "BOLT", "--name", "Jörg", ok=True)
    for spelling in (NFD, NFC.upper(), NFD.upper()):
        r = cli("sellers", "add", spelling, "--partner", "BOLT", "--name", "Jörg", "-f", "json", ok=True)
        assert json.loads(r.stdout)["result"] == "unchanged"
    assert sorted(sellers(cli)) == sorted([*BEFORE, NFC])
    # A contract row in the other spelling credits the one seller.
    import_contracts(prog, f"J1,BOLT,{NFD},2026-02-01,100000,leasing,started\n")
    assert balance(prog, NFC) == 1100
    assert json.loads(cli("points", "balance", NFD.upper(), "-f", "json").stdout)[0]["account"] == NFC


def test_two_new_look_alikes_in_one_file_the_second_is_refused(prog, cli, tmp_path):
    f = tmp_path / "s.csv"
    f.write_text(
        "email,name,partner_code\nanna.berg@bolt.se,Anna,BOLT\nanna.berg@b\u043elt.se,Anna B,BOLT\n",
        encoding="utf-8",
    )
    r = cli("sellers", "import", str(f), "--skip-invalid")
    assert r.exit_code == 1
    assert (
        f"{f}:3:1: email: anna.berg@b\u043elt.se looks like the address of existing seller anna.berg@bolt.se"
        in (r.stderr)
    )
    assert "anna.berg@bolt.se" in sellers(cli) and len(sellers(cli)) == 5


def test_rows_of_known_sellers_pay_no_skeleton(prog, monkeypatch):
    """Lookups of existing sellers are exact; only a new address (or an
    unknown one, for its message) is skeletonised."""
    from loyaltyctl import identities

    def no(_email):
        raise AssertionError("a skeleton for a known seller")

    monkeypatch.setattr(identities, "skeleton", no)
    rows = "".join(
        f"K{i},BOLT,{'BO' if i % 2 else 'bo'}@bolt.se,2026-02-01,100000,leasing,started\n" for i in range(50)
    )
    assert import_contracts(prog, rows).rejected == 0
    assert balance(prog, "bo@bolt.se") == 2600 + 50 * 1100
