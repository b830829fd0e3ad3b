"""The README's main command, `genrec pipeline`, from a clean shell: no server,
no settings, everything under GENREC_HOME."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from mlflow.tracking import MlflowClient

REPO_ROOT = Path(__file__).resolve().parents[2]


def _clean_environment(home: Path, user_home: Path) -> dict[str, str]:
    """This process's environment without any Prefect or MLflow setting."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("PREFECT_", "MLFLOW_"))
    }
    return env | {
        "GENREC_HOME": str(home),
        "HOME": str(user_home),
        "PYTHONPATH": str(REPO_ROOT),
    }


def test_genrec_pipeline_finishes_says_where_to_look_and_keeps_to_genrec_home(
    tmp_path,
):
    home, user_home, cwd = tmp_path / "genrec-home", tmp_path / "user", tmp_path / "cwd"
    user_home.mkdir()
    cwd.mkdir()

    # Exactly what `dev.py main` runs: the embedded default, no flags (about
    # 30 s on 2 idle cores).
    process = subprocess.run(
        [sys.executable, "-m", "genrec.cli", "pipeline"],
        cwd=cwd,
        env=_clean_environment(home, user_home),
        capture_output=True,
        text=True,
        timeout=600,
    )

    assert process.returncode == 0, process.stderr[-5000:]
    out = process.stdout
    database = home / "mlflow.db"
    run_id = re.search(r"MLflow run\s+([0-9a-f]{32}) ", out).group(1)
    assert f"sqlite:///{database}" in out
    prefect = re.search(r"Prefect\s+flow run '[^']+' \(([0-9a-f-]{36})\) in (\S+)", out)
    assert prefect is not None, out
    assert Path(prefect.group(2)) == home / "prefect" / "prefect.db"
    assert "genrec ui" in out

    run = MlflowClient(f"sqlite:///{database}").get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.data.tags["prefect.flow_run_id"] == prefect.group(1)
    assert run.info.artifact_uri.startswith(home.as_uri())
    # Nothing lands where the command ran or in the user's home directory.
    assert list(cwd.iterdir()) == []
    assert not (user_home / ".prefect").exists()
    assert {"mlflow.db", "prefect", "runs", "datasets"} <= {
        path.name for path in home.iterdir()
    }
    assert (home / "prefect" / "prefect.db").is_file()


def test_a_failed_pipeline_ends_with_one_line_naming_the_problem(tmp_path):
    home, user_home = tmp_path / "genrec-home", tmp_path / "user"
    user_home.mkdir()
    missing = tmp_path / "no-such-events.csv"

    process = subprocess.run(
        [
            sys.executable,
            "-m",
            "genrec.cli",
            "pipeline",
            "--dataset=custom",
            f"--raw_path={missing}",
        ],
        cwd=tmp_path,
        env=_clean_environment(home, user_home),
        capture_output=True,
        text=True,
        timeout=600,
    )

    assert process.returncode == 1
    lines = process.stderr.splitlines()
    verdicts = [i for i, line in enumerate(lines) if line.startswith("genrec ")]
    assert len(verdicts) == 1, process.stderr[-3000:]
    verdict = lines[verdicts[0]]
    assert verdict.startswith("genrec pipeline failed: ") and str(missing) in verdict
    # It follows every traceback; only Prefect's server shutdown may come after.
    assert all(not line.startswith("Traceback") for line in lines[verdicts[0] :])


def test_a_mistyped_flag_stops_before_any_flow_or_run(tmp_path):
    home, user_home = tmp_path / "genrec-home", tmp_path / "user"
    user_home.mkdir()
    for flag, says in [
        ("--dataset=ml-10k", "flag --dataset=ml-10k: value should be one of"),
        ("--filter_mode=kcore", "flag --filter_mode=kcore: value should be one of"),
        ("--gin_config_file=hstu.gim", "hstu.gim: gin config file not found"),
        ("--dataset_option=num_user=100", "unknown dataset option(s) ['num_user']"),
        ("--raw_path=", "--raw_path='' is blank: expected the raw folder"),
        ("--gin_bindings=Trainer.sed = 1", "doesn't have a parameter named 'sed'"),
        ("--gin_bindings=Trainer.num_epochs = -1", "must be an integer >= 1, got -1"),
        ("--gin_bindings=adamw.learning_rate = -1", "Invalid learning rate: -1"),
    ]:
        process = subprocess.run(
            [sys.executable, "-m", "genrec.cli", "pipeline", flag],
            cwd=tmp_path,
            env=_clean_environment(home, user_home),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert process.returncode == 1, flag
        assert says in process.stderr, process.stderr[-2000:]
        # Neither Prefect nor MLflow was started: no flow run, no FAILED run.
        assert not (home / "mlflow.db").exists(), flag
        assert not (home / "prefect" / "prefect.db").exists(), flag


def test_ctrl_c_while_training_ends_the_pipeline_interrupted_at_once(tmp_path):
    # As a terminal's Ctrl-C does, SIGINT goes to the whole process group: the
    # command, its ranks and Prefect's temporary server. The server used to shut
    # down with the rest, and the flow then spent a minute failing to record its
    # end: "genrec pipeline failed: [Errno 111] Connection refused", exit 1.
    home, user_home = tmp_path / "genrec-home", tmp_path / "user"
    user_home.mkdir()
    process = subprocess.Popen(
        [sys.executable, "-m", "genrec.cli", "pipeline"],
        cwd=tmp_path,
        env=_clean_environment(home, user_home),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    assert process.stderr is not None
    seen = b""
    try:
        while b"step/s" not in seen:  # the training progress bar
            chunk = os.read(process.stderr.fileno(), 65536)
            assert chunk, seen.decode(errors="replace")[-3000:]
            seen += chunk
        os.killpg(process.pid, signal.SIGINT)
        interrupted_at = time.monotonic()
        seen += process.stderr.read()
        process.wait(timeout=120)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    took_s = time.monotonic() - interrupted_at

    log = seen.decode(errors="replace")
    assert process.returncode == 130, log[-3000:]
    assert "genrec pipeline: interrupted" in log.splitlines()
    assert "Connection refused" not in log and "Error logging to API" not in log
    assert "leaked semaphore" not in log and "Traceback" not in log, log[-3000:]
    assert "Finished in state Crashed('Execution was aborted by an interrupt" in log
    assert took_s < 30, f"{took_s:.0f} s from Ctrl-C to exit"


def test_a_home_that_cannot_be_written_is_one_line_and_help_still_works(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    home, user_home = blocker / "home", tmp_path / "user"
    user_home.mkdir()
    for subcommand, args, code in [
        ("pipeline", ["--help"], 0),
        ("pipeline", [], 1),
        ("deploy", [], 1),
        ("ui", [], 1),
    ]:
        process = subprocess.run(
            [sys.executable, "-m", "genrec.cli", subcommand, *args],
            cwd=tmp_path,
            env=_clean_environment(home, user_home),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert process.returncode == code, (subcommand, process.stderr[-3000:])
        assert "Traceback" not in process.stderr, process.stderr[-3000:]
        if code:
            assert process.stderr.splitlines()[-1] == (
                f"genrec {subcommand}: GENREC_HOME={home}: cannot write there "
                "(Not a directory); point it at a writable folder"
            )
