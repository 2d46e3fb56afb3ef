"""``catalog list --search``: the text is taken literally (``%`` and ``_`` are
not wildcards), case-insensitively also for å, ä, ö; and 5 000 items are
listed with one query."""

from __future__ import annotations

import pytest
from factories import catalog_csv, load_catalog
from sqlalchemy import event

from loyaltyctl.services import catalog

ITEMS = (
    "sku,name,points\n"
    "P50,50% off a mug,10\n"
    "P500,500 points off,20\n"
    "AB1,A_B cable,30\n"
    "AXB,AXB cable,40\n"
    "BS1,Back\\slash poster,50\n"
    "OL1,Ölglas,60\n"
    "OL2,Oljelampa,70\n"
    "X_9,Cap,80\n"
)


@pytest.fixture
def items(db):
    load_catalog(db, ITEMS)
    return db


def skus(db, search, **kw) -> list[str]:
    with db.session() as s:
        return [i["sku"] for i in catalog.list_items(session=s, search=search, **kw)]


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("50%", ["P50"]),  # not "50 anything": 500 points off stays out
        ("%", ["P50"]),
        ("a_b", ["AB1"]),  # not AXB
        ("_", ["AB1", "X_9"]),  # the name A_B, the sku X_9
        ("k\\s", ["BS1"]),
        ("öl", ["OL1"]),  # Ölglas, not Oljelampa
        ("ÖLGLAS", ["OL1"]),
        ("CABLE", ["AXB", "AB1"]),  # by name: "AXB" < "A_B"
        ("  cap ", ["X_9"]),
        ("", ["P50", "P500", "AXB", "AB1", "BS1", "X_9", "OL2", "OL1"]),  # all, by name
    ],
)
def test_search_is_literal_and_case_insensitive(items, search, expected):
    assert skus(items, search) == expected


def test_search_and_max_points_combine(items):
    assert skus(items, "cable", max_points=30) == ["AB1"]
    assert skus(items, None, max_points=20) == ["P50", "P500"]


def test_5000_items_are_listed_with_one_query(db):
    load_catalog(db, catalog_csv(5000))
    selects: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT"):
            selects.append(statement)

    with db.session() as s:
        event.listen(db.engine, "before_cursor_execute", record)
        try:
            rows = catalog.list_items(session=s, search="item 4", max_points=4100)
        finally:
            event.remove(db.engine, "before_cursor_execute", record)
    # "Item 4000".."Item 4100" (an item's points are its number).
    assert len(rows) == 101
    assert (rows[0]["sku"], rows[-1]["sku"]) == ("I4000", "I4100")
    assert len(selects) == 1, selects
