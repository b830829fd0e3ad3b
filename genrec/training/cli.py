"""`genrec train`: train a model from gin config files on a preprocessed folder.

    genrec train --gin_config_file=configs/ml-1m/hstu.gin \\
        --data_dir=.genrec/data/ml-1m [--run_dir=DIR] [--world_size=2] [--resume]

Flags are parsed here, in the parent process, only; ranks receive the resolved gin
config. Prints the final metrics as JSON on stdout.
"""

from __future__ import annotations

import json
import logging

from absl import flags

FLAGS = flags.FLAGS

flags.DEFINE_multi_string("gin_config_file", [], "Gin config file(s), in order.")
flags.DEFINE_multi_string("gin_bindings", [], "Gin bindings, e.g. 'Trainer.seed = 1'.")
flags.DEFINE_string("data_dir", None, "Folder written by `genrec preprocess`.")
flags.DEFINE_string(
    "run_dir", None, "Run folder (default: a new one under $GENREC_HOME/runs)."
)
flags.DEFINE_integer(
    "world_size", None, "Processes per node (default: one per GPU, or 1 on CPU)."
)
flags.DEFINE_integer("nnodes", 1, "Number of nodes (run this command on each).")
flags.DEFINE_integer("node_rank", 0, "This node's index; node 0 hosts rank 0.")
flags.DEFINE_string("master_addr", "127.0.0.1", "Address of node 0.")
flags.DEFINE_integer(
    "master_port",
    None,
    "Rendezvous port on node 0 (default: free port; 29500 multi-node).",
)
flags.DEFINE_bool("resume", False, "Continue --run_dir from its last checkpoint.")
flags.DEFINE_bool(
    "force_unlock",
    False,
    "Take over --run_dir even though a training on another host holds its lock "
    "(only when that training is gone, e.g. its container was recreated).",
)
flags.DEFINE_float("timeout_s", None, "Bound on every wait for another rank (s).")
flags.DEFINE_string("mlflow_tracking_uri", None, "Tracking URI of --mlflow_run_id.")
flags.DEFINE_string("mlflow_run_id", None, "Existing MLflow run that rank 0 logs into.")
flags.mark_flag_as_required("data_dir")


def main(argv: list[str]) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    from genrec.paths import genrec_home
    from genrec.training.launch import train
    from genrec.training.runs import default_run_dir

    if FLAGS.resume and FLAGS.run_dir is None:
        raise ValueError("--resume needs --run_dir (the run to continue)")
    if not FLAGS.resume and not FLAGS.gin_config_file:
        raise ValueError(
            "--gin_config_file is required (the model and trainer), e.g. "
            "--gin_config_file=configs/ml-1m/hstu.gin"
        )
    try:
        run_dir = FLAGS.run_dir or default_run_dir(genrec_home() / "runs")
    except ValueError as error:
        raise SystemExit(str(error)) from None
    result = train(
        FLAGS.gin_config_file,
        FLAGS.gin_bindings,
        data_dir=FLAGS.data_dir,
        run_dir=run_dir,
        world_size=FLAGS.world_size,
        nnodes=FLAGS.nnodes,
        node_rank=FLAGS.node_rank,
        master_addr=FLAGS.master_addr,
        master_port=FLAGS.master_port,
        resume=FLAGS.resume,
        force_unlock=FLAGS.force_unlock,
        timeout_s=FLAGS.timeout_s,
        mlflow_tracking_uri=FLAGS.mlflow_tracking_uri,
        mlflow_run_id=FLAGS.mlflow_run_id,
    )
    print(
        json.dumps(
            {
                "run_dir": str(result.run_dir),
                "checkpoint": str(result.checkpoint_path),
                "metrics": result.metrics,
            },
            indent=2,
            sort_keys=True,
        )
    )
