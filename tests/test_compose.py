"""Offline checks of every environments/*/docker-compose.yaml (no Docker engine needed).

Two layers: the official Compose Specification schema, which check-jsonschema vendors as its
builtin `vendor.compose-spec` (no download), and the course's own rules, which the schema
cannot express: pinned images, ports on 127.0.0.1 only, health-checked PostgreSQL, bind mounts
inside the repository, and the Airflow image and extra packages equal to the Airflow lock.
Each rule is a function returning a list of problems, so the negative cases below can show
that every rule fails on a bad file.
"""

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from workbook import airflow_home, airflow_lesson, course, lesson_files, paths, seedsql
from workbook.services.weather import ARCHIVE_PATH

COMPOSE_FILES = sorted(paths.ENVIRONMENTS.glob("*/docker-compose.yaml"))
IDS = [p.parent.name for p in COMPOSE_FILES]
LOOPBACK = ("127.0.0.1", "::1", "[::1]")
LEVEL = airflow_lesson.TRACK
DRIVER = Path(__file__).parent / "airflow_driver.py"
WORKSPACE = paths.WORKSPACE / LEVEL
# Where the lessons keep what Airflow reads: the dags folder (airflow_lesson.setup), lesson 01's
# sales exports and reports (its setup cell), the warehouse (airflow_lesson.resolve).
HOST_PLACES = {
    "AIRFLOW__CORE__DAGS_FOLDER": WORKSPACE / "dags",
    "AIRFLOW_VAR_SALES_DATA_DIR": paths.SALES_SAMPLE,
    "AIRFLOW_VAR_REPORT_DIR": WORKSPACE / "reports",
    "AIRFLOW_VAR_WAREHOUSE_PATH": WORKSPACE / "warehouse.duckdb",
}
# Operators and notifiers that read a connection without naming it: (keyword, its default).
# A test checks the default against the class in the airflow environment.
IMPLICIT_CONNECTIONS = {"SmtpNotifier": ("smtp_conn_id", "smtp_default")}
TEMPLATE_READS = re.compile(r"\b(var\.value|var\.json|conn)\.(\w+)")


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


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


def airflow_services(compose: dict) -> dict[str, dict]:
    """The services whose command runs `airflow`."""
    return {name: service for name, service in compose.get("services", {}).items()
            if str((service.get("command") or [""])[0]).endswith("/airflow")}


def container_to_host(path: Path, compose: dict, service: str, target: str) -> Path | None:
    """The host path a container path of `service` is, through its bind mounts (the longest
    mount that holds it); None when no mount holds it."""
    best = None
    for source, mounted in bind_sources(path, compose).get(service, []):
        if (target == mounted or target.startswith(mounted.rstrip("/") + "/")) and (
                best is None or len(mounted) > len(best[1])):
            best = (source, mounted)
    return None if best is None else best[0] / target[len(best[1]):].lstrip("/")


def airflow_problems(path: Path, compose: dict) -> list[str]:
    """Airflow runs from the course's image with the airflow environment and the LocalExecutor,
    and each place it reads or writes is, through its mounts, the place the lessons use."""
    airflow = airflow_services(compose)
    if not airflow:
        return ["no service runs airflow"]
    problems = []
    for name, service in airflow.items():
        build = service.get("build") or {}
        envs = str((build.get("args") or {}).get("ENVS", "airflow")).split()
        if not str(build.get("dockerfile", "")).endswith("environments/Dockerfile"):
            problems.append(f"{name}: not built from environments/Dockerfile")
        if "airflow" not in envs or "/venvs/airflow/" not in service["command"][0]:
            problems.append(f"{name}: does not run the image's airflow environment")
        env = environment(service)
        if env.get("AIRFLOW__CORE__EXECUTOR") != "LocalExecutor":
            problems.append(f"{name}: AIRFLOW__CORE__EXECUTOR is not LocalExecutor")
        for key, place in HOST_PLACES.items():
            host = container_to_host(path, compose, name, env.get(key, ""))
            if host != place.resolve():
                problems.append(f"{name}: {key}={env.get(key)!r} is {host} on the host, "
                                f"the lessons use {place}")
    return problems


