"""docker/compose.yaml: valid for Compose, private by default, fully documented.

Validation runs the real Compose (`docker-compose` 1.29 from Debian, or the
`docker compose` v2 plugin). Without either, these tests skip on a developer
machine and fail under CI (`CI=true`), where .ci/run installs docker-compose.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO_ROOT / "docker" / "compose.yaml"
ENV_EXAMPLE = REPO_ROOT / ".env.example"
SECRETS = ("POSTGRES_PASSWORD", "PREFECT_DB_PASSWORD", "MLFLOW_DB_PASSWORD")
UI_SERVICES = {"mlflow": 5000, "prefect-server": 4200}
COMPOSE_TIMEOUT_S = 60

# ${VAR}, ${VAR:-default}, ${VAR:?error}... as Compose interpolates them.
VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)")


def _ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def _compose_command() -> list[str] | None:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if shutil.which("docker"):
        probe = subprocess.run(
            ["docker", "compose", "version"], capture_output=True, timeout=30
        )
        if probe.returncode == 0:
            return ["docker", "compose"]
    return None


@pytest.fixture(scope="module")
def compose() -> list[str]:
    """The Compose CLI: skip without one locally, fail without one in CI."""
    command = _compose_command()
    if command is None:
        message = (
            "no Compose CLI found: install Debian's docker-compose "
            "(apt-get install -y docker-compose) or the docker compose plugin"
        )
        if _ci():
            pytest.fail(message)
        pytest.skip(message)
    return command


def _env_example() -> dict[str, str]:
    values: dict[str, str] = {}
    for number, line in enumerate(ENV_EXAMPLE.read_text().splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, separator, value = line.partition("=")
        assert separator, f"{ENV_EXAMPLE}:{number}: expected NAME=value, got {line!r}"
        values[name.strip()] = value.strip()
    return values


def _write_env(path: Path, values: dict[str, str]) -> Path:
    path.write_text("".join(f"{name}={value}\n" for name, value in values.items()))
    return path


def _with_secrets(values: dict[str, str]) -> dict[str, str]:
    return {**values, **{name: f"test-{name.lower()}" for name in SECRETS}}


def _run_config(
    compose: list[str], env_file: Path, compose_file: Path = COMPOSE_FILE, *args: str
) -> subprocess.CompletedProcess[str]:
    # The variables must come from the env file alone, not from this shell.
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in _env_example() and not key.startswith("COMPOSE_")
    }
    command = [*compose, "--env-file", str(env_file), "-f", str(compose_file)]
    return subprocess.run(
        [*command, "config", *args],
        capture_output=True,
        text=True,
        timeout=COMPOSE_TIMEOUT_S,
        env=env,
    )


def _resolved(compose: list[str], env_file: Path) -> dict:
    result = _run_config(compose, env_file)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def _published(service: dict) -> list[tuple[str, int, int]]:
    """(host ip, host port, container port) of each published port."""
    published = []
    for port in service.get("ports", []):
        if isinstance(port, dict):  # Compose v2 prints the long syntax.
            published.append(
                (port.get("host_ip", ""), int(port["published"]), int(port["target"]))
            )
            continue
        host_ip, host_port, container = str(port).rsplit(":", 2)
        published.append((host_ip, int(host_port), int(container.split("/")[0])))
    return published


def test_compose_file_is_valid(compose, tmp_path):
    env_file = _write_env(tmp_path / "env", _with_secrets(_env_example()))

    result = _run_config(compose, env_file, COMPOSE_FILE, "-q")

    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("original", "corrupted"),
    [
        ("    restart: unless-stopped\n", "    restart: [unless-stopped\n"),
        ("  postgres:\n", "  postgres:\n    colour: blue\n"),
        ("      interval: 10s\n", "      interval: {every: 10s}\n"),
    ],
    ids=["yaml-syntax", "unknown-key", "wrong-type"],
)
def test_corrupted_compose_file_is_rejected(compose, tmp_path, original, corrupted):
    env_file = _write_env(tmp_path / "env", _with_secrets(_env_example()))
    text = COMPOSE_FILE.read_text()
    assert original in text
    # The verbatim copy passes, so only the corruption can fail the copy below.
    intact = tmp_path / "intact" / "compose.yaml"
    intact.parent.mkdir()
    intact.write_text(text)
    assert _run_config(compose, env_file, intact, "-q").returncode == 0
    broken = tmp_path / "broken" / "compose.yaml"
    broken.parent.mkdir()
    broken.write_text(text.replace(original, corrupted, 1))

    result = _run_config(compose, env_file, broken, "-q")

    assert result.returncode != 0, f"{original!r} -> {corrupted!r} was accepted"


def test_missing_secret_stops_compose_with_its_name(compose, tmp_path):
    values = _with_secrets(_env_example())
    values["MLFLOW_DB_PASSWORD"] = ""
    env_file = _write_env(tmp_path / "env", values)

    result = _run_config(compose, env_file, COMPOSE_FILE, "-q")

    assert result.returncode != 0
    assert "MLFLOW_DB_PASSWORD" in result.stdout + result.stderr


@pytest.mark.parametrize("source", ["env-example", "compose-defaults"])
def test_only_the_uis_are_published_and_on_localhost(compose, tmp_path, source):
    # compose-defaults: an env file with the secrets only, so every ${VAR:-x}
    # falls back to the default written in compose.yaml.
    values = _env_example() if source == "env-example" else {}
    config = _resolved(compose, _write_env(tmp_path / "env", _with_secrets(values)))

    published = {
        name: _published(service)
        for name, service in config["services"].items()
        if _published(service)
    }

    assert set(published) == set(UI_SERVICES)
    for name, ports in published.items():
        assert [(ip, target) for ip, _, target in ports] == [
            ("127.0.0.1", UI_SERVICES[name])
        ], f"{name} publishes {ports}"


def test_worker_reaches_the_servers_over_the_compose_network(compose, tmp_path):
    config = _resolved(compose, _write_env(tmp_path / "env", _with_secrets({})))
    services = config["services"]

    for worker in ("worker", "worker-cpu"):
        environment = services[worker]["environment"]
        for variable, server in [
            ("PREFECT_API_URL", "prefect-server"),
            ("MLFLOW_TRACKING_URI", "mlflow"),
        ]:
            url = urlsplit(environment[variable])
            assert url.hostname == server, f"{worker}: {variable}={url.geturl()}"
            assert url.port == UI_SERVICES[server]
            assert server in services[worker]["depends_on"]


def test_gpu_worker_requests_gpus_through_a_device_reservation(compose, tmp_path):
    config = _resolved(compose, _write_env(tmp_path / "env", _with_secrets({})))
    services = config["services"]

    devices = services["worker"]["deploy"]["resources"]["reservations"]["devices"]

    # Compose v2 prints `count: all` as -1.
    assert [(d["driver"], d["capabilities"], str(d["count"])) for d in devices] in (
        [("nvidia", ["gpu"], "all")],
        [("nvidia", ["gpu"], "-1")],
    )
    assert "deploy" not in services["worker-cpu"]
    assert services["worker"]["profiles"] == ["gpu"]
    assert services["worker-cpu"]["profiles"] == ["cpu"]


def test_env_example_documents_every_compose_variable():
    used = set(VARIABLE.findall(COMPOSE_FILE.read_text()))
    documented = set(_env_example())

    assert used - documented == set(), "add these to .env.example"
    # Compose reads COMPOSE_* itself; anything else unused is stale.
    stale = {name for name in documented - used if not name.startswith("COMPOSE_")}
    assert stale == set(), "not used by docker/compose.yaml"


def test_env_example_leaves_the_secrets_empty():
    values = _env_example()

    assert {name: values[name] for name in SECRETS} == dict.fromkeys(SECRETS, "")
    assert values["BIND_ADDR"] == "127.0.0.1"


def test_env_file_is_kept_out_of_git_and_images():
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", ".env"], cwd=REPO_ROOT, timeout=30
    )
    docker_ignore = (REPO_ROOT / ".dockerignore").read_text().splitlines()

    assert ignored.returncode == 0, ".env is not git-ignored"
    assert ".env" in docker_ignore
