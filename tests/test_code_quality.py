"""Lint, format and type checks of the checkout, so CI fails on any of them.

Each tool runs from the repository root with its configuration in
pyproject.toml, exactly as a contributor runs it. A cold mypy run (no
.mypy_cache) takes about 20 s on one core; later runs reuse the cache.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _assert_passes(module: str, *args: str) -> None:
    """Run `python -m <module> <args>` from the root; fail with its output."""
    result = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, (
        f"`{' '.join((module, *args))}` exited {result.returncode}:\n"
        f"{result.stdout}{result.stderr}"
    )


def test_ruff_check_finds_no_lint():
    _assert_passes("ruff", "check", ".")


def test_ruff_format_would_change_nothing():
    _assert_passes("ruff", "format", "--check", ".")


def test_mypy_finds_no_type_errors():
    _assert_passes("mypy")
