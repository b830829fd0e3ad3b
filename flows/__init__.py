"""Prefect flows around genrec: preprocess -> train -> evaluate -> register.

Importing this package fills unset Prefect variables (PREFECT_HOME under the
genrec data folder, analytics off, a longer ephemeral start-up time-out).
It has to happen here, before any flow module imports Prefect, because
Prefect reads its settings once, at import.
"""

from flows.settings import configure_environment

configure_environment()
