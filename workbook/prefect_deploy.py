"""Helpers of the Prefect track's deployment lesson (03_advanced/prefect/06_deployment): the
`prefect` CLI and a worker run as a learner runs them, a bounded wait on a flow run's state, and
the offline checks of what a deployment is made of (prefect.yaml, the image, an ECS task
definition, a Cloud Run service), each returning its problems as sentences that name them.

The checks are plain functions over plain values (dicts, strings), so the grader's checker,
which runs no flow and talks to no server, can judge with them.
"""

import contextlib
import os
import re
import signal
import subprocess
import time
from pathlib import Path

from workbook import cloud_deploy, prefect_home, processes, waiting

# The course's image and ECS, shared with the Dagster track (the lesson calls them from here).
from workbook.cloud_deploy import DOCKERFILE as DOCKERFILE
from workbook.cloud_deploy import dockerfile_args
from workbook.cloud_deploy import ecs_client as ecs_client
from workbook.cloud_deploy import hadolint as hadolint
from workbook.cloud_deploy import register as register

POOL = "sensors-process"  # the lesson's process work pool
DEPLOYMENT = "sensors-ingest"
FLOW = "ingest-sensors"  # the flow's name (`@flow(name=...)`): deployments are flow/deployment
WAIT_S = 90  # a run's start (a process importing Prefect and the pipeline) on a loaded laptop
WORKER_QUERY_S = "2"  # how often the lesson's worker asks for work (Prefect's default: 10 s)
WAITING = ("SCHEDULED", "LATE", "PENDING", "AWAITINGRETRY", "PAUSED")
IMAGE_PREFECT = "/opt/venvs/prefect/bin/prefect"  # the image's prefect (WORKBOOK_VENVS=/opt/venvs)

def environ() -> dict[str, str]:
    """The kernel's variables (PREFECT_API_URL among them, set by the setup) for a child process,
    with plain output and a worker that asks for work every few seconds."""
    return {**os.environ, "NO_COLOR": "1", "COLUMNS": "200",
            "PREFECT_WORKER_QUERY_SECONDS": WORKER_QUERY_S, "PREFECT_CLI_PROMPT": "false"}


class CommandFailed(RuntimeError):
    """A `prefect` command that exited with an error; its message ends with Prefect's own."""


def cli(*args: str, cwd: Path | None = None, timeout: float = 180,
        check: bool = False) -> tuple[int, str]:
    """`prefect ARGS` (this environment's CLI): its exit code and its output. `check`: raise
    CommandFailed, with the output's last line (where Prefect says why), when it fails."""
    done = subprocess.run([str(prefect_home.prefect_cli()), *args], cwd=cwd, env=environ(),
                          capture_output=True, text=True, timeout=timeout)
    output = done.stdout + done.stderr
    if check and done.returncode != 0:
        last = [line for line in output.splitlines() if line.strip()][-1:]
        raise CommandFailed(f"prefect {' '.join(args)} exited with {done.returncode}: "
                            + " ".join(line.strip() for line in last))
    return done.returncode, output


def create_pool(name: str, kind: str = "process") -> str:
    """The work pool `name` (what `prefect work-pool create NAME --type KIND` makes), created
    unless it exists; its type."""
    from prefect import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            return client.read_work_pool(name).type
        except ObjectNotFound:
            return client.create_work_pool(WorkPoolCreate(name=name, type=kind)).type


def stop_worker(worker: subprocess.Popen | None, timeout: float = 15) -> str:
    """Stop a worker this process started in its own session (see stop_workers), and reap it."""
    if worker is None or worker.poll() is not None:
        return "not running"
    said = stop_workers([worker.pid], timeout)
    worker.wait(5)
    return said


def workers_of(api_url: str) -> list[int]:
    """The `prefect worker start` processes that report to `api_url`, read from /proc. A
    worker started in a session of its own outlives the kernel that started it: after a kernel
    restart no `worker` variable holds it, yet it goes on running whatever a new try starts."""
    found = []
    for folder in Path("/proc").glob("[0-9]*"):
        try:
            argv = (folder / "cmdline").read_bytes().split(b"\0")
            if not any(argv[i:i + 2] == [b"worker", b"start"] for i in range(len(argv))):
                continue
            variables = (folder / "environ").read_bytes().split(b"\0")
        except OSError:  # gone, or not ours to read
            continue
        if f"PREFECT_API_URL={api_url}".encode() in variables:
            found.append(int(folder.name))
    return sorted(found)


