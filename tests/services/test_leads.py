"""Lead tips: accepting credits lead_points once; one paid tip per org number."""

from __future__ import annotations

from datetime import date

import pytest
from factories import balance, posting_keys, small_program

from loyaltyctl.errors import NotFound, Refused
from loyaltyctl.services import leads, rules


@pytest.fixture
def prog(db):
    small_program(db)  # ACME pooled (anna, arne), BOLT individual (bo, britt); today 2026-11-22
    return db


def tip(db, email, company, org=None):
    with db.session(write=True) as s:
        return leads.add(session=s, email=email, company=company, org_number=org, note=None, actor="t")


def accept(db, lead_id):
    with db.session(write=True) as s:
        return leads.accept(session=s, lead_id=lead_id, actor="t")


def reject(db, lead_id, reason="no deal"):
    with db.session(write=True) as s:
        return leads.reject(session=s, lead_id=lead_id, reason=reason, actor="t")


def test_accepting_credits_lead_points_once(prog):
    t = tip(prog, "bo@bolt.se", "Fabrik AB", "556677-8899")
    assert (t["status"], t["org_number"], t["result"]) == ("pending", "5566778899", "new")
    assert tip(prog, "bo@bolt.se", "Fabrik AB", "5566778899")["result"] == "unchanged"  # same tip again
    assert accept(prog, t["id"])["points"] == 1000  # lead_points default
    assert accept(prog, t["id"])["result"] == "unchanged"
    assert balance(prog, "bo@bolt.se") == 1000
    assert posting_keys(prog, "lead:") == {f"lead:{t['id']}": (1000, "2026-11-22")}


def test_a_pooled_sellers_lead_goes_to_the_pool_at_the_rule_in_force(prog):
    with prog.session(write=True) as s:
        rules.set_rule(session=s, key="lead_points", value="1500", valid_from=date(2026, 11, 1), actor="t")
    t = tip(prog, "anna@acme.se", "Verkstad HB")
    assert accept(prog, t["id"])["points"] == 1500
    assert balance(prog, "ACME") == 1500


def test_only_the_first_tip_for_an_org_number_can_be_accepted(prog):
    first = tip(prog, "bo@bolt.se", "Fabrik AB", "5566778899")
    second = tip(prog, "anna@acme.se", "Fabrik", "556677-8899")
    with pytest.raises(
        Refused, match=rf"bo@bolt.se tipped org number 5566778899 first \(lead #{first['id']}"
    ):
        accept(prog, second["id"])
    accept(prog, first["id"])
    with pytest.raises(Refused, match="first"):
        accept(prog, second["id"])
    assert balance(prog, "ACME") == 0 and balance(prog, "bo@bolt.se") == 1000


def test_a_rejected_first_tip_lets_the_next_one_be_accepted(prog):
    first = tip(prog, "bo@bolt.se", "Fabrik AB", "5566778899")
    second = tip(prog, "britt@bolt.se", "Fabrik AB", "5566778899")
    assert reject(prog, first["id"])["status"] == "rejected"
    assert reject(prog, first["id"])["result"] == "unchanged"
    with pytest.raises(Refused, match="was rejected"):
        accept(prog, first["id"])
    accept(prog, second["id"])
    with pytest.raises(Refused, match="was accepted"):
        reject(prog, second["id"])
    with prog.session() as s:
        assert [r["id"] for r in leads.list_leads(session=s, status="accepted")] == [second["id"]]
        assert [r["id"] for r in leads.list_leads(session=s, status="rejected")] == [first["id"]]
    with pytest.raises(NotFound):
        accept(prog, 999)


def test_no_credit_for_an_inactive_seller_or_a_suspended_partner_the_tip_stays_pending(prog):
    from loyaltyctl.services import partners, sellers

    t = tip(prog, "bo@bolt.se", "Fabrik AB")
    u = tip(prog, "anna@acme.se", "Verkstad HB")
    with prog.session(write=True) as s:
        partners.set_status(session=s, code="BOLT", status="suspended")
        sellers.set_active(session=s, email="anna@acme.se", active=False)
    with pytest.raises(Refused, match=rf"^lead #{t['id']}: bo@bolt.se's partner BOLT is suspended") as exc:
        accept(prog, t["id"])
    assert exc.value.exit_code == 4 and "stays pending" in (exc.value.hint or "")
    with pytest.raises(Refused, match=rf"^lead #{u['id']}: seller anna@acme.se is inactive"):
        accept(prog, u["id"])
    with pytest.raises(Refused, match="^tip about Ny AB: bo@bolt.se's partner BOLT is suspended"):
        tip(prog, "bo@bolt.se", "Ny AB")
    with pytest.raises(NotFound, match="no seller with email 'nobody@bolt.se'") as exc:
        tip(prog, "nobody@bolt.se", "Ny AB")
    assert exc.value.exit_code == 3
    assert posting_keys(prog, "lead:") == {}
    with prog.session() as s:
        assert [r["status"] for r in leads.list_leads(session=s, status=None)] == ["pending", "pending"]
    with prog.session(write=True) as s:
        partners.set_status(session=s, code="BOLT", status="active")
    assert accept(prog, t["id"])["points"] == 1000  # accepted once the partner is active again
    assert balance(prog, "bo@bolt.se") == 1000
