"""Writing output files safely.

* Atomic: written to a private temp file (0600) in the same directory, fsynced,
  then ``os.replace``d into place, so a reader never sees half a file.
* No surprises: an existing file is kept unless ``force``; a name that would
  land outside the output directory, or a symlink planted where the file goes,
  is refused (even with ``force``).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from .errors import FileProblem, UsageProblem


def _write(target: Path, data: bytes, *, force: bool) -> Path:
    if target.is_symlink():
        raise FileProblem(f"{target}: is a symbolic link; refusing to write through it")
    if target.exists():
        if target.is_dir():
            raise FileProblem(f"{target}: is a directory")
        if not force:
            raise FileProblem(f"{target}: exists", hint="pass --force to replace it")
    directory = target.parent
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    except FileNotFoundError:
        raise FileProblem(f"{directory}: no such directory") from None
    except OSError as exc:
        raise FileProblem(f"{directory}: cannot write ({exc.strerror})") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return target


def write_file(path: str | Path, data: bytes, *, force: bool = False) -> Path | None:
    """Write one file; ``-`` is stdout (returns None)."""
    if str(path) == "-":
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return None
    return _write(Path(path), data, force=force)


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
            self.path.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise FileProblem(f"{self.path}: cannot create ({exc.strerror})") from None
        self._root = self.path.resolve()

    def write(self, name: str, data: bytes) -> Path:
        if not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name:
            raise FileProblem(f"{name!r}: not a plain file name inside {self.path}")
        target = self.path / name
        if target.is_symlink():
            raise FileProblem(f"{target}: is a symbolic link; refusing to write through it")
        if target.resolve().parent != self._root:
            raise FileProblem(f"{target}: lies outside {self.path}")
        return _write(target, data, force=self.force)


def safe_name(text: str) -> str:
    """A file-name-safe form of an account reference (emails stay readable)."""
    out = "".join(c if c.isalnum() or c in "@._-" else "_" for c in text)
    return out.lstrip(".") or "_"
