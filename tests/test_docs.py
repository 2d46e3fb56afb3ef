"""The documentation is part of the product, and cannot drift from the code.

* The generated parts of docs/ (every command, argument, option, default, env
  var, and the exit codes) match the code: ``make docs`` would change nothing.
* The site builds with ``mkdocs build --strict`` (links and anchors exist), and
  the README's links into docs/ land on pages and anchors that exist.
* Every command has help and prose; every option, ``db check`` check, rule and
  environment variable named in the code is documented, and every option named
  in the documentation exists.
* The README is short, and lists exactly the dependencies of pyproject.toml.
* The shell examples run on the demo database (see docs/development.md for the
  conventions: ``console`` blocks are compared, ``sh`` blocks must exit 0,
  ``<!-- norun: reason -->`` marks the others, whose command lines must still parse).
"""

from __future__ import annotations

import difflib
import fcntl
import html.parser
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import typer
from conftest import ROOT
from typer.testing import CliRunner

from loyaltyctl.cli import app

README = ROOT / "README.md"
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))
DOCUMENTS = [README, *PAGES]
ROOT_CMD = typer.main.get_command(app)

# What tests/conftest.py pins and the demo pins: the examples read as of this day.
DEMO_TODAY = "2026-11-22"
UPDATE = os.environ.get("LOYALTYCTL_DOCS_UPDATE", "") not in ("", "0")

# The checks here read files and the command tree only: no database is involved.
pytestmark = pytest.mark.backend_independent("documentation: files and the command tree, no database")


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def _commands(group, prefix=()):
    for name, cmd in group.commands.items():
        path = (*prefix, name)
        if hasattr(cmd, "commands"):
            yield from _commands(cmd, path)
        else:
            yield " ".join(path), cmd


COMMANDS = list(_commands(ROOT_CMD))


# -- the README ------------------------------------------------------------------------------------


def test_readme_opens_with_demo_and_test():
    first_block = README.read_text(encoding="utf-8").split("```", 2)[1]
    assert "make demo" in first_block and "make test" in first_block


def test_readme_is_read_in_ten_minutes():
    lines = README.read_text(encoding="utf-8").count("\n")
    assert lines <= 400, f"README.md has {lines} lines: move reference material into docs/ (at most 400)"


def _dependency_names(specs: list[str]) -> set[str]:
    names = set()
    for spec in specs:
        name = re.match(r"[A-Za-z0-9_.-]+", spec).group(0).lower().replace("_", "-")
        if name != "loyaltyctl":  # the dev extra pulls in the postgres extra by name
            names.add(name)
    return names


def test_the_readme_lists_exactly_the_dependencies_with_their_reasons():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = {"running": _dependency_names(project["dependencies"])}
    for extra, specs in project["optional-dependencies"].items():
        wanted["development" if extra == "dev" else f"`[{extra}]`"] = _dependency_names(specs)
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Dependencies\n", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| ([^|]+?) \| ([^|]+?) \| ([^|]*?) \|$", section, flags=re.M)
    listed: dict[str, set[str]] = {}
    for name, needed, why in rows[2:] if rows and rows[0][0] == "package" else rows:
        assert why.strip(), f"README.md, Dependencies: {name} has no reason"
        listed.setdefault(needed, set()).add(name.strip().lower())
    assert listed == wanted, "README.md's Dependencies table does not match pyproject.toml"


# -- the generated reference -----------------------------------------------------------------------

COGGED = [p for p in DOCUMENTS if "[[[cog" in p.read_text(encoding="utf-8")]


def test_the_reference_is_generated():
    assert DOCS / "commands.md" in COGGED


@pytest.mark.parametrize("path", COGGED, ids=rel)
def test_generated_docs_match_the_code(path, monkeypatch):
    from cogapp import Cog

    monkeypatch.syspath_prepend(str(DOCS))
    old = path.read_text(encoding="utf-8")
    new = Cog().process_string(old, fname=str(path))
    if new != old:
        diff = "".join(
            difflib.unified_diff(
                old.splitlines(True), new.splitlines(True), f"{rel(path)} (committed)", "from the code", n=1
            )
        )
        pytest.fail(f"{rel(path)} no longer matches the code: run `make docs` and commit it\n{diff}")


