"""A statement (see ``services/statements.py``) as CSV, JSON, HTML or PDF bytes.

* CSV: UTF-8 with a byte order mark (so Excel reads it as UTF-8), comma
  separated, CRLF; every text cell a spreadsheet could run as a formula is
  neutralised (``output.neutralise``).  A block of ``field,value`` lines, an
  empty line, then the entries with a header.
* HTML: one printable page, every text escaped.
* PDF: the same content, made with fpdf2 (imported only here, lazily).
* HTML and PDF are read by people: points are grouped by thousands
  ("12 400"); CSV and JSON keep plain numbers.
"""

from __future__ import annotations

import csv
import html
import io
import json
import unicodedata
from collections.abc import Iterable
from itertools import chain

from .output import _csv_cell, _json_default, group_digits, to_json

BOM = "\ufeff"
ENTRY_COLUMNS = ["date", "value_date", "kind", "reference", "description", "points"]


def _summary(st: dict) -> list[tuple[str, object]]:
    return [
        ("account", st["account"]),
        ("holder", st["holder"]),
        ("partner", st["partner"]),
        ("period", f"{st['period_from']} to {st['period_to']}"),
        ("opening_balance", st["opening_balance"]),
        ("closing_balance", st["closing_balance"]),
        (f"held_as_of_{st['as_of']}", st["held"]),
        (f"available_as_of_{st['as_of']}", st["available"]),
        ("value", st["value"]),
    ]


def _human(value: object) -> str:
    """12400 -> '12 400' (HTML and PDF); text as it is; None -> ''."""
    return group_digits(value)


def to_csv(st: dict) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(["field", "value"])
    for k, v in _summary(st):
        w.writerow([_csv_cell(k), _csv_cell(v)])
    w.writerow([])
    w.writerow(ENTRY_COLUMNS)
    cell = _csv_cell
    for e in st["entries"]:
        # Dates and kinds are never formulas; the text columns are neutralised.
        w.writerow(
            (e["date"], e["value_date"], e["kind"], cell(e["reference"]), cell(e["description"]), e["points"])
        )
    return (BOM + buf.getvalue()).encode("utf-8")


def to_json_bytes(data: object) -> bytes:
    """``to_json(data)`` + newline, byte for byte, made faster: json's indent
    mode runs its pure-Python encoder, so a container of scalars only (a
    statement's entry, say) goes through the C encoder in one call, with the
    indentation given as its item separator."""
    try:
        text = _indented(data, 1)
    except _NotPlain:
        text = to_json(data)
    return (text + "\n").encode("utf-8")


class _NotPlain(Exception):
    """A shape ``_indented`` leaves to ``to_json`` (a key that is not text)."""


_CONTAINERS = (dict, list, tuple)
_ENCODERS: dict[str, json.JSONEncoder] = {}


def _encode(obj: object, item_separator: str = ", ") -> str:
    enc = _ENCODERS.get(item_separator)
    if enc is None:
        enc = _ENCODERS[item_separator] = json.JSONEncoder(
            ensure_ascii=False, default=_json_default, separators=(item_separator, ": ")
        )
    return enc.encode(obj)


def _scalars(values: Iterable) -> bool:
    """No container among ``values`` (checked per type: C-speed iteration)."""
    return not any(issubclass(t, _CONTAINERS) for t in set(map(type, values)))


def _flat(obj: object) -> bool:
    return _scalars(obj.values() if isinstance(obj, dict) else obj)


class Records(list):
    """A list of non-empty dicts of scalars (text, numbers, None, dates):
    a statement's entries.  The service that builds one vouches for its shape,
    so the JSON writer need not look at each of a million values to know it
    can hand the whole list to the C encoder."""


def _records(obj: list | tuple) -> bool:
    """Non-empty flat dicts only."""
    if isinstance(obj, Records):
        return True
    return (
        all(issubclass(t, dict) for t in set(map(type, obj)))
        and all(map(len, obj))
        and _scalars(chain.from_iterable(map(dict.values, obj)))
    )


def _indented(obj: object, depth: int) -> str:
    """``json.dumps(obj, indent=2)`` for a value at ``depth`` (1 at the top).
    A raw line break never occurs inside encoded JSON text, so in the C
    encoder's output with ",\n" as item separator every line break is a
    separator, and the indentation can be put in by plain replacement."""
    if not isinstance(obj, _CONTAINERS):
        return _encode(obj)
    if not obj:
        return "{}" if isinstance(obj, dict) else "[]"
    inner, outer = "\n" + "  " * depth, "\n" + "  " * (depth - 1)
    is_dict = isinstance(obj, dict)
    if _flat(obj):
        flat = _encode(obj, "," + inner)
        return flat[0] + inner + flat[1:-1] + outer + flat[-1]
    if not is_dict and _records(obj):
        # A list of flat records (a statement's entries): one C call.
        deeper = inner + "  "
        text = _encode(obj, ",\n")
        text = text.replace(',\n"', "," + deeper + '"').replace("},\n{", inner + "}," + inner + "{" + deeper)
        return "[" + inner + "{" + deeper + text[2:-2] + inner + "}" + outer + "]"
    if is_dict:
        if not all(isinstance(k, str) for k in obj):
            raise _NotPlain
        items = [_encode(k) + ": " + _indented(v, depth + 1) for k, v in obj.items()]
        return "{" + inner + ("," + inner).join(items) + outer + "}"
    return "[" + inner + ("," + inner).join(_indented(v, depth + 1) for v in obj) + outer + "]"


