"""Find malformed input rows and say exactly where they are and what was expected.

A row is bad in one of two ways. DuckDB cannot parse it (wrong field count, a
rating or timestamp that is not a number): the line goes to DuckDB's reject table
with its byte offset. Or it parses but one of its values is unusable, and step 1
lists it in the view `flagged_rows`: an empty id, an empty or non-finite rating,
an empty or fractional timestamp. Messages name the place the way a person finds
it: the file's 1-based line and the field by number and role for CSV, the 1-based
row and the column by name and role for Parquet.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from genrec.data.datasets import ROLE_COLUMNS, ROLE_NAMES, RatingsLayout

MAX_EXAMPLES = 20
EXPECTED = {
    # id_kind: "a non-empty", or "an integer" for layouts of integer ids.
    "user": "{id_kind} user id",
    "item": "{id_kind} item id",
    "rating": "a finite number",
    "ts": "an integer timestamp (epoch seconds)",
}
READ_CHUNK_BYTES = 1 << 24
LONE_CARRIAGE_RETURN = re.compile(rb"\r(?!\n)")
LF_ALONE = re.compile(rb"(?<!\r)\n")
CRLF_END = re.compile(rb"(?<=\r)\n")
LONE_CARRIAGE_RETURN_SAYS = (
    "a lone carriage return (\\r) inside the line; expected \\n or \\r\\n line endings"
)
# Step 0's checks: ts is read as a DOUBLE, exact below 2^53; integer ids as BIGINT.
EXACT_SECONDS_BOUND = 2**53
PLAIN_INTEGER_TEXT = re.compile(r"-?[1-9][0-9]*")  # as step 0's plain_integer()
MAX_QUOTED_CHARS = 80  # a longer value found is shortened in messages

# Bookkeeping queries on step 1's tables (the transformations live in sql/).
# A reject has one row per failing field; the first one names the line.
REJECTS_QUERY = """
select line_byte_position, column_idx, error_type, error_message
from reject_errors
qualify row_number() over (
    partition by line_byte_position
    order by column_idx
) = 1
order by line_byte_position
limit $limit
"""
REJECT_COUNT_QUERY = """
select count(distinct line_byte_position)
from reject_errors
"""
# A quote that never closes makes DuckDB read the rest of the file as one field
# and reject it as one line: skipping that line would drop every line after it.
UNTERMINATED_QUOTE_QUERY = """
select line_byte_position, column_idx
from reject_errors
where error_type = 'UNQUOTED VALUE' and error_message like '%unterminated quote%'
order by line_byte_position
limit 1
"""
FLAGGED_QUERY = """
select rowid, bad_field
from flagged_rows
order by rowid
limit $limit
"""
FLAGGED_COUNT_QUERY = """
select count(*)
from flagged_rows
"""
SIDE_FILE_REJECTS_QUERY = """
select line_byte_position, column_idx, column_name, error_type, error_message
from side_file_rejects
qualify row_number() over (
    partition by line_byte_position
    order by column_idx
) = 1
order by line_byte_position
limit $limit
"""
SIDE_FILE_REJECT_COUNT_QUERY = """
select count(distinct line_byte_position)
from side_file_rejects
"""


@dataclass(frozen=True)
class BadRow:
    """One malformed row: where it is (1-based line, header counted) and why."""

    file: str
    line: int
    reason: str
    unit: str = "line"  # "row" for Parquet, whose rows have no line numbers

    def __str__(self) -> str:
        return f"{self.file}: {self.unit} {self.line}: {self.reason}"


class BadRowsError(ValueError):
    """The input holds malformed rows: ratings with --on_bad_rows=error, side files."""

    def __init__(
        self,
        bad_rows: list[BadRow],
        total: int,
        advice: str = "fix the file or pass --on_bad_rows=skip",
    ) -> None:
        self.bad_rows = bad_rows
        self.total = total
        more = f" ({total - 1} more bad rows)" if total > 1 else ""
        super().__init__(f"{bad_rows[0]}{more}; {advice}")


def csv_bad_rows(
    connection: duckdb.DuckDBPyConnection, path: Path, layout: RatingsLayout
) -> tuple[list[BadRow], int]:
    """Return up to MAX_EXAMPLES bad rows of a CSV load, in file order, and the total.

    Rejected lines are placed by their byte offset, so a quoted field spanning
    lines before them does not shift the line number. Flagged rows are placed by
    walking the file's records, which happens only when there are any.
    """
    _check_quotes_close(connection, path, layout)
    rejects = connection.execute(REJECTS_QUERY, {"limit": MAX_EXAMPLES}).fetchall()
    starts = _record_starts(path, layout.encoding, [pos for pos, *_ in rejects])
    lines = _line_numbers(path, starts)
    examples = [
        (lines[start], _reject_reason(layout, index, error_type, message))
        for start, (_, index, error_type, message) in zip(starts, rejects, strict=True)
    ]

    flagged = connection.execute(FLAGGED_QUERY, {"limit": MAX_EXAMPLES}).fetchall()
    wanted = {int(rowid): str(role) for rowid, role in flagged}
    if wanted:
        rejected_starts = _all_reject_starts(connection, path, layout.encoding)
        for rowid, line, fields in _loaded_records(
            path, layout, wanted, rejected_starts
        ):
            role = wanted.pop(rowid)
            index = layout.fields.index(role)
            found = fields[index] if index < len(fields) else ""
            reason = _value_reason(layout.field(index), role, found, _id_kind(layout))
            examples.append((line, reason))

    total = _scalar(connection, REJECT_COUNT_QUERY) + _scalar(
        connection, FLAGGED_COUNT_QUERY
    )
    bad_rows = [BadRow(str(path), line, reason) for line, reason in sorted(examples)]
    # A row the record walk did not find (a line DuckDB skips that the walk
    # counts) is still reported, by its number among the loaded rows.
    for rowid, role in wanted.items():
        index = layout.fields.index(role)
        reason = _value_reason(layout.field(index), role, None, _id_kind(layout))
        bad_rows.append(BadRow(str(path), rowid + 1, reason, "data row"))
    return bad_rows[:MAX_EXAMPLES], total


def _check_quotes_close(
    connection: duckdb.DuckDBPyConnection, path: Path, layout: RatingsLayout
) -> None:
    """Raise ValueError, whatever the bad-row policy, if a quote is never closed.

    Such a line is not one bad row: DuckDB read every line after it into the
    open field, so skipping it would silently drop the rest of the file.
    """
    row = connection.execute(UNTERMINATED_QUOTE_QUERY).fetchone()
    if row is None:
        return
    position, index = row
    (start,) = _record_starts(path, layout.encoding, [position])
    if not _quote_open_to_the_end(path, start, layout):
        return  # DuckDB says the same of text after a closing quote: `"a"b`
    line = _line_numbers(path, [start])[start]
    where = f"{layout.field(index - 1)} " if index else ""
    raise ValueError(
        f"{path}: line {line}: {where}opens a quote ({layout.quote}) that is never "
        "closed, so every line after it would be read as part of that field; "
        f"close it, or double a {layout.quote} that is part of a quoted value"
    )


def line_ending_problem(
    path: Path, quote: str = "", delim: str = ",", encoding: str = "utf-8"
) -> str | None:
    """Say where the line endings of `path` stop DuckDB's parser, or return None.

    DuckDB stops with "reached an invalid state", naming no line, at a carriage
    return that no newline follows, and where the lines stop ending the way the
    first one does (\\r\\n, then a \\n alone, or the reverse): a Windows file
    with one line appended by a Unix tool. Inside a quoted field either is part
    of the value, which DuckDB reads. This finds the first such line, reading
    the file once, only after such a failure. Returns "line N: what".
    """
    candidate = _first_odd_ending(path)
    quote_bytes, delim_bytes = quote.encode(encoding), delim.encode(encoding)
    if candidate is None or not quote_bytes:
        return None if candidate is None else f"line {candidate[0]}: {candidate[1]}"
    # The candidate may lie in a quoted value: walk the lines up to the first
    # problem outside quotes, or to the candidate when no quote came before it.
    usual: tuple[int, bool] | None = None  # the first line ending: line, is \r\n
    inside = seen_quote = False  # inside: in a field a line before left open
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            quoted = inside or quote_bytes in line
            seen_quote = seen_quote or quoted
            if number == candidate[0] and not seen_quote:
                return f"line {number}: {candidate[1]}"
            crlf = line.endswith(b"\r\n")
            text = line[:-2] if crlf else line.removesuffix(b"\n")
            for lone in re.finditer(rb"\r", text) if b"\r" in text else ():
                prefix = text[: lone.start()]
                if not (
                    quoted
                    and _ends_inside_quotes(prefix, inside, quote_bytes, delim_bytes)
                ):
                    return f"line {number}: {LONE_CARRIAGE_RETURN_SAYS}"
            if quoted:
                inside = _ends_inside_quotes(line, inside, quote_bytes, delim_bytes)
            if inside or not line.endswith(b"\n"):
                continue  # a newline in a quoted value, or the last line's end
            if usual is None:
                usual = (number, crlf)
            elif crlf != usual[1]:
                return f"line {number}: {_odd_ending_says(crlf, usual[0])}"
    return None


def _first_odd_ending(path: Path) -> tuple[int, str] | None:
    """The first lone \\r or odd line ending of `path`, quotes not minded.

    Returns (line, what). Chunks of bytes are counted, and searched only where
    the counts show a problem: 800 MB take a few seconds, walking the lines 36.
    """
    odd_ending: re.Pattern[bytes] | None = None  # known once the first line ends
    newlines, tail = 0, b""
    with path.open("rb") as handle:
        while True:
            chunk = handle.read(READ_CHUNK_BYTES)
            # The previous chunk's last byte comes along: a \r there is judged
            # by the byte after it, a \n here by the byte before it.
            text, start = tail + chunk, len(tail)
            if odd_ending is None and (first := text.find(b"\n", start)) >= 0:
                odd_ending = LF_ALONE if text[first - 1 : first] == b"\r" else CRLF_END
            problems = []
            # Counting first spares the searches on a chunk without a problem.
            pairs = text.count(b"\r\n")
            lone = (
                None
                if text.count(b"\r") == pairs
                else LONE_CARRIAGE_RETURN.search(text)
            )
            if lone and (lone.start() + 1 < len(text) or not chunk):
                problems.append((lone.start(), LONE_CARRIAGE_RETURN_SAYS))
            if odd_ending is LF_ALONE:  # a \n without its \r?
                maybe_odd = text.count(b"\n", start) != pairs
            else:  # a \r\n in a file of \n?
                maybe_odd = pairs > 0
            odd = odd_ending.search(text, start) if odd_ending and maybe_odd else None
            if odd:
                problems.append(
                    (odd.start(), _odd_ending_says(odd_ending is CRLF_END, 1))
                )
            if problems:
                position, what = min(problems)
                return newlines + text.count(b"\n", 0, position) + 1, what
            if not chunk:
                return None
            newlines += text.count(b"\n", 0, len(text) - 1)
            tail = text[-1:]


def _odd_ending_says(crlf: bool, usual_line: int) -> str:
    """Say that a line ends with \\r\\n where `usual_line` ends with \\n (or v.v.)."""
    found, usual = ("\\r\\n", "\\n") if crlf else ("\\n", "\\r\\n")
    return (
        f"ends with {found} where line {usual_line} ends with {usual}; expected one "
        "kind of line ending in the whole file (convert it, e.g. with dos2unix)"
    )


def _quote_open_to_the_end(path: Path, start: int, layout: RatingsLayout) -> bool:
    """Whether the record at byte `start` opens a quote that no later line closes."""
    quote = layout.quote.encode(layout.encoding)
    delim = layout.delim.encode(layout.encoding)
    inside = False
    with path.open("rb") as handle:
        handle.seek(start)
        for line in handle:
            inside = _ends_inside_quotes(line, inside, quote, delim)
            if not inside:
                return False
    return inside


def parquet_bad_rows(
    connection: duckdb.DuckDBPyConnection,
    path: Path,
    source: pa.Table,
    column_names: dict[str, str],
) -> tuple[list[BadRow], int]:
    """Return up to MAX_EXAMPLES flagged rows of a Parquet load and the total.

    Args:
      source: the registered table, its columns renamed to user_key, item_key,
        rating and ts, in file order (so a loaded rowid is a file row).
      column_names: role -> the column's name in the file.
    """
    flagged = connection.execute(FLAGGED_QUERY, {"limit": MAX_EXAMPLES}).fetchall()
    bad_rows = []
    for rowid, role in flagged:
        value = source.column(ROLE_COLUMNS[role][0])[int(rowid)].as_py()
        found = "" if value is None else str(value)
        where = f"column {column_names.get(role, ROLE_COLUMNS[role][0])!r}"
        bad_rows.append(
            BadRow(str(path), int(rowid) + 1, _value_reason(where, role, found), "row")
        )
    return bad_rows, _scalar(connection, FLAGGED_COUNT_QUERY)


def check_side_file(
    connection: duckdb.DuckDBPyConnection, path: Path, encoding: str
) -> None:
    """Raise BadRowsError if a parse step rejected lines of the side file `path`.

    Side files (users, items) are small curated tables: a malformed line is
    always an error, whatever --on_bad_rows says about the ratings.
    """
    rejects = connection.execute(
        SIDE_FILE_REJECTS_QUERY, {"limit": MAX_EXAMPLES}
    ).fetchall()
    total = _scalar(connection, SIDE_FILE_REJECT_COUNT_QUERY)
    # The next parse step makes its own reject tables.
    connection.execute("drop table if exists side_file_rejects")
    connection.execute("drop table if exists side_file_scans")
    if not rejects:
        return
    starts = _record_starts(path, encoding, [position for position, *_ in rejects])
    lines = _line_numbers(path, starts)
    bad_rows = []
    for start, (_, index, column, error_type, message) in zip(
        starts, rejects, strict=True
    ):
        if error_type in {"MISSING COLUMNS", "TOO MANY COLUMNS"}:
            reason = _field_count_reason(message)
        elif error_type == "CAST":
            expected = _cast_target(message)
            reason = f"field {index} ({column}): expected {expected}, found " + (
                _found(_cast_value(message))
            )
        else:
            reason = f"{error_type.lower()}: {message}"
        bad_rows.append(BadRow(str(path), lines[start], reason))
    raise BadRowsError(bad_rows, total, "fix the file")


def check_side_file_ids(
    connection: duckdb.DuckDBPyConnection,
    path: Path,
    repeated_id_query: str,
    delim: str,
    encoding: str,
) -> None:
    """Raise ValueError if the parsed side file lists one id twice.

    Each user or item gets one row of features; a second line for the same id
    would repeat its interactions when the features are joined.

    Args:
      repeated_id_query: returns the smallest id that the parse step's table
        holds more than once (no row when none is).
    """
    row = connection.execute(repeated_id_query).fetchone()
    if row is None:
        return
    repeated = str(row[0])
    prefix = (repeated + delim).encode(encoding)
    with path.open("rb") as handle:
        lines = [
            number for number, line in enumerate(handle, 1) if line.startswith(prefix)
        ]
    where = " and ".join(str(number) for number in lines[:2]) or "?"
    raise ValueError(
        f"{path}: lines {where}: id {repeated!r} is listed more than once; "
        "expected one line per id"
    )


def _reject_reason(
    layout: RatingsLayout, index: int | None, error_type: str, message: str
) -> str:
    """Phrase one DuckDB reject of the ratings file as what was expected where."""
    if error_type in {"MISSING COLUMNS", "TOO MANY COLUMNS"}:
        return f"expected {len(layout.fields)} fields separated by {layout.delim!r}" + (
            _field_count_found(message)
        )
    if error_type == "LINE SIZE OVER MAXIMUM":
        return f"expected a line shorter than DuckDB's maximum ({message})"
    if index is None:  # a reject of the whole line
        return f"{error_type.lower()}: {message}"
    role = layout.fields[index - 1] if 0 < index <= len(layout.fields) else ""
    if error_type == "CAST" and role in EXPECTED:
        # DuckDB numbers fields from 1, as a person counting along the line does.
        return _value_reason(layout.field(index - 1), role, _cast_value(message))
    if error_type == "UNQUOTED VALUE" and 0 < index <= len(layout.fields):
        # Not a quote left open (_check_quotes_close stops for those): text
        # between a closing quote and the next delimiter.
        return (
            f"{layout.field(index - 1)}: expected the delimiter {layout.delim!r} "
            f"right after a closing quote ({layout.quote})"
        )
    if error_type == "INVALID ENCODING":
        hint = "; for a latin-1 file pass --encoding=latin-1" if layout.names else ""
        return f"expected {layout.encoding} text ({message}){hint}"
    return f"{error_type.lower()}: {message}"


def _id_kind(layout: RatingsLayout) -> str:
    """How the ids of `layout` must be spelt, for EXPECTED's user and item."""
    return "an integer" if layout.integer_ids else "a non-empty"


