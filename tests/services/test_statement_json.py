"""``to_json_bytes`` (statements as JSON) is ``to_json`` + newline byte for
byte: it only takes a faster road to the same text."""

from __future__ import annotations

from collections import OrderedDict
from datetime import date
from decimal import Decimal

import pytest

from loyaltyctl.output import to_json
from loyaltyctl.statement_formats import Records, to_json_bytes

# Text that looks like the separators the fast road puts in and replaces.
TRICKY = 'a "q", b\n\u2028 é},\n{ ,\n" \\ \t'

STATEMENT = {
    "account": "ånna@acme.se",
    "opening_balance": 0,
    "entries": [
        {"date": "2026-11-01", "kind": "contract", "reference": TRICKY, "description": None, "points": -5},
        {"date": "2026-11-02", "kind": "bonus", "reference": "},\n{", "description": ',\n"x', "points": 7},
    ],
    "held": 0,
    "point_value_sek": Decimal("0.10"),
    "value_sek": Decimal("0.20"),
    "as_of": date(2026, 11, 22),
}


@pytest.mark.parametrize(
    "data",
    [
        STATEMENT,
        [STATEMENT, {**STATEMENT, "entries": []}],
        # The service's entries come as Records (vouched flat: no per-value check).
        {**STATEMENT, "entries": Records(STATEMENT["entries"])},
        [{**STATEMENT, "entries": Records()}],
        {},
        [],
        {"a": [], "b": {}},
        [{}],
        [[]],
        [{"a": 1}, {}],
        [{"a": 1}, {"b": {}}],
        [{"a": 1}, 5],
        [{"a": 1}, OrderedDict(b=[1, 2])],
        [{1: "int keys", 2.5: "float key"}, {None: 1, True: 2}],
        {1: "an int key", "b": [1]},
        (1, 2, (3, {"x": (4,)})),
        [[{"a": 1}, {"b": 2}], [{"c": TRICKY}]],
        TRICKY,
        1.5,
        None,
    ],
)
def test_same_bytes_as_to_json(data):
    assert to_json_bytes(data) == (to_json(data) + "\n").encode("utf-8")
