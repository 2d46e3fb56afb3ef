"""``loyaltyctl statements``: account statements as CSV, JSON, HTML or PDF files."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from ..output import say
from ._common import parse_date_opt, state

app = typer.Typer(help="Statements: every point's origin, per account and period.", no_args_is_help=True)


class DocFormat(StrEnum):
    csv = "csv"
    json = "json"
    html = "html"
    pdf = "pdf"


@app.command()
def export(
    ctx: typer.Context,
    out: Annotated[
        str,
        typer.Option(
            "--out", "-o", help="Output file (with --account), directory (without), or - for stdout."
        ),
    ],
    month: Annotated[str | None, typer.Option("--month", help="The period: a month, YYYY-MM.")] = None,
    date_from: Annotated[str | None, typer.Option("--from", help="Period start, YYYY-MM-DD.")] = None,
    date_to: Annotated[str | None, typer.Option("--to", help="Period end (inclusive), YYYY-MM-DD.")] = None,
    account: Annotated[
        str | None, typer.Option("--account", help="One account: a seller's email or a partner code.")
    ] = None,
    fmt: Annotated[
        DocFormat, typer.Option("--format", "-f", help="csv, json, html or pdf.", case_sensitive=False)
    ] = DocFormat.pdf,
    force: Annotated[bool, typer.Option("--force", help="Replace existing files.")] = False,
) -> None:
    """Export statements: opening balance, every posting, closing balance, held,
    available and the value in SEK.  Without --account: one file per account in
    the --out directory, plus an index."""
    from ..errors import UsageProblem
    from ..safe_files import OutDir, safe_name, write_file
    from ..services import statements as svc
    from ..statement_formats import RENDER, to_json_bytes

    start, end = svc.period(month, parse_date_opt(date_from, "--from"), parse_date_opt(date_to, "--to"))
    with state(ctx).database().session() as session:
        docs = svc.statements(session=session, date_from=start, date_to=end, ref=account)
    render = RENDER[fmt.value]
    stem = month or f"{start}_{end}"
    if account is not None:
        if len(docs) == 1 and out != "-":
            from pathlib import Path

            if Path(out).is_dir() and not Path(out).is_symlink():
                path = OutDir(out, force=force).write(
                    f"statement-{stem}-{safe_name(docs[0]['account'])}.{fmt.value}", render(docs[0])
                )
                say(f"wrote {path}")
                return
        if len(docs) == 1:
            written = write_file(out, render(docs[0]), force=force)
            if written:
                say(f"wrote {written}")
            return
        # A partner in individual mode: one statement per seller account.
        if out == "-":
            if fmt is not DocFormat.json:
                raise UsageProblem(
                    f"{account} has {len(docs)} accounts: --out - works with --format json only; "
                    "name a directory"
                )
            write_file("-", to_json_bytes(docs))
            return
    elif out == "-":
        if fmt is not DocFormat.json:
            raise UsageProblem(
                "without --account, --out names a directory (or use --format json with --out -)"
            )
        write_file("-", to_json_bytes(docs))
        return
    # Every file is staged first and published together: one fsync pass and one
    # directory fsync, not two fsyncs per file; a failure publishes nothing.
    with OutDir(out, force=force) as target:
        index = []
        for doc in docs:
            name = f"statement-{stem}-{safe_name(doc['account'])}.{fmt.value}"
            target.stage(name, render(doc))
            index.append(
                {
                    "account": doc["account"],
                    "holder": doc["holder"],
                    "partner": doc["partner"],
                    "file": name,
                    "opening_balance": doc["opening_balance"],
                    "closing_balance": doc["closing_balance"],
                }
            )
        index_name = _write_index(target, index, fmt.value, stem)
        target.publish()
    say(f"wrote {len(docs)} statements and {index_name} to {target.path}")


def _write_index(target, index: list[dict], fmt: str, stem: str) -> str:
    import html

    from ..output import csv_text
    from ..statement_formats import BOM, to_json_bytes

    cols = ["account", "holder", "partner", "file", "opening_balance", "closing_balance"]
    if fmt == "json":
        target.stage("index.json", to_json_bytes(index))
        return "index.json"
    if fmt == "html":
        e = html.escape
        rows = "".join(
            f'<tr><td><a href="{e(r["file"])}">{e(r["account"])}</a></td><td>{e(r["holder"])}</td>'
            f"<td>{e(r['partner'])}</td><td>{r['opening_balance']}</td><td>{r['closing_balance']}</td></tr>\n"
            for r in index
        )
        page = (
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>Statements {e(stem)}</title>"
            f"</head><body><h1>Statements {e(stem)}</h1><table><tr><th>account</th><th>holder</th>"
            f"<th>partner</th><th>opening</th><th>closing</th></tr>\n{rows}</table></body></html>\n"
        )
        target.stage("index.html", page.encode("utf-8"))
        return "index.html"
    target.stage("index.csv", (BOM + csv_text(index, cols)).encode("utf-8"))
    return "index.csv"
