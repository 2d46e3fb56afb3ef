"""Shared fixtures.  No test can touch a real database: LOYALTYCTL_DB always
points at the test's own database, and "today" is pinned.

Every test runs twice, once per backend (``test_x[sqlite]``, ``test_x[postgresql]``):

* sqlite: a new file in the test's tmp dir.
* postgresql: ``$LOYALTYCTL_TEST_POSTGRES_URL`` names a server (and a database to
  connect to for administration, e.g. ``postgresql+psycopg://postgres@127.0.0.1/postgres``).
  Each pytest process (each xdist worker) builds one database there, migrated
  once, and empties it before every test (every table's rows deleted, every id
  sequence reset, in one transaction: ~15 ms, where CREATE DATABASE ... TEMPLATE
  plus DROP DATABASE costs 0.1-3 s because DROP forces a checkpoint).  A test
  that changed the schema itself gets a freshly created database instead.
  Without the variable the PostgreSQL half is skipped, with the reason shown by
  ``-ra``; with ``LOYALTYCTL_REQUIRE_POSTGRES=1`` (``.ci/run``) a missing
  variable or server fails the run instead.

A test about SQLite files (bytes on disk, file modes, PRAGMAs, VACUUM INTO
backups, kill -9 of a SQLite writer) is marked ``@pytest.mark.sqlite_only(reason)``
and runs on SQLite alone.  A test of what happens before any database is
involved (the CSV reading layer: encodings, quotes, NUL bytes, field parsers)
is marked ``backend_independent`` and runs once, on SQLite: the PostgreSQL half
would run the same code again.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from typer.testing import CliRunner

from loyaltyctl.cli import app
from loyaltyctl.db import Database, resolve_url

TODAY = "2026-11-22"
ROOT = Path(__file__).resolve().parent.parent

# `make test-fast` sets LOYALTYCTL_TEST_BACKENDS=sqlite: the PostgreSQL half is
# deselected (not even skipped), whatever LOYALTYCTL_TEST_POSTGRES_URL says.
SQLITE_ONLY = os.environ.get("LOYALTYCTL_TEST_BACKENDS", "").strip() == "sqlite"
PG_URL = "" if SQLITE_ONLY else os.environ.get("LOYALTYCTL_TEST_POSTGRES_URL", "").strip()
REQUIRE_PG = not SQLITE_ONLY and os.environ.get("LOYALTYCTL_REQUIRE_POSTGRES", "") not in ("", "0")
PG_SKIP = (
    "PostgreSQL not used: LOYALTYCTL_TEST_BACKENDS=sqlite (make test-fast)"
    if SQLITE_ONLY
    else "PostgreSQL half skipped: set LOYALTYCTL_TEST_POSTGRES_URL "
    "(e.g. postgresql+psycopg://postgres@127.0.0.1:5432/postgres) to run it"
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "sqlite_only(reason): a test about SQLite files or PRAGMAs; runs on SQLite alone"
    )
    config.addinivalue_line(
        "markers", "postgresql_only(reason): a test about PostgreSQL itself; runs on PostgreSQL alone"
    )
    config.addinivalue_line(
        "markers",
        "backend_independent(reason): what it tests happens before any database is involved "
        "(the CSV reading layer, field parsers); runs once, on SQLite",
    )
    if REQUIRE_PG and not PG_URL:
        raise pytest.UsageError("LOYALTYCTL_REQUIRE_POSTGRES=1 but LOYALTYCTL_TEST_POSTGRES_URL is not set")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        names = ["sqlite", "postgresql"]
        if metafunc.definition.get_closest_marker("sqlite_only") or metafunc.definition.get_closest_marker(
            "backend_independent"
        ):
            names = ["sqlite"]
        elif metafunc.definition.get_closest_marker("postgresql_only"):
            names = ["postgresql"]
        metafunc.parametrize("backend", names, indirect=True, scope="session")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if SQLITE_ONLY:
        pg = [
            i
            for i in items
            if getattr(i, "callspec", None) and i.callspec.params.get("backend") == "postgresql"
        ]
        if pg:
            config.hook.pytest_deselected(items=pg)
            items[:] = [i for i in items if i not in set(pg)]
        return
    if PG_URL:
        return
    # A skip mark (not a skip inside a fixture): -ra folds these to one line per file.
    skip = pytest.mark.skip(reason=PG_SKIP)
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("backend") == "postgresql":
            item.add_marker(skip)


def pytest_report_header(config: pytest.Config) -> str:
    if SQLITE_ONLY:
        return "backends: sqlite only (LOYALTYCTL_TEST_BACKENDS=sqlite: the PostgreSQL half is deselected)"
    return "backends: sqlite, " + (
        "postgresql (LOYALTYCTL_TEST_POSTGRES_URL)" if PG_URL else "postgresql SKIPPED"
    )


# -- PostgreSQL ---------------------------------------------------------------------------


class PgServer:
    """One pytest process's databases on the test server: a migrated template
    (``<base>_tmpl``) and the database the tests use (``<base>``)."""

    def __init__(self, url: str) -> None:
        from sqlalchemy.engine import make_url

        self.admin = make_url(resolve_url(url))
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        self.base = f"lct_{os.getpid()}_{worker}".lower()
        self.template = self.base + "_tmpl"
        self.url = self.url_of(self.base)
        self.fresh_count = 0
        self._fresh: list[str] = []
        self._empty: Snapshot | None = None
        self._fingerprint: tuple | None = None

    def url_of(self, name: str) -> str:
        return self.admin.set(database=name).render_as_string(hide_password=False)

    def connect(self, name: str | None = None, autocommit: bool = True):
        import psycopg

        u = self.admin if name is None else self.admin.set(database=name)
        return psycopg.connect(
            host=u.host or "",
            port=u.port or 5432,
            user=u.username or "",
            password=u.password or "",
            dbname=u.database or "",
            autocommit=autocommit,
            connect_timeout=10,
        )

    def start(self) -> None:
        with self.connect() as con:
            # Databases left by a test run that was killed (its pid is gone).
            for (name,) in con.execute(
                "SELECT datname FROM pg_database WHERE datname LIKE 'lct\\_%'"
            ).fetchall():
                pid = name.split("_")[1]
                if pid.isdigit() and not _alive(int(pid)):
                    con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            for name in (self.base, self.template):
                con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            con.execute(f'CREATE DATABASE "{self.template}"')
        database = Database(self.url_of(self.template))
        database.init()
        database.dispose()
        self._recreate()
        self._empty = snapshot_pg(self._conn())
        self._fingerprint = self.fingerprint()

    def _recreate(self) -> None:
        self._close()
        with self.connect() as con:
            con.execute(f'DROP DATABASE IF EXISTS "{self.base}" WITH (FORCE)')
            con.execute(f'CREATE DATABASE "{self.base}" TEMPLATE "{self.template}"')

    FINGERPRINT = (
        "SELECT (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        "        WHERE n.nspname = 'public'),"
        " (SELECT count(*) FROM information_schema.columns WHERE table_schema = 'public'),"
        " (SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
        "  JOIN pg_namespace n ON n.oid = c.relnamespace"
        "  WHERE n.nspname = 'public' AND NOT t.tgisinternal AND t.tgenabled <> 'D'),"
        " (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
        "  WHERE n.nspname = 'public'),"
        " (SELECT count(*) FROM pg_constraint k JOIN pg_namespace n ON n.oid = k.connamespace"
        "  WHERE n.nspname = 'public')"
    )

    def fingerprint(self) -> tuple:
        """The schema in a few numbers: relations, columns, triggers, functions, constraints."""
        return self._conn().execute(self.FINGERPRINT).fetchone()

    _con = None

    def _conn(self):
        """One connection to the test database, kept between tests (idle, autocommit)."""
        if self._con is None or self._con.closed or self._con.broken:
            self._con = self.connect(self.base)
        return self._con

    def _close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None

    def reset(self, snap: Snapshot | None = None) -> None:
        """The test database as ``snap`` (default: empty, migrated)."""
        try:
            if self.fingerprint() != self._fingerprint:
                raise RuntimeError("schema changed")
            restore_pg(self._conn(), snap or self._empty)
        except Exception:
            self._close()
            self._recreate()
            restore_pg(self._conn(), snap or self._empty)

    def fresh_url(self) -> str:
        """A new, empty database (not even migrated), dropped at the end of the session."""
        self.fresh_count += 1
        name = f"{self.base}_f{self.fresh_count}"
        with self.connect() as con:
            con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            con.execute(f'CREATE DATABASE "{name}"')
        self._fresh.append(name)
        return self.url_of(name)

    def stop(self) -> None:
        self._close()
        with self.connect() as con:
            for name in [*self._fresh, self.base, self.template]:
                con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Snapshot:
    """Every table's rows and every sequence's position, held in memory."""

    def __init__(self, tables: dict[str, tuple[list[str], list[tuple]]], sequences: dict) -> None:
        self.tables = tables
        self.sequences = sequences


def _tables(con) -> list[str]:
    return [
        r[0] for r in con.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
    ]


def snapshot_pg(con) -> Snapshot:
    tables, sequences = {}, {}
    for t in _tables(con):
        cur = con.execute(f'SELECT * FROM "{t}"')
        tables[t] = ([d.name for d in cur.description], cur.fetchall())
    for (seq,) in con.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relkind = 'S' AND n.nspname = 'public'"
    ).fetchall():
        sequences[seq] = con.execute(f'SELECT last_value, is_called FROM "{seq}"').fetchone()
    return Snapshot(tables, sequences)


def restore_pg(con, snap: Snapshot) -> None:
    """Every table emptied and filled from ``snap``, every sequence put back, in
    one transaction and few round trips.  Neither foreign keys nor the
    append-only triggers fire in replica mode."""
    with con.transaction():
        if set(_tables(con)) != set(snap.tables):
            raise RuntimeError("tables changed")
        deletes = "".join(f'DELETE FROM "{t}";' for t in snap.tables)
        con.execute("SET LOCAL lock_timeout = '10s'; SET LOCAL session_replication_role = replica;" + deletes)
        with con.cursor() as cur:
            for t, (cols, rows) in snap.tables.items():
                if rows:
                    cols_sql = ", ".join(f'"{c}"' for c in cols)
                    marks = ", ".join(["%s"] * len(cols))
                    cur.executemany(f'INSERT INTO "{t}" ({cols_sql}) VALUES ({marks})', rows)
        if snap.sequences:
            con.execute(
                "SELECT "
                + ", ".join(
                    f"setval('\"{seq}\"', {int(last)}, {'true' if called else 'false'})"
                    for seq, (last, called) in snap.sequences.items()
                )
            )


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    if not PG_URL:
        pytest.skip(PG_SKIP)
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.fail(
            "LOYALTYCTL_TEST_POSTGRES_URL is set but psycopg is not installed: pip install -e '.[dev]'"
        )
    server = PgServer(PG_URL)
    try:
        server.start()
    except Exception as exc:  # a server that is down is a failure, not a skip
        pytest.fail(f"PostgreSQL test server {PG_URL}: {exc}")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def backend(request: pytest.FixtureRequest) -> str:
    # A unittest-style TestCase (hypothesis' state machines) cannot be parametrized: SQLite.
    return getattr(request, "param", "sqlite")


@pytest.fixture(scope="session")
def sqlite_schema(tmp_path_factory) -> Path:
    """A new program database made by ``db init`` once per pytest process (its
    WAL checkpointed into the file): each SQLite test starts from a copy, as
    each PostgreSQL test starts from the emptied, migrated test database."""
    path = tmp_path_factory.mktemp("schema") / "loyalty.db"
    database = Database(resolve_url(str(path)))
    database.init()
    database.dispose()
    con = sqlite3.connect(path)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    return path


@pytest.fixture(autouse=True)
def _isolated(backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request) -> str:
    """The test's database, as the value of LOYALTYCTL_DB (a path or a URL): a
    new, empty program (made by ``db init``; see ``sqlite_schema``).  A test
    about a database that does not exist yet names another one (``fresh_db``)."""
    if backend == "postgresql":
        pg = request.getfixturevalue("pg_server")
        pg.reset()
        target = pg.url
    else:
        target = str(tmp_path / "loyalty.db")
        shutil.copyfile(request.getfixturevalue("sqlite_schema"), target)
        os.chmod(target, 0o600)
    monkeypatch.setenv("LOYALTYCTL_DB", target)
    monkeypatch.setenv("LOYALTYCTL_TODAY", TODAY)
    monkeypatch.setenv("LOYALTYCTL_ACTOR", "tester")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("LOYALTYCTL_DEBUG", raising=False)
    monkeypatch.setenv("COLUMNS", "120")
    monkeypatch.setenv("NO_COLOR", "1")
    return target


@pytest.fixture
def db_url(_isolated: str) -> str:
    """The test database's SQLAlchemy URL, whatever the backend."""
    return resolve_url(_isolated)


