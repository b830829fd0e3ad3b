"""Models for sequential retrieval: embeddings, encoders, similarities, losses.

Importing this package registers every configurable part with gin.
"""

from genrec.modeling import encoders, losses, negatives, similarity
from genrec.modeling.batch import SequenceBatch
from genrec.modeling.embeddings import CategoricalEmbedding, LocalEmbedding
from genrec.modeling.metrics import metric_sums, retrieval_metrics
from genrec.modeling.model import RetrievalModel
from genrec.modeling.postprocessors import (
    EmbeddingPostprocessor,
    L2NormPostprocessor,
    LayerNormPostprocessor,
)
from genrec.modeling.preprocessors import LearnablePositionalPreprocessor

__all__ = [
    "CategoricalEmbedding",
    "EmbeddingPostprocessor",
    "L2NormPostprocessor",
    "LayerNormPostprocessor",
    "LearnablePositionalPreprocessor",
    "LocalEmbedding",
    "RetrievalModel",
    "SequenceBatch",
    "encoders",
    "losses",
    "metric_sums",
    "negatives",
    "retrieval_metrics",
    "similarity",
]
