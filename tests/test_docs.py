"""The README is part of the product: every command must have help text and be
documented there, and the README must open with the two set-up commands."""

from __future__ import annotations

import re

import pytest
import typer
from conftest import ROOT

from loyaltyctl.cli import app

README = (ROOT / "README.md").read_text(encoding="utf-8")


def _commands(group, prefix=()):
    for name, cmd in sorted(group.commands.items()):
        path = (*prefix, name)
        if hasattr(cmd, "commands"):
            yield from _commands(cmd, path)
        else:
            yield " ".join(path), cmd


COMMANDS = list(_commands(typer.main.get_command(app)))


def test_readme_opens_with_demo_and_test():
    first_block = README.split("```", 2)[1]
    assert "make demo" in first_block and "make test" in first_block


@pytest.mark.parametrize("path,cmd", COMMANDS, ids=[p for p, _ in COMMANDS])
def test_command_has_help(path, cmd):
    assert (cmd.help or "").strip(), f"`loyaltyctl {path}` has no help text"


@pytest.mark.parametrize("path,cmd", COMMANDS, ids=[p for p, _ in COMMANDS])
def test_command_is_in_readme(path, cmd):
    assert re.search(rf"`(loyaltyctl )?{re.escape(path)}\b", README), (
        f"`loyaltyctl {path}` is not documented in README.md"
    )


def test_every_exit_code_is_documented():
    from loyaltyctl import errors

    codes = {v for k, v in vars(errors).items() if k.startswith("EXIT_")}
    table = re.findall(r"^\| (\d+) \|", README, flags=re.M)
    assert codes <= {int(c) for c in table}