def stop_workers(pids: list[int], timeout: float = 15) -> str:
    """Stop workers started in sessions of their own: Ctrl-C to each process group (a worker
    shuts down on SIGINT, finishing what it submitted), then TERM and KILL to what is left
    after `timeout`. 'stopped', 'killed', or 'still running: [pids]'."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGINT)
    if waiting.wait_for(lambda: not any(processes.running(p) for p in pids), timeout):
        return "stopped"
    left = processes.stop_tree(*[p for p in pids if processes.running(p)], timeout=5)
    return "killed" if not left else f"still running: {left}"


def start_over(worker: subprocess.Popen | None) -> None:
    """Clear what a previous try of the worker exercise left, so that this try is judged
    alone: its worker stopped (it goes on polling, perhaps another pool: it would run this
    try's run whatever this try starts, and write into worker.log), a worker of a kernel before
    a restart as well, and the deployment's runs that no worker started cancelled (this try's
    worker would run them too, beside its own)."""
    stop_worker(worker)
    stop_workers(workers_of(os.environ.get("PREFECT_API_URL", "")))
    cancel_waiting_runs(DEPLOYMENT)


def cancel_waiting_runs(deployment: str) -> int:
    """Cancel the runs of the deployment named `deployment` that are still waiting for a
    worker (Scheduled, Late, Pending, Paused); how many there were."""
    from prefect import get_client
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterName,
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.states import Cancelled

    waiting = FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(
        any_=[StateType.SCHEDULED, StateType.PENDING, StateType.PAUSED])))
    named = DeploymentFilter(name=DeploymentFilterName(any_=[deployment]))
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_run_filter=waiting, deployment_filter=named)
        for run in runs:
            client.set_flow_run_state(run.id, Cancelled(message="a new try started over"),
                                      force=True)
    return len(runs)


def wait_for_run(run_id, timeout_s: float = WAIT_S) -> dict:
    """Wait (at most `timeout_s`) until a flow run is over; what it became, as plain values:
    its state, the states it went through (name, seconds since it was created), its deployment's
    work pool, and the pools that have a worker polling them."""
    from prefect import get_client

    deadline = time.monotonic() + timeout_s
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(run_id)
        while not run.state.is_final() and time.monotonic() < deadline:
            time.sleep(0.5)
            run = client.read_flow_run(run_id)
        states = sorted(client.read_flow_run_states(run_id), key=lambda s: s.timestamp)
        # A worker polls a pool if it sent a heartbeat since the run was made (every 30 s, less
        # than the wait): a stopped worker stays listed, "online", for minutes after.
        polled = sorted({pool.name for pool in client.read_work_pools()
                         if any(w.last_heartbeat_time and w.last_heartbeat_time >= run.created
                                for w in client.read_workers_for_work_pool(pool.name))})
    created = states[0].timestamp if states else run.created
    return {"state": run.state.type.value, "name": run.state.name,
            "message": run.state.message or "", "pool": run.work_pool_name,
            "waited_s": round(timeout_s), "polled_pools": polled,
            "states": [(s.name, round((s.timestamp - created).total_seconds(), 1))
                       for s in states]}


def log_error(log: Path) -> str:
    """The last line of a worker's log that names an error ('' when none does)."""
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    found = [line.strip() for line in lines if re.search(r"\w+(Error|Exception)\b", line)]
    return found[-1][:300] if found else ""


def run_verdict(run: dict, pool: str, worker_said: str = "") -> str | None:
    """Why a deployment's run did not complete, naming the cause; None when it did.
    `worker_said`: the worker log's last error line, quoted when the run failed."""
    if run["state"] == "COMPLETED":
        return None
    if run["state"] in WAITING:
        if run["pool"] not in run["polled_pools"]:
            return (f"the run is still {run['name']} after {run['waited_s']} s: no worker polls "
                    f"the work pool {run['pool']!r} its deployment names (workers poll "
                    f"{run['polled_pools'] or 'no pool'}): start the worker on the deployment's "
                    f"pool, `prefect worker start --pool {pool}`, and deploy to that pool")
        return (f"the run is still {run['name']} after {run['waited_s']} s although a worker "
                f"polls {run['pool']!r}: read the worker's log")
    said = f"; the worker's log says: {worker_said}" if worker_said else ""
    return (f"the run ended {run['name']}: {run['message'][:300]}{said} (read the worker's log, "
            "flows/worker.log, for the whole story)")


# prefect.yaml -----------------------------------------------------------------------------

def read_project(text: str) -> dict:
    """prefect.yaml's text as a mapping (cloud_deploy.read_yaml)."""
    return cloud_deploy.read_yaml(text, "prefect.yaml", "the deployment",
                                  "a mapping (name:, deployments: ...)")


