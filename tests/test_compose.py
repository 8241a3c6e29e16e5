"""Offline checks of every environments/*/docker-compose.yaml (no Docker engine needed).

Two layers: the official Compose Specification schema, which check-jsonschema vendors as its
builtin `vendor.compose-spec` (no download), and the course's own rules, which the schema
cannot express: pinned images, ports on 127.0.0.1 only, health-checked PostgreSQL, bind mounts
inside the repository, and the Airflow image and extra packages equal to the Airflow lock.
Each rule is a function returning a list of problems, so the negative cases below can show
that every rule fails on a bad file.
"""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from workbook import envfiles, envs, paths

COMPOSE_FILES = sorted(paths.ENVIRONMENTS.glob("*/docker-compose.yaml"))
IDS = [p.parent.name for p in COMPOSE_FILES]
LOOPBACK = ("127.0.0.1", "::1", "[::1]")
AIRFLOW_DAGS = "workspace/02_intermediate/dags"


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def lock_versions(env: str) -> dict[str, str]:
    """{normalized name: version} of an environment's lock, for Python 3.11 on Linux."""
    pins = envfiles.pins(envfiles.lock_path(env).read_text())
    return {
        re.sub(r"[-_.]+", "-", name.split("[")[0]).lower(): version
        for name, version in (pin.split("==") for pin in pins)
    }


def environment(service: dict) -> dict[str, str]:
    """A service's environment, from either the mapping or the list form."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def schema_errors(path: Path) -> str:
    """check-jsonschema's report against the vendored compose spec; empty when valid."""
    result = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec",
         str(path)],
        capture_output=True,
        text=True,
    )
    return "" if result.returncode == 0 else result.stdout + result.stderr


def image_problems(compose: dict) -> list[str]:
    """Every service runs an image with an explicit tag that is not `latest`."""
    problems = []
    for name, service in compose.get("services", {}).items():
        image = service.get("image")
        if image is None:
            problems.append(f"{name}: no image")
            continue
        reference = image.split("@")[0]
        tag = reference.rsplit(":", 1)[1] if ":" in reference.rsplit("/", 1)[-1] else None
        if tag is None or tag == "latest":
            problems.append(f"{name}: image {image!r} is not pinned to a version tag")
        elif "${" in image:
            problems.append(f"{name}: image {image!r} depends on a variable")
    return problems


def host_ip(port) -> str | None:
    """The host address of a published port (short or long syntax); None when unbound."""
    if isinstance(port, dict):
        return port.get("host_ip")
    text = str(port).split("/")[0]
    if text.startswith("["):  # [::1]:8080:80
        return text[: text.index("]") + 1]
    parts = text.split(":")
    return parts[0] if len(parts) == 3 else None


def port_problems(compose: dict) -> list[str]:
    """Every published port is bound to the loopback interface, never to all interfaces."""
    return [
        f"{name}: port {port!r} is not bound to 127.0.0.1"
        for name, service in compose.get("services", {}).items()
        for port in service.get("ports", [])
        if host_ip(port) not in LOOPBACK
    ]


def postgres_problems(compose: dict) -> list[str]:
    """A PostgreSQL service has a pg_isready healthcheck; its dependants wait for it healthy."""
    services = compose.get("services", {})
    databases = [n for n, s in services.items() if s.get("image", "").startswith("postgres:")]
    problems = []
    for name in databases:
        test = services[name].get("healthcheck", {}).get("test")
        text = " ".join(test) if isinstance(test, list) else str(test or "")
        if "pg_isready" not in text or services[name]["healthcheck"].get("disable"):
            problems.append(f"{name}: PostgreSQL without a pg_isready healthcheck")
    for name, service in services.items():
        depends = service.get("depends_on", {})
        for database in databases:
            if database in depends:
                condition = depends.get(database, {}) if isinstance(depends, dict) else {}
                if condition.get("condition") != "service_healthy":
                    problems.append(f"{name}: must wait for {database} with service_healthy")
    return problems