@pytest.fixture
def db_path(_isolated: str, backend: str) -> Path:
    """The SQLite file (tests about files only; see ``sql`` for portable access)."""
    if backend != "sqlite":
        raise AssertionError("db_path is a SQLite file: mark the test sqlite_only or use db_url / sql")
    return Path(_isolated)


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    database.ensure_schema()
    yield database
    database.dispose()


# -- portable raw SQL -----------------------------------------------------------------------


def _pg_conninfo(url: str) -> dict:
    from sqlalchemy.engine import make_url

    u = make_url(url)
    return {
        "host": u.host or "",
        "port": u.port or 5432,
        "user": u.username or "",
        "password": u.password or "",
        "dbname": u.database or "",
    }


def raw_sql(url: str, statement: str, *params) -> list[tuple]:
    """Run one statement on the database behind ``url`` outside loyaltyctl, in
    autocommit (``?`` placeholders on both backends); returns its rows."""
    if url.startswith("sqlite"):
        con = sqlite3.connect(url[len("sqlite:///") :], isolation_level=None)
        try:
            return con.execute(statement, params).fetchall()
        finally:
            con.close()
    import psycopg

    with psycopg.connect(**_pg_conninfo(url), autocommit=True) as con:
        cur = con.execute(statement.replace("?", "%s"), params or None)
        return cur.fetchall() if cur.description else []


