"""The one place questionary is used (imported lazily, so ``--help`` stays
fast).  Tests can replace these functions; the real thing is tested through a
pseudo-terminal."""

from __future__ import annotations

import sys


def interactive() -> bool:
    """A person at a terminal: stdin and stdout both TTYs."""
    try:
        return sys.stdin.isatty() and sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


def choose(message: str, choices: list[tuple[str, str]]) -> str | None:
    """Pick one of (key, label); the key is also the shortcut.  None: interrupted."""
    import questionary

    return questionary.select(
        message,
        choices=[questionary.Choice(label, value=key, shortcut_key=key) for key, label in choices],
        use_shortcuts=True,
    ).ask()


def ask_text(message: str) -> str | None:
    """A line of text; None when interrupted."""
    import questionary

    return questionary.text(message).ask()