def deployment_problems(project: dict, name: str, flows: dict[str, dict[str, list[str]]],
                        pool: str, cron: str) -> list[str]:
    """What is wrong with deployment `name` of a prefect.yaml (`project`, as parsed), given the
    flows of the folder ({file: {flow function: [parameters], ...}}; a parameter with no default
    ends in '*'), the pool it must run on and its schedule."""
    deployments = project.get("deployments") or []
    found = [d for d in deployments if isinstance(d, dict) and d.get("name") == name]
    if not found:
        names = [d.get("name") for d in deployments if isinstance(d, dict)]
        return [f"prefect.yaml has no deployment named {name!r} under `deployments:` (it has "
                f"{names}): `- name: {name}`"]
    deployment, problems = found[0], []
    entrypoint = str(deployment.get("entrypoint") or "")
    file, colon, function = entrypoint.rpartition(":")
    if not colon or not file.endswith(".py"):
        problems.append(f"entrypoint {entrypoint!r} is not `<file>.py:<flow function>`: Prefect "
                        "needs the file AND the flow function in it, e.g. "
                        "`ingest_deployment.py:ingest_sensors`")
    elif file not in flows:
        problems.append(f"entrypoint {entrypoint!r}: there is no {file} in the flows folder "
                        f"(it holds {sorted(flows)}); the path is relative to prefect.yaml")
    elif function not in flows[file]:
        problems.append(f"entrypoint {entrypoint!r}: {file} has no flow {function!r} (its flows: "
                        f"{sorted(flows[file])}); name the decorated function, not the flow's "
                        "name= or the deployment's")
    tags = deployment.get("tags")
    if not (isinstance(tags, list) and tags):
        problems.append(f"deployment {name} has no tags: give it `tags: [sensors, ...]` (the "
                        "integrity suite requires tags, and the UI and automations filter on "
                        "them)")
    parameters = deployment.get("parameters") or {}
    if not isinstance(parameters, dict):
        problems.append("`parameters:` is not a mapping of the flow's parameters to values")
        parameters = {}
    if colon and function in flows.get(file, {}):
        accepted = [p.rstrip("*") for p in flows[file][function]]
        unknown = sorted(set(parameters) - set(accepted))
        if unknown:
            problems.append(f"parameters the flow does not take: {unknown} ({function} takes "
                            f"{accepted}): a deployment's parameters are its flow's arguments")
        required = [p.rstrip("*") for p in flows[file][function] if p.endswith("*")]
        missing = sorted(set(required) - set(parameters))
        if missing:
            problems.append(f"parameters {missing} have no default in the flow and none in the "
                            "deployment: a scheduled run would fail; set them under "
                            "`parameters:`")
    crons = [s.get("cron") for s in deployment.get("schedules") or [] if isinstance(s, dict)]
    if cron not in crons:
        problems.append(f"no schedule with cron {cron!r} (the deployment's schedules: "
                        f"{crons or 'none'}): `schedules: [{{cron: \"{cron}\", timezone: UTC}}]`")
    work_pool = deployment.get("work_pool") or {}
    got_pool = work_pool.get("name") if isinstance(work_pool, dict) else None
    if got_pool != pool:
        problems.append(f"the deployment's work_pool is {got_pool!r}, not the lesson's process "
                        f"pool {pool!r}: `work_pool: {{name: {pool}}}`")
    return problems


def flows_in(folder: Path, project: dict) -> dict[str, dict[str, list[str]]]:
    """{file: {flow function: [parameter, ...]}} of the flow modules of a folder (a parameter
    with no default ends in '*'). Only the files the project's entrypoints name are loaded (as a
    worker loads an entrypoint); the others are listed with no flows."""
    import inspect

    from prefect import Flow
    from prefect.utilities.importtools import load_script_as_module

    named = {str(d.get("entrypoint") or "").rpartition(":")[0]
             for d in project.get("deployments") or [] if isinstance(d, dict)}
    found = {}
    for path in sorted(folder.glob("*.py")):
        found[path.name] = {}
        if path.name not in named:
            continue
        module = load_script_as_module(str(path))
        found[path.name] = {
            attribute: [name + ("*" if p.default is inspect.Parameter.empty else "")
                        for name, p in inspect.signature(value.fn).parameters.items()]
            for attribute, value in vars(module).items()
            if isinstance(value, Flow) and value.fn.__code__.co_filename == str(path)}
    return found


# The image --------------------------------------------------------------------------------

