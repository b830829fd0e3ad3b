"""`genrec preprocess` end to end, as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _genrec(*args, env_home, cwd=ROOT):
    return subprocess.run(
        [sys.executable, "-m", "genrec.cli", "preprocess", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={"GENREC_HOME": str(env_home), "PYTHONPATH": str(ROOT), "PATH": ""},
    )


def test_preprocess_command_writes_the_output_and_prints_counts(tmp_path):
    result = _genrec(
        "--dataset=synthetic",
        "--synthetic_users=200",
        "--synthetic_items=100",
        "--synthetic_mean_length=10",
        f"--out={tmp_path / 'out'}",
        "--filter_mode=k_core",
        env_home=tmp_path / "home",
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    stats = json.loads((tmp_path / "out" / "stats.json").read_text())
    assert summary["num_interactions"] == stats["num_interactions"] > 0
    assert stats["settings"]["filter_mode"] == "k_core"
    assert {p.name for p in (tmp_path / "out").iterdir()} == {
        "sequences.parquet",
        "items.parquet",
        "users.parquet",
        "stats.json",
    }


def test_preprocess_command_reports_bad_rows_without_a_traceback(tmp_path):
    raw = tmp_path / "u.data"
    raw.write_text("1\t2\t3\t4\n1\t2\tthree\t4\n")
    result = _genrec(
        "--dataset=ml-100k",
        f"--raw_path={raw}",
        f"--out={tmp_path / 'o'}",
        env_home=tmp_path / "home",
    )
    assert result.returncode == 1
    assert (
        f"{raw}: line 2: field 3 (rating): expected a finite number, found 'three'"
        in result.stderr
    )
    assert "Traceback" not in result.stderr


def test_preprocess_command_reports_a_duckdb_error_without_a_traceback(tmp_path):
    raw = tmp_path / "u.data"
    raw.write_text("1\t2\t3\t4\n")
    result = _genrec(
        "--dataset=ml-100k",
        f"--raw_path={raw}",
        f"--out={tmp_path / 'o'}",
        "--memory_limit=lots",
        env_home=tmp_path / "home",
    )
    assert result.returncode == 1
    assert result.stderr.startswith("genrec preprocess: ")
    assert "memory" in result.stderr.lower()
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "o").exists()


def test_synthetic_size_flags_for_another_dataset_are_an_error(tmp_path):
    ratings = tmp_path / "u.data"
    ratings.write_text("1\t10\t5\t100\n")
    result = _genrec(
        "--dataset=ml-100k",
        f"--raw_path={ratings}",
        "--synthetic_users=10",
        f"--out={tmp_path / 'out'}",
        env_home=tmp_path / "home",
    )
    assert result.returncode == 1
    assert (
        "--synthetic_users applies to --dataset=synthetic, not --dataset=ml-100k"
        in (result.stderr)
    )
    assert not (tmp_path / "out").exists()


def test_a_flag_mistake_is_one_line_and_writes_nothing(tmp_path):
    ratings = tmp_path / "u.data"
    ratings.write_text("1\t10\t5\t100\n")
    common = [f"--raw_path={ratings}", f"--out={tmp_path / 'out'}"]
    # A boolean flag takes no separate value: `false` would be a stray word.
    for args, says in [
        (["--dataset=ml-100k", "--dedup", "false"], "unexpected arguments ['false']"),
        (["--dataset=ml-10k"], "flag --dataset=ml-10k: value should be one of"),
        (["--dataset=ml-100k", "--dedpu"], "Unknown command line flag 'dedpu'"),
    ]:
        result = _genrec(*args, *common, env_home=tmp_path / "home")
        assert result.returncode == 1, args
        (line,) = result.stderr.splitlines()
        assert line.startswith(f"genrec preprocess: {says}"), line
        assert not (tmp_path / "out").exists()


def test_an_empty_or_blank_out_or_raw_path_is_refused_not_taken_as_a_folder(
    tmp_path,
):
    ratings = tmp_path / "u.data"
    ratings.write_text("1\t10\t5\t100\n")
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    (cwd / " ").mkdir()  # a blank --raw_path must not find this folder either
    for args, says in [
        (
            [f"--raw_path={ratings}", "--out="],
            "--out is required: expected a folder, got ''",
        ),
        (
            [f"--raw_path={ratings}", "--out= "],
            "--out is required: expected a folder, got ' '",
        ),
        (
            [f"--raw_path={ratings}", f"--out= {tmp_path / 'out'}"],
            f"--out=' {tmp_path / 'out'}' starts or ends with white space",
        ),
        (
            [f"--raw_path={ratings}", f"--out={tmp_path / 'out'} "],
            f"--out='{tmp_path / 'out'} ' starts or ends with white space",
        ),
        (["--raw_path=", f"--out={tmp_path / 'out'}"], "--raw_path='' is blank"),
        (["--raw_path= ", f"--out={tmp_path / 'out'}"], "--raw_path=' ' is blank"),
    ]:
        result = _genrec(
            "--dataset=ml-100k", *args, env_home=tmp_path / "home", cwd=cwd
        )
        assert result.returncode == 1, args
        (line,) = result.stderr.splitlines()
        assert line.startswith(f"genrec preprocess: {says}"), line
    assert list(cwd.iterdir()) == [cwd / " "] and not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("encoding", "text"), [("UTF-8", "utf-8"), ("Latin-1", "latin-1")]
)
def test_encoding_may_be_spelt_in_any_case(tmp_path, encoding, text):
    ratings = tmp_path / "events.csv"
    ratings.write_bytes("who,what,when\nJosé,x,5\n".encode(text))
    result = _genrec(
        "--dataset=custom",
        f"--raw_path={ratings}",
        f"--out={tmp_path / 'out'}",
        "--user_column=who",
        "--item_column=what",
        "--timestamp_column=when",
        f"--encoding={encoding}",
        env_home=tmp_path / "home",
    )
    assert result.returncode == 0, result.stderr
    stats = json.loads((tmp_path / "out" / "stats.json").read_text())
    assert stats["num_interactions"] == 1
    users = pq.read_table(tmp_path / "out" / "users.parquet")
    assert users["original_id"].to_pylist() == ["José"]


# Runs `genrec preprocess` with run_preprocess replaced by one that raises, in a
# child process: absl parses its global flags once per process.
INTERRUPTED = """
import sys