@pytest.mark.parametrize("path,cmd", COMMANDS, ids=[p for p, _ in COMMANDS])
def test_command_has_help(path, cmd):
    assert (cmd.help or "").strip(), f"`loyaltyctl {path}` has no help text"


HAND_WRITTEN = "\n".join(p.read_text(encoding="utf-8") for p in PAGES if p.name != "commands.md")


@pytest.mark.parametrize("path,cmd", COMMANDS, ids=[p for p, _ in COMMANDS])
def test_command_is_described_in_a_topic_page(path, cmd):
    assert re.search(rf"`(loyaltyctl )?{re.escape(path)}\b", HAND_WRITTEN), (
        f"`loyaltyctl {path}` is in the generated reference but no page of docs/ says what it is for"
    )


def test_every_exit_code_has_its_meaning():
    from loyaltyctl import errors

    constants = {v for k, v in vars(errors).items() if k.startswith("EXIT_") and isinstance(v, int)}
    assert set(errors.EXIT_CODES) == constants
    assert all(meaning.strip() for meaning in errors.EXIT_CODES.values())
    family = [errors.LoyaltyError]
    while family:
        cls = family.pop()
        assert cls.exit_code in errors.EXIT_CODES, f"{cls.__name__} exits {cls.exit_code}: not in EXIT_CODES"
        family.extend(cls.__subclasses__())


def _options() -> set[str]:
    names = set()

    def walk(cmd):
        for param in cmd.params:
            names.update(o for o in [*param.opts, *param.secondary_opts] if o.startswith("--"))
        for sub in getattr(cmd, "commands", {}).values():
            walk(sub)

    walk(ROOT_CMD)
    return names | {"--help"}


# Options of other programs that the documentation names: pg_dump, mkdocs, pytest,
# and the scripts in benchmarks/ (make bench BENCH=..., make stress).
OTHER_PROGRAMS = {"--format=custom", "--strict", "--durations", "--dist"} | {
    "--rows",
    "--repeat",
    "--quick",
    "--all-individual",
    "--postgres",
    "--keep",
    "--kills",
    "--seed",
}


def test_every_option_the_documentation_names_exists():
    known = _options()
    named = {}
    for path in DOCUMENTS:
        for match in re.finditer(r"(?<![\w-])--[a-z][a-z0-9-]*(=[a-z]+)?", path.read_text(encoding="utf-8")):
            named.setdefault(match.group(0), rel(path))
    unknown = {o: where for o, where in named.items() if o not in known and o not in OTHER_PROGRAMS}
    assert not unknown, f"options named in the documentation that no command has: {unknown}"


def _table_keys(page: str) -> set[str]:
    return set(re.findall(r"^\| `([a-z_0-9]+)` \|", (DOCS / page).read_text(encoding="utf-8"), flags=re.M))


def test_every_db_check_is_described():
    from loyaltyctl.services.dbadmin import CHECKS

    missing = {name for name, _, _ in CHECKS} - _table_keys("ledger.md")
    assert not missing, f"db check's checks without a row in docs/ledger.md's table: {missing}"


def test_every_rule_is_described():
    from loyaltyctl.services.rules import RULES

    described = _table_keys("points.md") | _table_keys("engagement.md")
    assert set(RULES) <= described, (
        f"rules without a row in docs/points.md or engagement.md: {set(RULES) - described}"
    )


def test_every_environment_variable_the_code_reads_is_in_the_reference():
    source = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "loyaltyctl").rglob("*.py"))
    used = set(re.findall(r"LOYALTYCTL_[A-Z_]+", source))
    reference = (DOCS / "commands.md").read_text(encoding="utf-8").split("## Environment variables", 1)[1]
    documented = set(re.findall(r"^\| `(LOYALTYCTL_[A-Z_]+)` \|", reference, flags=re.M))
    assert used <= documented, f"not in docs/commands.md's Environment variables: {used - documented}"


