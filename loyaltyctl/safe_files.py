"""Writing output files safely.  Every file loyaltyctl writes (statements and
their index, rejects files, backups) goes through here.

* Atomic: written to a private temp file (0600 whatever the umask) in the same
  directory, fsynced, then renamed into place (and the directory fsynced), so a
  reader never sees half a file.  A directory of many files (``OutDir.stage``
  then ``publish``) writes them all, syncs them together (Linux ``syncfs``:
  one journal commit, not two fsyncs per file), then renames them.  On any
  failure (disk full, a killed process aside) the temp file is removed and the
  target is left as it was.
* No surprises: an existing file is kept unless ``force`` (without ``force`` the
  file is published with ``link()``, which never replaces anything, so even a
  file created meanwhile is kept); a symbolic link where the file goes, or a
  name that would land outside the output directory, is refused (even with
  ``force``).
* One clear line for a write that fails: "disk full" for ENOSPC, EDQUOT and
  EFBIG (a file size limit), the system's reason otherwise.
"""

from __future__ import annotations

import errno
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from .errors import FileProblem, UsageProblem

_FULL = {errno.ENOSPC, errno.EFBIG, getattr(errno, "EDQUOT", errno.ENOSPC)}


def write_error(target: Path | str, exc: OSError) -> FileProblem:
    """An OSError while writing ``target`` as one line (exit 7)."""
    if exc.errno in _FULL:
        return FileProblem(
            f"{target}: cannot write, disk full or file too large ({exc.strerror}); nothing was written"
        )
    return FileProblem(f"{target}: cannot write ({exc.strerror or exc}); nothing was written")


def check_target(target: Path, *, force: bool) -> None:
    """Refuse a symlink, a directory, or (without ``force``) an existing file."""
    if target.is_symlink():
        raise FileProblem(f"{target}: is a symbolic link; refusing to write through it")
    if target.exists():
        if target.is_dir():
            raise FileProblem(f"{target}: is a directory")
        if not force:
            raise FileProblem(f"{target}: exists", hint="pass --force to replace it")


