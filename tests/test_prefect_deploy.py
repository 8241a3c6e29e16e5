"""The offline checks of the deployment lesson (workbook.prefect_deploy) that judge what cannot
run here (an ECS task definition, a Cloud Run service, the Docker image's job variables, a
prefect.yaml): each accepts the lesson's answer and names each mistake."""

import copy

import pytest

from workbook import prefect_deploy as deploy

IMAGE, API = "123.dkr.ecr.us-east-1.amazonaws.com/flows:1", "https://prefect.example/api"
TASK = {"family": "f", "requiresCompatibilities": ["FARGATE"], "networkMode": "awsvpc",
        "cpu": "512", "memory": "1024",
        "containerDefinitions": [{"name": "prefect", "image": IMAGE,
                                  "environment": [{"name": "PREFECT_API_URL", "value": API}]}]}
SERVICE = {"apiVersion": "serving.knative.dev/v1", "kind": "Service",
           "metadata": {"name": "sensors-worker"},
           "spec": {"template": {
               "metadata": {"annotations": {"run.googleapis.com/cpu-throttling": "false",
                                            "autoscaling.knative.dev/minScale": "1"}},
               "spec": {"containers": [{
                   "image": IMAGE, "command": ["prefect"],
                   "args": ["worker", "start", "--pool", "p", "--with-healthcheck"],
                   "env": [{"name": "PREFECT_API_URL", "value": API}],
                   "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]}}}}
FLOWS = {"flow.py": {"ingest": ["bucket*", "endpoint"]}, "other.py": {}}
PROJECT = {"deployments": [{"name": "d", "entrypoint": "flow.py:ingest", "tags": ["x"],
                            "parameters": {"bucket": "b"},
                            "schedules": [{"cron": "*/15 * * * *"}],
                            "work_pool": {"name": "pool"}}]}


def changed(value: dict, path: str, new=None, delete: bool = False) -> dict:
    """A deep copy of `value` with the item at `path` ('a.b.0.c') replaced or deleted."""
    value = copy.deepcopy(value)
    *parents, last = path.split(".")
    target = value
    for key in parents:
        target = target[int(key)] if isinstance(target, list) else target[key]
    last = int(last) if isinstance(target, list) else last
    if delete:
        del target[last]
    else:
        target[last] = new
    return value


def test_the_answers_pass():
    assert deploy.fargate_problems(TASK, IMAGE, API) == []
    assert deploy.cloud_run_problems(SERVICE, IMAGE, API) == []
    assert deploy.deployment_problems(PROJECT, "d", FLOWS, "pool", "*/15 * * * *") == []


@pytest.mark.parametrize(("change", "words"), [
    (("requiresCompatibilities", None, True), 'requiresCompatibilities: ["FARGATE"]'),
    (("memory", "512"), "not a valid Fargate pair"),
    (("cpu", "300"), "cpu is one of"),
    (("networkMode", "bridge"), "awsvpc"),
    (("containerDefinitions.0.environment", []), "PREFECT_API_URL is None"),
    (("containerDefinitions.0.image", "other:1"), "not the flow's image"),
])
def test_each_fargate_mistake_is_named(change, words):
    problems = deploy.fargate_problems(changed(TASK, *change), IMAGE, API)
    assert len(problems) == 1 and words in problems[0], problems


def test_an_ecs_refusal_is_explained():
    refused = {"error": "ClientException: Container.image should not be null or empty."}
    assert "every container needs an `image`" in deploy.fargate_problems(refused, IMAGE, API)[0]


@pytest.mark.parametrize(("change", "words"), [
    (("spec.template.metadata.annotations.run.googleapis.com/cpu-throttling", None, True),
     "cpu-throttling"),
    (("kind", "Job"), "serving.knative.dev/v1 Service"),
    (("metadata.name", "Sensors_Worker"), "lowercase letters"),
    (("spec.template.spec.containers.0.args", ["worker", "start"]), "--with-healthcheck"),
    (("spec.template.spec.containers.0.resources", {}), "resources.limits"),
    (("spec.template.spec.containers.0.env", []), "PREFECT_API_URL"),
])
def test_each_cloud_run_mistake_is_named(change, words):
    if "run.googleapis.com" in change[0]:  # a key with dots: delete it directly
        service = copy.deepcopy(SERVICE)
        del service["spec"]["template"]["metadata"]["annotations"][
            "run.googleapis.com/cpu-throttling"]
    else:
        service = changed(SERVICE, *change)
    problems = deploy.cloud_run_problems(service, IMAGE, API)
    assert len(problems) == 1 and words in problems[0], problems


@pytest.mark.parametrize(("change", "words"), [
    (("deployments.0.entrypoint", "flow.py"), "the file AND the flow function"),
    (("deployments.0.entrypoint", "flow.py:ingest-sensors"), "has no flow 'ingest-sensors'"),
    (("deployments.0.entrypoint", "gone.py:ingest"), "there is no gone.py"),
    (("deployments.0.tags", None, True), "has no tags"),
    (("deployments.0.parameters", {"bucket": "b", "date": "x"}),
     "parameters the flow does not take: ['date']"),
    (("deployments.0.parameters", {}), "have no default in the flow"),
    (("deployments.0.schedules", [{"interval": 900}]), "no schedule with cron"),
    (("deployments.0.work_pool", {"name": "default"}), "not the lesson's process pool 'pool'"),
    (("deployments.0.name", "other"), "no deployment named 'd'"),
])
def test_each_prefect_yaml_mistake_is_named(change, words):
    problems = deploy.deployment_problems(changed(PROJECT, *change), "d", FLOWS, "pool",
                                          "*/15 * * * *")
    assert problems and words in problems[0], problems


def test_an_unanswered_prefect_yaml_is_not_implemented():
    with pytest.raises(NotImplementedError, match="placeholder"):
        deploy.read_project("deployments:\n# YOUR CODE HERE\nraise NotImplementedError()\n")
    with pytest.raises(ValueError, match="not valid YAML"):
        deploy.read_project("deployments: [\n")


def test_the_image_checks_name_what_would_not_run():
    text = 'ARG ENVS="beginner airflow prefect"\nENV WORKBOOK_VENVS=/opt/venvs \\\n    X=1\n'
    job = {"image": "w:1", "command": "/opt/venvs/prefect/bin/prefect flow-run execute",
           "env": {"PREFECT_API_URL": API}}
    assert deploy.image_problems(job, {"ENVS": "prefect"}, text, "w:1") == []
    assert "without `prefect`" in deploy.image_problems(job, {"ENVS": "airflow"}, text, "w:1")[0]
    assert "not on its PATH" in deploy.image_problems(
        {**job, "command": "prefect flow-run execute"}, {}, text, "w:1")[0]
    assert "not the tag" in deploy.image_problems(job, {}, text, "w:2")[0]


def test_the_course_dockerfile_passes_hadolint():
    assert deploy.hadolint() == []


def test_a_run_waiting_on_a_pool_no_worker_polls_is_named():
    run = {"state": "SCHEDULED", "name": "Late", "message": "", "pool": "sensors-process",
           "waited_s": 90, "polled_pools": ["default"], "states": []}
    assert "no worker polls the work pool 'sensors-process'" in deploy.run_verdict(
        run, "sensors-process")
    assert deploy.run_verdict({**run, "state": "COMPLETED"}, "sensors-process") is None
    assert "ended Failed" in deploy.run_verdict(
        {**run, "state": "FAILED", "name": "Failed", "message": "boom"}, "sensors-process")
