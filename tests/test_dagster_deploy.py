"""The verdicts of the Dagster track's deployment lesson (workbook.dagster_deploy) over plain
values: each accepts the lesson's answer and names each mistake, as the grader's checker, which
runs no Dagster, judges them. The evidence they judge (Dagster's CLI on a workspace, an instance
on PostgreSQL) is made for real by the lesson, run with its mistakes in tests/test_lessons.py."""

import pytest
from test_prefect_deploy import changed

from workbook import dagster_deploy as deploy

IMAGE = "123.dkr.ecr.us-east-1.amazonaws.com/sensor-lake-code:1"
NEEDS = {"DAGSTER_HOME", *deploy.PG_VARIABLES, "LAKE_BUCKET"}
ENV = [{"name": name, "value": "x"} for name in sorted(NEEDS - {deploy.PASSWORD})]
TASK = {"family": "sensor-lake-code", "requiresCompatibilities": ["FARGATE"],
        "networkMode": "awsvpc", "cpu": "256", "memory": "512",
        "containerDefinitions": [{
            "name": "user-code", "image": IMAGE,
            "command": [deploy.IMAGE_DAGSTER, "code-server", "start", "--host", "0.0.0.0",
                        "--port=4000", "-f", "definitions.py"],
            "portMappings": [{"containerPort": 4000}], "environment": ENV,
            "secrets": [{"name": deploy.PASSWORD, "valueFrom": "arn:secret"}]}]}
DATABASE = {key: {"env": name} for key, name in zip(
    ("hostname", "port", "username", "password", "db_name"), deploy.PG_VARIABLES, strict=True)}
CONFIG = {"storage": {"postgres": {"postgres_db": DATABASE}},
          "run_coordinator": {"module": "dagster.core.run_coordinator",
                              "class": "QueuedRunCoordinator"}}
TRIED = {"storage": "PostgresRunStorage", "coordinator": "QueuedRunCoordinator", "max_runs": 4,
         "run_in_postgres": "SUCCESS"}
WORKSPACE = {"load_from": [{"python_file": {"relative_path": "../defs/definitions.py",
                                            "working_directory": "../defs",
                                            "location_name": deploy.LOCATION}}]}
VALID = {"exit": 0, "said": ""}


def test_the_answers_pass():
    assert deploy.code_server_problems(TASK, IMAGE, NEEDS) == []
    assert deploy.instance_problems(CONFIG, TRIED, 4) == []
    assert deploy.workspace_problems(WORKSPACE, VALID) == []


@pytest.mark.parametrize(("change", "words"), [
    (("containerDefinitions.0.command", ["dagster", "dev"]), "runs its gRPC server"),
    (("containerDefinitions.0.command.0", "dagster"), "not on the PATH"),
    (("containerDefinitions.0.command.4", "127.0.0.1"), "listens on localhost"),
    (("containerDefinitions.0.command.5", "--port=3000"), "calls port 4000"),
    (("containerDefinitions.0.portMappings", []), "containerPort 4000"),
    (("containerDefinitions.0.environment", [*ENV, {"name": deploy.PASSWORD, "value": "pw"}]),
     "shown in clear"),
    (("containerDefinitions.0.secrets", []), f"lacks {deploy.PASSWORD}"),
    (("containerDefinitions.0.environment", ENV[1:]), f"lacks {ENV[0]['name']}"),
    (("networkMode", "bridge"), "need \"awsvpc\""),
    (("containerDefinitions.0.image", "other:1"), "not the code location's image"),
])
def test_each_code_server_mistake_is_named(change, words):
    problems = deploy.code_server_problems(changed(TASK, *change), IMAGE, NEEDS)
    assert any(words in problem for problem in problems), problems


def test_a_refused_task_definition_is_named_alone():
    assert deploy.code_server_problems({"error": "ClientException: no image"}, IMAGE, NEEDS) == [
        "ECS refused the task definition: ClientException: no image: every container needs "
        "an `image` (the code's image)"]


@pytest.mark.parametrize(("config", "tried", "words"), [
    (CONFIG, {"error": "DagsterInvalidConfigError: ... max_concurrent_runs ... run_coordinator"},
     "under concurrency: runs"),
    ({"run_coordinator": CONFIG["run_coordinator"]}, TRIED | {"storage": "SqliteRunStorage"},
     "use storage: postgres"),
    (changed(CONFIG, "storage.postgres.postgres_db.password", "hunter2"), TRIED,
     "the password is written"),
    (changed(CONFIG, "storage.postgres.postgres_db.hostname", "db.internal"), TRIED,
     "hostname written"),
    (CONFIG, TRIED | {"run_in_postgres": None}, "is not in PostgreSQL"),
    (CONFIG, TRIED | {"coordinator": "DefaultRunCoordinator", "max_runs": None},
     "each launched run starts at once"),
    (CONFIG, TRIED | {"max_runs": 10}, "lets 10 runs run at once, not 4"),
])
def test_each_instance_mistake_is_named(config, tried, words):
    problems = deploy.instance_problems(config, tried, 4)
    assert any(words in problem for problem in problems), problems


@pytest.mark.parametrize(("workspace", "validated", "words"), [
    (WORKSPACE, {"exit": 1, "said": "ModuleNotFoundError: No module named 'resources'"},
     "set working_directory: ../defs"),
    (WORKSPACE, {"exit": 1, "said": "FileNotFoundError: [Errno 2] No such file or directory"},
     "relative to workspace.yaml's folder"),
    ({"load_from": [{"python_file": "../defs/definitions.py"}]}, VALID, "name it 'sensor-lake'"),
    ({"load_from": {"python_file": "../defs/definitions.py"}}, VALID, "must be a list"),
    ({"load_from": [{"python_module": "definitions"}]}, VALID, "must be a list"),
])
def test_each_workspace_mistake_is_named(workspace, validated, words):
    problems = deploy.workspace_problems(workspace, validated)
    assert any(words in problem for problem in problems), problems


def test_what_a_dagster_command_said_is_its_error_lines():
    output = ("2026-12-02 - dagster - WARNING - No dagster instance configuration file\n"
              "Traceback (most recent call last):\n  File \"x.py\", line 2\n"
              "dagster._core.errors.DagsterImportError: Encountered ImportError\n"
              "ModuleNotFoundError: No module named 'helper'\n"
              "2026-12-02 - dagster - ERROR - Validation for 1 code locations failed.\n")
    assert deploy.said(output) == "Encountered ImportError | No module named 'helper'"


def test_every_variable_a_config_reads_is_found():
    assert deploy.env_names(CONFIG) == set(deploy.PG_VARIABLES)
    assert deploy.env_names([{"a": {"env": "X"}}, {"env": "Y", "other": 1}]) == {"X"}


def test_a_placeholder_or_a_list_is_no_settings_file():
    with pytest.raises(NotImplementedError, match="placeholder"):
        deploy.read_yaml("# YOUR CODE HERE\nraise NotImplementedError()\n", "dagster.yaml")
    with pytest.raises(ValueError, match="not a mapping"):
        deploy.read_yaml("- a\n- b\n", "workspace.yaml")
    with pytest.raises(ValueError, match="not valid YAML"):
        deploy.read_yaml("a: [b\n", "workspace.yaml")