def bind_sources(path: Path, compose: dict) -> dict[str, list[tuple[Path, str]]]:
    """{service: [(resolved host path, container path)]} of its bind mounts."""
    mounts = {}
    for name, service in compose.get("services", {}).items():
        for volume in service.get("volumes", []):
            if isinstance(volume, dict):
                source, target = volume.get("source", ""), volume.get("target", "")
                if volume.get("type") != "bind":
                    continue
            else:
                source, target = (str(volume).split(":") + [""])[:2]
                if not source.startswith((".", "/", "~")):
                    continue  # a named volume
            resolved = (path.parent / source).resolve()
            mounts.setdefault(name, []).append((resolved, target))
    return mounts


def mount_problems(path: Path, compose: dict) -> list[str]:
    """Bind mounts stay inside the repository (relative paths, resolved from the file's folder)."""
    return [
        f"{name}: bind mount {source} is outside the repository"
        for name, mounts in bind_sources(path, compose).items()
        for source, _ in mounts
        if not source.is_relative_to(paths.ROOT.resolve())
    ]


def connection_problems(compose: dict) -> list[str]:
    """AIRFLOW_CONN_* are JSON with a conn_type whose host is a service of this file."""
    problems = []
    services = compose.get("services", {})
    for name, service in services.items():
        for key, value in environment(service).items():
            if not key.startswith("AIRFLOW_CONN_"):
                continue
            try:
                conn = json.loads(value)
            except json.JSONDecodeError as error:
                problems.append(f"{name}: {key} is not JSON ({error})")
                continue
            if not conn.get("conn_type"):
                problems.append(f"{name}: {key} has no conn_type")
            if conn.get("host") not in services:
                problems.append(f"{name}: {key} host {conn.get('host')!r} is not a service here")
    return problems


def airflow_problems(path: Path, compose: dict, locked: dict[str, str]) -> list[str]:
    """The Airflow service matches the Airflow lock and mounts the learner's dags folder."""
    problems = []
    airflow = {
        n: s for n, s in compose.get("services", {}).items()
        if s.get("image", "").startswith("apache/airflow:")
    }
    if not airflow:
        return ["no service runs the apache/airflow image"]
    for name, service in airflow.items():
        tag = service["image"].split("@")[0].rsplit(":", 1)[1]
        want = f"{locked['apache-airflow']}-python{envs.PYTHON_VERSION}"
        if tag != want:
            problems.append(f"{name}: image tag {tag!r}, the lock wants {want!r}")
        env = environment(service)
        if env.get("AIRFLOW__CORE__EXECUTOR") != "LocalExecutor":
            problems.append(f"{name}: AIRFLOW__CORE__EXECUTOR is not LocalExecutor")
        for pin in env.get("_PIP_ADDITIONAL_REQUIREMENTS", "").split():
            package, _, version = pin.partition("==")
            key = re.sub(r"[-_.]+", "-", package.split("[")[0]).lower()
            if locked.get(key) != version:
                problems.append(f"{name}: extra {pin!r}, the lock has {key}=={locked.get(key)}")
        mounts = dict((t, s) for s, t in bind_sources(path, compose).get(name, []))
        if mounts.get("/opt/airflow/dags") != (paths.ROOT / AIRFLOW_DAGS).resolve():
            problems.append(f"{name}: /opt/airflow/dags is not mounted from {AIRFLOW_DAGS}")
    return problems


# ---- the repository's compose files ------------------------------------------------------

def test_airflow_environment_has_a_compose_file():
    assert paths.ENVIRONMENTS / "airflow" / "docker-compose.yaml" in COMPOSE_FILES


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=IDS)
def test_compose_file_matches_the_compose_spec(path):
    errors = schema_errors(path)
    assert not errors, errors


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=IDS)
def test_compose_file_follows_the_course_rules(path):
    compose = load(path)
    assert compose.get("services"), f"{path} defines no services"
    problems = (
        image_problems(compose) + port_problems(compose) + postgres_problems(compose)
        + mount_problems(path, compose) + connection_problems(compose)
    )
    assert not problems, problems