_CSS = """
body { font-family: Helvetica, Arial, sans-serif; margin: 2em; color: #111; }
h1 { font-size: 1.4em; margin-bottom: 0.2em; }
table { border-collapse: collapse; width: 100%; margin-top: 1em; }
th, td { border-bottom: 1px solid #ccc; padding: 0.3em 0.5em; text-align: left; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
dl { display: grid; grid-template-columns: max-content auto; gap: 0.2em 1em; }
dt { font-weight: bold; }
@media print { body { margin: 0; } a { color: inherit; text-decoration: none; } }
"""


def to_html(st: dict) -> bytes:
    e = html.escape
    rows = "".join(
        "<tr>"
        + "".join(f"<td>{e(str(x.get(c) or ''))}</td>" for c in ENTRY_COLUMNS[:-1])
        + f'<td class="n">{_human(x["points"])}</td></tr>\n'
        for x in st["entries"]
    )
    facts = "".join(f"<dt>{e(k.replace('_', ' '))}</dt><dd>{e(_human(v))}</dd>\n" for k, v in _summary(st))
    head = "".join(
        f"<th{' class=n' if c == 'points' else ''}>{e(c.replace('_', ' '))}</th>" for c in ENTRY_COLUMNS
    )
    doc = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Statement {e(st["account"])} {e(st["period_from"])} to {e(st["period_to"])}</title>
<style>{_CSS}</style></head>
<body>
<h1>Points statement: {e(st["holder"])}</h1>
<dl>
{facts}</dl>
<table>
<thead><tr>{head}</tr></thead>
<tbody>
<tr><td colspan="5">opening balance</td><td class="n">{_human(st["opening_balance"])}</td></tr>
{rows}<tr><td colspan="5"><strong>closing balance</strong></td>
<td class="n"><strong>{_human(st["closing_balance"])}</strong></td></tr>
</tbody></table>
</body></html>
"""
    return doc.encode("utf-8")


_PLAIN = str.maketrans(
    {
        **{"Ł": "L", "ł": "l", "Đ": "D", "đ": "d", "Ħ": "H", "ħ": "h", "ı": "i", "Œ": "OE", "œ": "oe"},
        **{"‘": "'", "’": "'", "‚": "'", "“": '"', "”": '"', "„": '"', "–": "-", "—": "-", "€": "EUR"},
    }
)


def _latin1(text: object) -> str:
    """The PDF's built-in Helvetica has the Latin-1 letters (å, ä, ö, é, ü...);
    any other letter loses its accent (ễ -> e, Ł -> L) rather than becoming ?."""
    value = str(text if text is not None else "")
    if all(ord(c) < 256 for c in value):
        return value
    out = []
    for c in value.translate(_PLAIN):
        if ord(c) < 256:
            out.append(c)
            continue
        base = "".join(b for b in unicodedata.normalize("NFKD", c) if not unicodedata.combining(b))
        out.append(base if base and all(ord(b) < 256 for b in base) else "?")
    return "".join(out)


def to_pdf(st: dict) -> bytes:
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 14)
    pdf.cell(0, 8, _latin1(f"Points statement: {st['holder']}"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 9)
    for k, v in _summary(st):
        pdf.cell(45, 5, _latin1(k.replace("_", " ")))
        pdf.cell(0, 5, _latin1(_human(v)), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    widths = [20, 20, 22, 30, 73, 20]
    pdf.set_font("Helvetica", "B", 8)
    for c, wdt in zip(ENTRY_COLUMNS, widths, strict=True):
        pdf.cell(wdt, 5, c.replace("_", " "), border="B", align="R" if c == "points" else "L")
    pdf.ln()
    pdf.set_font("Helvetica", "", 8)
    pdf.cell(sum(widths[:-1]), 5, "opening balance")
    pdf.cell(widths[-1], 5, _human(st["opening_balance"]), align="R", new_x="LMARGIN", new_y="NEXT")
    for x in st["entries"]:
        for c, wdt in zip(ENTRY_COLUMNS[:-1], widths, strict=False):
            text = _latin1(x.get(c))
            while text and pdf.get_string_width(text) > wdt - 1:
                text = text[:-1]
            pdf.cell(wdt, 5, text)
        pdf.cell(widths[-1], 5, _human(x["points"]), align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "B", 8)
    pdf.cell(sum(widths[:-1]), 6, "closing balance", border="T")
    pdf.cell(
        widths[-1], 6, _human(st["closing_balance"]), border="T", align="R", new_x="LMARGIN", new_y="NEXT"
    )
    return bytes(pdf.output())


RENDER = {"csv": to_csv, "json": to_json_bytes, "html": to_html, "pdf": to_pdf}