def _value_reason(
    where: str, role: str, found: str | None, id_kind: str = "a non-empty"
) -> str:
    expected = EXPECTED[role].format(id_kind=id_kind)
    # An integer that fails its check is out of range: say which range.
    text = found or ""
    if role == "ts" and _whole_number_beyond_bound(text):
        expected += f" below {EXACT_SECONDS_BOUND:,} in magnitude"
    elif id_kind == "an integer" and PLAIN_INTEGER_TEXT.fullmatch(text):
        expected += " within the signed 64-bit range"
    return f"{where} ({ROLE_NAMES[role]}): expected {expected}, found " + (
        _found(found)
    )


def _whole_number_beyond_bound(text: str) -> bool:
    """Whether `text` reads as a whole number (`1e16` too) not below 2^53 in size."""
    try:
        value = float(text)  # as DuckDB's DOUBLE: '1e16', ' 9.1e15', '1_000'
    except ValueError:
        return False
    return math.isfinite(value) and value == int(value) and abs(value) >= 2**53


def _found(value: str | None) -> str:
    """Quote a found value for a message, shortening a long one."""
    if value is None:
        return "something else"
    if not value.strip():
        return "nothing"
    if len(value) > MAX_QUOTED_CHARS:
        shown = value[: MAX_QUOTED_CHARS - 10]
        return f"{shown!r}... ({len(value):,} characters)"
    return repr(value)


