"""The `genrec` command itself: subcommand dispatch and help."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _genrec(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "genrec.cli", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("subcommand", "usage", "own_flags"),
    [
        ("preprocess", "genrec preprocess", ["--dataset", "--out", "--filter_mode"]),
        ("train", "genrec train", ["--gin_config_file", "--data_dir", "--nnodes"]),
        ("pipeline", "genrec pipeline", ["--dataset", "--gin_bindings"]),
    ],
)
def test_help_shows_the_subcommands_usage_and_own_flags(subcommand, usage, own_flags):
    result = _genrec(subcommand, "--help")  # absl ends --help with status 1

    text = result.stdout + result.stderr
    assert text.lstrip().startswith(f"`{usage}`")
    for flag in own_flags:
        assert f"  {flag}:" in text or f"  --[no]{flag[2:]}:" in text, flag


def test_unknown_subcommand_lists_the_subcommands():
    result = _genrec("trian")

    assert result.returncode == 2
    assert "subcommands:" in result.stderr and "pipeline" in result.stderr
