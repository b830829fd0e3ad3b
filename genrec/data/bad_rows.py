"""Find malformed input rows and say exactly where they are and what was expected."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from genrec.data.datasets import ROLE_MEANING, RatingsLayout

MAX_EXAMPLES = 20

# Bookkeeping queries on the loaded table (the transformations live in sql/).
REJECTS_QUERY = """
select line, column_idx, column_name, error_type, error_message
from reject_errors
qualify row_number() over (partition by line order by column_idx) = 1
order by line
"""
# Step 1 turns an empty id into a NULL hash.
EMPTY_FIELDS_QUERY = """
select
    rowid,
    case
        when user_hash is null then 'user_key'
        when item_hash is null then 'item_key'
        when rating is null then 'rating'
        else 'ts'
    end as column_name
from loaded_events
where user_hash is null or item_hash is null or rating is null or ts is null
order by rowid
"""


@dataclass(frozen=True)
class BadRow:
    """One malformed row: where it is (1-based line, header counted) and why."""

    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: line {self.line}: {self.reason}"


class BadRowsError(ValueError):
    """The input holds malformed rows and --on_bad_rows=error."""

    def __init__(self, bad_rows: list[BadRow], total: int) -> None:
        self.bad_rows = bad_rows
        self.total = total
        more = f" ({total - 1} more bad rows)" if total > 1 else ""
        super().__init__(
            f"{bad_rows[0]}{more}; fix the file or pass --on_bad_rows=skip"
        )


def find_bad_rows(
    connection: duckdb.DuckDBPyConnection,
    path: Path,
    layout: RatingsLayout | None,
) -> tuple[list[BadRow], int]:
    """Return up to MAX_EXAMPLES bad rows (in file order) and the total count.

    Parse failures come from DuckDB's reject table, which records exact lines.
    Empty ids or values parse fine and are found in `loaded_events`; their lines
    are recovered by re-reading the file, which only happens when there are any.
    """
    rejected = []
    if layout is not None:
        for line, index, column, error_type, message in connection.execute(
            REJECTS_QUERY
        ).fetchall():
            reason = _reject_reason(layout, index, column, error_type, message)
            rejected.append((int(line), reason))
    reject_lines = {line for line, _ in rejected}

    empty = connection.execute(EMPTY_FIELDS_QUERY).fetchall()
    examples = empty[:MAX_EXAMPLES]
    located = _locate_rows(path, layout, [row for row, _ in examples], reject_lines)
    empties = [
        (
            located[row],
            f"field {column}: expected {ROLE_MEANING[column]}, found nothing",
        )
        for row, column in examples
    ]
    examples = sorted(rejected + empties)[:MAX_EXAMPLES]
    bad_rows = [BadRow(str(path), line, reason) for line, reason in examples]
    return bad_rows, len(reject_lines) + len(empty)


def _reject_reason(
    layout: RatingsLayout, index: int, column: str, error_type: str, message: str
) -> str:
    """Phrase one DuckDB reject as what was expected where."""
    if error_type in {"MISSING COLUMNS", "TOO MANY COLUMNS"}:
        return (
            f"expected {len(layout.fields)} fields separated by {layout.delim!r} "
            f"({message})"
        )
    if error_type == "CAST" and column in ROLE_MEANING:
        # DuckDB numbers fields from 1, as a person counting along the line does.
        return f"field {index} ({column}): expected {ROLE_MEANING[column]} ({message})"
    return f"{error_type.lower()}: {message}"


def _locate_rows(
    path: Path, layout: RatingsLayout | None, rowids: list[int], reject_lines: set[int]
) -> dict[int, int]:
    """Map loaded row numbers to 1-based file lines (Parquet: 1-based row numbers).

    A loaded row is the next line that is not the header, not blank and not
    rejected. Quoted fields spanning lines are not counted specially: rating
    files have none, and a custom file with them gets approximate lines.
    """
    if layout is None:
        return {row: row + 1 for row in rowids}
    if not rowids:
        return {}  # the common case: reading the whole file would find nothing
    wanted = set(rowids)
    found: dict[int, int] = {}
    loaded = -1
    with path.open("rb") as handle:
        for line_number, line in enumerate(handle, start=1):
            if (layout.header and line_number == 1) or not line.strip():
                continue
            if line_number in reject_lines:
                continue
            loaded += 1
            if loaded in wanted:
                found[loaded] = line_number
                if len(found) == len(wanted):
                    break
    return found