def dag_reads(source: str) -> set[str]:
    """The AIRFLOW_VAR_* and AIRFLOW_CONN_* a DAG file reads: Variable.get("x"), any
    `*conn_id="x"`, templates {{ var.value.x }} / {{ conn.x }}, and the connection an operator
    or notifier uses by default (IMPLICIT_CONNECTIONS)."""
    reads = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            reads |= {("AIRFLOW_CONN_" if kind == "conn" else "AIRFLOW_VAR_") + name.upper()
                      for kind, name in TEMPLATE_READS.findall(node.value)}
        if not isinstance(node, ast.Call):
            continue
        func, given = node.func, {keyword.arg for keyword in node.keywords}
        called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if (called == "get" and getattr(func.value, "id", "") == "Variable" and node.args
                and isinstance(node.args[0], ast.Constant)):
            reads.add(f"AIRFLOW_VAR_{node.args[0].value.upper()}")
        reads |= {f"AIRFLOW_CONN_{keyword.value.value.upper()}" for keyword in node.keywords
                  if (keyword.arg or "").endswith("conn_id")
                  and isinstance(keyword.value, ast.Constant)}
        if called in IMPLICIT_CONNECTIONS and IMPLICIT_CONNECTIONS[called][0] not in given:
            reads.add(f"AIRFLOW_CONN_{IMPLICIT_CONNECTIONS[called][1].upper()}")
    return reads


def lesson_dag_sources() -> dict[str, str]:
    """Every DAG-folder file each lesson writes, every version ('<lesson> <file>': text)."""
    return {f"{key} {name}": text for key in course.lesson_keys(LEVEL)
            for name, text in lesson_files.writefile_cells(key)}


def reads_problems(compose: dict, sources: dict[str, str]) -> list[str]:
    """Every variable and connection a lesson's DAG reads is set for Airflow."""
    problems = []
    for name, service in airflow_services(compose).items():
        env = environment(service)
        for where, source in sources.items():
            problems += [f"{name}: {variable} (read by {where}) is not set"
                         for variable in sorted(dag_reads(source) - env.keys())]
    return problems


def postgres_service(compose: dict) -> tuple[str, dict[str, str]]:
    return next((name, environment(s)) for name, s in compose.get("services", {}).items()
                if s.get("image", "").split(":")[0] == "postgres")


def lesson_connection_problems(compose: dict) -> list[str]:
    """The connections are what the lessons' code makes for these services: retail_db with the
    PostgreSQL service's own user, password and database; smtp_default and retail_db_incident
    exactly as airflow_lesson writes them."""
    host, db = postgres_service(compose)
    url = f"postgresql://{db['POSTGRES_USER']}:{db['POSTGRES_PASSWORD']}@{host}:5432/" \
          f"{db['POSTGRES_DB']}"
    expected = {
        "AIRFLOW_CONN_RETAIL_DB": {"conn_type": "postgres", "host": host, "port": 5432,
                                   "login": db["POSTGRES_USER"],
                                   "password": db["POSTGRES_PASSWORD"],
                                   "schema": db["POSTGRES_DB"]},
        "AIRFLOW_CONN_RETAIL_DB_INCIDENT": json.loads(airflow_lesson.incident_connection(url)),
        "AIRFLOW_CONN_SMTP_DEFAULT": json.loads(airflow_lesson.smtp_connection("mailpit", 1025)),
    }
    problems = []
    for name, service in airflow_services(compose).items():
        env = environment(service)
        for key, want in expected.items():
            try:
                got = json.loads(env.get(key, "null"))
            except json.JSONDecodeError:
                got = env[key]  # connection_problems says it is not JSON
            if got != want:
                problems.append(f"{name}: {key} is {got}, the lessons make {want}")
    return problems


def seed_problems(path: Path, compose: dict) -> list[str]:
    """The PostgreSQL service runs the generated seed at its first start."""
    name, _ = postgres_service(compose)
    configs = compose.get("configs", {})
    for config in compose["services"][name].get("configs", []):
        source = configs.get(config.get("source"), {}) if isinstance(config, dict) else {}
        if (source.get("file") and (path.parent / source["file"]).resolve() == seedsql.PATH
                and config.get("target", "").startswith("/docker-entrypoint-initdb.d/")
                and config["target"].endswith(".sql")):
            return []
    return [f"{name}: {seedsql.PATH.name} is not run from /docker-entrypoint-initdb.d"]


def notebook_parameters(level: str) -> set[str]:
    """The names the `parameters` cells of a level's notebooks assign."""
    names = set()
    for lesson in course.lessons(level):
        cells = json.loads(lesson.path().read_text())["cells"]
        for cell in cells:
            if "parameters" in cell.get("metadata", {}).get("tags", []):
                names |= {target.id for node in ast.parse("".join(cell["source"])).body
                          if isinstance(node, ast.Assign) for target in node.targets}
    return names