def _cast_value(message: str) -> str | None:
    """The text DuckDB could not convert, from its CAST reject message."""
    match = re.search(r'Could not convert string "(.*)" to', message)
    return match.group(1) if match else None


def _cast_target(message: str) -> str:
    """What a CAST reject expected, from the type DuckDB tried to convert to."""
    match = re.search(r"to '([A-Z]+)'", message)
    target = match.group(1) if match else ""
    if target in {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT"}:
        return "an integer"
    if target in {"FLOAT", "DOUBLE"}:
        return "a number"
    return f"a value of type {target or 'unknown'}"


def _field_count_reason(message: str) -> str:
    match = re.search(r"Expected Number of Columns: (\d+)", message)
    expected = match.group(1) if match else "more"
    return f"expected {expected} fields" + _field_count_found(message)


def _field_count_found(message: str) -> str:
    match = re.search(r"Found: (\d+)", message)
    return f", found {match.group(1)}" if match else f" ({message})"


def _scalar(connection: duckdb.DuckDBPyConnection, query: str) -> int:
    row = connection.execute(query).fetchone()
    return int(row[0]) if row else 0


def _record_starts(path: Path, encoding: str, positions: list[int]) -> list[int]:
    """Return the 0-based file offset of each rejected record's first byte.

    DuckDB gives the 1-based position where its view of the line starts, which
    includes the newlines of any blank lines skipped just before it, and counts
    the bytes of the text as UTF-8: in a latin-1 file, after each character
    from 0x80 on, its count runs one byte ahead of the file's.
    """
    text_offsets = [int(position) - 1 for position in positions]
    offsets = _file_offsets(path, encoding, text_offsets)
    starts = []
    with path.open("rb") as handle:
        for text_offset in text_offsets:
            offset = offsets[text_offset]
            handle.seek(offset)
            while handle.read(1) in (b"\n", b"\r"):
                offset += 1
            starts.append(offset)
    return starts


def _file_offsets(path: Path, encoding: str, offsets: list[int]) -> dict[int, int]:
    """Map offsets into the UTF-8 text of `path` to offsets into the file."""
    if encoding != "latin-1":
        return {offset: offset for offset in offsets}
    mapped: dict[int, int] = {}
    pending = iter(sorted(set(offsets)))
    target = next(pending, None)
    file_base = text_base = 0
    with path.open("rb") as handle:
        while target is not None and (chunk := handle.read(READ_CHUNK_BYTES)):
            # A latin-1 byte from 0x80 on is two bytes in UTF-8; `ends` holds
            # the UTF-8 offset just after each byte of the chunk.
            widths = 1 + (np.frombuffer(chunk, np.uint8) >= 0x80)
            ends = text_base + np.cumsum(widths)
            while target is not None and target < ends[-1]:
                index = int(np.searchsorted(ends, target, side="right"))
                mapped[target] = file_base + index
                target = next(pending, None)
            file_base, text_base = file_base + len(chunk), int(ends[-1])
    for rest in (target, *pending) if target is not None else ():
        mapped[rest] = file_base + rest - text_base  # at or past the end
    return mapped


def _line_numbers(path: Path, offsets: list[int]) -> dict[int, int]:
    """Map byte offsets to 1-based physical line numbers in one forward read."""
    lines: dict[int, int] = {}
    if not offsets:
        return lines
    newlines, position = 0, 0
    pending = iter(sorted(set(offsets)))
    target: int | None = next(pending)
    with path.open("rb") as handle:
        while True:
            chunk = handle.read(READ_CHUNK_BYTES)
            while target is not None and target < position + len(chunk):
                lines[target] = newlines + chunk.count(b"\n", 0, target - position) + 1
                target = next(pending, None)
            if target is None:
                return lines
            if not chunk:  # at or past the end (not for DuckDB's offsets)
                lines.update((offset, newlines + 1) for offset in (target, *pending))
                return lines
            newlines += chunk.count(b"\n")
            position += len(chunk)


def _all_reject_starts(
    connection: duckdb.DuckDBPyConnection, path: Path, encoding: str
) -> set[int]:
    positions = connection.execute(
        "select distinct line_byte_position from reject_errors"
    ).fetchall()
    return set(_record_starts(path, encoding, [position for (position,) in positions]))


def _loaded_records(
    path: Path,
    layout: RatingsLayout,
    wanted: dict[int, str],
    rejected_starts: set[int],
) -> Iterator[tuple[int, int, list[str]]]:
    """Yield (rowid, line, fields) for the wanted loaded rows, in file order.

    The loaded rows are the file's records minus the header and the rejected
    ones, in order, so the n-th of them has rowid n (step 1 keeps insertion
    order). A record is a non-blank line plus, while a quote is open, the lines
    after it (see `_ends_inside_quotes`).
    """
    quote = layout.quote.encode(layout.encoding) if layout.quote else b""
    rowid = -1
    records = _records(path, quote, layout.delim.encode(layout.encoding))
    if layout.header:
        next(records, None)
    remaining = len(wanted)
    for line, offset, record in records:
        if offset in rejected_starts:
            continue
        rowid += 1
        if rowid in wanted:
            yield rowid, line, _split_record(record, layout)
            remaining -= 1
            if not remaining:
                return


def _records(
    path: Path, quote: bytes, delim: bytes
) -> Iterator[tuple[int, int, bytes]]:
    """Yield (first line, byte offset, bytes) of each non-blank record."""
    parts: list[bytes] = []
    first_line = start = 0
    offset = 0
    inside_quotes = False
    with path.open("rb") as handle:
        for line_number, line in enumerate(handle, start=1):
            if not parts and not line.rstrip(b"\r\n"):
                offset += len(line)
                continue
            if not parts:
                first_line, start = line_number, offset
            parts.append(line)
            offset += len(line)
            if quote and (inside_quotes or quote in line):
                inside_quotes = _ends_inside_quotes(line, inside_quotes, quote, delim)
            if not inside_quotes:
                yield first_line, start, b"".join(parts)
                parts = []
    if parts:
        yield first_line, start, b"".join(parts)


def _ends_inside_quotes(line: bytes, inside: bool, quote: bytes, delim: bytes) -> bool:
    """Whether a quoted field is still open at the end of `line`.

    As DuckDB reads a field: a quote opens one only as the field's first
    character (`a"b` is plain text); inside it, a doubled quote is a quote
    character (escape = quote) and a single one closes it.
    """
    position, field_start = 0, not inside
    while position < len(line):
        if inside:
            found = line.find(quote, position)
            if found < 0:
                return True
            if line.startswith(quote, found + len(quote)):
                position = found + 2 * len(quote)
                continue
            inside, field_start = False, False
            position = found + len(quote)
        elif field_start and line.startswith(quote, position):
            inside = True
            position += len(quote)
        else:
            found = line.find(delim, position)
            if found < 0:
                return False
            position, field_start = found + len(delim), True
    return inside


def _split_record(record: bytes, layout: RatingsLayout) -> list[str]:
    """The record's field texts, for quoting the value that was found."""
    text = record.decode(layout.encoding, errors="replace").rstrip("\r\n")
    if layout.quote and len(layout.delim) == 1:
        reader = csv.reader(
            io.StringIO(text), delimiter=layout.delim, quotechar=layout.quote
        )
        return next(reader, [])
    return text.split(layout.delim)
