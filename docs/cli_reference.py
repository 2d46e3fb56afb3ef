"""The generated parts of docs/commands.md, written by cog (``make docs``).

Everything here is read from the command tree itself (typer's click objects:
every command, argument and option with its help, default, env var and
whether it is required) and from ``loyaltyctl.errors.EXIT_CODES``.  A command,
option or exit code that changes without ``make docs`` fails the test suite
(tests/test_docs.py), naming the command to run.
"""

from __future__ import annotations

import html
import inspect
import re
from enum import Enum

import typer

from loyaltyctl.cli import app
from loyaltyctl.errors import EXIT_CODES

PROG = "loyaltyctl"


def _text(value: str) -> str:
    """Help text as Markdown: paragraphs kept, lines joined, HTML escaped outside `code`."""
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", inspect.cleandoc(value or ""))]
    out = []
    for p in paragraphs:
        parts = p.split("`")
        out.append("`".join(html.escape(x, quote=False) if i % 2 == 0 else x for i, x in enumerate(parts)))
    return "\n\n".join(x for x in out if x)


def _default(param) -> str | None:
    if isinstance(param.show_default, str):
        return param.show_default
    value = param.default
    if value is None or param.required or getattr(param, "hidden", False):
        return None
    if getattr(param, "is_flag", False):
        if param.secondary_opts:  # --consent/--no-consent
            return (param.opts if value else param.secondary_opts)[-1]
        return None  # a plain flag is off unless given
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, list | tuple):
        return " ".join(str(v) for v in value) if value else None
    return str(value)


def _param(param, ctx) -> str:
    signature = param.get_help_record(ctx)[0]
    facts = []
    if param.required:
        facts.append("required")
    default = _default(param)
    if default is not None:
        facts.append(f"default `{default}`")
    envvar = param.envvar
    if envvar:
        names = [envvar] if isinstance(envvar, str) else list(envvar)
        facts.append("env var " + ", ".join(f"`{n}`" for n in names))
    line = f"- `{signature}`"
    if facts:
        line += f" ({'; '.join(facts)})"
    help_text = _text(param.help or "")
    return line + (f": {help_text}" if help_text else "")


def _command(path: list[str], cmd, ctx) -> list[str]:
    name = " ".join(path)
    lines = [f"### {name}", "", _text(cmd.help or ""), ""]
    usage = " ".join([PROG, *path, *cmd.collect_usage_pieces(ctx)])
    lines += ["```text", usage, "```", ""]
    params = [p for p in cmd.params if not getattr(p, "hidden", False)]
    if params:
        lines += [_param(p, ctx) for p in params] + [""]
    return lines


def _walk(group, path: list[str], parent_ctx):
    for name, cmd in group.commands.items():
        ctx = typer.Context(cmd, info_name=name, parent=parent_ctx)
        yield [*path, name], cmd, ctx
        if hasattr(cmd, "commands"):
            yield from _walk(cmd, [*path, name], ctx)


def commands() -> str:
    """Every command, in the order ``loyaltyctl --help`` lists them."""
    root = typer.main.get_command(app)
    root_ctx = typer.Context(root, info_name=PROG)
    lines = ["## Global options", "", f"These go before the command: `{PROG} [OPTIONS] COMMAND ...`.", ""]
    lines += [_param(p, root_ctx) for p in root.params] + [""]
    for path, cmd, ctx in _walk(root, [], root_ctx):
        if hasattr(cmd, "commands"):
            lines += [f"## {' '.join(path)}", "", _text(cmd.help or ""), ""]
            subs = ", ".join(f"[{path[-1]} {n}](#{'-'.join([*path, n])})" for n in cmd.commands)
            lines += [f"Commands: {subs}.", ""]
        else:
            lines += _command(path, cmd, ctx)
    return _block(lines)


def _block(lines: list[str]) -> str:
    """A generated block, set off by blank lines from cog's comment markers."""
    return "\n" + "\n".join(lines).strip("\n") + "\n\n"


def exit_codes() -> str:
    """The table of exit codes, from ``loyaltyctl.errors.EXIT_CODES``."""
    lines = ["| code | meaning |", "| --- | --- |"]
    lines += [f"| {code} | {meaning} |" for code, meaning in sorted(EXIT_CODES.items())]
    return _block(lines)