def test_airflow_compose_matches_the_airflow_lock():
    path = paths.ENVIRONMENTS / "airflow" / "docker-compose.yaml"
    problems = airflow_problems(path, load(path), lock_versions("airflow"))
    assert not problems, problems


# ---- every rule can fail -----------------------------------------------------------------

GOOD = """\
services:
  postgres:
    image: postgres:15.18-bookworm
    ports: ["127.0.0.1:5432:5432"]
    healthcheck: {{test: ["CMD-SHELL", "pg_isready -U retail"]}}
  airflow:
    image: apache/airflow:{version}-python3.11
    environment:
      AIRFLOW__CORE__EXECUTOR: LocalExecutor
      _PIP_ADDITIONAL_REQUIREMENTS: "duckdb=={duckdb}"
      AIRFLOW_CONN_RETAIL_DB: '{{"conn_type": "postgres", "host": "postgres"}}'
    volumes: ["../../{dags}:/opt/airflow/dags"]
    ports:
      - {{target: 8080, published: 8080, host_ip: 127.0.0.1}}
    depends_on: {{postgres: {{condition: service_healthy}}}}
"""


@pytest.fixture
def good(tmp_path) -> tuple[Path, str, dict[str, str]]:
    """A valid compose text at the place of environments/airflow's, and the lock it matches."""
    locked = lock_versions("airflow")
    text = GOOD.format(version=locked["apache-airflow"], duckdb=locked["duckdb"], dags=AIRFLOW_DAGS)
    path = paths.ENVIRONMENTS / "airflow" / "docker-compose.yaml"  # only its folder is used
    return path, text, locked


def all_problems(path: Path, text: str, locked: dict[str, str]) -> list[str]:
    compose = yaml.safe_load(text)
    return (
        image_problems(compose) + port_problems(compose) + postgres_problems(compose)
        + mount_problems(path, compose) + connection_problems(compose)
        + airflow_problems(path, compose, locked)
    )


def test_the_good_example_passes(good, tmp_path):
    path, text, locked = good
    assert all_problems(path, text, locked) == []
    (tmp_path / "docker-compose.yaml").write_text(text)
    assert schema_errors(tmp_path / "docker-compose.yaml") == ""


def test_schema_rejects_an_unknown_key(good, tmp_path):
    _, text, _ = good
    bad = tmp_path / "docker-compose.yaml"
    bad.write_text(text.replace("healthcheck:", "healthchek:"))
    assert "healthchek" in schema_errors(bad)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("postgres:15.18-bookworm", "postgres:latest", "not pinned"),
        ("postgres:15.18-bookworm", "postgres", "not pinned"),
        ('"127.0.0.1:5432:5432"', '"5432:5432"', "not bound to 127.0.0.1"),
        ("host_ip: 127.0.0.1", "host_ip: 0.0.0.0", "not bound to 127.0.0.1"),
        ("pg_isready -U retail", "true", "without a pg_isready healthcheck"),
        ("condition: service_healthy", "condition: service_started", "service_healthy"),
        ("-python3.11", "-python3.12", "the lock wants"),
        ("apache/airflow:3", "apache/airflow:2", "the lock wants"),
        ("LocalExecutor", "CeleryExecutor", "LocalExecutor"),
        ("duckdb==", "duckdb==0.0.1+", "the lock has"),
        ('"host": "postgres"', '"host": "db"', "not a service here"),
        ('"conn_type": "postgres", ', "", "no conn_type"),
        ("'{\"conn_type\"", "'postgres://{\"conn_type\"", "not JSON"),
        ("02_intermediate/dags", "02_intermediate/other", "is not mounted from"),
        ("../../workspace", "../../../outside", "outside the repository"),
    ],
)
def test_each_rule_fails_on_a_bad_file(good, old, new, expected):
    path, text, locked = good
    assert old in text, old
    problems = all_problems(path, text.replace(old, new, 1), locked)
    assert any(expected in problem for problem in problems), problems
