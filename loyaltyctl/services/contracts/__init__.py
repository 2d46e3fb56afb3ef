"""Contracts: the import and what it keeps true.

After every import, the net points a contract has posted to each account equal
what its current row earns; any change posts the difference as new postings.
One room per idea:

* ``rule``: the one rule as pure values (a row, a stored contract, where its
  points stand, the postings between two places);
* ``rows``: the one parser (a record -> a ``Row`` or its problems);
* ``plan``: what each new or changed row does;
* ``store``: the one store interface; ``store_sqlite`` and ``store_pg`` its
  implementations;
* ``run``: the import itself, one streaming pass in chunks;
* ``lookups``, ``show``, ``reroute``: partners/sellers/accounts by name, one
  contract shown, points moved after a partner's mode changed.
"""

from __future__ import annotations

from .lookups import Lookups
from .reroute import reroute_partner
from .rows import REQUIRED, STATUSES, Parser
from .rule import NOWHERE, Place, Row, Stored, legs, outcome, posting
from .run import CHUNK_ROWS, import_contracts
from .show import show_contract

__all__ = [
    "CHUNK_ROWS",
    "NOWHERE",
    "REQUIRED",
    "STATUSES",
    "Lookups",
    "Parser",
    "Place",
    "Row",
    "Stored",
    "import_contracts",
    "legs",
    "outcome",
    "posting",
    "reroute_partner",
    "show_contract",
]