def image_problems(job_variables: dict, build_args: dict[str, str], dockerfile_text: str,
                   tag: str) -> list[str]:
    """What keeps a Docker work pool's job variables from running the flow in the course's
    image built with `build_args` and tagged `tag`."""
    problems, defaults = [], dockerfile_args(dockerfile_text)
    envs = cloud_deploy.image_envs(build_args, dockerfile_text)
    if "prefect" not in envs:
        problems.append(f"the image is built with ENVS={' '.join(envs)!r}: without `prefect` "
                        "it has no Prefect; build with --build-arg ENVS=prefect")
    if job_variables.get("image") != tag:
        problems.append(f"job_variables.image is {job_variables.get('image')!r}, not the tag "
                        f"the build gives, {tag!r}")
    command = str(job_variables.get("command") or "")
    venvs = defaults.get("WORKBOOK_VENVS", "")
    if not command.startswith(f"{venvs}/prefect/bin/"):
        problems.append(f"command {command!r}: the image's prefect is {venvs}/prefect/bin/prefect "
                        "(WORKBOOK_VENVS), not on its PATH")
    if "PREFECT_API_URL" not in (job_variables.get("env") or {}):
        problems.append("no PREFECT_API_URL in job_variables.env: the container must reach "
                        "the API from inside Docker")
    return problems


# AWS ECS ----------------------------------------------------------------------------------

def fargate_problems(described: dict, image: str, api_url: str) -> list[str]:
    """What in a registered task definition (as ECS describes it) keeps it from running the
    flow on Fargate with `image`, against the Prefect API `api_url`."""
    problems = cloud_deploy.fargate_problems(described, image, "the flow's")
    container = None if "error" in described else cloud_deploy.first_container(described)
    if container is None:
        return problems
    found = cloud_deploy.environment_of(container).get("PREFECT_API_URL")
    if found != api_url:
        problems.append(f"PREFECT_API_URL is {found!r} in the container's environment, not "
                        f"{api_url!r}: without it the flow run cannot report to the API (and "
                        "Prefect would start a temporary server in the task)")
    return problems


# Google Cloud Run -------------------------------------------------------------------------

CLOUD_RUN_NAME = re.compile(r"^[a-z]([-a-z0-9]{0,47}[a-z0-9])?$")  # Cloud Run: up to 49


def cloud_run_problems(service: dict, image: str, api_url: str) -> list[str]:
    """What is wrong with a Cloud Run service (Knative serving.knative.dev/v1) that runs the
    lesson's worker in `image`, against `api_url`: the fields Cloud Run requires, and a worker's
    needs (CPU always allocated, one instance always up)."""
    problems = []
    if service.get("apiVersion") != "serving.knative.dev/v1" or service.get("kind") != "Service":
        problems.append(f"apiVersion/kind are {service.get('apiVersion')!r}/"
                        f"{service.get('kind')!r}: a Cloud Run service is "
                        "serving.knative.dev/v1 Service")
    name = str((service.get("metadata") or {}).get("name") or "")
    if not CLOUD_RUN_NAME.match(name):
        problems.append(f"metadata.name {name!r}: lowercase letters, digits and '-', starting "
                        "with a letter, at most 49 characters")
    template = ((service.get("spec") or {}).get("template") or {})
    annotations = (template.get("metadata") or {}).get("annotations") or {}
    if str(annotations.get("run.googleapis.com/cpu-throttling")) != "false":
        problems.append("no run.googleapis.com/cpu-throttling: \"false\" on the template: Cloud "
                        "Run gives CPU only while a request is served, and a worker serves none "
                        "(it polls)")
    if str(annotations.get("autoscaling.knative.dev/minScale")) != "1":
        problems.append("autoscaling.knative.dev/minScale is not \"1\": with no request Cloud "
                        "Run scales to zero, and no worker polls")
    containers = (template.get("spec") or {}).get("containers") or []
    if not containers:
        return [*problems, "spec.template.spec.containers is empty: the service runs nothing"]
    container = containers[0]
    if container.get("image") != image:
        problems.append(f"the container's image is {container.get('image')!r}, not {image!r}")
    env = {e.get("name"): e.get("value") for e in container.get("env") or []
           if isinstance(e, dict)}
    if env.get("PREFECT_API_URL") != api_url:
        problems.append(f"PREFECT_API_URL is {env.get('PREFECT_API_URL')!r} in the container's "
                        f"env, not {api_url!r}")
    words = [str(w) for w in [*(container.get("command") or []), *(container.get("args") or [])]]
    if "worker" not in words or "--with-healthcheck" not in words:
        problems.append(f"the container runs {' '.join(words) or 'its image default'}: run "
                        "`prefect worker start --pool ... --with-healthcheck`; a Cloud Run "
                        "service must answer on its port (8080) and a worker listens only with "
                        "--with-healthcheck")
    limits = (container.get("resources") or {}).get("limits") or {}
    if not {"cpu", "memory"} <= set(limits):
        problems.append(f"resources.limits {limits}: set cpu and memory (e.g. cpu: \"1\", "
                        "memory: 1Gi); the default 512Mi is tight for Prefect and the pipeline")
    return problems
