"""Rendering of command results: table, CSV or JSON, decided in one place.

* ``json``: stable keys, integers as numbers, money as strings with two
  decimals ("1240.00"), dates as ISO strings.  Lists print as a JSON list.
* ``csv``: a header row, then one row per item.  A text cell that a
  spreadsheet would run as a formula (starting with = + - @, tab, CR or LF,
  possibly after quotes) is prefixed with a single quote (OWASP's advice);
  numbers are left alone.  Imports take that quote off text columns again.
* ``table``: a rich table on a terminal; a plain text table when piped, with
  no colours and nothing that depends on the terminal width.

Data goes to stdout; messages go to stderr (``say``).
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, TextIO

# The CSV cell rules live with the import, which undoes them.
from .importers.fields import FORMULA_START, neutralise  # noqa: F401


class Format(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


def is_terminal(stream: TextIO | None = None) -> bool:
    stream = stream or sys.stdout
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    raise TypeError(f"cannot render {type(value).__name__}")


def to_json(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, default=_json_default)


def group_digits(value: Any) -> str:
    """10000 -> '10 000' for people (tables only; CSV and JSON keep raw numbers)."""
    if isinstance(value, bool) or value is None:
        return "" if value is None else ("yes" if value else "no")
    if isinstance(value, int):
        return f"{value:,}".replace(",", " ")
    return str(value)


def csv_text(rows: Sequence[dict], columns: Sequence[str]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_csv_cell(row.get(c)) for c in columns])
    return buf.getvalue()


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        return neutralise(value)
    return value


def render(
    rows: Sequence[dict],
    fmt: Format | str,
    *,
    columns: Sequence[str] | None = None,
    title: str | None = None,
    out: TextIO | None = None,
    numeric: Sequence[str] = (),
) -> None:
    """Print a list of records."""
    out = out or sys.stdout
    fmt = Format(fmt)
    if fmt is Format.json:
        out.write(to_json(list(rows)) + "\n")
        return
    cols = list(columns or (rows[0].keys() if rows else []))
    if fmt is Format.csv:
        out.write(csv_text(rows, cols))
        return
    if not rows:
        say("(none)")
        return
    numeric_cols = set(numeric) | {
        c
        for c in cols
        if all(
            isinstance(r.get(c), int) and not isinstance(r.get(c), bool) for r in rows if r.get(c) is not None
        )
    }
    if is_terminal(out):
        from rich.console import Console
        from rich.table import Table

        table = Table(title=title, header_style="bold", show_lines=False)
        for c in cols:
            table.add_column(c, justify="right" if c in numeric_cols else "left")
        for r in rows:
            table.add_row(*[group_digits(r.get(c)) for c in cols])
        Console(file=out).print(table)
        return
    from tabulate import tabulate

    if title:
        out.write(title + "\n")
    out.write(
        tabulate(
            [[group_digits(r.get(c)) for c in cols] for r in rows],
            headers=cols,
            tablefmt="simple",
            disable_numparse=True,
            colalign=["right" if c in numeric_cols else "left" for c in cols],
        )
        + "\n"
    )


def render_one(
    record: dict, fmt: Format | str, *, title: str | None = None, out: TextIO | None = None
) -> None:
    """Print one record: a two-column table, a one-row CSV, or a JSON object."""
    out = out or sys.stdout
    fmt = Format(fmt)
    if fmt is Format.json:
        out.write(to_json(record) + "\n")
    elif fmt is Format.csv:
        out.write(csv_text([record], list(record.keys())))
    else:
        render(
            [
                {"field": k, "value": group_digits(v) if not isinstance(v, list | dict) else to_json(v)}
                for k, v in record.items()
            ],
            Format.table,
            columns=["field", "value"],
            title=title,
            out=out,
        )


def say(message: str) -> None:
    """A message for the person (stderr, so stdout stays data)."""
    sys.stderr.write(message + "\n")
    sys.stderr.flush()
