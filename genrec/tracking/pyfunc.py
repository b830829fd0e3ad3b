"""A trained checkpoint as an MLflow pyfunc model: histories in, top-k items out.

The model version holds the self-contained checkpoint (weights + resolved gin
config) and the genrec package as code, so `mlflow.pyfunc.load_model` needs
no checkout. Ids are genrec's dense ids (1..N); the data folder's
items.parquet maps them to the original ones.

    mlflow.set_tracking_uri(tracking_uri())  # genrec.tracking.store: genrec's store
    model = mlflow.pyfunc.load_model("models:/genrec-ml-100k@champion")
    model.predict(pd.DataFrame({"item_ids": [[12, 7, 99]]}), params={"k": 10})
    # -> DataFrame with list columns "item_ids" and "scores", best first
"""

from __future__ import annotations

import warnings
from importlib import metadata
from pathlib import Path
from typing import Any

import mlflow
import mlflow.pyfunc
import pandas as pd
from mlflow.models import Model, ModelSignature
from mlflow.pyfunc import PythonModel
from mlflow.tracking import MlflowClient
from mlflow.types.schema import Array, ColSpec, ParamSchema, ParamSpec, Schema

import genrec

CHECKPOINT_ARTIFACT = "checkpoint"
# Logged as the model's code ("models from code"): no pickled Python object.
MODEL_CODE = Path(__file__).with_name("pyfunc_model.py")
MODEL_NAME_IN_RUN = "model"
DEFAULT_K = 10
# What loading the model imports; pinned to the versions installed here.
_REQUIREMENTS = ("torch", "gin-config", "numpy", "pandas", "pyarrow", "mlflow")


# PythonModel by name: mypy types `mlflow.pyfunc` as the LazyLoader mlflow binds.
class CheckpointRecommender(PythonModel):
    """Recommend the next items for chronological histories of dense item ids."""

    def load_context(self, context: Any) -> None:
        from genrec.training.checkpoint import load_checkpoint
        from genrec.training.gin_config import parse_resolved
        from genrec.training.trainer import Trainer

        payload = load_checkpoint(context.artifacts[CHECKPOINT_ARTIFACT])
        parse_resolved(payload["config"], payload.get("operative_config"))
        model = Trainer().model_factory()
        model.load_state_dict(payload["model"])
        self.model = model.eval()
        self.num_items = int(payload["num_items"])
        self.max_length = getattr(model.preprocessor, "max_length", None)

    # MLflow checks no schema for a DataFrame hint; the signature does that.
    def predict(
        self,
        context: Any,
        model_input: pd.DataFrame,
        params: dict[str, Any] | None = None,
    ) -> pd.DataFrame:
        """Top-k items per row of `model_input` (column `item_ids`, oldest first).

        An optional `timestamps` column (epoch seconds) feeds time-aware models.
        Items already in a history are never recommended to it, so a row holds
        fewer than k items when its history leaves fewer unseen ones.
        """
        import torch

        from genrec.modeling.batch import SequenceBatch
        from genrec.modeling.retrieval import ExcludedItems

        k = int((params or {}).get("k", DEFAULT_K))
        if k < 1:
            raise ValueError(f"params k: expected a positive number of items, got {k}")
        histories = [[int(i) for i in row] for row in model_input["item_ids"]]
        if not histories:
            return pd.DataFrame({"item_ids": [], "scores": []})
        self._check_ids(histories)
        timestamps = None
        if "timestamps" in model_input:
            timestamps = [[int(t) for t in row] for row in model_input["timestamps"]]
        batch = SequenceBatch.from_sequences(
            histories, timestamps, max_length=self.max_length, supervise=False
        )
        # The whole history is excluded, also the part older than the window.
        seen = ExcludedItems(
            user_index=torch.repeat_interleave(
                torch.arange(len(histories)),
                torch.tensor([len(history) for history in histories]),
            ),
            item_ids=torch.tensor([i for history in histories for i in history]),
        )
        with torch.no_grad():
            scores, item_ids = self.model.top_k(
                batch, min(k, self.num_items), exclude_history=False, also_excluded=seen
            )
        # Excluded items (the history, padding id 0) score -inf: never returned.
        kept = torch.isfinite(scores)
        return pd.DataFrame(
            {
                "item_ids": [
                    ids[row].tolist() for ids, row in zip(item_ids, kept, strict=True)
                ],
                "scores": [
                    s[row].float().tolist() for s, row in zip(scores, kept, strict=True)
                ],
            }
        )

    def _check_ids(self, histories: list[list[int]]) -> None:
        for row, history in enumerate(histories):
            if not history:
                raise ValueError(f"item_ids row {row}: empty history")
            bad = [i for i in history if not 1 <= i <= self.num_items]
            if bad:
                raise ValueError(
                    f"item_ids row {row}: ids {bad[:5]} outside 1..{self.num_items}"
                )


