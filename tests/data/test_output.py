"""The output folder: atomic replace, and no leftovers from runs that were killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from genrec.data.output import STALE_AFTER_S, remove_stale_siblings
from genrec.data.preprocess import run_preprocess
from genrec.paths import _host

ROOT = Path(__file__).resolve().parents[2]
RATINGS = "userId,movieId,rating,timestamp\n1,10,4.0,100\n1,11,3.5,101\n"


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _sibling(tmp_path: Path, name: str, age_s: float = 0.0) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "part.parquet").write_bytes(b"x")
    stamp = time.time() - age_s
    os.utime(folder, (stamp, stamp))
    return folder


def test_a_killed_run_leaves_nothing_after_the_next_run(tmp_path):
    ratings = tmp_path / "ratings.csv"
    ratings.write_text(RATINGS)
    # The child dies by SIGKILL inside both work folders, as a killed run would.
    script = (
        "import os, signal, sys\n"
        "from pathlib import Path\n"
        "from genrec.data.output import scratch_folder, staged_output\n"
        "out = Path(sys.argv[1])\n"
        "with staged_output(out) as staging, scratch_folder(out, 'duckdb'):\n"
        "    (staging / 'items.parquet').write_bytes(b'half')\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    child = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "out")],
        cwd=ROOT,
        timeout=60,
    )
    assert child.returncode == -signal.SIGKILL
    left = sorted(path.name.split("-")[0] for path in tmp_path.glob(".out.*"))
    assert left == [".out.duckdb", ".out.staging"]

    run_preprocess("ml-latest-small", tmp_path / "out", ratings)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["out", "ratings.csv"]


def test_only_work_folders_of_dead_runs_are_removed(tmp_path):
    host, dead = _host(), _dead_pid()
    dead_here = _sibling(tmp_path, f".out.staging-{host}-{dead}-abc")
    dead_spill = _sibling(tmp_path, f".out.duckdb-{host}-{dead}-abc")
    alive_here = _sibling(tmp_path, f".out.staging-{host}-{os.getpid()}-abc")
    other_host = _sibling(tmp_path, f".out.staging-elsewhere-{dead}-abc")
    old_other_host = _sibling(
        tmp_path, f".out.duckdb-elsewhere-{dead}-abc", STALE_AFTER_S + 60
    )
    old_unnamed = _sibling(tmp_path, ".out.staging-k3j2h1", STALE_AFTER_S + 60)
    other_output = _sibling(tmp_path, f".other.staging-{host}-{dead}-abc")
    (tmp_path / "out").mkdir()

    removed = remove_stale_siblings(tmp_path / "out")

    assert sorted(removed) == sorted(
        [dead_here, dead_spill, old_other_host, old_unnamed]
    )
    for kept in (alive_here, other_host, other_output, tmp_path / "out"):
        assert kept.is_dir(), kept


def test_a_dead_runs_previous_output_is_restored_when_the_output_is_missing(tmp_path):
    previous = _sibling(tmp_path, f".out.previous-{_host()}-{_dead_pid()}-abc")
    (previous / "stats.json").write_text("{}")
    remove_stale_siblings(tmp_path / "out")
    assert (tmp_path / "out" / "stats.json").read_text() == "{}"
    assert not previous.exists()


def test_an_out_that_cannot_be_made_says_which_out(tmp_path):
    ratings = tmp_path / "ratings.csv"
    ratings.write_text(RATINGS)
    (tmp_path / "afile").write_text("x")
    out = tmp_path / "afile" / "sub"
    with pytest.raises(OSError, match=f"^--out {out}: cannot make the folder"):
        run_preprocess("ml-latest-small", out, ratings)


def test_an_out_beside_which_nothing_can_be_written_says_which_out(
    tmp_path, monkeypatch
):
    # mkdtemp refuses as it does in a folder without write permission. A real
    # one cannot stop these tests, which may run as root.
    def refuse(prefix, dir):
        raise PermissionError(13, "Permission denied", f"{dir}/{prefix}x")

    ratings = tmp_path / "ratings.csv"
    ratings.write_text(RATINGS)
    monkeypatch.setattr("genrec.data.output.tempfile.mkdtemp", refuse)
    with pytest.raises(PermissionError) as caught:
        run_preprocess("ml-latest-small", tmp_path / "o", ratings)
    assert str(caught.value) == (
        f"--out {tmp_path / 'o'}: cannot write in {tmp_path} (Permission denied)"
    )
