"""Helpers of the Dagster track's deployment lesson (03_advanced/dagster/06_ui_and_deployment):
the code location loaded through a `workspace.yaml` by Dagster's own CLI, a production
instance (`dagster.yaml`) whose runs live in a real PostgreSQL, and the offline checks of the
code location's AWS ECS task definition (workbook.cloud_deploy has the Fargate part, shared with
the Prefect track). Each check returns its problems as sentences that name them.

The verdicts are plain functions over plain values (dicts, strings), so the grader's checker,
which runs no asset and talks to no server, can judge with them; what needs Dagster or a
server (validate_workspace, try_instance) makes the evidence in the learner's kernel.
"""

import os
import re
import subprocess
from pathlib import Path
from urllib.parse import urlparse

from workbook import cloud_deploy, dagster_home

# Read as the Prefect track reads its prefect.yaml (the lesson calls it from here).
from workbook.cloud_deploy import read_yaml as read_yaml

DEPLOY = "deploy"  # <workspace>/deploy: workspace.yaml and the production instance's home
LOCATION = "sensor-lake"  # the code location's name in the UI and in every workspace
GRPC_PORT = 4000  # where a code location's server listens in its task (Dagster's examples')
IMAGE_DAGSTER = "/opt/venvs/dagster/bin/dagster"  # the image's (WORKBOOK_VENVS), not on PATH
DATABASE = "dagster"  # the instance's database on the lesson's PostgreSQL
PASSWORD = "DAGSTER_PG_PASSWORD"
# The variables the production dagster.yaml reads its database from (`{env: NAME}`).
PG_VARIABLES = ("DAGSTER_PG_HOST", "DAGSTER_PG_PORT", "DAGSTER_PG_USER", PASSWORD,
                "DAGSTER_PG_DB")
# The project's PostgreSQL trusts loopback connections: any password is accepted. The lesson
# still passes one, through the environment, as a real database needs.
LOCAL_PASSWORD = "not-a-real-secret"
ERROR_LINE = re.compile(r"^\s*(?:[\w.]*(?:Error|Exception)\b:?|Error \d+:)\s*(?P<said>.*)$")


def setup(lesson, postgres_url: str | None) -> Path:
    """The lesson's deploy/ folder beside its code location's (`lesson` a DagsterLesson),
    with deploy/home/ for the production instance, the instance's database, and the
    DAGSTER_PG_* variables in this process (and, with the lake's, in deploy/.env, which
    `dagster dev` run in deploy/ reads). The grader's checker gets the folder's path only."""
    deploy = lesson.defs.parent / DEPLOY
    if lesson.lake.lake is None:  # the checker: no service, nothing written
        return deploy
    (deploy / "home").mkdir(parents=True, exist_ok=True)
    variables = database(postgres_url)
    os.environ.update(variables)
    lake_variables = (lesson.defs / ".env").read_text()
    (deploy / ".env").write_text(lake_variables + "".join(f"{k}={v}\n"
                                                          for k, v in variables.items()))
    return deploy


def describe(postgres_url: str | None) -> str:
    """Where the production instance's database is; the same on every machine."""
    server = "the project's PostgreSQL" if postgres_url is None else "your PostgreSQL"
    return f"instance database {DATABASE!r} on {server} (deploy/home/dagster.yaml)"


def connect():
    """A connection to the DAGSTER_PG_* database (psycopg2, dagster-postgres's driver)."""
    import psycopg2

    env = os.environ
    return psycopg2.connect(host=env["DAGSTER_PG_HOST"], port=env["DAGSTER_PG_PORT"],
                            user=env["DAGSTER_PG_USER"], password=env[PASSWORD],
                            dbname=env["DAGSTER_PG_DB"])


def tables() -> list[str]:
    """The tables of the DAGSTER_PG_* database, by name."""
    connection = connect()
    with connection, connection.cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                       "ORDER BY tablename")
        found = [row[0] for row in cursor.fetchall()]
    connection.close()
    return found