@contextmanager
def hold_write_lock(url: str) -> Iterator[None]:
    """Another connection holding loyaltyctl's write lock (SQLite: BEGIN
    IMMEDIATE; PostgreSQL: the advisory lock in an open transaction)."""
    if url.startswith("sqlite"):
        con = sqlite3.connect(url[len("sqlite:///") :], isolation_level=None)
        con.execute("BEGIN IMMEDIATE")
    else:
        import psycopg

        from loyaltyctl.db import WRITE_LOCK

        con = psycopg.connect(**_pg_conninfo(url), autocommit=False)
        con.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
    try:
        yield
    finally:
        con.rollback()
        con.close()


class _Connection:
    """sqlite3-like: ``execute(sql, params)`` with ``?`` placeholders on either backend."""

    def __init__(self, url: str) -> None:
        if url.startswith("sqlite"):
            self._con = sqlite3.connect(url[len("sqlite:///") :], isolation_level=None)
            self._pg = False
        else:
            import psycopg

            self._con = psycopg.connect(**_pg_conninfo(url), autocommit=True)
            self._pg = True

    def execute(self, statement: str, params: tuple = ()):
        if self._pg:
            return self._con.execute(statement.replace("?", "%s"), params or None)
        return self._con.execute(statement, params)

    def close(self) -> None:
        self._con.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def connect(url: str) -> _Connection:
    """A raw connection to the test database behind ``url`` (autocommit)."""
    return _Connection(url)