import duckdb

import genrec.data.preprocess
from genrec.cli import main
from genrec.data.sql_runner import SqlStepError


def run_preprocess(*args, **kwargs):
    raise {error}


genrec.data.preprocess.run_preprocess = run_preprocess
main(["genrec", "preprocess", "--out=" + sys.argv[1]])
"""


def _preprocess_raising(error, tmp_path):
    return subprocess.run(
        [sys.executable, "-c", INTERRUPTED.format(error=error), str(tmp_path / "o")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={"GENREC_HOME": str(tmp_path / "home"), "PYTHONPATH": str(ROOT)},
    )


@pytest.mark.parametrize(
    "error",
    [
        "KeyboardInterrupt",
        # What DuckDB 2.0 raises from `execute` when Ctrl-C lands in a query.
        "RuntimeError('Query interrupted')",
        "duckdb.InterruptException('INTERRUPT Error: Interrupted!')",
        "SqlStepError('sql/04_filter_k_core.sql: Interrupted!') "
        "from duckdb.InterruptException('INTERRUPT Error: Interrupted!')",
    ],
    ids=["KeyboardInterrupt", "RuntimeError", "InterruptException", "SqlStepError"],
)
def test_ctrl_c_is_one_line_and_exit_status_130(tmp_path, error):
    result = _preprocess_raising(error, tmp_path)
    assert result.returncode == 130, result.stderr
    assert result.stderr == "genrec preprocess: interrupted\n"


def test_a_runtime_error_that_is_no_interrupt_keeps_its_traceback(tmp_path):
    result = _preprocess_raising("RuntimeError('categorized counts differ')", tmp_path)
    assert result.returncode == 1
    assert "Traceback" in result.stderr
    assert "RuntimeError: categorized counts differ" in result.stderr