# -- the site and its links ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, f"mkdocs build --strict failed:\n{done.stderr}"
    return out


def _built(site: Path, stem: str) -> Path:
    return site / "index.html" if stem == "index" else site / stem / "index.html"


def test_the_site_builds_strict_with_every_page(site):
    for page in PAGES:
        assert _built(site, page.stem).is_file(), f"{rel(page)} is not in the built site"
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    assert all(f": {p.name}" in nav for p in PAGES), "a page of docs/ is missing from mkdocs.yml's nav"


class _Ids(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        self.ids.update(v for k, v in attrs if k == "id" and v)


def _github_slug(heading: str) -> str:
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("`", ""))
    return text.replace(" ", "-")


def test_the_readme_links_land_on_pages_and_anchors_that_exist(site):
    text = README.read_text(encoding="utf-8")
    own = {_github_slug(h) for h in re.findall(r"^#+ (.+)$", text, flags=re.M)}
    links = re.findall(r"\]\(([^)\s]+)\)", text)
    assert any(link.startswith("docs/") for link in links)
    for link in links:
        if link.startswith(("http://", "https://")):
            continue
        target, _, anchor = link.partition("#")
        if not target:
            assert anchor in own, f"README.md links to #{anchor}, which is no heading of its own"
            continue
        assert target.startswith("docs/") and target.endswith(".md"), f"README.md links to {link}"
        assert (ROOT / target).is_file(), f"README.md links to {target}, which does not exist"
        page = _built(site, Path(target).stem)
        assert page.is_file(), f"{target} is not in the built site"
        if anchor:
            ids = _Ids()
            ids.feed(page.read_text(encoding="utf-8"))
            assert anchor in ids.ids, f"README.md links to {link}: no such anchor on that page"


# -- the shell examples ----------------------------------------------------------------------------

RUN_LANGUAGES = {"sh", "console"}
SHELL_LANGUAGES = RUN_LANGUAGES | {"cron"}
NORUN = re.compile(r"^\s*<!-- norun: (.+?) -->\s*$")


@dataclass
class Block:
    path: Path
    line: int  # of the opening fence, 1-based
    language: str
    body: list[str]
    norun: str | None
    end: int = 0  # of the closing fence, 1-based
    indent: str = ""

    @property
    def where(self) -> str:
        return f"{rel(self.path)}:{self.line}"


def blocks(path: Path) -> list[Block]:
    lines = path.read_text(encoding="utf-8").splitlines()
    found, i = [], 0
    while i < len(lines):
        m = re.match(r"^(\s*)```(\S*)\s*$", lines[i])
        if not m:
            i += 1
            continue
        indent, language = m.groups()
        before = next((ln for ln in reversed(lines[:i]) if ln.strip()), "")
        norun = NORUN.match(before)
        j = i + 1
        while j < len(lines) and lines[j].strip() != "```":
            j += 1
        body = [ln[len(indent) :] if ln.startswith(indent) else ln for ln in lines[i + 1 : j]]
        found.append(Block(path, i + 1, language, body, norun.group(1) if norun else None, j + 1, indent))
        i = j + 1
    return found


ALL_BLOCKS = [b for p in DOCUMENTS for b in blocks(p)]


def test_every_code_block_names_its_language_and_shell_blocks_say_whether_they_run():
    for b in ALL_BLOCKS:
        assert b.language, f"{b.where}: a code block without a language (```sh, ```console, ```text, ...)"
        if b.language == "cron":
            assert b.norun, f"{b.where}: a crontab block needs <!-- norun: reason --> before it"
        if b.language in ("bash", "shell"):
            pytest.fail(f"{b.where}: write ```sh (run, or marked norun) or ```console")
    assert sum(b.language in RUN_LANGUAGES and not b.norun for b in ALL_BLOCKS) >= 20


@dataclass
class Command:
    line: int
    text: str
    expected: list[str] = field(default_factory=list)