def private_dirs(directory: Path) -> None:
    """Create ``directory`` and every missing folder above it, each 0700
    whatever the umask (``mkdir(parents=True, mode=...)`` gives the mode to the
    last folder only, and the umask still applies).  Folders that exist are
    left as they are."""
    missing: list[Path] = []
    at = Path(directory)
    while not at.exists():
        missing.append(at)
        if at.parent == at:
            break
        at = at.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:  # made meanwhile by someone else: theirs, left alone
            continue
        os.chmod(folder, 0o700)


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:  # pragma: no cover - not every platform opens directories
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def _syncfs(directory: Path) -> bool:
    """Flush the whole file system that holds ``directory`` to disk in one
    call (Linux ``syncfs``: one journal commit, where one fsync per file costs
    one each).  False where it is not available: the caller fsyncs each file."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        syncfs = ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):  # pragma: no cover - a libc without syncfs
        return False
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        if syncfs(fd) != 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err))
    finally:
        os.close(fd)
    return True


def _publish(tmp: str, target: Path, *, force: bool, sync_dir: bool = True) -> None:
    """Move the finished temp file to ``target``: replace it only with ``force``."""
    if force:
        os.replace(tmp, target)
    else:
        try:
            os.link(tmp, target)  # fails if target exists: never overwrites
        except FileExistsError:
            raise FileProblem(f"{target}: exists", hint="pass --force to replace it") from None
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
                raise
            # A file system without hard links: check, then rename.
            check_target(target, force=False)
            os.replace(tmp, target)
        else:
            os.unlink(tmp)
    if sync_dir:
        _fsync_dir(target.parent)


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


class AtomicFile:
    """A file that appears whole at ``target`` on ``commit()``, or not at all.

    ``open()`` creates the temp file; write to ``.file``; ``commit()`` fsyncs
    and renames; ``discard()`` removes it.  Also a context manager: commit on a
    normal exit, discard on an exception."""

    def __init__(self, target: str | Path, *, force: bool = False, text: bool = False) -> None:
        self.target = Path(target)
        self.force = force
        self.text = text
        self.file: IO | None = None
        self._tmp: str | None = None

    def open(self) -> IO:
        check_target(self.target, force=self.force)
        directory = self.target.parent
        try:
            fd, self._tmp = tempfile.mkstemp(prefix=f".{self.target.name}.", suffix=".tmp", dir=directory)
        except FileNotFoundError:
            raise FileProblem(f"{self.target}: cannot write (no such directory: {directory})") from None
        except OSError as exc:
            raise FileProblem(f"{self.target}: cannot write ({exc.strerror})") from None
        os.fchmod(fd, 0o600)  # mkstemp says 0600 already; be explicit
        if self.text:
            self.file = os.fdopen(fd, "w", newline="", encoding="utf-8")
        else:
            self.file = os.fdopen(fd, "wb")
        return self.file

    def write(self, data: bytes | str) -> None:
        assert self.file is not None
        try:
            self.file.write(data)
        except OSError as exc:
            self.discard()
            raise write_error(self.target, exc) from None

    def close_unsynced(self) -> None:
        """Finish writing without fsync (``OutDir.stage``: many files are
        written first, then synced together, which costs far less than one
        fsync after each)."""
        assert self.file is not None
        try:
            self.file.flush()
            self.file.close()
        except OSError as exc:
            self.discard()
            raise write_error(self.target, exc) from None
        self.file = None

    def sync_closed(self) -> None:
        """fsync the temp file closed by ``close_unsynced``."""
        assert self.file is None and self._tmp is not None
        fd = os.open(self._tmp, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def publish_closed(self, *, sync_dir: bool = True) -> Path:
        """Rename the synced temp file into place (see ``_publish``)."""
        assert self.file is None and self._tmp is not None
        _publish(self._tmp, self.target, force=self.force, sync_dir=sync_dir)
        self._tmp = None
        return self.target

    def commit(self) -> Path:
        assert self.file is not None and self._tmp is not None
        try:
            self.file.flush()
            os.fsync(self.file.fileno())
            self.file.close()
            _publish(self._tmp, self.target, force=self.force)
        except OSError as exc:
            self.discard()
            raise write_error(self.target, exc) from None
        except BaseException:
            self.discard()
            raise
        self.file = None
        self._tmp = None
        return self.target

    def discard(self) -> None:
        if self.file is not None:
            try:
                self.file.close()
            except OSError:
                pass  # the close flushed into a full disk: the file goes anyway
            self.file = None
        if self._tmp is not None:
            _unlink(self._tmp)
            self._tmp = None

    def __enter__(self) -> AtomicFile:
        self.open()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.discard()


@contextmanager
def partial_path(target: str | Path, *, force: bool = False) -> Iterator[Path]:
    """For a writer that needs a file name (SQLite's ``VACUUM INTO``): yields
    ``TARGET.partial``, created empty and 0600; when the block ends normally it
    is fsynced and renamed to ``TARGET``; on any exception it is removed."""
    target = Path(target)
    check_target(target, force=force)
    partial = target.with_name(target.name + ".partial")
    flags = os.O_CREAT | os.O_EXCL | os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0)
    try:
        try:
            fd = os.open(partial, flags, 0o600)
        except FileExistsError:  # left by a killed run: start over
            os.unlink(partial)
            fd = os.open(partial, flags, 0o600)
        os.fchmod(fd, 0o600)
        os.close(fd)
    except FileNotFoundError:
        raise FileProblem(f"{target}: cannot write (no such directory: {target.parent})") from None
    except OSError as exc:
        raise write_error(target, exc) from None
    try:
        yield partial
        fd = os.open(partial, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        _publish(str(partial), target, force=force)
    except OSError as exc:
        _unlink(str(partial))
        raise write_error(target, exc) from None
    except BaseException:
        _unlink(str(partial))
        raise


def write_file(path: str | Path, data: bytes, *, force: bool = False) -> Path | None:
    """Write one file; ``-`` is stdout (returns None)."""
    if str(path) == "-":
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return None
    with AtomicFile(path, force=force) as f:
        f.write(data)
    return f.target


class OutDir:
    """A directory that receives several files, none of them outside it."""

    def __init__(self, path: str | Path, *, force: bool = False) -> None:
        self.path = Path(path)
        self.force = force
        if self.path.is_symlink():
            raise FileProblem(f"{self.path}: is a symbolic link; name the real directory")
        if self.path.exists() and not self.path.is_dir():
            raise UsageProblem(f"--out {self.path}: is not a directory")
        try:
            private_dirs(self.path)
        except OSError as exc:
            raise FileProblem(f"{self.path}: cannot create ({exc.strerror})") from None
        self._root = self.path.resolve()
        self._staged: list[AtomicFile] = []

    def _target(self, name: str) -> Path:
        if not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name:
            raise FileProblem(f"{name!r}: not a plain file name inside {self.path}")
        target = self.path / name
        if target.is_symlink():
            raise FileProblem(f"{target}: is a symbolic link; refusing to write through it")
        if target.resolve().parent != self._root:
            raise FileProblem(f"{target}: lies outside {self.path}")
        return target

    def write(self, name: str, data: bytes) -> Path:
        written = write_file(self._target(name), data, force=self.force)
        assert written is not None
        return written

    # -- many files at once: stage them all, then publish() -------------------------
    # Each staged file is written whole to its private temp file (same checks as
    # ``write``); ``publish()`` fsyncs them all, renames them into place in the
    # order staged, and fsyncs the directory once.  A failure while staging
    # removes every temp file: nothing is published.  Used with ``with``, an
    # exception discards what is staged.

    def stage(self, name: str, data: bytes) -> None:
        f = AtomicFile(self._target(name), force=self.force)
        self._staged.append(f)
        f.open()
        f.write(data)
        f.close_unsynced()

    def publish(self) -> list[Path]:
        done: list[Path] = []
        current = self.path
        try:
            if not _syncfs(self.path):
                for f in self._staged:
                    current = f.target
                    f.sync_closed()
            for f in self._staged:
                current = f.target
                done.append(f.publish_closed(sync_dir=False))
            _fsync_dir(self.path)
        except OSError as exc:
            raise write_error(current, exc) from None
        finally:
            self.discard()
        return done

    def discard(self) -> None:
        for f in self._staged:
            f.discard()
        self._staged.clear()

    def __enter__(self) -> OutDir:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.discard()


def safe_name(text: str) -> str:
    """A file-name-safe form of an account reference (emails stay readable)."""
    out = "".join(c if c.isalnum() or c in "@._-" else "_" for c in text)
    return out.lstrip(".") or "_"
