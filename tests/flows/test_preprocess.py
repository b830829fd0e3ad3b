"""The preprocess flow's cache: keyed on the data layer's code as well as the
data, SQL and parameters, and never serving an incomplete folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import flows.preprocess
from flows.preprocess import OUTPUT_FILES, preprocess, preprocessing_sources
from genrec.data import SQL_DIR, sql_files

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_sources_are_every_sql_file_and_every_data_module():
    sql, code = preprocessing_sources()

    assert set(sql) == set(SQL_DIR.rglob("*.sql"))
    assert set(sql_files()) <= set(sql)
    assert set(code) == set((REPO_ROOT / "genrec" / "data").glob("*.py"))
    assert REPO_ROOT / "genrec" / "data" / "preprocess.py" in code


@pytest.mark.usefixtures("prefect_server")
def test_an_edited_data_module_recomputes_an_unchanged_one_is_cached(
    tiny_raw_file, tmp_path, monkeypatch
):
    sql, code = preprocessing_sources()
    copies = tmp_path / "data-layer"
    copies.mkdir()
    code_copies = [Path(shutil.copy(path, copies)) for path in code]
    monkeypatch.setattr(
        flows.preprocess, "preprocessing_sources", lambda: (sql, code_copies)
    )

    first = preprocess(dataset="synthetic", raw_path=str(tiny_raw_file))
    again = preprocess(dataset="synthetic", raw_path=str(tiny_raw_file))
    module = copies / "preprocess.py"
    module.write_text(module.read_text() + "\n# a fix in the data layer\n")
    edited = preprocess(dataset="synthetic", raw_path=str(tiny_raw_file))

    assert again["cached"] and again["fingerprint"] == first["fingerprint"]
    assert not edited["cached"]
    assert edited["fingerprint"] != first["fingerprint"]


@pytest.mark.usefixtures("prefect_server")
@pytest.mark.parametrize("lost", ["items.parquet", "stats.json"])
def test_a_cached_folder_missing_a_file_is_recomputed(tiny_raw_file, lost):
    first = preprocess(dataset="synthetic", raw_path=str(tiny_raw_file))
    data_dir = Path(first["data_dir"])
    assert all((data_dir / name).is_file() for name in OUTPUT_FILES)
    (data_dir / lost).unlink()

    again = preprocess(dataset="synthetic", raw_path=str(tiny_raw_file))

    assert not again["cached"]
    assert again["data_dir"] == first["data_dir"]
    assert all((data_dir / name).is_file() for name in OUTPUT_FILES)


@pytest.mark.usefixtures("prefect_server")
def test_a_malformed_file_fails_at_once_without_a_retry(tiny_raw_file, monkeypatch):
    import genrec.data.preprocess
    from genrec.data.bad_rows import BadRowsError

    lines = tiny_raw_file.read_text().splitlines(keepends=True)
    lines[2] = "B0001,A0001,not-a-rating,1420070400\n"
    tiny_raw_file.write_text("".join(lines))
    calls = []
    real_run = genrec.data.preprocess.run_preprocess

    def counted_run(*args, **kwargs):
        calls.append(args)
        return real_run(*args, **kwargs)

    monkeypatch.setattr(genrec.data.preprocess, "run_preprocess", counted_run)

    with pytest.raises(BadRowsError, match="line 3"):
        preprocess(dataset="synthetic", raw_path=str(tiny_raw_file))
    assert len(calls) == 1