def signature() -> ModelSignature:
    """Histories in, top-k ids and scores out; `k` is a request parameter."""
    return ModelSignature(
        inputs=Schema(
            [
                ColSpec(Array("long"), "item_ids"),
                ColSpec(Array("long"), "timestamps", required=False),
            ]
        ),
        outputs=Schema(
            [ColSpec(Array("long"), "item_ids"), ColSpec(Array("double"), "scores")]
        ),
        params=ParamSchema([ParamSpec("k", "long", DEFAULT_K)]),
    )


def input_example() -> tuple[pd.DataFrame, dict[str, int]]:
    """A request MLflow stores with the model: two histories of item 1, top 3.

    Item 1 exists in every catalogue; MLflow checks the example against the
    signature when logging and shows it in the UI as a serving payload.
    """
    frame = pd.DataFrame({"item_ids": [[1], [1, 1]], "timestamps": [[0], [0, 60]]})
    return frame, {"k": 3}


def pip_requirements() -> list[str]:
    """Pins of the packages the model needs, as installed here.

    A local version label is dropped (torch's `2.13.0+cpu` is no PyPI release):
    the serving environment installs the same release for its own hardware.
    """
    return [
        f"{name}=={metadata.version(name).partition('+')[0]}" for name in _REQUIREMENTS
    ]


def log_checkpoint_model(
    client: MlflowClient, run_id: str, checkpoint_path: str | Path
) -> str:
    """Log a checkpoint as a pyfunc model of `run_id`; return its model id.

    Its URI is `models:/<model id>`. A run logs one such model: when `run_id`
    already has a READY one (a retried task got that far before), its id is
    returned; one left PENDING by an attempt that died midway is marked FAILED.
    """
    # Model.log resolves its store from the global tracking URI, and would
    # file the model under the *active* experiment (the Default one, whose
    # artifacts land in ./mlruns), so the model is created in the run's first.
    mlflow.set_tracking_uri(client.tracking_uri)
    experiment_id = client.get_run(run_id).info.experiment_id
    if (existing := _ready_model_of_run(client, experiment_id, run_id)) is not None:
        return existing
    logged = client.create_logged_model(
        experiment_id, name=MODEL_NAME_IN_RUN, source_run_id=run_id
    )
    with warnings.catch_warnings():
        # MLflow 3.17's example writer compares columns with a range, which
        # pandas 3 deprecates: not ours to fix, and every log would show it.
        warnings.filterwarnings(
            "ignore", "Operation with range is deprecated", module="mlflow"
        )
        info = _log_model(run_id, logged.model_id, checkpoint_path)
    return info.model_id


def _log_model(run_id: str, model_id: str, checkpoint_path: str | Path) -> Any:
    """Log the pyfunc model from code, with the checkpoint as its artifact."""
    return Model.log(
        artifact_path=None,
        name=MODEL_NAME_IN_RUN,
        flavor=mlflow.pyfunc,
        run_id=run_id,
        model_id=model_id,
        python_model=str(MODEL_CODE),
        artifacts={CHECKPOINT_ARTIFACT: str(checkpoint_path)},
        code_paths=[str(Path(genrec.__file__).parent)],
        pip_requirements=pip_requirements(),
        signature=signature(),
        input_example=input_example(),
    )


def _ready_model_of_run(
    client: MlflowClient, experiment_id: str, run_id: str
) -> str | None:
    """The id of `run_id`'s READY checkpoint model; unfinished ones are failed."""
    from mlflow.entities import LoggedModelStatus

    # The SQL store does not filter on status, so that is checked here.
    found = client.search_logged_models(
        [experiment_id],
        filter_string=f"source_run_id = '{run_id}' AND name = '{MODEL_NAME_IN_RUN}'",
    )
    ready = None
    for model in found:
        if model.status == LoggedModelStatus.READY and ready is None:
            ready = model.model_id
        elif model.status == LoggedModelStatus.PENDING:
            client.finalize_logged_model(model.model_id, LoggedModelStatus.FAILED)
    return ready