def database(postgres_url: str | None) -> dict[str, str]:
    """The DAGSTER_PG_* variables of the instance's database on `postgres_url`'s server, made
    if missing; or, with None, on the project's PostgreSQL (started if needed), made afresh so
    that each try of the lesson starts with no run (a server of yours is never emptied)."""
    import psycopg2

    from workbook import services

    url = urlparse(postgres_url or services.start("postgres").url)
    variables = {"DAGSTER_PG_HOST": url.hostname or "127.0.0.1",
                 "DAGSTER_PG_PORT": str(url.port or 5432),
                 "DAGSTER_PG_USER": url.username or "postgres",
                 PASSWORD: url.password or LOCAL_PASSWORD, "DAGSTER_PG_DB": DATABASE}
    server = psycopg2.connect(host=variables["DAGSTER_PG_HOST"], port=variables["DAGSTER_PG_PORT"],
                              user=variables["DAGSTER_PG_USER"], password=variables[PASSWORD],
                              dbname=url.path.lstrip("/") or "postgres")
    server.autocommit = True  # CREATE and DROP DATABASE run outside a transaction
    with server.cursor() as cursor:
        if postgres_url is None:  # FORCE: a `dagster dev` left running holds connections
            cursor.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,))
        if cursor.fetchone() is None:
            cursor.execute(f"CREATE DATABASE {DATABASE}")
    server.close()
    return variables


def said(output: str) -> str:
    """What a Dagster command's output says went wrong: its error lines, the last three."""
    found = [m["said"] or m[0].strip() for line in output.splitlines()
             if (m := ERROR_LINE.match(line)) and "Validation for" not in line]
    return " | ".join(found[-3:])[:600]


# workspace.yaml ---------------------------------------------------------------------------

def validate_workspace(folder: Path, name: str = "workspace.yaml") -> dict:
    """`dagster definitions validate -w NAME`, run in `folder` as a learner runs it: its exit
    code and what it said went wrong."""
    done = subprocess.run(
        [str(dagster_home.dagster_cli()), "definitions", "validate", "-w", name], cwd=folder,
        env={**os.environ, **dagster_home.environ()}, capture_output=True, text=True,
        timeout=300)
    return {"exit": done.returncode, "said": said(done.stdout + done.stderr)}


def locations_of(workspace: dict) -> list[dict]:
    """The python_file entries of a workspace (a bare path is {'relative_path': path})."""
    found = []
    for entry in workspace.get("load_from") or []:
        target = entry.get("python_file") if isinstance(entry, dict) else None
        if isinstance(target, str):
            target = {"relative_path": target}
        if isinstance(target, dict):
            found.append(target)
    return found


def workspace_problems(workspace: dict, validated: dict, location: str = LOCATION) -> list[str]:
    """What keeps a workspace from loading the lesson's code location, under its name."""
    entries = locations_of(workspace)
    if not isinstance(workspace.get("load_from"), list) or not entries:
        return ["load_from must be a list with one `python_file:` entry (relative_path, "
                "working_directory, location_name)"]
    problems = []
    if validated["exit"] != 0:
        hint = ""
        if "No module named" in validated["said"]:
            hint = (": the code location imports its sibling modules (resources, lake_assets), "
                    "found only from its own folder: set working_directory: ../defs (relative "
                    "to workspace.yaml, as relative_path is)")
        elif "No such file" in validated["said"]:
            hint = (": relative_path is relative to workspace.yaml's folder (deploy/), not "
                    "to where you run dagster: ../defs/definitions.py")
        problems.append(f"`dagster definitions validate -w workspace.yaml` failed: "
                        f"{validated['said'] or 'exit ' + str(validated['exit'])}{hint}")
    names = [entry.get("location_name") for entry in entries]
    if names != [location]:
        problems.append(f"the code location is named {names[0] if len(names) == 1 else names!r}"
                        f": name it {location!r} (location_name), the name the ECS workspace "
                        "and the UI use (unnamed, it is the file's name)")
    return problems


