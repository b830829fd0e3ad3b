"""Sequence encoders: jagged (T, D) inputs -> (T, D) causal user states."""

from genrec.modeling.encoders.base import SequenceEncoder
from genrec.modeling.encoders.hstu import HSTUEncoder
from genrec.modeling.encoders.sasrec import SASRecEncoder

__all__ = ["HSTUEncoder", "SASRecEncoder", "SequenceEncoder"]