def header_problems(text: str, compose: dict) -> list[str]:
    """The parameters the header tells the reader to set are the notebooks' own, and their URLs
    name services of this file (the weather one, the archive endpoint)."""
    problems, known = [], notebook_parameters(LEVEL)
    for name, value in re.findall(r"^#\s+(\w+) = \"([^\"]*)\"", text, re.M):
        if name not in known:
            problems.append(f"the header sets {name}, which no {LEVEL} notebook takes")
        url = re.match(r"\w+://(?:[^@/]*@)?([\w.-]+)(?::\d+)?(/\S*)?", value)
        if not url or url[1] not in compose.get("services", {}):
            problems.append(f"the header's {name} = {value!r} is no service of this file")
        elif name == "weather_url" and url[2] != ARCHIVE_PATH:
            problems.append(f"the header's weather_url does not end in {ARCHIVE_PATH}")
    return problems


def lesson_rules(path: Path, text: str) -> list[str]:
    """Every rule the Airflow level's compose file must pass (the others: course_rules)."""
    compose = yaml.safe_load(text)
    return (airflow_problems(path, compose) + reads_problems(compose, lesson_dag_sources())
            + lesson_connection_problems(compose) + seed_problems(path, compose)
            + header_problems(text, compose))


def course_rules(path: Path, compose: dict) -> list[str]:
    return (image_problems(compose) + port_problems(compose) + postgres_problems(compose)
            + mount_problems(path, compose) + connection_problems(compose))


# ---- the repository's compose files ------------------------------------------------------

AIRFLOW_COMPOSE = paths.ENVIRONMENTS / "airflow" / "docker-compose.yaml"


def test_airflow_environment_has_a_compose_file():
    assert AIRFLOW_COMPOSE in COMPOSE_FILES


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=IDS)
def test_compose_file_matches_the_compose_spec(path):
    errors = schema_errors(path)
    assert not errors, errors


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=IDS)
def test_compose_file_follows_the_course_rules(path):
    compose = load(path)
    assert compose.get("services"), f"{path} defines no services"
    assert course_rules(path, compose) == []


def test_airflow_compose_serves_the_lessons():
    assert lesson_rules(AIRFLOW_COMPOSE, AIRFLOW_COMPOSE.read_text()) == []


def test_the_lessons_dags_read_what_the_static_read_finds():
    """The static read sees the reads of the lessons' DAGs (so the rule above is not empty)."""
    reads = set().union(*map(dag_reads, lesson_dag_sources().values()))
    assert reads == {"AIRFLOW_VAR_SALES_DATA_DIR", "AIRFLOW_VAR_REPORT_DIR",
                     "AIRFLOW_VAR_WEATHER_API_URL", "AIRFLOW_VAR_WAREHOUSE_PATH",
                     "AIRFLOW_VAR_ALERT_EMAIL", "AIRFLOW_CONN_RETAIL_DB",
                     "AIRFLOW_CONN_RETAIL_DB_INCIDENT", "AIRFLOW_CONN_SMTP_DEFAULT"}