# dagster.yaml -----------------------------------------------------------------------------

def env_names(config) -> set[str]:
    """Every variable a Dagster config reads (`{env: NAME}`), anywhere in it."""
    if isinstance(config, dict):
        if set(config) == {"env"} and isinstance(config["env"], str):
            return {config["env"]}
        return set().union(*(env_names(value) for value in config.values()))
    if isinstance(config, list):
        return set().union(*(env_names(value) for value in config))
    return set()


def try_instance(home: Path, assets: list, partition: str, resources: dict) -> dict:
    """The instance `home`'s dagster.yaml makes (in this kernel, with the DAGSTER_PG_*
    variables set), as plain values: its storage and run coordinator, and whether a run of
    `assets` for `partition` materialized into it lands in PostgreSQL; {'error': ...} when
    Dagster refuses the file."""
    import dagster as dg
    from dagster._core.errors import DagsterError

    from workbook.dagster_lesson import quiet

    try:
        instance = dg.DagsterInstance.from_config(str(home))
    except (DagsterError, ImportError, OSError, ValueError) as error:
        # Dagster's config errors end with the whole schema it expected: the first part says it.
        return {"error": f"{type(error).__name__}: {error}".partition(" Expected:")[0][:600]}
    queue = instance.get_concurrency_config().run_queue_config  # None: runs are not queued
    found = {"storage": type(instance.run_storage).__name__,
             "coordinator": type(instance.run_coordinator).__name__,
             "max_runs": queue.max_concurrent_runs if queue else None, "run_in_postgres": None}
    if found["storage"].startswith("Postgres"):
        result = dg.materialize(assets, partition_key=partition, instance=instance,
                                resources=resources, run_config=quiet())
        found["run_in_postgres"] = run_status(result.run_id)
    instance.dispose()
    return found


def run_status(run_id: str) -> str | None:
    """A run's status as the runs table of the DAGSTER_PG_* database holds it (None: absent)."""
    connection = connect()
    with connection, connection.cursor() as cursor:
        cursor.execute("SELECT status FROM runs WHERE run_id = %s", (run_id,))
        row = cursor.fetchone()
    connection.close()
    return row[0] if row else None


def instance_problems(config: dict, tried: dict, max_runs: int) -> list[str]:
    """What keeps a dagster.yaml from being a production instance: runs in PostgreSQL (every
    task of a deployment sees the same runs), its connection read from the environment (no
    password in the file), a run queue of `max_runs`."""
    if "error" in tried:
        hint = ""
        if "max_concurrent_runs" in tried["error"]:
            hint = (": set the limit once, under concurrency: runs: max_concurrent_runs; "
                    "QueuedRunCoordinator then needs no config")
        return [f"Dagster refused dagster.yaml: {tried['error']}{hint}"]
    problems = []
    storage = config.get("storage") if isinstance(config.get("storage"), dict) else {}
    database_config = (storage.get("postgres") or {}).get("postgres_db")
    if not tried["storage"].startswith("Postgres") or not isinstance(database_config, dict):
        problems.append(f"runs are kept by {tried['storage']} in DAGSTER_HOME: on ECS each task "
                        "has a disk of its own, so the webserver, the daemon and every run would "
                        "see different runs: use storage: postgres: postgres_db: (hostname, port, "
                        "username, password, db_name)")
    else:
        written = {key: value for key, value in database_config.items()
                   if key in ("hostname", "port", "username", "password", "db_name")
                   and not (isinstance(value, dict) and "env" in value)}
        if "password" in written:
            problems.append("the password is written in dagster.yaml (in the image, in git): "
                            f"read it from the environment, password: {{env: {PASSWORD}}}")
        elif written:
            problems.append(f"{', '.join(sorted(written))} written in dagster.yaml: read each "
                            "from the environment ({env: DAGSTER_PG_HOST} ...), so the same "
                            "image reaches the laptop's database and production's")
        if tried["run_in_postgres"] != "SUCCESS":
            problems.append(f"a run materialized into the instance is "
                            f"{tried['run_in_postgres'] or 'not'} in PostgreSQL's runs table")
    if tried["coordinator"] != "QueuedRunCoordinator":
        problems.append(f"runs start through {tried['coordinator']}: each launched run starts "
                        "at once (a month's backfill, 720 tasks together); use the "
                        "QueuedRunCoordinator (run_coordinator: module: "
                        "dagster.core.run_coordinator, class: QueuedRunCoordinator)")
    elif tried["max_runs"] != max_runs:
        problems.append(f"the queue lets {tried['max_runs']} runs run at once, not {max_runs}: "
                        "concurrency: runs: max_concurrent_runs")
    return problems


