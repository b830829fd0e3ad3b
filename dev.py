"""Set up genrec in a local virtualenv and run its main job or its tests.

    python3.11 dev.py main [genrec pipeline flags]   # the whole pipeline, embedded data
    python3.11 dev.py test [pytest args]             # the test suite

Both create `.venv` on first use and reinstall only when pyproject.toml changes.
Only the standard library is used here, so a fresh machine needs Python 3.11.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("GENREC_VENV", ROOT / ".venv"))
STAMP = VENV / ".genrec-installed"


def _python() -> Path:
    return VENV / "bin" / "python"


def _wanted_stamp(extras: str) -> str:
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    return f"{digest} {extras}\n"


def ensure_venv() -> Path:
    """Create the virtualenv and install genrec into it unless it is current."""
    extras = os.environ.get("GENREC_EXTRAS", "cpu,dev")
    if not _python().exists():
        print(f"[dev] creating virtualenv {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    if STAMP.exists() and STAMP.read_text() == _wanted_stamp(extras):
        return _python()
    print(f"[dev] installing genrec[{extras}] into {VENV} (a few minutes)", flush=True)
    subprocess.run(
        [
            str(_python()),
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "-q",
            "-e",
            f"{ROOT}[{extras}]",
        ],
        check=True,
    )
    STAMP.write_text(_wanted_stamp(extras))
    return _python()


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"main", "test", "setup"}:
        print(__doc__)
        return 2
    command, rest = argv[0], argv[1:]
    python = ensure_venv()
    if command == "setup":
        return 0
    env = dict(os.environ)
    if command == "main":
        cmd = [str(python), "-m", "genrec.cli", "pipeline", *rest]
    else:
        cmd = [str(python), "-m", "pytest", *rest]
    print("[dev] " + " ".join(cmd), flush=True)
    return subprocess.call(cmd, cwd=ROOT, env=env)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
