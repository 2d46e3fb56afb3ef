"""Partners and sellers: enrolment, CSV upserts, consent, suspension, deactivation."""

from __future__ import annotations

import json

import pytest
from conftest import TODAY
from factories import add_seller, balance, enroll, import_contracts, small_program
from sqlalchemy import select

from loyaltyctl.errors import Refused, RowsRejected
from loyaltyctl.models import Partner, Seller

CONTRACT = "C1,BOLT,bo@bolt.se,2026-01-10,250000,leasing,started\n"  # 2 500 + 100 = 2 600


def partner(db, code: str) -> Partner:
    with db.session() as s:
        p = s.exec(select(Partner).where(Partner.code == code)).scalar_one()
        s.expunge_all()
        return p


def write(tmp_path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


# -- partners ----------------------------------------------------------------


def test_enroll_is_idempotent_and_refuses_other_details(db, cli):
    r = cli(
        "partners",
        "enroll",
        "acme",
        "--name",
        "Acme AB",
        "--mode",
        "pooled",
        "--consent",
        "--email",
        "Info@Acme.se",
        ok=True,
    )
    assert "enrolled" in r.stderr
    p = partner(db, "ACME")  # codes are stored upper case, emails lower case
    assert (p.name, p.mode, p.consent, p.email, p.status) == (
        "Acme AB",
        "pooled",
        True,
        "info@acme.se",
        "active",
    )
    r = cli(
        "partners",
        "enroll",
        "ACME",
        "--name",
        "Acme AB",
        "--mode",
        "pooled",
        "--consent",
        "--email",
        "info@acme.se",
    )
    assert r.exit_code == 0 and "unchanged" in r.stderr
    r = cli("partners", "enroll", "ACME", "--name", "Acme Holding", "--mode", "pooled", "--consent")
    assert r.exit_code == 4 and "already enrolled" in r.stderr
    assert cli("partners", "enroll", "X", "--name", "X", "--mode", "shared").exit_code == 2


def test_partners_import_upserts_by_code_and_reads_consent_words(db, cli, tmp_path):
    first = write(
        tmp_path,
        "p1.csv",
        (
            "code,name,mode,consent,email\n"
            "p1,One,individual,YES,\n"
            "P2,Two,pooled,no,two@example.se\n"
            "P3,Three,individual,True,\n"
            "P4,Four,pooled,FALSE,\n"
            "P5,Five,Individual,1,\n"
            "P6,Six,POOLED,0,\n"
        ),
    )
    r = cli("partners", "import", first, "-f", "json", ok=True)
    summary = json.loads(r.stdout)
    assert (summary["new"], summary["updated"], summary["unchanged"]) == (6, 0, 0)
    listed = {p["code"]: p for p in json.loads(cli("partners", "list", "-f", "json", ok=True).stdout)}
    assert {c: (p["mode"], p["consent"]) for c, p in listed.items()} == {
        "P1": ("individual", True),
        "P2": ("pooled", False),
        "P3": ("individual", True),
        "P4": ("pooled", False),
        "P5": ("individual", True),
        "P6": ("pooled", False),
    }
    assert listed["P2"]["email"] == "two@example.se"

    second = write(
        tmp_path,
        "p2.csv",
        "code,name,mode,consent,email\nP1,One Renamed,individual,yes,\nP2,Two,pooled,no,two@example.se\n",
    )
    summary = json.loads(cli("partners", "import", second, "-f", "json", ok=True).stdout)
    assert (summary["new"], summary["updated"], summary["unchanged"]) == (0, 1, 1)
    assert partner(db, "P1").name == "One Renamed"


def test_partners_import_rejects_a_bad_consent_value_and_writes_nothing(db, cli, tmp_path):
    path = write(tmp_path, "p.csv", "code,name,mode,consent\nP1,One,individual,yes\nP2,Two,pooled,maybe\n")
    r = cli("partners", "import", path)
    assert r.exit_code == 1
    assert "consent" in r.stderr and "maybe" in r.stderr
    assert json.loads(cli("partners", "list", "-f", "json", ok=True).stdout) == []


def test_partners_list_and_show(db, cli):
    small_program(db)
    import_contracts(db, CONTRACT + "C2,ACME,anna@acme.se,2026-01-10,100000,loan,started\n")
    listed = {p["code"]: p for p in json.loads(cli("partners", "list", "-f", "json", ok=True).stdout)}
    assert (listed["ACME"]["sellers"], listed["ACME"]["points"]) == (2, 1100)  # 1 000 + 100
    assert (listed["BOLT"]["sellers"], listed["BOLT"]["points"]) == (2, 2600)
    shown = json.loads(cli("partners", "show", "acme", "-f", "json", ok=True).stdout)
    assert (shown["code"], shown["mode"], shown["pool_balance"]) == ("ACME", "pooled", 1100)
    assert cli("partners", "show", "NOPE").exit_code == 3


def test_suspended_partner_contracts_are_rejected_until_reactivated(db, cli):
    small_program(db)
    r = cli("partners", "suspend", "BOLT", ok=True)
    assert partner(db, "BOLT").status == "suspended"
    with pytest.raises(RowsRejected) as exc:
        import_contracts(db, CONTRACT)
    assert "suspended" in str(exc.value.errors[0])
    assert balance(db, "bo@bolt.se") == 0
    r = cli("partners", "suspend", "BOLT")
    assert r.exit_code == 0 and "unchanged" in r.stderr
    r = cli("sellers", "add", "cid@bolt.se", "--partner", "BOLT", "--name", "Cid")
    assert r.exit_code == 4 and "suspended" in r.stderr  # and no new sellers
    cli("partners", "reactivate", "BOLT", ok=True)
    assert import_contracts(db, CONTRACT).points_posted == 2600
    assert balance(db, "bo@bolt.se") == 2600


def test_an_individual_partner_without_consent_cannot_have_sellers(db, cli, tmp_path):
    cli("partners", "enroll", "NOC", "--name", "No Consent", "--no-consent", ok=True)
    r = cli("sellers", "add", "sam@noc.se", "--partner", "NOC", "--name", "Sam")
    assert r.exit_code == 4
    assert "consent" in r.stderr and "NOC" in r.stderr
    path = write(tmp_path, "s.csv", "email,name,partner_code\nsam@noc.se,Sam,NOC\n")
    r = cli("sellers", "import", path)
    assert r.exit_code == 1 and "consent" in r.stderr
    # a pooled partner needs no consent
    cli("partners", "enroll", "POOL", "--name", "Pool", "--mode", "pooled", "--no-consent", ok=True)
    cli("sellers", "add", "pia@pool.se", "--partner", "POOL", "--name", "Pia", ok=True)


def test_withdrawing_consent_is_refused_while_sellers_are_active(db, cli, tmp_path):
    small_program(db)
    path = write(tmp_path, "p.csv", "code,name,mode,consent\nBOLT,Partner BOLT,individual,no\n")
    r = cli("partners", "import", path)
    assert r.exit_code == 1 and "consent" in r.stderr
    assert partner(db, "BOLT").consent is True


# -- sellers -----------------------------------------------------------------


def test_sellers_import_upserts_by_email(db, cli, tmp_path):
    small_program(db)
    path = write(
        tmp_path,
        "s.csv",
        (
            "email,name,partner_code,enrolled_on\n"
            "Cecilia@Bolt.SE,Cecilia,bolt,2026-02-01\n"
            "bo@bolt.se,Bo Renamed,BOLT,\n"
            "arne@acme.se,Arne,ACME,\n"
        ),
    )
    summary = json.loads(cli("sellers", "import", path, "-f", "json", ok=True).stdout)
    assert (summary["new"], summary["updated"], summary["unchanged"]) == (1, 1, 1)
    listed = {
        s["email"]: s
        for s in json.loads(cli("sellers", "list", "--partner", "BOLT", "-f", "json", ok=True).stdout)
    }
    assert set(listed) == {"bo@bolt.se", "britt@bolt.se", "cecilia@bolt.se"}
    assert listed["cecilia@bolt.se"]["enrolled_on"] == "2026-02-01"
    assert listed["bo@bolt.se"]["name"] == "Bo Renamed"
    # a seller cannot move to another partner through the import
    other = write(tmp_path, "s2.csv", "email,name,partner_code\nbo@bolt.se,Bo,ACME\n")
    r = cli("sellers", "import", other)
    assert r.exit_code == 1 and "already belongs to partner BOLT" in r.stderr


def test_sellers_import_twice_in_one_file_and_own_accounts_for_new_individual_sellers(db, cli, tmp_path):
    small_program(db)  # ACME pooled (anna, arne), BOLT individual (bo, britt)
    path = write(
        tmp_path,
        "s.csv",
        (
            "email,name,partner_code\n"
            "cleo@bolt.se,Cleo,BOLT\n"  # new
            "bo@bolt.se,Bo Renamed,BOLT\n"  # updated
            "cleo@bolt.se,Cleo,BOLT\n"  # unchanged: the row above made her
            "bo@bolt.se,Bo Renamed,BOLT\n"  # unchanged: the row above renamed him
            "carl@acme.se,Carl,ACME\n"  # new
        ),
    )
    summary = json.loads(cli("sellers", "import", path, "-f", "json", ok=True).stdout)
    assert (summary["new"], summary["updated"], summary["unchanged"]) == (2, 1, 2)
    listed = {s["email"]: s for s in json.loads(cli("sellers", "list", "-f", "json", ok=True).stdout)}
    assert listed["bo@bolt.se"]["name"] == "Bo Renamed"
    # a new seller of an individual partner holds an own account (balance 0);
    # one of a pooled partner has none (the pool holds the points)
    assert (listed["cleo@bolt.se"]["balance"], listed["carl@acme.se"]["balance"]) == (0, None)
    assert (listed["cleo@bolt.se"]["enrolled_on"], listed["carl@acme.se"]["name"]) == (TODAY, "Carl")
    summary = json.loads(cli("sellers", "import", path, "-f", "json", ok=True).stdout)
    assert (summary["new"], summary["updated"], summary["unchanged"]) == (0, 0, 5)


def test_seller_emails_are_case_insensitive(db, cli):
    small_program(db)
    r = cli(
        "sellers", "add", "Cecilia@Bolt.SE", "--partner", "bolt", "--name", "Cecilia", "-f", "json", ok=True
    )
    assert json.loads(r.stdout)["email"] == "cecilia@bolt.se"
    r = cli(
        "sellers", "add", "CECILIA@bolt.se", "--partner", "BOLT", "--name", "Cecilia", "-f", "json", ok=True
    )
    assert json.loads(r.stdout)["result"] == "unchanged"
    with db.session() as s:
        assert len(s.exec(select(Seller).where(Seller.email.like("%cecilia%"))).all()) == 1
    import_contracts(db, "C1,BOLT,CECILIA@BOLT.SE,2026-01-10,250000,leasing,started\n")
    assert balance(db, "Cecilia@bolt.se") == 2600
    assert cli("sellers", "add", "x@bolt.se", "--partner", "NOPE", "--name", "X").exit_code == 3


def test_a_seller_of_another_partner_is_rejected_on_a_contract(db):
    small_program(db)
    with pytest.raises(RowsRejected) as exc:
        import_contracts(db, "C1,BOLT,anna@acme.se,2026-01-10,250000,leasing,started\n")
    assert "belongs to partner ACME" in str(exc.value.errors[0])


def test_deactivated_seller_keeps_points_and_gets_no_new_contracts(db, cli):
    small_program(db)
    import_contracts(db, CONTRACT)
    r = cli("sellers", "deactivate", "bo@bolt.se", "-f", "json", ok=True)
    assert json.loads(r.stdout)["active"] is False
    assert balance(db, "bo@bolt.se") == 2600
    with pytest.raises(RowsRejected) as exc:
        import_contracts(db, "C2,BOLT,bo@bolt.se,2026-02-10,100000,leasing,started\n")
    assert "inactive" in str(exc.value.errors[0])
    cli("sellers", "reactivate", "bo@bolt.se", ok=True)
    import_contracts(db, "C2,BOLT,bo@bolt.se,2026-02-10,100000,leasing,started\n")
    assert balance(db, "bo@bolt.se") == 2600 + 1100  # 100 000 * 10 / 1000 + 100 = 1 100


def test_a_seller_cannot_be_reactivated_at_a_suspended_partner(db):
    from loyaltyctl.services import partners, sellers

    small_program(db)
    with db.session(write=True) as s:
        sellers.set_active(session=s, email="bo@bolt.se", active=False)
        partners.set_status(session=s, code="BOLT", status="suspended")
    with pytest.raises(Refused), db.session(write=True) as s:
        sellers.set_active(session=s, email="bo@bolt.se", active=True)


def test_deactivated_seller_existing_contract_can_still_be_reimported_and_cancelled(db):
    small_program(db)
    import_contracts(db, CONTRACT)
    with db.session(write=True) as s:
        from loyaltyctl.services import sellers

        sellers.set_active(session=s, email="bo@bolt.se", active=False)
    assert import_contracts(db, CONTRACT).counts["unchanged"] == 1
    import_contracts(db, CONTRACT.replace("started", "cancelled"))
    assert balance(db, "bo@bolt.se") == 0


def test_enroll_and_add_seller_through_services(db):
    enroll(db, "CORP", mode="individual", consent=True)
    add_seller(db, "carl@corp.se", "CORP")
    import_contracts(db, "C1,CORP,carl@corp.se,2026-01-10,250000,leasing,started\n")
    assert balance(db, "carl@corp.se") == 2600
    assert balance(db, "CARL@CORP.SE") == 2600


def test_partners_import_without_optional_columns_keeps_them(db, cli, tmp_path):
    cli(
        "partners",
        "enroll",
        "ACME",
        "--name",
        "Acme",
        "--mode",
        "pooled",
        "--consent",
        "--email",
        "info@acme.se",
        ok=True,
    )
    path = write(tmp_path, "p.csv", "code,name\nACME,Acme AB\n")
    cli("partners", "import", path, ok=True)
    p = partner(db, "ACME")
    assert (p.name, p.mode, p.consent, p.email) == ("Acme AB", "pooled", True, "info@acme.se")


def test_a_suspended_partner_earns_nothing_new_but_its_points_can_be_taken_back(db):
    small_program(db)
    import_contracts(db, CONTRACT)  # bo: 2 600
    with db.session(write=True) as s:
        from loyaltyctl.services import partners

        partners.set_status(session=s, code="BOLT", status="suspended")
    # unchanged rows go through; a new contract and a raise are refused
    assert import_contracts(db, CONTRACT).counts["unchanged"] == 1
    with pytest.raises(RowsRejected) as info:
        import_contracts(db, "C7,BOLT,bo@bolt.se,2026-02-01,100000,loan,started\n")
    assert [(e.line, e.column, e.reason) for e in info.value.errors] == [(2, 2, "partner BOLT is suspended")]
    with pytest.raises(RowsRejected):
        import_contracts(db, CONTRACT.replace("250000", "300000"))
    # a lower amount and a cancellation are applied: 150 000 -> 1 500 + 100 = 1 600
    import_contracts(db, CONTRACT.replace("250000", "150000"))
    assert balance(db, "bo@bolt.se") == 1600
    import_contracts(db, CONTRACT.replace("250000", "150000").replace("started", "cancelled"))
    assert balance(db, "bo@bolt.se") == 0


def test_a_mode_switch_refused_for_want_of_consent_names_the_row_without_a_consent_column(db, cli, tmp_path):
    """A file without a `consent` column that switches a pooled partner with
    active sellers (and no consent) to individual: refused, one line naming
    the row (column 0: the file has no consent column), not a crash on the
    missing column (KeyError, exit 70)."""
    from factories import add_seller, enroll

    enroll(db, "POOL", mode="pooled", consent=False)
    add_seller(db, "pia@pool.se", "POOL")
    path = tmp_path / "p.csv"
    path.write_text("code,name,mode\nPOOL,Partner POOL,individual\n", encoding="utf-8")
    r = cli("partners", "import", str(path))
    assert r.exit_code == 1, r.stderr
    assert r.stderr.splitlines()[0] == (
        f"{path}:2:0: consent: partner POOL has active sellers; without consent an individual-mode "
        "partner cannot have sellers (deactivate them first, or use mode pooled)"
    )
    (p,) = [x for x in json.loads(cli("partners", "list", "-f", "json").stdout) if x["code"] == "POOL"]
    assert p["mode"] == "pooled"
