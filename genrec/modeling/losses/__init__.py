"""Training losses over positive and negative logits."""

from genrec.modeling.losses.base import RetrievalLoss
from genrec.modeling.losses.bce import BCELoss
from genrec.modeling.losses.sampled_softmax import SampledSoftmaxLoss

__all__ = ["BCELoss", "RetrievalLoss", "SampledSoftmaxLoss"]
