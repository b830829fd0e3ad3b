import pytest

from genrec.tracking.plots import plot_metric_curves

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_curves_are_written_as_png(tmp_path):
    records = [
        {"step": s, "train/loss": 5.0 / s, "eval/hr@10": s / 100, "eval/hr@50": s / 50}
        for s in range(1, 6)
    ]

    path = plot_metric_curves(records, tmp_path / "plots" / "curves.png")

    assert path.read_bytes().startswith(PNG_SIGNATURE)
    assert path.stat().st_size > 5_000


def test_records_without_metrics_are_refused(tmp_path):
    with pytest.raises(ValueError, match="no metrics"):
        plot_metric_curves([{"step": 1, "epoch": 0}], tmp_path / "curves.png")
