"""The reward catalog: items with a price in points and, optionally, a stock.

``stock`` is what is on hand (None: unlimited); ``reserved`` is what pending
redemption requests hold of it, so ``stock - reserved`` can still be requested.
A price change never alters a pending request: a request captures its price.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlmodel import Session

from ..clock import now
from ..errors import NotFound
from ..importers import fields as F
from ..importers.csv_source import CsvInput
from ..models import CatalogItem
from .batch import BatchSummary, RejectSink, RowProblems, Upserts, field_error, parse_row

REQUIRED = ("sku", "name", "points")
OPTIONAL = ("stock", "active")


def _points(text: str) -> int:
    value = F.parse_whole(text)
    if value <= 0:
        raise F.FieldError("must be positive")
    return value


def _stock(text: str) -> int | None:
    if not text.strip():
        return None  # unlimited
    value = F.parse_whole(text)
    if value < 0:
        raise F.FieldError("may not be negative")
    return value


def parse_sku(text: str) -> str:
    return F.parse_code(text, what="sku")


PARSERS = {
    "sku": parse_sku,
    "name": lambda t: F.parse_text(t, max_len=200),
    "points": _points,
    "stock": _stock,
    "active": F.parse_bool,
}
KEEP = object()  # a column left out keeps an existing item's value
DEFAULTS: dict[str, object] = {"active": True}


@dataclass(frozen=True)
class ItemIn:
    sku: str
    name: str
    points: int
    stock: int | None | object = KEEP
    active: bool | object = KEEP


def _apply(session: Session, items: dict[str, CatalogItem], item: ItemIn) -> tuple[str, str | None, str]:
    row = items.get(item.sku)
    stock, active = item.stock, item.active
    if row is None:
        items[item.sku] = row = CatalogItem(
            sku=item.sku,
            name=item.name,
            points=item.points,
            stock=None if stock is KEEP else stock,
            reserved=0,
            active=True if active is KEEP else active,
            updated_at=now(),
        )
        session.add(row)
        return "new", None, ""
    if stock is KEEP:
        stock = row.stock
    if active is KEEP:
        active = row.active
    if stock is not None and stock < row.reserved:  # type: ignore[operator]
        return "refused", f"stock {stock} is below the {row.reserved} reserved by pending requests", "stock"
    new = (item.name, item.points, stock, active)
    if (row.name, row.points, row.stock, row.active) == new:
        return "unchanged", None, ""
    row.name, row.points, row.stock, row.active = new  # type: ignore[assignment]
    row.updated_at = now()
    session.add(row)
    return "updated", None, ""


def import_catalog(
    *, session: Session, src: CsvInput, skip_invalid: bool, on_reject: RejectSink | None = None
) -> BatchSummary:
    run = Upserts("catalog import", src, on_reject)
    # Every item loaded once (a catalog is thousands of rows, not millions):
    # one query instead of one per row, which is what a server database feels.
    items = {i.sku: i for i in session.exec(select(CatalogItem)).scalars()}
    for record in src.records(REQUIRED, OPTIONAL):
        with run.row(record):
            values = parse_row(src, record, PARSERS, DEFAULTS)
            for column in OPTIONAL:  # a column left out keeps an existing item's value
                if column not in src.columns:
                    values[column] = KEEP
            item = ItemIn(**values)  # type: ignore[arg-type]
            stock = None if item.stock is KEEP else item.stock
            run.once(record, "sku", item.sku, (item.name, item.points, stock, item.active))
            outcome, problem, column = _apply(session, items, item)
            if problem:
                raise RowProblems([field_error(src, record, column, problem)])
            run.count(outcome)
    session.flush()
    return run.finish(skip_invalid=skip_invalid)


def _row(item: CatalogItem) -> dict:
    return {
        "sku": item.sku,
        "name": item.name,
        "points": item.points,
        "stock": item.stock,
        "reserved": item.reserved,
        "available": None if item.stock is None else item.stock - item.reserved,
        "active": item.active,
    }


def list_items(
    *, session: Session, search: str | None = None, max_points: int | None = None, all_items: bool = False
) -> list[dict]:
    """One query, ordered by name; only active items unless ``all_items``."""
    query = select(CatalogItem).order_by(CatalogItem.name, CatalogItem.sku)
    if not all_items:
        query = query.where(CatalogItem.active.is_(True))
    text = (search or "").strip().lower()
    if text:
        needle = like_needle(text)
        query = query.where(
            func.lower(CatalogItem.name).like(needle, escape="\\")
            | func.lower(CatalogItem.sku).like(needle, escape="\\")
        )
    if max_points is not None:
        query = query.where(CatalogItem.points <= max_points)
    items = session.exec(query).scalars()
    if not text.isascii():  # LIKE let any letter through where the text has å, ä, ö...: check them
        items = (i for i in items if text in i.name.lower() or text in i.sku.lower())
    return [_row(i) for i in items]


def like_needle(text: str) -> str:
    """``%text%`` for LIKE, taken literally: ``%``, ``_`` and ``\\`` are escaped.

    SQLite's lower() folds only A-Z, so each non-ASCII letter becomes ``_``
    (any one character) and the caller checks those matches in Python."""
    out = []
    for ch in text:
        if ch in "\\%_":
            out.append("\\" + ch)
        else:
            out.append(ch if ch.isascii() else "_")
    return "%" + "".join(out) + "%"


def find_item(session: Session, sku: str) -> CatalogItem:
    code = sku.strip().upper()
    item = session.exec(select(CatalogItem).where(CatalogItem.sku == code)).scalar()
    if item is None:
        raise NotFound(f"no catalog item with sku {code!r}", hint="`loyaltyctl catalog list` shows them")
    return item


def show(*, session: Session, sku: str) -> dict:
    return _row(find_item(session, sku))
