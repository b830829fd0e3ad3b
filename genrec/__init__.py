"""genrec: generative recommenders from raw ratings to a registered model."""

__version__ = "0.1.0"