@pytest.mark.slow
def test_the_implicit_connections_are_airflows_defaults(tmp_path):
    """IMPLICIT_CONNECTIONS says what the classes do, in the airflow environment: a notifier
    made without the keyword uses that connection."""
    result = subprocess.run(
        [str(paths.env_python(airflow_home.ENV)), str(DRIVER), "implicit-connections"],
        capture_output=True, text=True,
        env={**os.environ, **airflow_home.environ(tmp_path / "dags", tmp_path / "home")})
    assert result.returncode == 0, result.stderr[-1000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert {k: tuple(v) for k, v in found.items()} == IMPLICIT_CONNECTIONS


# ---- every rule can fail -----------------------------------------------------------------

@pytest.fixture
def good() -> tuple[Path, str]:
    """The repository's Airflow compose file, to break one thing at a time."""
    return AIRFLOW_COMPOSE, AIRFLOW_COMPOSE.read_text()


def all_problems(path: Path, text: str) -> list[str]:
    return course_rules(path, yaml.safe_load(text)) + lesson_rules(path, text)


def test_schema_rejects_an_unknown_key(good, tmp_path):
    _, text = good
    bad = tmp_path / "docker-compose.yaml"
    bad.write_text(text.replace("healthcheck:", "healthchek:", 1))
    assert "healthchek" in schema_errors(bad)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("postgres:15.18-bookworm", "postgres:latest", "not pinned"),
        ("postgres:15.18-bookworm", "postgres", "not pinned"),
        ('"127.0.0.1:5432:5432"', '"5432:5432"', "not bound to 127.0.0.1"),
        ('"127.0.0.1:8888:8888"', '"0.0.0.0:8888:8888"', "not bound to 127.0.0.1"),
        ("pg_isready -U retail", "true", "without a pg_isready healthcheck"),
        ("condition: service_healthy", "condition: service_started", "service_healthy"),
        ("dockerfile: environments/Dockerfile", "dockerfile: Dockerfile.airflow",
         "not built from environments/Dockerfile"),
        ("/opt/venvs/airflow/bin/airflow", "/opt/venvs/base/bin/airflow", "airflow environment"),
        ("EXECUTOR: LocalExecutor", "EXECUTOR: CeleryExecutor", "LocalExecutor"),
        ('"host": "postgres"', '"host": "db"', "not a service here"),
        ('{"conn_type": "smtp", ', "{", "no conn_type"),
        ('AIRFLOW_CONN_RETAIL_DB: >-\n        {', 'AIRFLOW_CONN_RETAIL_DB: >-\n        x{',
         "not JSON"),
        ("02_intermediate/dags", "02_intermediate/other", "AIRFLOW__CORE__DAGS_FOLDER"),
        ("/workbook/datasets/sample/sales", "/workbook/datasets/sales", "SALES_DATA_DIR"),
        ("- ../..:/workbook", "- ../../workspace:/workbook", "the lessons use"),
        ("- ../..:/workbook", "- ../../..:/workbook", "outside the repository"),
        ("AIRFLOW_VAR_REPORT_DIR:", "AIRFLOW_VAR_REPORTS_DIR:", "REPORT_DIR (read by"),
        ("AIRFLOW_VAR_ALERT_EMAIL:", "AIRFLOW_VAR_ALERT_MAIL:", "ALERT_EMAIL (read by"),
        ('"login": "retail", "password": "retail", "schema": "retail"}',
         '"login": "retail", "password": "secret", "schema": "retail"}', "the lessons make"),
        ('"retry_limit": 1}', '"retry_limit": 3}', "the lessons make"),
        ("search_path=incident", "search_path=public", "the lessons make"),
        ("file: ./retail-seed.sql", "file: ./other.sql", "retail-seed.sql is not run"),
        ("/docker-entrypoint-initdb.d/20-retail-seed.sql", "/seed/20-retail-seed.sql",
         "retail-seed.sql is not run"),
        ("#   smtp_url = ", "#   smtp_host = ", "smtp_host, which no"),
        ('"smtp://mailpit:1025"', '"smtp://mail:1025"', "no service of this file"),
        ('"http://weather:8000/v1/archive"', '"http://weather:8000/"', "does not end in"),
    ],
)
def test_each_rule_fails_on_a_bad_file(good, old, new, expected):
    path, text = good
    assert old in text, old
    problems = all_problems(path, text.replace(old, new, 1))
    assert any(expected in problem for problem in problems), problems


def test_the_static_read_finds_every_kind_of_read():
    source = (
        "from airflow.sdk import Variable\n"
        "Variable.get('a_var')\n"
        "Op(task_id='t', postgres_conn_id='a_db')\n"
        "SmtpNotifier(to='{{ var.value.to_whom }} {{ conn.other.host }}')\n"
        "SmtpNotifier(to='x', smtp_conn_id='mail')\n"
    )
    assert dag_reads(source) == {"AIRFLOW_VAR_A_VAR", "AIRFLOW_CONN_A_DB", "AIRFLOW_VAR_TO_WHOM",
                                 "AIRFLOW_CONN_OTHER", "AIRFLOW_CONN_SMTP_DEFAULT",
                                 "AIRFLOW_CONN_MAIL"}
    compose = {"services": {"airflow": {"command": ["/opt/venvs/airflow/bin/airflow"],
                                        "environment": {"AIRFLOW_VAR_A_VAR": "1"}}}}
    problems = reads_problems(compose, {"x.py": source})
    assert "airflow: AIRFLOW_CONN_A_DB (read by x.py) is not set" in problems
    assert len(problems) == 5


def test_the_prefect_server_image_is_the_locked_prefect():
    """The compose file's Prefect server speaks the API version the lessons' client has: the
    image's tag names the prefect version of environments/prefect's lock."""
    from workbook import envfiles

    compose = yaml.safe_load((paths.ENVIRONMENTS / "prefect" / "docker-compose.yaml").read_text())
    image = compose["services"]["prefect"]["image"]
    locked = next(pin for pin in envfiles.pins(envfiles.lock_path("prefect").read_text())
                  if pin.startswith("prefect=="))
    assert image.startswith("prefecthq/prefect:"), image
    assert image.split(":")[1].split("-")[0] == locked.removeprefix("prefect=="), (image, locked)
