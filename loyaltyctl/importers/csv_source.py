"""Streaming CSV reading for every import command.

One pass over a byte stream (a file or stdin), bounded memory, and every
problem named as ``file:line:column: reason``.

* Encoding: UTF-8 with or without BOM.  A file that is not valid UTF-8 is read
  as Windows-1252 (what Excel's Swedish "CSV (semicolon separated)" writes),
  decided at the first byte that is not UTF-8; if UTF-8 text came before that
  byte, the file mixes encodings and is refused.  ``encoding=`` overrides.
  UTF-16 (a BOM of FF FE / FE FF) is refused with a hint unless asked for.
* Line endings: LF, CRLF and a lone CR; the final newline is optional.
* Delimiter: comma or semicolon, taken from the header line.
* The csv module runs in strict mode, a field may not hold a line break (no
  import format has one: a quote left open would otherwise swallow the rest of
  the file), NUL bytes are refused, and a field may not exceed the csv module's
  limit.  These are *structural* errors: the file cannot be trusted past them,
  so they stop the import even with ``--skip-invalid``.
* Blank lines are skipped.  Header names are matched without regard to case or
  surrounding spaces; columns may come in any order; unknown columns are ignored.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import BinaryIO

from ..errors import InvalidInput, RowError, UsageProblem

CHUNK = 1 << 16
# A line and its ending (LF, CRLF or a lone CR), as ``_lines`` splits them.
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)")
FIELD_LIMIT = csv.field_size_limit()
# No import format has a line anywhere near this long; past it the file is
# refused rather than held in memory.
MAX_LINE = 8 * FIELD_LIMIT


# No import format has more than a handful of columns (the widest file, a
# rejects file of `sellers list`, has 8; an export with extra columns, which
# are ignored, has a few dozen).  A line with more fields than this is refused
# before the csv module splits it: each field costs some 60 bytes however
# short it is, so a line of a million commas would hold 50 MB, and the rows an
# import keeps for a batch (2 000) would multiply that.
MAX_FIELDS = 256


def _excess_field(line: str, delimiter: str) -> int:
    """The column (1-based) of the first field past ``MAX_FIELDS`` on
    ``line``, else 0.  Fields are counted as the csv module splits them: a
    delimiter inside a quoted field does not count.  A short line (the usual
    case) is answered from its length alone."""
    if len(line) <= MAX_FIELDS or line.count(delimiter) < MAX_FIELDS:
        return 0
    n, i, col = len(line), 0, 1
    while i < n:
        if line[i] == '"':  # a quoted field: to its closing quote ("" is a quote inside)
            j = i + 1
            while True:
                k = line.find('"', j)
                if k < 0:
                    return 0  # a quote left open: the csv module names that
                if line[k + 1 : k + 2] != '"':
                    break
                j = k + 2
            i = k + 1
        k = line.find(delimiter, i)
        if k < 0:
            return 0
        col += 1
        if col > MAX_FIELDS:
            return col
        i = k + 1
    return 0


_NUL_HINT = "a text file has no NUL bytes: is it UTF-16 (pass --encoding utf-16) or not a CSV file?"


def _advance(line: int, col: int, text: str) -> tuple[int, int]:
    """Line and column (1-based) of the character after ``text``, which starts
    at ``line``:``col``."""
    newlines = text.count("\n")
    if not newlines:
        return line, col + len(text)
    return line + newlines, len(text) - text.rfind("\n")


def _fault(line: str, delimiter: str) -> tuple[int, str]:
    """Where on a record's first line the csv module gave up, and why: a field
    over the limit, a quote left open, or text after a closing quote.  Returns
    (column, reason); column 0 when it cannot be found."""
    line, limit = line.rstrip("\r\n"), csv.field_size_limit()
    n, i, col = len(line), 0, 1
    while True:
        if i < n and line[i] == '"':
            j = i + 1
            while True:
                k = line.find('"', j)
                if k < 0:
                    if n - i - 1 > limit:
                        return col, f"field longer than {limit} characters"
                    return col, "a quote opened here is not closed on this line"
                if line[k + 1 : k + 2] == '"':
                    j = k + 2
                    continue
                break
            if k - i - 1 > limit:
                return col, f"field longer than {limit} characters"
            i = k + 1
            if i < n and line[i] != delimiter:
                return col, f"{line[i]!r} after a closing quote"
        else:
            k = line.find(delimiter, i)
            k = n if k < 0 else k
            if k - i > limit:
                return col, f"field longer than {limit} characters"
            i = k
        if i >= n:
            return 0, ""
        i += 1
        col += 1


def text_encoding(name: str) -> str:
    """The codec name of ``--encoding``: a text encoding Python knows.  An
    unknown name, or a codec that is no text encoding (``rot13``, ``base64``,
    ``zlib``: they map str to str or bytes to bytes), is a usage error."""
    hint = "e.g. utf-8, cp1252, utf-16"
    try:
        info = codecs.lookup(name)
    except LookupError:
        raise UsageProblem(f"--encoding {name!r}: unknown encoding", hint=hint) from None
    # CodecInfo._is_text_encoding is how bytes.decode() itself tells them apart.
    if not getattr(info, "_is_text_encoding", True) or info.incrementaldecoder is None:
        raise UsageProblem(f"--encoding {name!r}: not a text encoding (bytes to text)", hint=hint)
    return info.name


class StructuralError(InvalidInput):
    """The file itself cannot be read further (encoding, quoting, header)."""

    def __init__(self, error: RowError, hint: str | None = None) -> None:
        super().__init__(str(error), hint=hint)
        self.error = error


class Record:
    """One data record: ``line`` on which it starts (1-based, the header is line
    1), ``fields`` the raw values as in the file, and ``values`` (known column
    name -> raw value), built only when asked for: the contract import's hot
    path reads ``fields`` by column index and never needs it."""

    __slots__ = ("line", "fields", "_columns", "_values")

    def __init__(self, line: int, fields: list[str], columns: Mapping[str, int]) -> None:
        self.line = line
        self.fields = fields
        self._columns = columns
        self._values: dict[str, str] | None = None

    @property
    def values(self) -> dict[str, str]:
        if self._values is None:
            fields, n = self.fields, len(self.fields)
            self._values = {name: fields[i] for name, i in self._columns.items() if i < n}
        return self._values

    def __repr__(self) -> str:
        return f"Record(line={self.line}, fields={self.fields!r})"


@dataclass
class CsvInput:
    """A CSV byte stream and what was learnt while reading it."""

    stream: BinaryIO
    name: str
    encoding: str | None = None  # forced by --encoding
    delimiter: str = ","
    encoding_used: str = "utf-8"
    sha256: str = ""
    bytes_read: int = 0
    header: list[str] = field(default_factory=list)
    header_line: int = 1
    columns: dict[str, int] = field(default_factory=dict)
    ignored_columns: list[str] = field(default_factory=list)
    on_progress: Callable[[int], None] | None = None

    # -- decoding ---------------------------------------------------------------
    def _raw_chunks(self) -> Iterator[bytes]:
        digest = hashlib.sha256()
        while True:
            chunk = self.stream.read(CHUNK)
            if not chunk:
                break
            digest.update(chunk)
            self.bytes_read += len(chunk)
            if self.on_progress is not None:
                self.on_progress(self.bytes_read)
            yield chunk
        self.sha256 = digest.hexdigest()

    def __post_init__(self) -> None:
        if self.encoding:
            self.encoding = text_encoding(self.encoding)

    def _text_chunks(self) -> Iterator[str]:
        raw = self._raw_chunks()
        if self.encoding:
            name = self.encoding
            # A BOM is no part of the data, whatever the file says it is.
            decoder = codecs.getincrementaldecoder("utf-8-sig" if name == "utf-8" else name)(errors="strict")
            self.encoding_used = name
            yield from self._decode(raw, decoder, name)
            return

        first = next(raw, b"")
        if first.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            raise StructuralError(
                RowError(self.name, 1, 1, "", "the file is UTF-16 encoded"),
                hint="save it as UTF-8, or pass --encoding utf-16",
            )

        def again() -> Iterator[bytes]:
            if first:
                yield first
            yield from raw

        chunks = again()
        decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="strict")
        self.encoding_used = "utf-8"
        seen_non_ascii = first.startswith(codecs.BOM_UTF8)  # a BOM says UTF-8
        line, col = 1, 1  # where the next character goes
        for chunk in chunks:
            try:
                text = decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                data = bytes(exc.object)
                prefix = data[: exc.start].decode("utf-8-sig", errors="strict")
                bad_line, bad_col = _advance(line, col, prefix)
                if seen_non_ascii or not prefix.isascii():
                    raise StructuralError(
                        RowError(
                            self.name,
                            bad_line,
                            bad_col,
                            "",
                            f"byte 0x{data[exc.start]:02X} is not UTF-8, but UTF-8 text came "
                            "before it (mixed encodings)",
                        ),
                        hint="re-save the file as UTF-8, or pass --encoding",
                    ) from None
                # Everything so far was ASCII, which Windows-1252 reads alike.
                self.encoding_used = "cp1252"
                cp = codecs.getincrementaldecoder("cp1252")(errors="strict")

                def rest(tail: bytes = data[exc.start :]) -> Iterator[bytes]:
                    yield tail
                    yield from chunks

                if prefix:
                    yield prefix
                yield from self._decode(rest(), cp, "cp1252", line=bad_line, col=bad_col)
                return
            if not seen_non_ascii and not text.isascii():
                seen_non_ascii = True
            line, col = _advance(line, col, text)
            if text:
                yield text
        tail = decoder.decode(b"", final=True)
        if tail:
            yield tail

    def _decode(
        self, raw: Iterator[bytes], decoder, encoding: str, line: int = 1, col: int = 1
    ) -> Iterator[str]:
        for chunk in raw:
            try:
                text = decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                before = codecs.decode(bytes(exc.object[: exc.start]), encoding, "replace")
                raise StructuralError(
                    RowError(
                        self.name,
                        *_advance(line, col, before),
                        "",
                        f"byte 0x{exc.object[exc.start]:02X} cannot be read as {encoding}",
                    ),
                    hint="pass the right --encoding",
                ) from None
            line, col = _advance(line, col, text)
            if text:
                yield text
        try:
            tail = decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise StructuralError(
                RowError(self.name, line, col, "", f"the file ends inside a {encoding} character")
            ) from None
        if tail:
            yield tail

    def _lines(self) -> Iterator[str]:
        """Split decoded text into lines, keeping their endings (LF, CRLF, CR).

        Each chunk is split once (the complete lines in one regex pass); a line
        that spans chunks is kept as parts until its end is found, so long
        lines cost linear time."""
        parts: list[str] = []
        size = 0
        line_no = 1
        for text in self._text_chunks():
            if parts and parts[-1].endswith("\r") and not text.startswith("\n"):
                yield "".join(parts)  # that CR ended the line after all
                parts, size, line_no = [], 0, line_no + 1
            # A CR at the end of a chunk may be the first half of CRLF: held.
            body = text[:-1] if text.endswith("\r") else text
            pos = max(body.rfind("\n"), body.rfind("\r")) + 1  # after the last line ending
            if pos:
                lines = _LINE.findall(body, 0, pos)
                if parts:
                    parts.append(lines[0])
                    lines[0] = "".join(parts)
                    parts, size = [], 0
                line_no += len(lines)
                yield from lines
            if pos < len(text):
                parts.append(text[pos:])
                size += len(text) - pos
                if size > MAX_LINE:
                    raise StructuralError(
                        RowError(self.name, line_no, 0, "", f"line longer than {MAX_LINE} characters"),
                        hint="is this the right file? (no import format has lines this long)",
                    )
        if parts:
            yield "".join(parts)

    # -- records ----------------------------------------------------------------
    def records(
        self, required: Sequence[str], optional: Sequence[str] = (), aliases: Mapping[str, str] | None = None
    ) -> Iterator[Record]:
        """Yield the data records, after checking the header.  ``aliases`` maps
        another header name to a column (the name a list export uses)."""
        lines = self._lines()
        first_line = next(lines, None)
        offset = 0  # leading blank lines
        while first_line is not None and not first_line.strip():
            first_line = next(lines, None)
            offset += 1
        if first_line is None:
            raise StructuralError(
                RowError(self.name, 1, 0, "", "the file is empty: expected a header line"),
                hint="the header is: " + ",".join(required),
            )
        self.delimiter = ";" if first_line.count(";") > first_line.count(",") else ","

        raw: list[str] = []  # the lines of the record being read

        def all_lines() -> Iterator[str]:
            number = 1 + offset
            self._check_fields(first_line, number)
            yield first_line
            for line in lines:
                number += 1
                if len(line) > MAX_FIELDS:
                    self._check_fields(line, number)
                raw.append(line)
                yield line

        reader = csv.reader(all_lines(), delimiter=self.delimiter, strict=True)
        try:
            header = next(reader)
        except csv.Error as exc:
            col, reason = _fault(first_line, self.delimiter)
            raise StructuralError(
                RowError(self.name, 1 + offset, col, "", f"bad header: {reason or exc}")
            ) from None
        for col, name in enumerate(header, 1):
            if "\x00" in name:
                raise StructuralError(
                    RowError(self.name, 1 + offset, col, "", "NUL byte in the header"), hint=_NUL_HINT
                )
        self.header_line = 1 + offset
        self._check_header(header, required, optional, aliases or {})

        prev_end = reader.line_num + offset
        columns = self.columns
        while True:
            start = prev_end + 1
            raw.clear()
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                col, reason = _fault(raw[0], self.delimiter) if raw else (0, "")
                raise StructuralError(
                    RowError(self.name, start, col, self._colname(col), reason or f"CSV syntax: {exc}"),
                    hint="a field over the limit: is this the right file?"
                    if reason.startswith("field longer")
                    else 'close the quote, or double a quote inside a quoted field ("")',
                ) from None
            prev_end = reader.line_num + offset
            if not fields or (len(fields) == 1 and not fields[0].strip()):
                continue  # blank line
            joined = "".join(fields)  # one scan of the row for the common, clean case
            clean = "\n" not in joined and "\r" not in joined and "\x00" not in joined
            for col, value in enumerate(() if clean else fields, 1):
                if "\n" in value or "\r" in value:
                    raise StructuralError(
                        RowError(
                            self.name,
                            start,
                            col,
                            self._colname(col),
                            "a quote opened here is not closed on this line "
                            f"(the field runs to line {prev_end})",
                        ),
                        hint="close or remove the quote",
                    )
                if "\x00" in value:
                    raise StructuralError(
                        RowError(self.name, start, col, self._colname(col), "NUL byte in field"),
                        hint=_NUL_HINT,
                    )
            yield Record(start, fields, columns)

    def _check_fields(self, line: str, number: int) -> None:
        col = _excess_field(line, self.delimiter)
        if col:
            raise StructuralError(
                RowError(self.name, number, col, "", f"more than {MAX_FIELDS} fields on one line"),
                hint="is this the right file? (no import format has more than a few columns)",
            )

    def _colname(self, col: int) -> str:
        return self.header[col - 1] if 0 < col <= len(self.header) else ""

    def _check_header(
        self, header: list[str], required: Sequence[str], optional: Sequence[str], aliases: Mapping[str, str]
    ) -> None:
        self.header = [h.strip().lower() for h in header]
        known = set(required) | set(optional)
        seen: dict[str, int] = {}
        for col, given in enumerate(self.header, 1):
            name = aliases.get(given, given)
            if name in seen and name in known:
                raise StructuralError(
                    RowError(
                        self.name, self.header_line, col, name, f"duplicate column (also column {seen[name]})"
                    )
                )
            seen.setdefault(name, col)
        missing = [c for c in required if c not in seen]
        if missing:
            raise StructuralError(
                RowError(
                    self.name,
                    self.header_line,
                    0,
                    "",
                    "missing column" + ("s " if len(missing) > 1 else " ") + ", ".join(missing),
                ),
                hint=f"the header needs: {','.join(required)}"
                + (f" (optional: {','.join(optional)})" if optional else "")
                + f"; delimiter read as {self.delimiter!r}",
            )
        self.columns = {name: seen[name] - 1 for name in known if name in seen}
        self.ignored_columns = [h for h in self.header if aliases.get(h, h) not in known]

    def column_of(self, name: str) -> int:
        """1-based column number of a known column; 0 (the row as a whole) for
        an optional column the file left out, which a problem may still name
        (a partner switched to individual mode by a file without `consent`)."""
        i = self.columns.get(name)
        return 0 if i is None else i + 1


def check_width(src: CsvInput, record: Record) -> RowError | None:
    """A row must have as many fields as the header."""
    n, want = len(record.fields), len(src.header)
    if n == want:
        return None
    if n > want:
        hint = ""
        if src.delimiter == ",":
            hint = " (a decimal comma or an unquoted comma in a value? use a point as decimal mark)"
        return RowError(src.name, record.line, want + 1, "", f"{n} fields, the header has {want}{hint}")
    return RowError(src.name, record.line, n + 1, "", f"{n} fields, the header has {want}")
