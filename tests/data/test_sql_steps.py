"""The SQL step files and their runner."""

from __future__ import annotations

import re
import time

import duckdb
import pytest

from genrec.data import sql_files
from genrec.data.sql_runner import SqlRunner, SqlStepError


def test_sql_files_are_numbered_in_pipeline_order():
    names = [path.name for path in sql_files()]
    assert names == sorted(names)
    assert names[0].startswith("01_load_events") and names[-1] == "12_write_maps.sql"
    assert {"04_filter_k_core.sql", "06_categorize.sql"} <= set(names)


def test_sql_files_take_paths_and_thresholds_as_bound_parameters():
    for path in sql_files():
        text = path.read_text()
        assert not re.search(r"(?<!\\p)\{[A-Za-z_]+\}|%s|%\(", text), path.name
    assert (
        "$min_presence" in (sql_files()[0].parent / "04_filter_k_core.sql").read_text()
    )


def test_runner_binds_each_statement_its_own_parameters(tmp_path):
    (tmp_path / "01_demo.sql").write_text(
        "create table t as select $a::int as a;\nselect a + $b from t;\n"
    )
    runner = SqlRunner(duckdb.connect(), sql_dir=tmp_path)
    assert runner.run("01_demo", {"a": 2, "b": 3}).fetchone() == (5,)
    assert "01_demo" in runner.seconds


def test_runner_names_a_missing_parameter(tmp_path):
    (tmp_path / "01_demo.sql").write_text("select $threshold;")
    runner = SqlRunner(duckdb.connect(), sql_dir=tmp_path)
    with pytest.raises(
        ValueError, match=r"01_demo.sql: no value for parameters \['threshold'\]"
    ):
        runner.run("01_demo", {})


def test_runner_names_the_step_of_a_duckdb_error(tmp_path):
    (tmp_path / "01_demo.sql").write_text("select 1;\nselect cast('x' as integer);\n")
    runner = SqlRunner(duckdb.connect(), sql_dir=tmp_path)
    with pytest.raises(SqlStepError, match=rf"^{tmp_path.name}/01_demo.sql: Conv"):
        runner.run("01_demo")


def test_a_select_steps_time_includes_fetching_its_rows(tmp_path):
    # Building a relation is lazy and nearly free; only fetching runs the query.
    (tmp_path / "01_heavy.sql").write_text(
        "select sum(hash(i)) as total from range(20000000) as numbers(i)"
    )
    runner = SqlRunner(duckdb.connect(config={"threads": 1}), sql_dir=tmp_path)
    start = time.perf_counter()
    table = runner.arrow("01_heavy")
    wall_s = time.perf_counter() - start
    assert table.num_rows == 1
    assert runner.seconds["01_heavy"] > 0.8 * wall_s
