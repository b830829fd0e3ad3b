"""Fixtures for the whole suite: the real datasets beside the checkout."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    """`../shared/data` beside the checkout, or $GENREC_SHARED_DATA."""
    override = os.environ.get("GENREC_SHARED_DATA")
    return Path(override) if override else REPO_ROOT / ".." / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data():
    """A function dataset name -> folder that skips the test when it is absent.

    The real datasets may not be redistributed, so they are never part of the
    checkout; CI has them, a contributor's machine may not.
    """

    def locate(name: str) -> Path:
        folder = shared_data_dir() / name
        if not folder.is_dir():
            pytest.skip(
                f"real dataset {name} not found at {folder} (set GENREC_SHARED_DATA)"
            )
        return folder

    return locate
