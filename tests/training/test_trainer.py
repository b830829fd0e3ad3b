"""The training loop run in this process (one rank), on a planted dataset."""

from __future__ import annotations

import json

import pytest
import torch

from genrec.distributed import DistContext
from genrec.training.checkpoint import load_checkpoint
from genrec.training.gin_config import check_trainer_config, resolve_config
from genrec.training.ranks import train_rank
from genrec.training.runs import RunPaths, read_metrics
from genrec.training.trainer import Trainer

from .conftest import REPO, TINY_CONFIG

REPO_CONFIGS = REPO / "configs"


def _fit(data_dir, run_dir, *bindings, resume=False, mlflow=(None, None)):
    config = resolve_config([TINY_CONFIG], list(bindings), num_items=60)
    run_dir.mkdir(exist_ok=True)
    (run_dir / "config.gin").write_text(config)
    paths = RunPaths(
        run_dir=run_dir,
        data_dir=data_dir,
        config=config,
        resume=resume,
        mlflow_tracking_uri=mlflow[0],
        mlflow_run_id=mlflow[1],
    )
    return train_rank(DistContext.single_process(), paths)


def test_training_beats_popularity_and_fills_the_run_folder(planted_folder, tmp_path):
    run_dir = tmp_path / "run"
    metrics = _fit(planted_folder, run_dir)

    assert metrics["test/ndcg@10"] > metrics["popularity/test/ndcg@10"] + 0.2
    assert metrics["test/users"] == 240
    assert json.loads((run_dir / "results.json").read_text()) == metrics
    records = read_metrics(run_dir / "metrics.jsonl")
    losses = [r["train/loss"] for r in records if "train/loss" in r]
    assert losses[-1] < losses[0]
    eval_steps = [
        r["step"] for r in records if "eval/ndcg@10" in r and "test/hr@10" not in r
    ]
    assert eval_steps == [4, 8, 12, 16]  # every 4 steps; 8 steps per epoch
    assert all({"step", "epoch"} <= set(r) for r in records)


def test_checkpoint_is_self_contained(planted_folder, tmp_path):
    run_dir = tmp_path / "run"
    _fit(planted_folder, run_dir, "Trainer.num_epochs = 1")
    payload = load_checkpoint(run_dir / "checkpoints" / "last.pt")
    assert {"model", "optimizer", "scheduler", "rng", "state", "config"} <= set(payload)
    assert set(payload["rng"]) >= {"python", "numpy", "torch"}
    assert payload["state"]["step"] == 8 and payload["state"]["epoch"] == 1
    assert "HSTUEncoder.num_blocks = 1" in payload["config"]
    assert "NUM_ITEMS = 60" in payload["config"]
    assert payload["scheduler"]["last_epoch"] == 8


def test_valid_test_selects_on_valid_and_reports_test_of_the_selected_step(
    planted_folder, tmp_path
):
    run_dir = tmp_path / "run"
    metrics = _fit(planted_folder, run_dir, "Trainer.eval_every_steps = 2")
    records = read_metrics(run_dir / "metrics.jsonl")
    evals = {
        r["step"]: r["eval/ndcg@10"]
        for r in records
        if "test/hr@10" not in r and "eval/ndcg@10" in r
    }
    best_step = max(evals, key=lambda step: (evals[step], -step))
    assert metrics["selected_step"] == best_step
    assert metrics["eval/ndcg@10"] == evals[best_step]
    best = load_checkpoint(run_dir / "checkpoints" / "best.pt")
    assert best["state"]["step"] == best_step


def test_same_seed_gives_the_same_weights(planted_folder, tmp_path):
    for name in ("a", "b"):
        _fit(planted_folder, tmp_path / name, "Trainer.num_epochs = 1")
    first = load_checkpoint(tmp_path / "a" / "checkpoints" / "last.pt")["model"]
    second = load_checkpoint(tmp_path / "b" / "checkpoints" / "last.pt")["model"]
    assert all(torch.equal(first[key], second[key]) for key in first)


def test_operative_config_pins_every_default_in_run_folder_and_checkpoints(
    planted_folder, tmp_path
):
    run_dir = tmp_path / "run"
    _fit(planted_folder, run_dir, "Trainer.num_epochs = 1")

    operative = (run_dir / "operative_config.gin").read_text()
    explicit = (run_dir / "config.gin").read_text()
    # Defaults no config file sets: only the operative config holds them.
    for binding in (
        "Trainer.bf16 = True",
        "SequenceDataset.sampling_ratio = 1.0",
        "adamw.betas = (0.9, 0.98)",
    ):
        assert binding in operative
        assert binding not in explicit
    for name in ("last.pt", "best.pt"):
        payload = load_checkpoint(run_dir / "checkpoints" / name)
        assert payload["operative_config"] == operative


def test_a_pinned_value_wins_over_the_code_default_when_a_checkpoint_is_read():
    import gin

    from genrec.training.gin_config import parse_resolved
    from genrec.training.trainer import Trainer

    config = resolve_config([TINY_CONFIG], [], num_items=60)
    # As if the run had been trained when the default of bf16 was False.
    parse_resolved(config, "Trainer.bf16 = False\nadamw.eps = 1e-06\n")

    assert Trainer().bf16 is False
    assert gin.query_parameter("adamw.eps") == 1e-06
    assert gin.query_parameter("Trainer.num_epochs") == 2  # from the file


def test_trainer_refuses_no_epochs_or_empty_batches():
    with pytest.raises(
        ValueError, match="Trainer.num_epochs must be an integer >= 1, got -1"
    ):
        Trainer(model=lambda: None, num_epochs=-1)
    with pytest.raises(
        ValueError, match="Trainer.batch_size must be an integer >= 1, got 0"
    ):
        Trainer(model=lambda: None, batch_size=0)
    with pytest.raises(ValueError, match="selection_metric must be one of"):
        Trainer(model=lambda: None, selection_metric="NDCG@10")


@pytest.mark.parametrize(
    "config_file",
    sorted(REPO_CONFIGS.rglob("*.gin")),
    ids=lambda path: str(path.relative_to(REPO_CONFIGS)),
)
def test_every_shipped_config_passes_the_check_made_before_a_pipeline(config_file):
    # The pipeline builds model, optimizer and schedule with a stand-in catalogue
    # of one item before any data exists; no shipped config may trip on that.
    check_trainer_config(
        resolve_config([config_file], [], num_items=1), build_model=True
    )
    with pytest.raises(ValueError, match=r"Invalid learning rate: -1 \(in adamw\)"):
        check_trainer_config(
            resolve_config([config_file], ["adamw.learning_rate = -1"], num_items=1),
            build_model=True,
        )


@pytest.mark.parametrize(
    "content",
    [b"userId,movieId\n1,2\n", b"", b"\x80\x02garbage", b"PK\x03\x04 not a zip"],
    ids=["csv", "empty", "pickle-like", "zip-like"],
)
def test_a_file_that_is_no_checkpoint_is_said_to_be_none(tmp_path, content):
    # torch's unpickler trips on such bytes with IndexError, EOFError, ...
    path = tmp_path / "best.pt"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=f"^{path}: not a genrec checkpoint"):
        load_checkpoint(path)
    torch.save({"weights": torch.zeros(1)}, path)
    with pytest.raises(ValueError, match="no format_version key"):
        load_checkpoint(path)
