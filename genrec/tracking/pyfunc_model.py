"""The code MLflow logs as a genrec model: it names the model class to load.

MLflow runs this file when it logs and when it loads the model ("models from
code"), so the model holds source, not a pickled object.
"""

import mlflow.models

from genrec.tracking.pyfunc import CheckpointRecommender

mlflow.models.set_model(CheckpointRecommender())
