"""The SQL step files and their runner."""

from __future__ import annotations

import re
import time
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from genrec.data import sql_files
from genrec.data.preprocess import run_preprocess
from genrec.data.sql_runner import SqlRunner, SqlStepError


def _runs(tmp_path: Path) -> dict[str, dict]:
    """Preprocess tiny inputs along every path of the chain; return their stats."""
    amazon = tmp_path / "amazon.csv"
    amazon.write_text("i1,u1,4.0,1\ni1,u1,5.0,2\ni2,u1,3.0,3\ni2,u2,2.0,4\nbad\n")
    parquet = tmp_path / "events.parquet"
    pq.write_table(pa.table({"u": [1, 1, 2], "i": [5, 6, 5], "t": [1, 2, 3]}), parquet)
    ml_1m = tmp_path / "ml-1m"
    ml_1m.mkdir()
    (ml_1m / "ratings.dat").write_text("1::10::5::100\n2::10::4::101\n")
    (ml_1m / "users.dat").write_text("1::F::1::10::48067\n2::M::56::16::70072\n")
    (ml_1m / "movies.dat").write_text("10::Heat (1995)::Action|Crime\n")
    ml_100k = tmp_path / "ml-100k"
    ml_100k.mkdir()
    (ml_100k / "u.data").write_text("1\t10\t5\t100\n2\t10\t4\t101\n")
    (ml_100k / "u.user").write_text("1|24|M|technician|85711\n2|53|F|other|94043\n")
    flags = "|".join(["0"] * 18 + ["1"])
    (ml_100k / "u.item").write_text(f"10|Heat (1995)|01-Jan-1995||url|{flags}\n")
    single = {"filter_mode": "single_pass", "min_presence": 1}
    columns = {"user_column": "u", "item_column": "i", "timestamp_column": "t"}
    return {
        "csv": run_preprocess(
            "amazon-2018",
            tmp_path / "csv",
            amazon,
            filter_mode="k_core",
            min_presence=1,
            dedup=True,
            on_bad_rows="skip",
        ),
        "parquet": run_preprocess(
            "custom", tmp_path / "pq", parquet, options=columns, **single
        ),
        "ml-1m": run_preprocess("ml-1m", tmp_path / "1m", ml_1m),
        "ml-100k": run_preprocess("ml-100k", tmp_path / "100k", ml_100k),
    }


def test_runs_execute_the_sql_files_in_their_numbered_order(tmp_path):
    every_file = {path.stem for path in sql_files()}
    executed = set()
    for name, stats in _runs(tmp_path).items():
        steps = [step for step in stats["step_seconds"] if step in every_file]
        numbers = [int(step[:2]) for step in steps]
        # In order, and never two alternatives (one number) in the same run.
        assert numbers == sorted(set(numbers)), (name, steps)
        executed |= set(steps)
    # Every file is a step some run takes: no dead SQL.
    assert executed == every_file
    assert max(every_file) == "13_write_output"


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


def _hash_shared_by(monkeypatch, *ids: str) -> None:
    """Make DuckDB's hash() give `ids` one value (a macro shadows the function)."""
    from genrec.data import preprocess

    connect = preprocess._connect

    def connect_with_shared_hash(*args, **kwargs):
        connection = connect(*args, **kwargs)
        listed = ", ".join(f"'{id_}'" for id_ in ids)  # the test's own plain ids
        connection.execute(
            f"create macro hash(id) as case when id in ({listed}) then 7::ubigint "
            "else md5_number_lower(id) end"
        )
        return connection

    monkeypatch.setattr(preprocess, "_connect", connect_with_shared_hash)


RATINGS = "u1,i1,1\nu1,i2,2\nu2,i1,3\nu2,i2,4\nu3,i3,5\n"
CUSTOM = {"user_column": "u", "item_column": "i", "timestamp_column": "t"}


@pytest.mark.parametrize("mode", ["none", "single_pass", "k_core"])
@pytest.mark.parametrize(
    ("kind", "ids"), [("user", ("u1", "u2")), ("item", ("i1", "i2"))]
)
def test_two_ids_sharing_a_hash_stop_the_run(tmp_path, monkeypatch, mode, kind, ids):
    # The joins of steps 4 and 11 match ids by hash: two ids with one hash would
    # merge. Step 4 lists shared item hashes; any other makes step 11 stream
    # more rows than the filter counted, and the runner then names the ids.
    ratings = tmp_path / "ratings.csv"
    ratings.write_text("u,i,t\n" + RATINGS)
    _hash_shared_by(monkeypatch, *ids)
    k = {} if mode == "none" else {"min_presence": 1}
    with pytest.raises(
        ValueError, match=rf"{kind} ids '{ids[0]}' and '{ids[1]}' share a 64-bit hash"
    ):
        run_preprocess(
            "custom", tmp_path / "out", ratings, filter_mode=mode, options=CUSTOM, **k
        )
    assert not (tmp_path / "out").exists()


def test_a_shared_hash_that_changes_no_output_does_not_stop_the_run(
    tmp_path, monkeypatch
):
    # u4 (one interaction) and u5 share a hash; single_pass with k=2 drops both
    # before step 11, so neither can be merged with a kept user.
    ratings = tmp_path / "ratings.csv"
    ratings.write_text("u,i,t\n" + RATINGS + "u4,i1,6\nu5,i9,7\n")
    _hash_shared_by(monkeypatch, "u4", "u5")
    stats = run_preprocess(
        "custom",
        tmp_path / "out",
        ratings,
        filter_mode="single_pass",
        min_presence=2,
        options=CUSTOM,
    )
    assert (stats["num_users"], stats["num_items"]) == (2, 2)
