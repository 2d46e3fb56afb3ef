"""The postings that move a contract's points, as a table (see services.contracts.legs)."""

from datetime import date

import pytest

from loyaltyctl.services.contracts import NOWHERE, Place, legs, outcome

JAN, FEB = date(2026, 1, 10), date(2026, 2, 10)
A = Place(1, 7, JAN, 2600)  # account 1, seller 7, valued 10 Jan, 2 600 points


@pytest.mark.parametrize(
    "old,new,expected,counted",
    [
        (NOWHERE, A, [("delta", A, 2600)], "credited"),  # registered -> started
        (A, NOWHERE, [("delta", A, -2600)], "reversed"),  # started -> cancelled
        (A, Place(1, 7, JAN, 3100), [("delta", Place(1, 7, JAN, 3100), 500)], "corrected"),  # amount up
        (A, Place(1, 7, JAN, 2100), [("delta", Place(1, 7, JAN, 2100), -500)], "corrected"),  # amount down
        (A, Place(2, 8, JAN, 2600), [("out", A, -2600), ("in", Place(2, 8, JAN, 2600), 2600)], "corrected"),
        (A, Place(1, 8, JAN, 2600), [("out", A, -2600), ("in", Place(1, 8, JAN, 2600), 2600)], "corrected"),
        (A, Place(1, 7, FEB, 2600), [("out", A, -2600), ("in", Place(1, 7, FEB, 2600), 2600)], "corrected"),
        (A, A, [], "updated"),  # e.g. a product change that earns the same
        (NOWHERE, NOWHERE, [], "updated"),  # registered -> cancelled
    ],
    ids=["credit", "reverse", "raise", "lower", "move-account", "move-seller", "move-date", "same", "none"],
)
def test_legs(old, new, expected, counted):
    assert legs(old, new) == expected
    assert outcome(old, new) == counted
    # whatever the legs, they add up to the difference
    assert sum(points for _, _, points in legs(old, new)) == new.points - old.points
