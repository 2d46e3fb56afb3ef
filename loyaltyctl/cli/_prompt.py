"""The one place questionary is used (imported lazily, so ``--help`` stays
fast).  Tests can replace these functions; the real thing is tested through a
pseudo-terminal.

Two promises hold for every prompt:

* **Only keys pressed while it is shown answer it.**  Keys typed before (a
  reason typed on after an Enter, a key pressed twice) are thrown away when the
  prompt appears: those still waiting in the terminal (``tcflush``) and those
  prompt_toolkit already read along with the previous answer (its typeahead
  store, which would otherwise feed them to the next prompt).
* **Ctrl-C is an interrupt**, never an answer: it raises ``KeyboardInterrupt``
  (exit 130), where questionary's ``ask()`` would print "Cancelled" and return
  None.
"""

from __future__ import annotations

import sys


def interactive() -> bool:
    """A person at a terminal: stdin and stdout both TTYs."""
    try:
        return sys.stdin.isatty() and sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


def _forget_typed_ahead() -> None:
    """Throw away every key pressed before the prompt that follows."""
    import termios

    from prompt_toolkit.input import create_input
    from prompt_toolkit.input.typeahead import clear_typeahead

    try:
        termios.tcflush(sys.stdin.fileno(), termios.TCIFLUSH)
    except (termios.error, OSError, ValueError):  # not a terminal: nothing typed ahead to lose
        return
    clear_typeahead(create_input())


def _ask(question):
    """Run a questionary question: EOF (Ctrl-D) counts as an interrupt too."""
    try:
        return question.unsafe_ask()
    except EOFError:
        raise KeyboardInterrupt from None


def choose(message: str, choices: list[tuple[str, str]]) -> str:
    """Pick one of (key, label); the key is also the shortcut."""
    import questionary

    _forget_typed_ahead()
    return _ask(
        questionary.select(
            message,
            choices=[questionary.Choice(label, value=key, shortcut_key=key) for key, label in choices],
            use_shortcuts=True,
        )
    )


def ask_text(message: str) -> str:
    """A line of text."""
    import questionary

    _forget_typed_ahead()
    return _ask(questionary.text(message))


def confirm(message: str) -> bool:
    """Yes or no; Enter alone is no."""
    import questionary

    _forget_typed_ahead()
    return bool(_ask(questionary.confirm(message, default=False)))