def table_names(url: str) -> list[str]:
    """The database's tables, sorted (Alembic's bookkeeping table included)."""
    if url.startswith("sqlite"):
        query = "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
    else:
        query = "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename"
    return [r[0] for r in raw_sql(url, query)]


def db_errors() -> tuple[type[BaseException], ...]:
    """What a statement the database refuses raises, on either backend."""
    try:
        import psycopg
    except ImportError:
        return (sqlite3.Error,)
    return (sqlite3.Error, psycopg.Error)


class Sql:
    def __init__(self, url: str) -> None:
        self.url = url

    def __call__(self, statement: str, *params) -> list[tuple]:
        return raw_sql(self.url, statement, *params)

    errors = property(lambda self: db_errors())


@pytest.fixture
def sql(db_url: str) -> Sql:
    """``sql("SELECT ... WHERE x = ?", 1)``: raw SQL on the test database."""
    return Sql(db_url)


# -- databases built once per module --------------------------------------------------------


class Template:
    """A program database built once per module and backend (a SQLite file, or
    the rows of the PostgreSQL test database held in memory), loaded into each
    test's database by ``load``."""

    def __init__(self, backend: str, path: Path | None, snap: Snapshot | None, pg: PgServer | None):
        self.backend, self.path, self.snap, self.pg = backend, path, snap, pg

    def load(self, target: str) -> None:
        if self.backend == "sqlite":
            for suffix in ("", "-wal"):
                if Path(f"{self.path}{suffix}").exists():
                    shutil.copyfile(f"{self.path}{suffix}", f"{target}{suffix}")
        else:
            self.pg.reset(self.snap)