def console_commands(b: Block) -> list[Command]:
    commands: list[Command] = []
    for offset, ln in enumerate(b.body, start=b.line + 1):
        if ln.startswith("$ "):
            commands.append(Command(offset, ln[2:]))
        else:
            assert commands, f"{b.where}: a console block starts with `$ command`"
            commands[-1].expected.append(ln)
    return commands


def command_lines(b: Block) -> list[tuple[int, str]]:
    if b.language == "console":
        return [(c.line, c.text) for c in console_commands(b)]
    return [
        (n, ln)
        for n, ln in enumerate(b.body, start=b.line + 1)
        if ln.strip() and not ln.lstrip().startswith("#")
    ]


def loyaltyctl_args(line: str) -> list[list[str]]:
    """The arguments of every loyaltyctl call on a shell line (``$(...)`` taken as one word)."""
    while re.search(r"\$\([^()]*\)", line):
        line = re.sub(r"\$\([^()]*\)", "X", line)
    line = re.sub(r"(?<=\s)[0-9]+(?=>)", "", line)  # 2>/dev/null: the 2 names a descriptor, not an argument
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    words, calls, current = list(lexer), [], None
    for w in words:
        if current is not None:
            if w and set(w) <= set("|&;<>()"):
                calls.append(current)
                current = None
            else:
                current.append(w)
        elif w == "loyaltyctl" or w.endswith("/loyaltyctl"):
            current = []
    if current is not None:
        calls.append(current)
    return calls


def parse_error(args: list[str]) -> str | None:
    """Why the command line would not parse (unknown command or option, a bad or missing value)."""
    help_run = CliRunner().invoke(app, [*args, "--help"])
    if help_run.exit_code != 0:
        text = re.sub(r"[\u2500-\u257f]", "", help_run.stderr or help_run.stdout)  # a rich box, if any
        return " ".join(ln.strip() for ln in text.splitlines() if ln.strip() and "Usage:" not in ln)
    i, cmd = 0, ROOT_CMD
    while i < len(args) and args[i].startswith("-"):
        i += 2 if args[i] in ("--db", "--actor") else 1
    names = []
    while hasattr(cmd, "commands") and i < len(args) and args[i] in cmd.commands:
        cmd = cmd.commands[args[i]]
        names.append(args[i])
        i += 1
    if hasattr(cmd, "commands") or {"--help", "-h", "--version"} & set(args):
        return None
    try:
        cmd.make_context(" ".join(["loyaltyctl", *names]), list(args[i:]))
    except Exception as exc:  # a click usage error, or loyaltyctl's own for a bad value
        return f"{type(exc).__name__}: {getattr(exc, 'message', None) or exc}"
    return None


@pytest.mark.parametrize("path", DOCUMENTS, ids=rel)
def test_every_loyaltyctl_line_in_the_documentation_parses(path):
    """Also the examples that do not run (a server, cron): their commands and options exist."""
    problems = []
    for b in blocks(path):
        if b.language not in SHELL_LANGUAGES:
            continue
        for line, text in command_lines(b):
            for args in loyaltyctl_args(text):
                why = parse_error(args)
                if why:
                    problems.append(f"{rel(path)}:{line}: loyaltyctl {shlex.join(args)}: {why}")
    assert not problems, "\n".join(problems)


