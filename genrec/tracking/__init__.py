"""MLflow tracking for genrec: where runs live, their lifecycle, params, plots
and the model registry. Everything takes explicit run ids and tracking URIs so
that DDP ranks and Prefect tasks never depend on a process-global active run.
"""