# The code location's task on AWS ECS -------------------------------------------------------

def option(words: list[str], *names: str) -> str | None:
    """The value of a command-line option (`-p 4000` or `--port=4000`), if given."""
    for index, word in enumerate(words):
        for name in names:
            if word == name and index + 1 < len(words):
                return words[index + 1]
            if name.startswith("--") and word.startswith(name + "="):
                return word.partition("=")[2]
    return None


def code_server_problems(described: dict, image: str, needs: set[str]) -> list[str]:
    """What in a registered task definition keeps it from serving the code location on
    Fargate: a gRPC code server the webserver, the daemon and the run tasks reach on
    GRPC_PORT, run by the image's dagster, with every variable in `needs` (what the instance
    and the code read) and the database password as a secret."""
    problems = cloud_deploy.fargate_problems(described, image, "the code location's")
    container = None if "error" in described else cloud_deploy.first_container(described)
    if container is None:
        return problems
    words = [str(word) for word in container.get("command") or []]
    text = " ".join(words)
    if "code-server start" not in text and "api grpc" not in text:
        problems.append(f"the container runs {text or 'the image default'!r}: a code "
                        "location's task runs its gRPC server, `dagster code-server start -h "
                        f"0.0.0.0 -p {GRPC_PORT} -f definitions.py`")
    else:
        if words[0] != IMAGE_DAGSTER:
            problems.append(f"the command starts with {words[0]!r}: the image's dagster is "
                            f"{IMAGE_DAGSTER} (its environments are in WORKBOOK_VENVS, not "
                            "on the PATH)")
        if option(words, "-h", "--host") != "0.0.0.0":
            problems.append("the code server listens on localhost (its default host): the "
                            "webserver and the daemon, in other tasks, cannot reach it: "
                            "-h 0.0.0.0")
        if option(words, "-p", "--port") != str(GRPC_PORT):
            problems.append(f"the code server's port is {option(words, '-p', '--port')}: the "
                            f"workspace's grpc_server entry calls port {GRPC_PORT} (-p "
                            f"{GRPC_PORT})")
    ports = [m.get("containerPort") for m in container.get("portMappings") or []
             if isinstance(m, dict)]
    if GRPC_PORT not in ports:
        problems.append(f"portMappings {ports}: with awsvpc, the task is reached only on the "
                        f"ports it maps: containerPort {GRPC_PORT}")
    plain = cloud_deploy.environment_of(container)
    secret = {s.get("name") for s in container.get("secrets") or [] if isinstance(s, dict)}
    if PASSWORD in plain:
        problems.append(f"{PASSWORD} is in the task's environment, shown in clear to anyone "
                        "who may read the task definition: give it as a secret (secrets: "
                        "name, valueFrom: a Secrets Manager ARN)")
    missing = sorted(needs - set(plain) - secret)
    if missing:
        problems.append(f"the container lacks {', '.join(missing)}: dagster.yaml and the code "
                        "location read them from the environment (environment, or secrets for "
                        "the password)")
    return problems
