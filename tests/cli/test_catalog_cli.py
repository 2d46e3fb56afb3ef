"""``catalog import|list|show`` through the CLI."""

from __future__ import annotations

import json

from factories import catalog_csv


def as_json(result) -> object:
    assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
    return json.loads(result.stdout)


def test_import_upserts_by_sku_and_blank_stock_is_unlimited(db, cli, tmp_path):
    f = tmp_path / "catalog.csv"
    f.write_text("sku,name,points,stock\nmug-1,Mug,500,10\nTRIP,Weekend trip,50000,\n")
    cli("catalog", "import", str(f), ok=True)
    items = {i["sku"]: i for i in as_json(cli("catalog", "list", "--format", "json"))}
    assert items["MUG-1"]["points"] == 500 and items["MUG-1"]["stock"] == 10
    assert items["TRIP"]["stock"] is None and items["TRIP"]["available"] is None
    # A re-run changes nothing; a new price updates the one row.
    again = as_json(cli("catalog", "import", str(f), "--format", "json"))
    assert (again["new"], again["updated"], again["unchanged"]) == (0, 0, 2)
    f.write_text("sku,name,points\nMUG-1,Mug,600\n")  # no stock column: the stock is kept
    changed = as_json(cli("catalog", "import", str(f), "--format", "json"))
    assert changed["updated"] == 1
    mug = as_json(cli("catalog", "show", "mug-1", "--format", "json"))
    assert (mug["points"], mug["stock"]) == (600, 10)


def test_a_bad_row_names_line_and_column_and_writes_nothing(db, cli):
    r = cli("catalog", "import", "-", input="sku,name,points\nA,Ok,10\nB,Bad,-5\n")
    assert r.exit_code == 1
    assert "<stdin>:3:3: points: must be positive" in r.stderr
    assert as_json(cli("catalog", "list", "--format", "json")) == []


def test_list_filters_and_stays_quick_with_5000_items(db, cli):
    # 5 000 items costing 1..5 000 points; "Item 0042" and sku I0042 etc.
    cli("catalog", "import", "-", input=catalog_csv(5000), ok=True)
    cheap = as_json(cli("catalog", "list", "--max-points", "10", "--format", "json"))
    assert [i["points"] for i in cheap] == list(range(1, 11))
    found = as_json(cli("catalog", "list", "--search", "item 4999", "--format", "json"))
    assert [i["sku"] for i in found] == ["I4999"]
    assert len(as_json(cli("catalog", "list", "--format", "json"))) == 5000


def test_show_unknown_sku_is_not_found(db, cli):
    r = cli("catalog", "show", "NOPE")
    assert r.exit_code == 3 and "NOPE" in r.stderr


def test_inactive_items_are_hidden_and_a_left_out_column_keeps_the_flag(db, cli):
    cli("catalog", "import", "-", input="sku,name,points,active\nA,Apple,10,yes\nB,Pear,20,no\n", ok=True)
    assert [i["sku"] for i in as_json(cli("catalog", "list", "-f", "json"))] == ["A"]
    assert [i["sku"] for i in as_json(cli("catalog", "list", "--all", "-f", "json"))] == ["A", "B"]
    cli("catalog", "import", "-", input="sku,name,points\nB,Pear,25\n", ok=True)  # no active column
    assert as_json(cli("catalog", "show", "B", "-f", "json"))["active"] is False
