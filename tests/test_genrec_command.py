"""The `genrec` command itself: subcommand dispatch and help."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.training.conftest import write_sequences

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "configs" / "cpu" / "tiny.gin"


# The console script that `pip install` writes beside the interpreter.
SCRIPT = Path(sys.executable).parent / "genrec"


def _genrec(*args: str, script: bool = True) -> subprocess.CompletedProcess:
    """Run `genrec ARGS` as users do (the console script), or as `python -m`."""
    command = [str(SCRIPT)] if script else [sys.executable, "-m", "genrec.cli"]
    return subprocess.run(
        [*command, *args],
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
@pytest.mark.parametrize("script", [True, False], ids=["console-script", "python-m"])
def test_help_shows_the_subcommands_usage_and_own_flags(
    subcommand, usage, own_flags, script
):
    # absl lists the key flags of the module named by argv[0], which differs
    # between the two ways of starting genrec.
    result = _genrec(subcommand, "--help", script=script)

    assert result.returncode == 0, result.stderr[-2000:]
    text = result.stdout + result.stderr
    assert text.lstrip().startswith(f"`{usage}`")
    for flag in own_flags:
        assert f"  {flag}:" in text or f"  --[no]{flag[2:]}:" in text, flag


@pytest.mark.parametrize("asked", ["-h", "--helpshort", "--helpfull", "-?"])
def test_every_spelling_of_help_succeeds(asked):
    result = _genrec("preprocess", asked)

    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.lstrip().startswith("`genrec preprocess`")


def test_unknown_subcommand_lists_the_subcommands():
    result = _genrec("trian")

    assert result.returncode == 2
    assert "subcommands:" in result.stderr and "pipeline" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            [
                "train",
                "--data_dir=/nonexistent/genrec-data",
                f"--gin_config_file={TINY}",
            ],
            "genrec train: /nonexistent/genrec-data/sequences.parquet: not found",
        ),
        (
            ["train", "--data_dir={data}", "--gin_config_file=/nonexistent/hstu.gin"],
            "genrec train: /nonexistent/hstu.gin: gin config file not found",
        ),
        (
            [
                "train",
                "--data_dir={data}",
                f"--gin_config_file={TINY}",
                "--gin_bindings=Trainer.num_epoch = 1",
            ],
            "genrec train: Configurable 'Trainer' doesn't have a parameter named "
            "'num_epoch'",
        ),
        (
            ["train", "--data_dir={data}"],
            "genrec train: --gin_config_file is required",
        ),
        (
            ["evaluate", "--data_dir={data}", "--checkpoint={data}/items.parquet"],
            "genrec evaluate: ",
        ),
        (
            ["deploy", "--timezone=Mars/Olympus"],
            "genrec deploy: --timezone='Mars/Olympus': not an IANA time zone",
        ),
    ],
)
def test_a_users_mistake_is_one_line_without_a_traceback(tmp_path, args, message):
    data = write_sequences(tmp_path / "data", [[1, 2, 3], [2, 3, 4]])
    run_dir = tmp_path / "run"
    if args[0] == "train":
        args = [*args, f"--run_dir={run_dir}"]
    result = _genrec(*[arg.format(data=data) for arg in args])

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    # The message starts a line (gin's goes on to quote the binding).
    assert any(line.startswith(message) for line in result.stderr.splitlines())
    # A training that never started leaves no run folder behind.
    assert not run_dir.exists()


# The required flags of each subcommand, which absl checks before anything else.
REQUIRED = {
    "preprocess": ["--out=/nonexistent/out"],
    "train": ["--data_dir=/nonexistent/data"],
    "evaluate": ["--data_dir=/nonexistent/data", "--checkpoint=/nonexistent/c"],
    "pipeline": [],
    "deploy": [],
    "ui": [],
}


@pytest.mark.parametrize("subcommand", sorted(REQUIRED))
def test_every_subcommand_refuses_a_stray_word_or_flag_in_one_line(subcommand):
    for args, says in [
        (["stray"], "unexpected arguments ['stray']: a flag takes its value after '='"),
        (["--no_such_flag=1"], "Unknown command line flag 'no_such_flag'"),
    ]:
        result = _genrec(subcommand, *REQUIRED[subcommand], *args, script=False)

        assert result.returncode == 1, result.stderr
        (line,) = result.stderr.splitlines()
        assert line.startswith(f"genrec {subcommand}: {says}"), line
