import json

import pytest

from genrec.tracking.metrics import metric_series, read_metrics_jsonl


def test_records_become_series_per_hierarchical_name(tmp_path):
    path = tmp_path / "metrics.jsonl"
    lines = [
        {"step": 10, "epoch": 0, "train/loss": 5.0},
        {"step": 20, "epoch": 1, "train/loss": 4.0, "eval/ndcg@10": 0.1},
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))

    series = metric_series(read_metrics_jsonl(path))

    assert series == {
        "train/loss": [(10, 5.0), (20, 4.0)],
        "eval/ndcg@10": [(20, 0.1)],
    }


def test_bad_line_is_reported_with_file_and_line(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"step": 1, "train/loss": 2.0}\n{"train/loss": 1.0}\n')

    with pytest.raises(ValueError, match=r"metrics.jsonl:2: expected an object"):
        read_metrics_jsonl(path)
