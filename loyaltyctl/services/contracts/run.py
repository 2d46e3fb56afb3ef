"""One run of the contract import: the file in one streaming pass.

Rows are parsed one by one (``rows.Parser``) and gathered into chunks of
``chunk_rows`` rows (fewer when they came from ``HELD_BYTES`` of input); per
chunk the store looks up what it needs in a few statements (the rows met
earlier in the file, the stored contracts), the rows that differ are planned
(``plan.plan``) and the plan is written in bulk.  Partners,
sellers, accounts, rules and campaigns are loaded once.

Within one file a contract id's first valid row is the one that counts: a
later row of that id with the same values counts as unchanged, one with other
values is rejected (naming the first's line), wherever the chunks fall.
Rejected rows reach ``on_reject`` in file order.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from sqlalchemy import select, update
from sqlmodel import Session

from ...clock import now, today
from ...errors import Refused, RowError
from ...importers.csv_source import CsvInput, Record
from ...ledger import Ledger, new_batch
from ...models import Batch
from ..batch import BatchSummary, RejectSink
from ..earning import Earning
from .lookups import Lookups
from .plan import placer, plan
from .rows import REQUIRED, Parser
from .rule import Row
from .store import open_store

CHUNK_ROWS = 2000
# The rows a chunk holds (valid, repeated or rejected, each with its record)
# are bounded by the input they came from as well as by their number: 2 000
# rows with wide ignored columns (a line may be 1 MiB) would otherwise hold
# gigabytes.  The bytes read since the chunk began are counted
# (CsvInput.bytes_read), which costs nothing per row.
HELD_BYTES = 4 << 20
OUTCOMES = ("new", "credited", "reversed", "corrected", "updated", "unchanged")


def import_contracts(
    *,
    session: Session,
    src: CsvInput,
    actor: str,
    skip_invalid: bool,
    on_reject: RejectSink | None = None,
    chunk_rows: int = CHUNK_ROWS,
    command: str = "contracts import",
    reapply: bool = False,
) -> BatchSummary:
    """Import a contracts file (see ``rule`` for what a row earns).  Returns
    the summary; raises ``RowsRejected`` (after which the caller rolls back)
    when a row is invalid and ``skip_invalid`` is off, ``Refused`` when the
    file was imported before and would undo later changes (unless ``reapply``)."""
    run = _Import(session=session, src=src, actor=actor, on_reject=on_reject, command=command)
    for record in src.records(REQUIRED):
        run.take(record)
        if run.pending >= chunk_rows or src.bytes_read - run.chunk_from >= HELD_BYTES:
            run.flush()
    run.flush()
    return run.close(reapply=reapply, skip_invalid=skip_invalid)


class _Import:
    def __init__(
        self, *, session: Session, src: CsvInput, actor: str, on_reject: RejectSink | None, command: str
    ) -> None:
        self.session = session
        self.src = src
        self.actor = actor
        self.on_reject = on_reject
        self.command = command
        self.today = today()
        self.look = Lookups(session)
        self.earning = Earning.load(session)
        # The batch row is written with the first change: an import that
        # changes nothing writes nothing.
        self.ledger = Ledger(session, actor=actor, batch_id=None, booking_date=self.today)
        self.store = open_store(session, self.ledger, now())
        self.summary = BatchSummary(command, src.name, counts=dict.fromkeys(OUTCOMES, 0), posts_points=True)
        self.counts = self.summary.counts
        self.place = placer(self.look.account_for, self.earning.points)
        self.parse: Callable[[Record], Row | list[RowError]] | None = None  # once the header is read
        # The chunk being read: the first row of each contract id, later rows
        # of an id in this chunk (with that first row), rejected rows.
        self.chunk: dict[str, Row] = {}
        self.repeats: list[tuple[Row, Row]] = []
        self.rejects: list[tuple[Record, list[RowError]]] = []
        self.pending = 0
        self.chunk_from = 0  # src.bytes_read when the chunk began
        # batch that last changed a contract -> contracts this import changes again
        self.touched: dict[int, list[str]] = {}

    def take(self, record: Record) -> None:
        self.pending += 1  # counted into the summary's rows at flush
        parse = self.parse
        if parse is None:
            parse = self.parse = Parser(self.src, self.look, self.today).parse
        row = parse(record)
        if type(row) is list:
            self.rejects.append((record, row))
            return
        chunk = self.chunk
        first = chunk.get(row.contract_id)
        if first is None:
            chunk[row.contract_id] = row
        else:
            self.repeats.append((row, first))

    def flush(self) -> None:
        chunk = self.chunk
        if chunk:
            found = self.store.look_up(chunk)
            earlier, same, stored = found.earlier, found.same, found.stored
            differ = []
            unchanged = 0
            for cid, row in chunk.items():
                if earlier and cid in earlier:
                    self.repeated(row, *earlier[cid])
                elif cid in same:
                    unchanged += 1
                else:
                    differ.append((row, stored.get(cid)))
            self.counts["unchanged"] += unchanged
            for row, first in self.repeats:
                self.repeated(row, *earlier.get(row.contract_id, (first.record.line, first.signature())))
            if differ:
                self.write(differ)
        chunk.clear()
        self.repeats.clear()
        self.summary.rows += self.pending
        self.pending = 0
        self.chunk_from = self.src.bytes_read
        self.rejects.sort(key=lambda r: r[0].line)
        for record, errors in self.rejects:
            self.summary.reject(self.src, record, errors, self.on_reject)
        self.rejects.clear()

    def repeated(self, row: Row, line: int, signature: tuple) -> None:
        """A later row of a contract id first met on ``line``."""
        if signature == row.signature():
            self.counts["unchanged"] += 1
            return
        record = row.record
        self.rejects.append(
            (
                record,
                [
                    RowError(
                        self.src.name,
                        record.line,
                        self.src.column_of("contract_id"),
                        "contract_id",
                        f"contract {row.contract_id} appears on line {line} with other values",
                    )
                ],
            )
        )

    def batch(self) -> int:
        if self.summary.batch_id is None:
            self.summary.batch_id = self.ledger.batch_id = new_batch(
                self.session, command=self.command, actor=self.actor, source=self.src.name
            )
        return self.summary.batch_id

    def write(self, rows) -> None:
        done = plan(
            rows,
            place=self.place,
            email_of=self.look.seller_email.get,
            new_ids=iter(self.store.new_ids(sum(old is None for _, old in rows))),
            batch=self.batch,
        )
        for what, n in done.counts.items():
            self.counts[what] += n
        for row, error in done.rejected:
            self.rejects.append((row.record, [error]))
        self.store.unwritten([row for row, _ in done.rejected])
        for batch_id, cid in done.touched:
            self.touched.setdefault(batch_id, []).append(cid)
        self.store.write(done.new, done.changed)
        self.ledger.post_many(done.entries)

    def close(self, *, reapply: bool, skip_invalid: bool) -> BatchSummary:
        self.ledger.flush()
        summary = self.summary
        self.store.close(changed=summary.batch_id is not None)
        summary.start(self.src)
        summary.points_posted = self.ledger.posted_points
        _close_batch(self.session, summary, self.src, touched=self.touched, reapply=reapply)
        if self.src.encoding_used == "cp1252" and not self.src.encoding:
            summary.notes.append("the file is not UTF-8: read as Windows-1252 (Excel's ANSI CSV)")
        return summary.finish(skip_invalid=skip_invalid)


def _close_batch(
    session: Session, summary: BatchSummary, src: CsvInput, *, touched: dict[int, list[str]], reapply: bool
) -> None:
    """Record the file's digest and summary; note an identical earlier file.

    Re-running a file imported before is harmless, but only while nothing
    newer came in: if it would change contracts that a *later* batch changed
    (a cancellation that came after it, say), it would turn the clock back.
    That is refused unless ``reapply``.
    """
    earlier = (
        session.exec(
            select(Batch.id, Batch.started_at)
            .where(Batch.source_sha256 == src.sha256, Batch.command == summary.command)
            .order_by(Batch.id.desc())
            .limit(1)
        ).first()
        if src.sha256
        else None
    )
    if earlier is not None and summary.changed and not reapply:
        later = sorted(cid for bid, cids in touched.items() if bid > earlier.id for cid in cids)
        if later:
            shown = ", ".join(later[:5]) + (f" and {len(later) - 5} more" if len(later) > 5 else "")
            raise Refused(
                f"{src.name} was imported before (batch {earlier.id}, {earlier.started_at:%Y-%m-%d %H:%M}); "
                f"since then later imports changed {len(later)} of its contracts ({shown}), "
                "and importing it again would undo those changes; nothing was written",
                hint="import the newest file instead, or pass --reapply to re-apply this one",
            )
    if earlier is not None and not summary.changed:
        summary.notes.append(
            f"this file was imported before (batch {earlier.id}, {earlier.started_at:%Y-%m-%d %H:%M})"
        )
    if summary.batch_id is not None:
        session.exec(
            update(Batch)
            .where(Batch.id == summary.batch_id)
            .values(
                source_sha256=src.sha256,
                summary=json.dumps({k: v for k, v in summary.as_dict().items() if k != "errors"}),
            )
        )
