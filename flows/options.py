"""absl flags shared by `genrec pipeline` and `genrec deploy`: the pipeline's
parameters, turned into keyword arguments of `flows.pipeline.pipeline`."""

from __future__ import annotations

import json
from typing import Any

from absl import flags

FLAGS = flags.FLAGS


def define_pipeline_flags() -> None:
    """Define the pipeline's flags (call once, at import of an entry point).

    Names and modes are enums, so that a typo stops at once, not after the flow
    has started (and opened an MLflow run).
    """
    from genrec.data.datasets import DATASETS
    from genrec.data.preprocess import BAD_ROW_POLICIES, FILTER_MODES

    flags.DEFINE_enum("dataset", "synthetic", sorted(DATASETS), "Registered dataset.")
    flags.DEFINE_string("raw_path", None, "Raw file or folder; default downloads.")
    flags.DEFINE_string(
        "gin_config_file", None, "Training gin config (default: the synthetic CPU one)."
    )
    flags.DEFINE_multi_string("gin_bindings", [], "Extra gin bindings, in order.")
    flags.DEFINE_integer(
        "world_size", None, "Training processes (default: GPUs, or 1 on CPU)."
    )
    flags.DEFINE_enum(
        "filter_mode", None, list(FILTER_MODES), "Filter mode. Default: the preset."
    )
    flags.DEFINE_integer("min_presence", None, "Minimum interactions per user/item.")
    flags.DEFINE_bool("dedup", None, "Drop duplicate (user, item) ratings.")
    flags.DEFINE_enum(
        "on_bad_rows",
        "error",
        list(BAD_ROW_POLICIES),
        "What to do with malformed rows.",
    )
    flags.DEFINE_multi_string(
        "dataset_option",
        [],
        "Dataset option KEY=VALUE (VALUE read as JSON when it parses), e.g. "
        "num_users=500 for the synthetic dataset.",
    )
    flags.DEFINE_string("experiment", "genrec", "MLflow experiment name.")
    flags.DEFINE_string("model_name", None, "Registered model name (genrec-DATASET).")
    flags.DEFINE_float(
        "train_timeout_s", None, "Wall-clock limit of the training task (s)."
    )
    flags.DEFINE_float(
        "rank_timeout_s",
        None,
        "Bound on every wait of a training rank for the others (s).",
    )


def parse_key_values(pairs: list[str]) -> dict[str, Any]:
    """Turn `["a=1", "b=x"]` into `{"a": 1, "b": "x"}`.

    Raises:
        ValueError: naming the pair that has no `=`.
    """
    parsed: dict[str, Any] = {}
    for pair in pairs:
        key, separator, text = pair.partition("=")
        if not separator or not key:
            raise ValueError(f"--dataset_option {pair!r}: expected KEY=VALUE")
        try:
            parsed[key] = json.loads(text)
        except json.JSONDecodeError:
            parsed[key] = text
    return parsed


def pipeline_kwargs() -> dict[str, Any]:
    """The pipeline's keyword arguments from the parsed flags (unset ones omitted)."""
    kwargs: dict[str, Any] = {
        "dataset": FLAGS.dataset,
        "raw_path": FLAGS.raw_path,
        "gin_config_file": FLAGS.gin_config_file,
        "gin_bindings": list(FLAGS.gin_bindings),
        "world_size": FLAGS.world_size,
        "filter_mode": FLAGS.filter_mode,
        "min_presence": FLAGS.min_presence,
        "dedup": FLAGS.dedup,
        "on_bad_rows": FLAGS.on_bad_rows,
        "dataset_options": parse_key_values(FLAGS.dataset_option) or None,
        "experiment": FLAGS.experiment,
        "model_name": FLAGS.model_name,
        "train_timeout_s": FLAGS.train_timeout_s,
        "rank_timeout_s": FLAGS.rank_timeout_s,
    }
    return {key: value for key, value in kwargs.items() if value is not None}


def check_pipeline_kwargs(kwargs: dict[str, Any]) -> None:
    """Refuse what the flow would refuse only later: preprocessing arguments and
    dataset options, gin bindings (parsed with a stand-in catalogue size) and
    the Trainer's settings.

    Called before the flow starts, so a typo costs neither a Prefect start, nor
    a FAILED MLflow run, nor a preprocessing that training then rejects.

    Raises:
        ValueError, SyntaxError, FileNotFoundError: naming the culprit (a
        missing gin file among them).
    """
    from flows.pipeline import DEFAULT_GIN_CONFIG
    from genrec.data.datasets import check_raw_path
    from genrec.data.preprocess import check_arguments
    from genrec.training.gin_config import check_trainer_config, resolve_config

    check_raw_path(kwargs.get("raw_path"))
    check_arguments(
        kwargs["dataset"],
        filter_mode=kwargs.get("filter_mode"),
        min_presence=kwargs.get("min_presence"),
        dedup=kwargs.get("dedup"),
        on_bad_rows=kwargs.get("on_bad_rows", "error"),
        options=kwargs.get("dataset_options"),
    )
    check_trainer_config(
        resolve_config(
            [kwargs.get("gin_config_file", DEFAULT_GIN_CONFIG)],
            kwargs.get("gin_bindings", []),
            num_items=1,
        ),
        build_model=True,
    )
