"""docker/prefect.yaml and docker/worker-start.sh: the nightly deployment that
the compose stack's worker registers on its work pool and then runs."""

from __future__ import annotations

import ast
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
PREFECT_YAML = REPO_ROOT / "docker" / "prefect.yaml"
COMPOSE_FILE = REPO_ROOT / "docker" / "compose.yaml"
WORKER_START = REPO_ROOT / "docker" / "worker-start.sh"
SCRIPT_TIMEOUT_S = 30

# {{ $VAR }}: Prefect fills these from the environment of `prefect deploy`.
ENV_PLACEHOLDER = re.compile(r"\{\{\s*\$(\w+)\s*\}\}")
# ${VAR:-default} in compose.yaml.
COMPOSE_DEFAULT = re.compile(r"^\$\{(\w+):-(.*)\}$")


def _nightly() -> dict:
    (deployment,) = yaml.safe_load(PREFECT_YAML.read_text())["deployments"]
    return deployment


def _worker_environment() -> dict[str, str]:
    """The GPU worker's environment with compose.yaml's defaults applied."""
    services = yaml.safe_load(COMPOSE_FILE.read_text())["services"]
    environment = {}
    for name, value in services["worker"]["environment"].items():
        default = COMPOSE_DEFAULT.match(str(value))
        environment[name] = default[2] if default else str(value)
    return environment


def _placeholders() -> dict[str, str]:
    """Where each {{ $VAR }} of the nightly deployment is used -> the variable."""
    found = {}

    def visit(node, where):
        if isinstance(node, dict):
            for key, value in node.items():
                visit(value, f"{where}.{key}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                visit(value, f"{where}[{index}]")
        elif isinstance(node, str) and (match := ENV_PLACEHOLDER.fullmatch(node)):
            found[where] = match[1]

    visit(_nightly(), "nightly")
    return found


def test_prefect_yaml_passes_prefects_own_schema():
    from prefect.cli.deploy._models import PrefectYamlModel

    model = PrefectYamlModel.model_validate(yaml.safe_load(PREFECT_YAML.read_text()))

    assert [deployment.name for deployment in model.deployments] == ["nightly"]


def test_nightly_entrypoint_is_the_pipeline_flow():
    path, _, function = _nightly()["entrypoint"].partition(":")
    tree = ast.parse((REPO_ROOT / path).read_text())

    flows = [
        node
        for node in tree.body
        if isinstance(node, ast.FunctionDef)
        and node.name == function
        and any("flow" in ast.unparse(decorator) for decorator in node.decorator_list)
    ]

    assert len(flows) == 1, f"{path} has no @flow function {function}"


def test_nightly_runs_on_the_pool_the_worker_polls():
    placeholders = _placeholders()

    assert placeholders["nightly.work_pool.name"] == "PREFECT_WORK_POOL"
    assert '--pool "$PREFECT_WORK_POOL"' in WORKER_START.read_text()


def test_every_placeholder_is_set_in_the_worker_environment():
    environment = _worker_environment()

    missing = set(_placeholders().values()) - set(environment)

    assert missing == set(), "set these in compose.yaml's worker environment"


def test_nightly_defaults_name_a_real_schedule_dataset_and_config():
    from prefect.schedules import Cron

    from genrec.data.datasets import get_spec

    environment = _worker_environment()
    values = {where: environment[name] for where, name in _placeholders().items()}

    Cron(
        values["nightly.schedules[0].cron"],
        timezone=values["nightly.schedules[0].timezone"],
    )
    get_spec(values["nightly.parameters.dataset"])
    assert (REPO_ROOT / values["nightly.parameters.gin_config_file"]).is_file()


def test_flow_runs_start_in_the_images_source_tree():
    pull = yaml.safe_load(PREFECT_YAML.read_text())["pull"]
    directories = [
        step["prefect.deployments.steps.set_working_directory"]["directory"]
        for step in pull
    ]

    for variant in ("cpu", "gpu"):
        dockerfile = (REPO_ROOT / "docker" / f"Dockerfile.{variant}").read_text()
        assert f"WORKDIR {directories[0]}\n" in dockerfile
    assert directories == ["/opt/genrec"]


def test_worker_start_script_is_valid_sh():
    result = subprocess.run(
        ["sh", "-n", str(WORKER_START)],
        capture_output=True,
        text=True,
        timeout=SCRIPT_TIMEOUT_S,
    )

    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("unset", ["PREFECT_API_URL", "PREFECT_WORK_POOL"])
def test_worker_start_script_stops_without_its_settings(unset):
    environment = {
        **os.environ,
        "PREFECT_API_URL": "http://prefect-server:4200/api",
        "PREFECT_WORK_POOL": "genrec-gpu",
    }
    del environment[unset]

    result = subprocess.run(
        ["sh", str(WORKER_START)],
        capture_output=True,
        text=True,
        timeout=SCRIPT_TIMEOUT_S,
        env=environment,
    )

    assert result.returncode != 0
    assert unset in result.stderr
