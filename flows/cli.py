"""`genrec pipeline`: preprocess -> train -> evaluate -> register, then say where
the results are.

With no flags it runs on the embedded synthetic dataset, with Prefect in
ephemeral mode and MLflow in a SQLite file under the genrec data folder, so no
server has to be running.
"""

from __future__ import annotations

import sys

from flows.options import (
    check_pipeline_kwargs,
    define_pipeline_flags,
    pipeline_kwargs,
)
from flows.settings import check_writable_homes, keep_ephemeral_server_through_ctrl_c

define_pipeline_flags()


def prefect_location() -> str:
    """Where this process's Prefect flow runs are stored, in words."""
    from prefect.settings import get_current_settings

    settings = get_current_settings()
    if settings.api.url:
        return f"server {settings.api.url}"
    # Ephemeral mode: a temporary server on the database in PREFECT_HOME,
    # which `genrec ui` serves afterwards.
    return f"{settings.home / 'prefect.db'} (ephemeral)"


def summary(result, prefect_at: str) -> str:  # noqa: ANN001 (PipelineResult)
    """The lines printed after a run: where to look and the headline numbers."""
    metrics = result.test_metrics

    def pair(prefix: str) -> str:
        hr = metrics.get(f"{prefix}/hr@10", float("nan"))
        ndcg = metrics.get(f"{prefix}/ndcg@10", float("nan"))
        return f"HR@10 {hr:.4f}  NDCG@10 {ndcg:.4f}"

    champion = "the champion" if result.champion else "not the champion"
    cache = "from cache" if result.preprocess_cached else "computed"
    return "\n".join(
        [
            "genrec pipeline finished",
            f"  data        {result.data_dir} ({cache})",
            f"  model       {pair('test')}",
            f"  popularity  {pair('popularity/test')}",
            f"  registered  {result.model_name} version {result.model_version} "
            f"is {champion} ({result.champion_reason})",
            f"  MLflow run  {result.mlflow_run_id} in experiment "
            f"{result.experiment!r} at {result.tracking_uri}",
            f"  Prefect     flow run {result.flow_run_name!r} ({result.flow_run_id}) "
            f"in {prefect_at}",
            f"  checkpoint  {result.checkpoint_path}",
            "  browse      genrec ui   (Prefect and MLflow UIs on 127.0.0.1)",
        ]
    )


def main(argv: list[str]) -> None:
    from flows.pipeline import pipeline

    # A mistake stops here, before the flow starts (no flow run, no MLflow run),
    # as one line from genrec.cli.
    kwargs = pipeline_kwargs()
    check_pipeline_kwargs(kwargs)
    check_writable_homes()
    keep_ephemeral_server_through_ctrl_c()
    try:
        result = pipeline(**kwargs)
    except Exception as error:
        # Prefect has logged the tracebacks above; end with the one line to read.
        print(f"genrec pipeline failed: {error}", file=sys.stderr)
        raise SystemExit(1) from None
    print(summary(result, prefect_location()))
