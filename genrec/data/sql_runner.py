"""Run the numbered SQL step files of `sql/` with bound parameters."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from genrec.data import SQL_DIR

logger = logging.getLogger(__name__)


class SqlStepError(RuntimeError):
    """A SQL step failed inside DuckDB; the message names the step file."""


class SqlRunner:
    """Execute SQL step files on one DuckDB connection.

    Each statement of a file receives only the parameters it names (`$name`), so
    a file never sees, and never needs, a value spliced into its text.
    """

    def __init__(
        self, connection: duckdb.DuckDBPyConnection, sql_dir: Path = SQL_DIR
    ) -> None:
        self.connection = connection
        self.sql_dir = sql_dir
        self.seconds: dict[str, float] = {}

    def run(
        self, step: str, params: Mapping[str, Any] | None = None
    ) -> duckdb.DuckDBPyConnection:
        """Run every statement of `sql/<step>.sql`; return the last result.

        Args:
          step: the file name without `.sql`, e.g. "04_filter_k_core".
          params: values for the `$name` parameters the statements use.
        """
        path = self.sql_dir / f"{step}.sql"
        params = dict(params or {})
        start = time.perf_counter()
        result = self.connection
        for statement in self.connection.extract_statements(path.read_text()):
            missing = statement.named_parameters - params.keys()
            if missing:
                raise ValueError(
                    f"{path.name}: no value for parameters {sorted(missing)}"
                )
            used = {name: params[name] for name in statement.named_parameters}
            try:
                result = self.connection.execute(statement, used)
            except duckdb.Error as error:
                raise SqlStepError(
                    f"{path.parent.name}/{path.name}: {_first_lines(error)}"
                ) from error
        elapsed = time.perf_counter() - start
        self.seconds[step] = self.seconds.get(step, 0.0) + elapsed
        logger.info("sql step=%s seconds=%.2f", step, elapsed)
        return result

    def arrow(
        self,
        step: str,
        params: Mapping[str, Any] | None = None,
        batch_rows: int = 1 << 20,
    ) -> pa.Table:
        """Run a one-statement step (a `select`) and return its rows as Arrow.

        The step's time includes fetching every row: a relation is lazy, so
        building it alone measures nothing. Fetching from a relation hands the
        rows to Arrow without the extra copy that a result of `execute` makes.
        """
        path = self.sql_dir / f"{step}.sql"
        start = time.perf_counter()
        try:
            relation = self.connection.sql(path.read_text(), params=dict(params or {}))
            table = relation.to_arrow_table(batch_rows)
        except duckdb.Error as error:
            raise SqlStepError(
                f"{path.parent.name}/{path.name}: {_first_lines(error)}"
            ) from error
        elapsed = time.perf_counter() - start
        self.seconds[step] = self.seconds.get(step, 0.0) + elapsed
        logger.info("sql step=%s seconds=%.2f rows=%d", step, elapsed, table.num_rows)
        return table

    def scalar(self, query: str, params: Mapping[str, Any] | None = None) -> Any:
        """Return the single value of a small bookkeeping query (counts, checks)."""
        # fetchall: a result left unfinished blocks register() on the connection.
        rows = self.connection.execute(query, dict(params or {})).fetchall()
        return rows[0][0] if rows else None


def _first_lines(error: duckdb.Error, limit: int = 3) -> str:
    """DuckDB's message without its long list of hints (the cause keeps it all)."""
    lines = [line for line in str(error).splitlines() if line.strip()]
    return " | ".join(lines[:limit])