def build_template(backend: str, request: pytest.FixtureRequest, tmp_path_factory, build) -> Template:
    """``build(target)`` fills a new database named by ``target`` (a path or a
    URL).  The module fixture calling this must take ``backend`` as an argument,
    so that pytest builds one template per backend."""
    if backend == "sqlite":
        path = tmp_path_factory.mktemp("template") / "loyalty.db"
        shutil.copyfile(request.getfixturevalue("sqlite_schema"), path)  # a new program, as `db init` makes
        build(str(path))
        con = sqlite3.connect(path)
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        con.close()
        return Template(backend, path, None, None)
    pg = request.getfixturevalue("pg_server")
    pg.reset()
    build(pg.url)
    return Template(backend, None, snapshot_pg(pg._conn()), pg)


@pytest.fixture
def new_test_db(backend: str, tmp_path_factory, request):
    """``new_test_db()``: the URL of the test's database made new again (SQLite:
    a new file), for a test that needs several in a row (hypothesis examples)."""

    def make() -> str:
        if backend == "sqlite":
            path = tmp_path_factory.mktemp("db") / "loyalty.db"
            shutil.copyfile(request.getfixturevalue("sqlite_schema"), path)
            return resolve_url(str(path))
        pg = request.getfixturevalue("pg_server")
        pg.reset()
        return pg.url

    return make


@pytest.fixture
def fresh_db(backend: str, tmp_path: Path, request) -> Iterator:
    """``fresh_db()``: the --db value of another new, empty database."""
    made = []

    def make() -> str:
        if backend == "sqlite":
            path = tmp_path / f"fresh{len(made)}" / "loyalty.db"
            made.append(path)
            return str(path)
        url = request.getfixturevalue("pg_server").fresh_url()
        made.append(url)
        return url

    return make


# -- running the CLI ------------------------------------------------------------------------


@pytest.fixture(scope="session", autouse=True)
def _command_tree_built_once() -> Iterator[None]:
    """typer's ``CliRunner.invoke`` builds the whole click command tree on every
    call (~40 ms, more than a small import); build it once for the session.
    ``typer.testing._get_command`` is private: if typer renames it, the tests
    still run, only slower."""
    import typer.testing

    build = getattr(typer.testing, "_get_command", None)
    if build is None:  # pragma: no cover
        yield
        return
    built = build(app)
    typer.testing._get_command = lambda a: built if a is app else build(a)
    yield
    typer.testing._get_command = build


class Cli:
    """Runs loyaltyctl in-process (CliRunner), stdout and stderr kept apart."""

    def __init__(self) -> None:
        self.runner = CliRunner()

    def __call__(self, *args: str, input: str | bytes | None = None, ok: bool | None = None):
        result = self.runner.invoke(app, list(args), input=input, catch_exceptions=False)
        if ok is True:
            assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
        return result


@pytest.fixture
def cli() -> Cli:
    return Cli()


def run_cli(
    *args: str, input: bytes | None = None, env: dict | None = None, timeout: float = 60
) -> subprocess.CompletedProcess:
    """The real thing: a subprocess with real pipes."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "loyaltyctl", *args],
        input=input,
        capture_output=True,
        env=full_env,
        timeout=timeout,
        cwd=ROOT,
    )


@pytest.fixture
def sub():
    return run_cli


@pytest.fixture
def pg_url(pg_server: PgServer) -> str:
    """Another new, empty PostgreSQL database (not even migrated), whatever the
    test's backend: for tests that move a program between backends (db copy)
    or compare them.  Skipped, like the PostgreSQL half, without a server."""
    return pg_server.fresh_url()
