"""Engine, connection pragmas, transactions and the schema version.

* The database is ``--db PATH|URL``, else ``$LOYALTYCTL_DB``, else
  ``$XDG_DATA_HOME/loyaltyctl/loyalty.db`` (``~/.local/share/...``): an absolute
  per-user path, so cron (whose working directory is not yours) finds it.
* SQLite runs in WAL mode with ``synchronous=FULL``, foreign keys on,
  ``trusted_schema=OFF``, ``cell_size_check`` on (damaged pages are an error,
  not missing rows) and a busy timeout (30 s, ``$LOYALTYCTL_BUSY_TIMEOUT``).
  ``$LOYALTYCTL_MAX_PAGES`` caps its size (``max_page_count``): a test and
  operations knob that makes "disk full" happen on purpose.
* Every write transaction starts with ``BEGIN IMMEDIATE``: a second writer waits
  for the first at the start instead of failing halfway with "database is locked".
* A new database file is created readable by its owner only (0600); SQLite gives
  its -wal and -shm files the same mode.

PostgreSQL (``postgresql://`` or ``postgresql+psycopg://``; psycopg 3 is the
``[postgres]`` extra) keeps the same guarantees:

* Every write transaction starts with ``SELECT pg_advisory_xact_lock(WRITE_LOCK)``
  (one constant for the program): writers run one at a time, as on SQLite, in
  READ COMMITTED, so each statement sees what the writer before committed.  A
  writer that waits longer than the busy timeout (``lock_timeout``) exits 5.
* A read-only command runs in one REPEATABLE READ READ ONLY transaction: one
  consistent snapshot, like a SQLite read transaction, and never blocks a writer.
* A serialization failure or deadlock (SQLSTATE 40001/40P01) cannot happen
  between two writers under that lock; should one still reach a command, its
  transaction is run again a bounded number of times (see
  ``cli._common.retried``), unless it has read its input from stdin.
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote, unquote_plus

from .errors import DatabaseBusy, DatabaseProblem, FileProblem, LoyaltyError

if TYPE_CHECKING:  # heavy imports stay out of `loyaltyctl --help`
    from sqlalchemy.engine import Engine
    from sqlmodel import Session

# The newest migration this code knows.  tests/services/test_schema.py checks it
# against Alembic's head, so `db status` can answer without importing Alembic.
SCHEMA_HEAD = "0008"

DEFAULT_BUSY_TIMEOUT_S = 30.0

# The PostgreSQL advisory lock every write transaction takes first ("loyalty"
# in ASCII): one writer at a time per database, like SQLite's BEGIN IMMEDIATE.
WRITE_LOCK = 0x6C6F79616C7479

# SQLSTATEs: a lock wait that ran out (lock_timeout), a statement cancelled (a
# timeout), and the two a retry can cure.
PG_BUSY_STATES = {"55P03", "57014"}
PG_RETRY_STATES = {"40001", "40P01"}


def default_db_path() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(Path.home(), ".local", "share")
    return Path(base) / "loyaltyctl" / "loyalty.db"


def resolve_url(db: str | None) -> str:
    """``--db`` value (path or SQLAlchemy URL) → SQLAlchemy URL."""
    value = db or os.environ.get("LOYALTYCTL_DB") or str(default_db_path())
    if "://" in value:
        # Plain postgresql:// means psycopg 3 here (SQLAlchemy would pick psycopg2).
        for prefix in ("postgresql://", "postgres://"):
            if value.startswith(prefix):
                return "postgresql+psycopg://" + value[len(prefix) :]
        return value
    return "sqlite:///" + str(Path(value).expanduser().absolute())


def busy_timeout_s() -> float:
    raw = os.environ.get("LOYALTYCTL_BUSY_TIMEOUT")
    if not raw:
        return DEFAULT_BUSY_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        raise DatabaseProblem(f"LOYALTYCTL_BUSY_TIMEOUT={raw!r} is not a number of seconds") from None
    return max(value, 0.0)


def max_pages() -> int | None:
    """``$LOYALTYCTL_MAX_PAGES``: a cap on the database size in pages (``PRAGMA
    max_page_count``), for tests and operations: it makes "disk full" happen at a
    known size.  Unset or empty: no cap."""
    raw = os.environ.get("LOYALTYCTL_MAX_PAGES")
    if not raw:
        return None
    try:
        value = int(raw)
        if value < 1:
            raise ValueError
    except ValueError:
        raise DatabaseProblem(f"LOYALTYCTL_MAX_PAGES={raw!r} is not a positive number of pages") from None
    return value


def sqlstate(exc: BaseException) -> str | None:
    """The PostgreSQL SQLSTATE of a (wrapped) psycopg error, else None."""
    orig = getattr(exc, "orig", None) or exc
    return getattr(orig, "sqlstate", None)


def is_retryable(exc: BaseException) -> bool:
    """A serialization failure or a deadlock: running the transaction again may work."""
    return sqlstate(exc) in PG_RETRY_STATES


def _busy(where: str) -> LoyaltyError:
    """The lock wait ran out (SQLite's busy timeout, PostgreSQL's lock_timeout)."""
    return DatabaseBusy(
        f"database {where} stayed locked by another loyaltyctl run for more than {busy_timeout_s():g} s",
        hint="try again later, or raise LOYALTYCTL_BUSY_TIMEOUT",
    )


def describe_db_error(exc: BaseException, url: str) -> LoyaltyError:
    """Turn a driver error into one clear line (and the right exit code)."""
    lines = str(getattr(exc, "orig", None) or exc).strip().splitlines() or [type(exc).__name__]
    text = lines[0]
    low = text.lower()
    where = display_url(url)
    if not url.startswith("sqlite"):
        pg = _describe_pg_error(exc, text, where)
        if pg is not None:
            return pg
    if "database is locked" in low or "database table is locked" in low or "busy" in low:
        return _busy(where)
    if "database or disk is full" in low or "no space left" in low:
        return FileProblem(
            f"database {where}: disk full ({text}); nothing was written",
            hint="free some space (or raise LOYALTYCTL_MAX_PAGES if set), then run the command again",
        )
    if "disk i/o error" in low:
        return FileProblem(
            f"database {where}: disk I/O error (a full disk, a file size limit or a failing disk); "
            "nothing was written",
            hint="free some space or check the disk, then run the command again",
        )
    if "not a database" in low:
        return DatabaseProblem(
            f"{where} is not a SQLite database, or its first page is damaged (file is not a database)",
            hint="check --db / LOYALTYCTL_DB; if it is the program database, restore the latest backup",
        )
    if "malformed" in low or "corrupt" in low:
        return DatabaseProblem(
            f"database {where} is corrupt ({text})",
            hint="restore the latest backup; `loyaltyctl db check` shows the damage",
        )
    if "unable to open" in low or "readonly" in low or "read-only" in low:
        return DatabaseProblem(f"database {where}: {text}")
    if "no such table" in low or "no such column" in low:
        return DatabaseProblem(
            f"database {where} does not have the expected schema ({text})",
            hint="run `loyaltyctl db upgrade`, or check --db points at a loyaltyctl database",
        )
    return DatabaseProblem(f"database {where}: {text}")


def _describe_pg_error(exc: BaseException, text: str, where: str) -> LoyaltyError | None:
    state = sqlstate(exc)
    low = text.lower()
    if state in PG_BUSY_STATES:
        return _busy(where)
    if state in PG_RETRY_STATES:
        err = DatabaseBusy(
            f"database {where}: another run changed the same rows at the same time ({text}); "
            "nothing was written",
            hint="run the command again",
        )
        err.retryable = True
        return err
    if state == "53100":
        return FileProblem(
            f"database {where}: the server's disk is full ({text}); nothing was written",
            hint="free some space on the database server, then run the command again",
        )
    if state in ("42P01", "42703"):
        return DatabaseProblem(
            f"database {where} does not have the expected schema ({text})",
            hint="run `loyaltyctl db upgrade`, or check --db points at a loyaltyctl database",
        )
    if state is None and (
        "connection" in low or "could not connect" in low or "server closed" in low or "timeout" in low
    ):
        # psycopg: 'connection failed: connection to server at "127.0.0.1", port 5433
        # failed: Connection refused'; the password never appears in `where`.
        reason = _connection_reason(exc)
        hint = "is the server running and reachable? check --db / LOYALTYCTL_DB"
        if 'database "' in low and "does not exist" in low:
            hint = "create it first (createdb NAME), then run the command again"
        elif "authentication" in low or "password" in low or 'role "' in low:
            hint = "check the user and password in --db / LOYALTYCTL_DB (or ~/.pgpass)"
        return DatabaseProblem(f"cannot connect to PostgreSQL database {where}: {reason}", hint=hint)
    if state is not None and state.startswith("28"):  # invalid authorization
        return DatabaseProblem(
            f"cannot connect to PostgreSQL database {where}: {text}",
            hint="check the user and password in --db / LOYALTYCTL_DB (or ~/.pgpass)",
        )
    if state == "3D000":  # invalid catalog name: no such database
        return DatabaseProblem(
            f"cannot connect to PostgreSQL database {where}: {text}",
            hint="create it first (createdb NAME), then run the command again",
        )
    return None


def _connection_reason(exc: BaseException) -> str:
    """The last meaningful line of psycopg's connection error ("Connection
    refused", "timeout expired"), without the password it never prints."""
    first = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [""])[0]
    parts = [p.strip() for p in first.split(":") if p.strip()]
    return parts[-1] if parts else "connection failed"


