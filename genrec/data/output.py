"""Stage an output folder and swap it in only when it is complete.

Work happens in hidden siblings of the output folder, named
`.<out>.<kind>-<host>-<pid>-<token>`: `staging` (the new output), `duckdb` (the
database's spill files) and `previous` (the old output during the swap). A run
that is killed (SIGKILL, power loss) cannot remove its own; the next run for the
same output removes those of runs that are dead: the same host and a pid that no
longer exists, or, for another host or an older name without a pid, untouched
for STALE_AFTER_S.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from genrec.paths import left_by_dead_run, run_tag

logger = logging.getLogger(__name__)

MARKER = "stats.json"  # every complete genrec data folder has one
# What a complete data folder holds, and all it may hold: an existing --out is
# replaced only if it holds nothing else (another tool's folder may well have a
# stats.json); a cached folder missing any of them is redone (flows/).
OUTPUT_FILES = frozenset(
    {MARKER, "sequences.parquet", "items.parquet", "users.parquet"}
)
# Keys every stats.json of genrec holds, which tell it from another tool's.
GENREC_STATS_KEYS = frozenset({"num_interactions", "num_users", "num_items", "counts"})
KINDS = ("staging", "duckdb", "previous")
# A sibling nobody touched for a day belongs to no live run: preprocessing the
# largest dataset takes minutes, and spill files touch the duckdb folder.
STALE_AFTER_S = 24 * 3600


@contextmanager
def staged_output(out_dir: Path) -> Iterator[Path]:
    """Yield an empty staging folder beside `out_dir`; rename it into place on success.

    On any error the staging folder is deleted and `out_dir`, if it held a
    previous output, is left untouched. An existing `out_dir` is replaced only
    when it is empty or holds a previous output (its stats.json and data files
    only), never a folder with other files. Leftovers of dead runs for the same
    `out_dir` are removed first.
    """
    out_dir = out_dir.resolve()
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise type(error)(
            f"--out {out_dir}: cannot make the folder {out_dir.parent} "
            f"({error.strerror}: {error.filename})"
        ) from error
    remove_stale_siblings(out_dir)
    _check_replaceable(out_dir)
    with scratch_folder(out_dir, "staging") as staging:
        staging.chmod(0o755)  # mkdtemp makes it private; the output is not
        yield staging
        _swap_in(staging, out_dir)


@contextmanager
def scratch_folder(out_dir: Path, kind: str) -> Iterator[Path]:
    """Yield a new hidden folder beside `out_dir`, removed afterwards.

    Its name carries this host and pid, so that a later run can tell whether the
    run that made it is still alive.
    """
    try:
        folder = Path(
            tempfile.mkdtemp(prefix=_sibling_prefix(out_dir, kind), dir=out_dir.parent)
        )
    except OSError as error:
        # The work folder's name means nothing to the user; the output's does.
        raise type(error)(
            f"--out {out_dir}: cannot write in {out_dir.parent} ({error.strerror})"
        ) from error
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def remove_stale_siblings(out_dir: Path) -> list[Path]:
    """Remove the work folders of dead runs for `out_dir`; return what was removed.

    A stale `previous` folder is restored as `out_dir` when `out_dir` is
    missing: its run died between moving the old output aside and moving the
    new one in, so it is the last complete output.
    """
    removed = []
    pattern = re.compile(
        rf"^\.{re.escape(out_dir.name)}\.(?P<kind>{'|'.join(KINDS)})-(?P<rest>.*)$"
    )
    for sibling in sorted(out_dir.parent.iterdir()):
        match = pattern.match(sibling.name)
        if not match or not sibling.is_dir() or not _is_stale(sibling, match["rest"]):
            continue
        if match["kind"] == "previous" and not out_dir.exists():
            try:
                sibling.rename(out_dir)
                logger.warning("restored %s from a dead run's %s", out_dir, sibling)
            except OSError:
                pass
            continue
        logger.warning("removing %s, left by a run that is no longer alive", sibling)
        shutil.rmtree(sibling, ignore_errors=True)
        removed.append(sibling)
    return removed


def _sibling_prefix(out_dir: Path, kind: str) -> str:
    return f".{out_dir.name}.{kind}-{run_tag()}-"


def _is_stale(folder: Path, name_rest: str) -> bool:
    """Whether `folder` (name ending `<host>-<pid>-<token>`) belongs to a dead run."""
    tag, _, _token = name_rest.rpartition("-")
    if left_by_dead_run(tag):
        return True
    try:
        age_s = time.time() - folder.stat().st_mtime
    except OSError:
        return False  # removed meanwhile
    return age_s > STALE_AFTER_S


def _check_replaceable(out_dir: Path) -> None:
    """Raise FileExistsError unless `out_dir` is missing, empty or a data folder."""
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise FileExistsError(f"{out_dir} is a file; --out must name a folder")
    entries = sorted(out_dir.iterdir())
    if not entries:
        return
    # A folder named like an output file (as Spark writes a Parquet dataset) is
    # not one of genrec's files.
    others = [
        path.name
        for path in entries
        if path.name not in OUTPUT_FILES or path.is_symlink() or not path.is_file()
    ]
    if others:
        why = f"files genrec did not write: {others[:5]}"
    elif not (out_dir / MARKER).is_file():
        why = f"no {MARKER}"
    elif not _is_genrec_stats(out_dir / MARKER):
        why = f"its {MARKER} is not genrec's"
    else:
        return
    raise FileExistsError(
        f"{out_dir} exists and is not a genrec data folder ({why}); "
        "choose another --out or remove it"
    )


def _is_genrec_stats(path: Path) -> bool:
    """Whether `path` is a stats.json that genrec wrote (it has genrec's keys)."""
    try:
        stats = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(stats, dict) and GENREC_STATS_KEYS <= stats.keys()


def _swap_in(staging: Path, out_dir: Path) -> None:
    """Move the finished staging folder to `out_dir`, keeping the old one until done."""
    previous = None
    if out_dir.exists():
        previous = out_dir.with_name(
            _sibling_prefix(out_dir, "previous") + uuid.uuid4().hex[:8]
        )
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
