"""`genrec evaluate`: full-catalogue metrics of a checkpoint, beside popularity.

    genrec evaluate --checkpoint=RUN/checkpoints/best.pt --data_dir=DIR \\
        [--split=test] [--world_size=2]

Prints the metrics as JSON on stdout.
"""

from __future__ import annotations

import json
import logging

from absl import flags

FLAGS = flags.FLAGS

flags.DEFINE_string("checkpoint", None, "Checkpoint file (.pt) written by training.")
flags.DEFINE_string("data_dir", None, "The preprocessed folder it was trained on.")
flags.DEFINE_enum("split", "test", ["test", "valid"], "Which targets to rank.")
flags.DEFINE_integer("world_size", 1, "Evaluation processes (users are sharded).")
flags.mark_flags_as_required(["checkpoint", "data_dir"])


def main(argv: list[str]) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    from genrec.training.evaluate import evaluate_checkpoint

    metrics = evaluate_checkpoint(
        FLAGS.checkpoint, FLAGS.data_dir, split=FLAGS.split, world_size=FLAGS.world_size
    )
    print(json.dumps(metrics, indent=2, sort_keys=True))