def display_url(url: str) -> str:
    """The database as messages and outputs show it: a SQLite path as it is, a
    URL with every password masked (see ``mask_url``)."""
    if url.startswith("sqlite:///"):
        return url[len("sqlite:///") :]
    return mask_url(url)


# Query parameters that carry a secret: libpq's password and sslpassword, and
# the spellings people try (passwd, pwd, PASSWORD, ...).  A name containing one
# of these, in any case, is masked; masking a harmless one (passfile) costs nothing.
_SECRET_PARAM = re.compile(r"pass|pwd|secret|token", re.IGNORECASE)
MASK = "***"


def _url_parts(url: str) -> tuple[str, str, str, list[str]] | None:
    """``scheme://``, the user part (before its last ``@``, so an unescaped ``@``
    or ``/`` in a password stays inside it), host and path, and the query
    parameters; None for a text that is not a URL."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return None
    at = rest.split("?", 1)[0].rfind("@")
    userinfo, hostpath = (rest[:at], rest[at + 1 :]) if at >= 0 else (None, rest)
    hostpath, qmark, query = hostpath.partition("?")
    return scheme + sep, userinfo, hostpath, query.split("&") if qmark else []


def _is_secret(param: str) -> bool:
    name, eq, _ = param.partition("=")
    return bool(eq) and _SECRET_PARAM.search(unquote(name)) is not None


def mask_url(url: str) -> str:
    """``url`` with the password of its user part and the value of every query
    parameter that names a password (``password``, ``passwd``, ``sslpassword``,
    ``pwd``, any case) replaced by ``***``; everything else as written."""
    parts = _url_parts(url)
    if parts is None:
        return scrub(url)
    prefix, userinfo, hostpath, params = parts
    user = ""
    if userinfo is not None:
        user = (userinfo.split(":", 1)[0] + ":" + MASK if ":" in userinfo else userinfo) + "@"
    query = "&".join(p.partition("=")[0] + "=" + MASK if _is_secret(p) else p for p in params)
    return scrub(prefix + user + hostpath + ("?" + query if params else ""))


# Every password seen in a database URL this process was given (--db, --to):
# ``scrub`` takes them out of any text (a driver's message may quote the
# connection string).  Shorter ones are left to the structural masking above,
# so that a one-letter password does not turn every such letter into ***.
_SECRETS: set[str] = set()
_MIN_SCRUBBED = 4


def remember_secrets(url: str) -> None:
    parts = _url_parts(url)
    if parts is None:
        return
    _, userinfo, _, params = parts
    found = [p.partition("=")[2] for p in params if _is_secret(p)]
    if userinfo is not None and ":" in userinfo:
        found.append(userinfo.split(":", 1)[1])
    for raw in found:
        for secret in {raw, unquote(raw), unquote_plus(raw)}:
            if len(secret) >= _MIN_SCRUBBED:
                _SECRETS.add(secret)


def scrub(text: str) -> str:
    """``text`` with every remembered password replaced by ``***``."""
    for secret in sorted(_SECRETS, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


class Database:
    """One program database: an engine plus the rules for talking to it."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine: Engine | None = None
        self._checked = False
        # SQLite: keep the WAL index in this process's memory, not in the -shm
        # file (see ``_probe``): set when that file cannot be written.
        self._heap_wal = False
        remember_secrets(url)

    # -- engine -----------------------------------------------------------------
    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    @property
    def sqlite_path(self) -> Path | None:
        if not self.url.startswith("sqlite:///"):
            return None
        path = self.url[len("sqlite:///") :].split("?", 1)[0]
        return None if path in ("", ":memory:") else Path(path)

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = self._make_engine()
        return self._engine

    def _make_engine(self) -> Engine:
        from sqlalchemy import create_engine, event

        if not self.is_sqlite:
            try:
                engine = create_engine(self.url, **self._server_engine_args())
            except ModuleNotFoundError as exc:
                extra = " (the [postgres] extra)" if self.is_postgresql else ""
                raise DatabaseProblem(
                    f"cannot use {display_url(self.url)}: the driver {exc.name!r}{extra} is not installed",
                    hint="pip install 'loyaltyctl[postgres]'",
                ) from None
            except Exception as exc:
                raise DatabaseProblem(f"cannot use database URL {display_url(self.url)}: {exc}") from None
            if self.is_postgresql:
                self._postgresql_events(engine)
            return engine

        path = self.sqlite_path
        timeout = busy_timeout_s()
        page_cap = max_pages()
        args: dict = {"connect_args": {"timeout": timeout, "check_same_thread": False}}
        if path is not None:
            # mode=rw: the driver opens an existing file and never creates one
            # (a mistyped --db must not become an empty program); only
            # ``init`` creates the file, first.
            uri = f"file:{quote(str(path))}?mode=rw"
            args = {
                "creator": lambda: sqlite3.connect(uri, uri=True, timeout=timeout, check_same_thread=False)
            }
        engine = create_engine(self.url, **args)
        heap_wal = self._heap_wal

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn, _record) -> None:  # pragma: no branch
            # We issue BEGIN ourselves (below); the driver must not.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
            if heap_wal:
                # Before the first access: the WAL index lives in this
                # process's memory and no -shm file is needed (see ``_probe``).
                cur.execute("PRAGMA locking_mode = EXCLUSIVE")
            cur.execute("PRAGMA journal_mode = WAL")
            cur.execute("PRAGMA synchronous = FULL")
            cur.execute("PRAGMA foreign_keys = ON")
            cur.execute("PRAGMA trusted_schema = OFF")
            # Check each b-tree page as it is read: flipped bytes become "malformed"
            # (exit 6) rather than rows that silently go missing.
            cur.execute("PRAGMA cell_size_check = ON")
            if page_cap is not None:
                cur.execute(f"PRAGMA max_page_count = {page_cap}")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn) -> None:
            if conn.get_execution_options().get("loyalty_write"):
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            else:
                conn.exec_driver_sql("BEGIN")

        return engine

    def _server_engine_args(self) -> dict:
        if not self.is_postgresql:
            return {"future": True}
        return {
            "future": True,
            "pool_pre_ping": False,
            "connect_args": {"connect_timeout": 10, "application_name": "loyaltyctl"},
        }

    @staticmethod
    def _postgresql_events(engine: Engine) -> None:
        from sqlalchemy import event

        timeout_ms = max(int(busy_timeout_s() * 1000), 1)

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn, _record) -> None:
            # A lock wait (the write lock, a row lock) longer than the busy
            # timeout fails with 55P03, which becomes exit 5.
            with dbapi_conn.cursor() as cur:
                cur.execute(f"SET lock_timeout = {timeout_ms}")
            dbapi_conn.commit()

        @event.listens_for(engine, "begin")
        def _on_begin(conn) -> None:
            if conn.get_execution_options().get("loyalty_write"):
                # One writer at a time (see the module docstring).
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({WRITE_LOCK})")
            else:
                conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")

    @property
    def is_postgresql(self) -> bool:
        return self.url.startswith(("postgresql", "postgres"))

    @staticmethod
    def _create_private_file(path: Path) -> None:
        """A new, empty database file (0600) and every folder above it that is
        missing (each 0700, whatever the umask)."""
        from .safe_files import private_dirs

        try:
            private_dirs(path.parent)
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
            os.close(fd)
        except FileExistsError:
            return
        except OSError as exc:
            raise FileProblem(f"cannot create database {path}: {exc.strerror}") from None
        os.chmod(path, 0o600)

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    # -- schema -----------------------------------------------------------------
    def missing(self) -> DatabaseProblem:
        """The error every command but ``db init`` gives for a database that is
        not there (a SQLite file that does not exist, a server database without
        loyaltyctl's schema)."""
        where = display_url(self.url)
        path = self.sqlite_path
        if path is not None and not path.exists():
            what = f"database {where} does not exist"
        else:
            what = f"database {where} is empty (no loyaltyctl schema)"
        return DatabaseProblem(
            what,
            hint="create it with `loyaltyctl db init`, or check --db / LOYALTYCTL_DB if it should exist",
        )

    def _require_file(self) -> None:
        path = self.sqlite_path
        if path is not None and not path.exists():
            raise self.missing()

    def current_revision(self) -> str | None:
        """The Alembic revision stamped in the database, None for an empty one.
        A SQLite file that does not exist is the ``missing`` error: reading
        never creates a database."""
        self._require_file()
        return self._probe(self._read_revision)

    def _read_revision(self) -> str | None:
        from sqlalchemy import inspect, text

        with self._translate():
            with self.engine.connect() as conn:
                names = set(inspect(conn).get_table_names())
                if "alembic_version" not in names:
                    if names:
                        raise DatabaseProblem(
                            f"{display_url(self.url)} is not a loyaltyctl database "
                            f"(it has tables but no schema version)"
                        )
                    return None
                row = conn.execute(text("SELECT version_num FROM alembic_version")).first()
                return row[0] if row else None

    def _probe(self, read):
        """Run the first read of a command.  On SQLite in WAL mode a reader
        maps the -shm file (the WAL index, 32 KiB), which SQLite creates and
        writes on first use: on a full disk (or under a file size limit) that
        write fails, and a read-only command would fail with it.  Then the
        index is kept in this process's memory instead (``locking_mode =
        EXCLUSIVE`` before the first access: no -shm file at all), and the read
        is tried again.  Such a connection holds the file lock until the
        command ends, so another command waits for it (the busy timeout); a
        write still fails where the disk is full, exit 7, nothing written."""
        try:
            return read()
        except FileProblem:
            if not self.is_sqlite or self.sqlite_path is None or self._heap_wal:
                raise
        self.dispose()
        self._heap_wal = True
        return read()

    def ensure_schema(self) -> None:
        """Refuse a database that is missing, or at another schema version than
        this code: only ``init`` creates one, only ``upgrade`` migrates one."""
        if self._checked:
            return
        rev = self.current_revision()
        if rev is None:
            raise self.missing()
        if rev != SCHEMA_HEAD:
            raise self._not_current(rev)
        self._checked = True

    def _not_current(self, rev: str) -> DatabaseProblem:
        if rev in _known_revisions():
            return DatabaseProblem(
                f"database {display_url(self.url)} is at schema {rev}, this loyaltyctl needs {SCHEMA_HEAD}",
                hint=f"back it up ({self.backup_hint()}), then run `loyaltyctl db upgrade`",
            )
        return self._newer(rev)

    def backup_hint(self) -> str:
        """The command that backs this database up: `db backup` on SQLite;
        pg_dump on PostgreSQL, where `db backup` refuses."""
        if self.is_sqlite:
            return "`loyaltyctl db backup PATH`"
        return "`pg_dump --format=custom --file=loyalty.dump DBNAME`"

    def restore_hint(self) -> str:
        """What to do with a damaged database: restore the latest backup, made
        and restored with the backend's own tools."""
        if self.is_sqlite:
            return "restore the latest backup (`loyaltyctl db backup PATH` makes one)"
        return (
            "restore the latest pg_dump backup (`pg_restore --clean --dbname=DBNAME loyalty.dump`; "
            "`pg_dump --format=custom` makes one)"
        )

    def _newer(self, rev: str) -> DatabaseProblem:
        return DatabaseProblem(
            f"database {display_url(self.url)} is at schema {rev}, newer than this "
            f"loyaltyctl knows ({SCHEMA_HEAD})",
            hint="upgrade loyaltyctl",
        )

    def init(self) -> dict:
        """``db init``: create the database (SQLite: the file, 0600, in folders
        made 0700; PostgreSQL: the schema in an existing, empty database) at the
        current schema.  An existing, up-to-date database is left as it is
        (``created`` false); one at an older or newer schema is refused, as by
        every command (``db upgrade`` migrates)."""
        path = self.sqlite_path
        created = False
        if path is not None:
            self._create_private_file(path)
        rev = self.current_revision()
        if rev is None:
            # Another `db init` may get there first: the write lock orders
            # them, and only the one that found no schema made it.
            before, _ = self.upgrade(create=True)
            created = before is None
        elif rev != SCHEMA_HEAD:
            raise self._not_current(rev)
        self._checked = True
        return {
            "database": display_url(self.url),
            "backend": "sqlite" if self.is_sqlite else "postgresql" if self.is_postgresql else "other",
            "created": created,
            "schema": SCHEMA_HEAD,
        }

    def upgrade(self, *, create: bool = False) -> tuple[str | None, str]:
        """Run pending migrations in one immediate transaction.  Returns (from,
        to).  An empty database is the ``missing`` error unless ``create``
        (``init``, and ``db copy`` filling its new target)."""
        from alembic import command
        from alembic.config import Config
        from sqlalchemy import inspect, text

        if create and self.sqlite_path is not None:
            self._create_private_file(self.sqlite_path)
        self._require_file()
        cfg = Config()
        cfg.set_main_option("script_location", "loyaltyctl:migrations")
        with self._translate():
            with self.engine.execution_options(loyalty_write=True).begin() as conn:
                before = None
                if "alembic_version" in inspect(conn).get_table_names():
                    row = conn.execute(text("SELECT version_num FROM alembic_version")).first()
                    before = row[0] if row else None
                if before is None and not create:
                    raise self.missing()
                if before is not None and before not in _known_revisions():
                    raise self._newer(before)
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
        self._checked = True
        return before, SCHEMA_HEAD

    # -- transactions -----------------------------------------------------------
    def translate_errors(self):
        """A context manager: driver errors inside become one-line LoyaltyErrors."""
        return self._translate()

    @contextmanager
    def _translate(self) -> Iterator[None]:
        from sqlalchemy.exc import DBAPIError, OperationalError

        try:
            yield
        except LoyaltyError:
            raise
        except (OperationalError, DBAPIError, sqlite3.Error) as exc:  # sqlite3: raw connections
            raise describe_db_error(exc, self.url) from None

    @contextmanager
    def session(self, *, write: bool = False, dry_run: bool = False) -> Iterator[Session]:
        """One transaction for one command.

        ``write=True`` takes the write lock at the start (``BEGIN IMMEDIATE``).
        The transaction commits when the block ends normally, unless ``dry_run``;
        it rolls back on any exception.
        """
        from sqlmodel import Session

        self.ensure_schema()
        engine = self.engine.execution_options(loyalty_write=write) if write else self.engine
        with self._translate():
            with Session(engine, expire_on_commit=False, autoflush=False) as session:
                try:
                    yield session
                    if dry_run or not write:
                        session.rollback()
                    else:
                        session.commit()
                except BaseException:
                    session.rollback()
                    raise


def _known_revisions() -> set[str]:
    from .migrations import REVISIONS

    return set(REVISIONS)
