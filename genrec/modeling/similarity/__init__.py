"""Similarity (interaction) modules: queries x candidate items -> scores."""

from genrec.modeling.similarity.base import Similarity
from genrec.modeling.similarity.dot_product import DotProductSimilarity
from genrec.modeling.similarity.mol import MixtureOfLogitsSimilarity

__all__ = ["DotProductSimilarity", "MixtureOfLogitsSimilarity", "Similarity"]
