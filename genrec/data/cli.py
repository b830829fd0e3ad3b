"""`genrec preprocess`: raw ratings -> sequences.parquet, items, users, stats.json.

genrec preprocess --dataset=ml-1m --raw_path=~/data/ml-1m --out=data/ml-1m
genrec preprocess --dataset=amazon-2018 --category=Books --out=data/books
genrec preprocess --dataset=synthetic --out=data/synthetic
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

from absl import flags

from genrec.data.datasets import (
    COMMON_OPTIONS,
    CUSTOM_ENCODINGS,
    CUSTOM_OPTIONS,
    DATASETS,
    SYNTHETIC_DEFAULTS,
)
from genrec.data.preprocess import BAD_ROW_POLICIES, FILTER_MODES

FLAGS = flags.FLAGS

flags.DEFINE_enum("dataset", "synthetic", sorted(DATASETS), "Registered dataset name.")
flags.DEFINE_string(
    "raw_path",
    None,
    "Folder with the raw files, or the ratings file; default: download.",
)
flags.DEFINE_string("out", None, "Output folder (written atomically).", required=True)
flags.DEFINE_enum("filter_mode", None, list(FILTER_MODES), "Default: the preset.")
flags.DEFINE_integer("min_presence", None, "k of the presence filter. Default: 5.")
flags.DEFINE_bool("dedup", None, "Keep only the earliest repeat of (user, item).")
flags.DEFINE_enum("on_bad_rows", "error", list(BAD_ROW_POLICIES), "Malformed rows.")
flags.DEFINE_integer("threads", None, "DuckDB threads. Default: all cores.")
flags.DEFINE_string("memory_limit", None, "DuckDB memory_limit. Default: 1800MB.")
flags.DEFINE_string("category", None, "Amazon category to download, e.g. Books.")
flags.DEFINE_string("user_column", None, "custom: the user id column.")
flags.DEFINE_string("item_column", None, "custom: the item id column.")
flags.DEFINE_string("timestamp_column", None, "custom: epoch-seconds column.")
flags.DEFINE_string("rating_column", None, "custom: rating column (default: all 1).")
flags.DEFINE_string("delimiter", None, "custom CSV: field separator. Default: ','.")
# In any case, as people spell them (UTF-8, Latin-1); the value is the lowercase one.
flags.DEFINE_enum(
    "encoding",
    None,
    list(CUSTOM_ENCODINGS),
    "custom CSV: text encoding. Default: utf-8.",
    case_sensitive=False,
)
flags.DEFINE_integer(
    "synthetic_users", SYNTHETIC_DEFAULTS["num_users"], "synthetic: number of users."
)
flags.DEFINE_integer(
    "synthetic_items", SYNTHETIC_DEFAULTS["num_items"], "synthetic: number of items."
)
flags.DEFINE_float(
    "synthetic_mean_length",
    SYNTHETIC_DEFAULTS["mean_length"],
    "synthetic: mean ratings per user.",
)
flags.DEFINE_integer("seed", SYNTHETIC_DEFAULTS["seed"], "synthetic: generator seed.")


def options_from_flags() -> dict[str, Any]:
    """Collect the dataset options that were given as flags."""
    options: dict[str, Any] = {
        name: FLAGS[name].value
        for name in (*COMMON_OPTIONS, "category", *CUSTOM_OPTIONS)
        if FLAGS[name].value is not None
    }
    synthetic = {
        "num_users": "synthetic_users",
        "num_items": "synthetic_items",
        "mean_length": "synthetic_mean_length",
        "seed": "seed",
    }
    for option, flag in synthetic.items():
        if FLAGS.dataset == "synthetic":
            options[option] = FLAGS[flag].value
        elif FLAGS[flag].present:
            raise ValueError(
                f"--{flag} applies to --dataset=synthetic, "
                f"not --dataset={FLAGS.dataset}"
            )
    return options


def main(argv: list[str]) -> None:
    """Run preprocessing with the flags; print the counts as JSON."""
    import duckdb

    from genrec.data.preprocess import run_preprocess
    from genrec.data.sql_runner import SqlStepError

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        stats = run_preprocess(
            FLAGS.dataset,
            FLAGS.out,
            FLAGS.raw_path,
            filter_mode=FLAGS.filter_mode,
            min_presence=FLAGS.min_presence,
            dedup=FLAGS.dedup,
            on_bad_rows=FLAGS.on_bad_rows,
            threads=FLAGS.threads,
            options=options_from_flags(),
        )
    except (SqlStepError, duckdb.Error, RuntimeError) as error:
        if _interrupted_query(error):
            # genrec.cli says so in one line, as for Ctrl-C anywhere else.
            raise KeyboardInterrupt from error
        if not isinstance(error, (SqlStepError, duckdb.Error)):
            raise  # a RuntimeError of genrec's own is a bug: keep its traceback
        # A message, not a traceback: it names the SQL step. A user's mistake
        # (ValueError, OSError) becomes one line in genrec.cli.
        sys.exit(f"genrec preprocess: {error}")
    summary = {
        key: stats[key] for key in ("num_interactions", "num_users", "num_items")
    }
    print(
        json.dumps(
            {
                "out": FLAGS.out,
                **summary,
                "bad_rows": stats["counts"]["bad_rows"]["count"],
            }
        )
    )


def _interrupted_query(error: BaseException) -> bool:
    """Whether `error` is DuckDB stopping a query for Ctrl-C.

    DuckDB 2.0 raises a plain RuntimeError("Query interrupted") from `execute`
    and defines duckdb.InterruptException for the same; SqlRunner wraps the
    latter in a SqlStepError.
    """
    import duckdb

    from genrec.data.sql_runner import SqlStepError

    if isinstance(error, SqlStepError) and error.__cause__ is not None:
        error = error.__cause__
    if isinstance(error, duckdb.InterruptException):
        return True
    return type(error) is RuntimeError and str(error) == "Query interrupted"
