"""Split protocols: which items of each history are trained on and which are targets.

Both protocols are leave-last-out per user, in time order:

- `reference` (the paper's protocol): train on every prefix of all but the last
  item and evaluate on the last one. There is no validation split, so the items
  evaluated during training are the test items; use it to compare with published
  numbers, not to choose checkpoints.
- `valid_test` (the default): train on all but the last two items, select the
  checkpoint on the second-to-last, report the last once for that checkpoint.

A split's target at index i of a user's list is predicted from the items before
it, so a user takes part in a split only when at least one item precedes the
target.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

VALID = "valid"
TEST = "test"


@dataclass(frozen=True)
class SplitProtocol:
    """How many items each user holds out, and which split selects checkpoints.

    Attributes:
        name: "reference" or "valid_test".
        num_held_out: items at the end of each history that are never trained on.
        selection_split: the split evaluated during training ("valid" or "test").
    """

    name: str
    num_held_out: int
    selection_split: str

    @property
    def splits(self) -> tuple[str, ...]:
        """The splits this protocol can evaluate."""
        return (VALID, TEST) if self.num_held_out == 2 else (TEST,)

    def train_lengths(self, lengths: np.ndarray) -> np.ndarray:
        """(U,) number of leading items of each history that training may use."""
        return np.maximum(lengths - self.num_held_out, 0)

    def target_positions(self, lengths: np.ndarray, split: str) -> np.ndarray:
        """(U,) index of each user's target item for `split` (may be < 1 if too short).

        Raises:
            ValueError: when the protocol has no such split.
        """
        if split not in self.splits:
            raise ValueError(
                f"split {split!r} is not part of the {self.name!r} protocol; "
                f"expected one of {self.splits}"
            )
        return lengths - (1 if split == TEST else 2)


PROTOCOLS: dict[str, SplitProtocol] = {
    "reference": SplitProtocol("reference", num_held_out=1, selection_split=TEST),
    "valid_test": SplitProtocol("valid_test", num_held_out=2, selection_split=VALID),
}


def split_protocol(name: str) -> SplitProtocol:
    """Return the protocol called `name`.

    Raises:
        ValueError: naming the known protocols when `name` is not one of them.
    """
    try:
        return PROTOCOLS[name]
    except KeyError:
        raise ValueError(
            f"unknown split protocol {name!r}; expected one of {sorted(PROTOCOLS)}"
        ) from None
