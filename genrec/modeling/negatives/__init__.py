"""Negative samplers: which items each supervised position is contrasted with."""

from genrec.modeling.negatives.base import Negatives, NegativeSampler
from genrec.modeling.negatives.in_batch import InBatchNegativeSampler
from genrec.modeling.negatives.uniform import UniformNegativeSampler

__all__ = [
    "InBatchNegativeSampler",
    "NegativeSampler",
    "Negatives",
    "UniformNegativeSampler",
]
