"""Stage an output folder and swap it in only when it is complete."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

logger = logging.getLogger(__name__)

MARKER = "stats.json"  # every complete genrec data folder has one


@contextmanager
def staged_output(out_dir: Path) -> Iterator[Path]:
    """Yield an empty staging folder beside `out_dir`; rename it into place on success.

    On any error the staging folder is deleted and `out_dir`, if it held a
    previous output, is left untouched. An existing `out_dir` is replaced only
    when it is empty or holds a previous output (its stats.json), never a folder
    of other files.
    """
    out_dir = out_dir.resolve()
    if out_dir.exists() and not _replaceable(out_dir):
        raise FileExistsError(
            f"{out_dir} exists and is not a genrec data folder (no {MARKER}); "
            "choose another --out or remove it"
        )
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(
        tempfile.mkdtemp(prefix=f".{out_dir.name}.staging-", dir=out_dir.parent)
    )
    staging.chmod(0o755)  # mkdtemp makes it private; the output is not
    try:
        yield staging
        _swap_in(staging, out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _replaceable(folder: Path) -> bool:
    return folder.is_dir() and (
        not any(folder.iterdir()) or (folder / MARKER).is_file()
    )


def _swap_in(staging: Path, out_dir: Path) -> None:
    """Move the finished staging folder to `out_dir`, keeping the old one until done."""
    previous = None
    if out_dir.exists():
        previous = out_dir.with_name(f".{out_dir.name}.previous-{os.getpid()}")
        out_dir.rename(previous)
    try:
        staging.rename(out_dir)
    except OSError:
        if previous is not None:
            previous.rename(out_dir)
        raise
    if previous is not None:
        shutil.rmtree(previous, ignore_errors=True)
    logger.info("wrote %s", out_dir)