@pytest.fixture(scope="session")
def demo(tmp_path_factory) -> Path:
    """The demo database, built by sample_data/demo.sh as `make demo` builds it:
    once per test run, shared by the xdist workers (a file lock in the run's
    base directory; xdist's own grouping is not relied on, see
    pytest-dev/pytest-xdist#1386)."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # the directory the workers of this run share
    out, built = base / "demo", base / "demo.built"
    with open(base / "demo.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not built.exists():
            env = _example_env()
            env.pop("LOYALTYCTL_DB")
            env.pop("LOYALTYCTL_TODAY")  # demo.sh pins its own
            done = subprocess.run(
                ["sh", str(ROOT / "sample_data" / "demo.sh"), str(out)],
                env=env,
                capture_output=True,
                text=True,
                timeout=600,
            )
            assert done.returncode == 0, (
                f"sample_data/demo.sh failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
            )
            assert "ok   balances:" in done.stdout and "== Where to go next" in done.stdout
            assert "docs/" in done.stdout.split("== Where to go next", 1)[1]
            built.write_text(done.stdout)
    return out


def _example_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOYALTYCTL_", "PYTEST_", "COLUMNS"))}
    env.update(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        LOYALTYCTL_DB="demo/loyalty.db",
        LOYALTYCTL_TODAY=DEMO_TODAY,
        LOYALTYCTL_ACTOR="demo",
        PYTHONUNBUFFERED="1",  # stdout and stderr in the order written, as on a terminal
        NO_COLOR="1",
    )
    return env


RUNNABLE = [p for p in DOCUMENTS if any(b.language in RUN_LANGUAGES and not b.norun for b in blocks(p))]


def _normalise(lines: list[str]) -> list[str]:
    out = [ln.rstrip() for ln in lines]
    while out and not out[-1]:
        out.pop()
    return out


def _matches(documented: str, printed: str) -> bool:
    """Equal, or equal where the documented line has `...` (a wall-clock time, say)."""
    if "..." not in documented:
        return documented == printed
    pattern = ".*".join(re.escape(part) for part in documented.split("..."))
    return re.fullmatch(pattern, printed) is not None


def _merge(documented: list[str], printed: list[str]) -> list[str] | None:
    """What the page should say: the documented lines where they match, else None."""
    if len(documented) != len(printed):
        return None
    if all(_matches(d, p) for d, p in zip(documented, printed, strict=True)):
        return documented
    return None


@pytest.mark.slow
@pytest.mark.parametrize("path", RUNNABLE, ids=rel)
def test_the_examples_run_on_the_demo_database(path, demo, tmp_path):
    """Each page's examples, in order, on its own copy of the demo database."""
    work = tmp_path / "project"
    (work / "demo").mkdir(parents=True)
    shutil.copyfile(demo / "loyalty.db", work / "demo" / "loyalty.db")
    (work / "sample_data").symlink_to(ROOT / "sample_data")
    # `. .venv/bin/activate`, as after `make demo`: this interpreter's environment.
    if (Path(sys.prefix) / "bin" / "activate").is_file():
        (work / ".venv").symlink_to(sys.prefix)
    else:
        (work / ".venv" / "bin").mkdir(parents=True)
        (work / ".venv" / "bin" / "activate").write_text(f'PATH="{Path(sys.executable).parent}:$PATH"\n')
    env = _example_env()
    env["XDG_DATA_HOME"] = str(tmp_path / "xdg")

    def run(script: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["sh", "-c", script],
            cwd=work,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=300,
        )

    problems, updates = [], {}
    for b in blocks(path):
        if b.language not in RUN_LANGUAGES or b.norun:
            continue
        if b.language == "sh":
            done = run("set -e\n" + "\n".join(b.body))
            if done.returncode != 0:
                problems.append(f"{b.where}: the block exited {done.returncode}:\n{done.stdout[-2000:]}")
            continue
        body = []
        for c in console_commands(b):
            done = run(c.text)
            got = _normalise(done.stdout.splitlines())
            same = _merge(_normalise(c.expected), got)
            body += [f"$ {c.text}", *(same or got)]
            if done.returncode != 0:
                problems.append(f"{rel(path)}:{c.line}: `{c.text}` exited {done.returncode}:\n{done.stdout}")
            elif same is None and not UPDATE:
                diff = "\n".join(
                    difflib.unified_diff(_normalise(c.expected), got, "documented", "printed", lineterm="")
                )
                problems.append(f"{rel(path)}:{c.line}: `{c.text}` printed something else:\n{diff}")
        updates[b.line] = (b, body)
    if UPDATE and updates:
        lines = path.read_text(encoding="utf-8").splitlines()
        for b, body in sorted(updates.values(), key=lambda u: -u[0].line):
            lines[b.line : b.end - 1] = [b.indent + ln if ln else ln for ln in body]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert not problems, "\n\n".join(problems)
