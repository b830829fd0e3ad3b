"""Raw ratings -> DuckDB SQL steps -> Parquet sequences (see docs/data.md)."""

from __future__ import annotations

from pathlib import Path

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"


def sql_files() -> list[Path]:
    """Return the SQL step files, in pipeline order (their numbered names)."""
    return sorted(SQL_DIR.glob("[0-9][0-9]_*.sql"))
