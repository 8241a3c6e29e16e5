"""What a deployment is made of, for any orchestrator, checked offline: the course's image
(hadolint, the Dockerfile's build arguments) and an AWS ECS task definition for Fargate,
registered against the local AWS emulator (moto serves ECS on the s3 service's endpoint) and
read back. The orchestrator's own needs (Prefect's API URL, Dagster's code server) are checked
by its adapter (workbook.prefect_deploy, workbook.dagster_deploy) on top of these.

The checks are plain functions over plain values (dicts, strings), so the grader's checker,
which talks to no server, can judge with them.
"""

import json
import re
import shlex
import subprocess
from pathlib import Path

from workbook import paths

DOCKERFILE = paths.ENVIRONMENTS / "Dockerfile"

# Fargate's CPU units -> the memory sizes (MiB) it accepts with them (AWS ECS documentation,
# "Task CPU and memory"): a task definition with another pair is refused at registration.
FARGATE = {
    256: [512, 1024, 2048],
    512: list(range(1024, 4097, 1024)),
    1024: list(range(2048, 8193, 1024)),
    2048: list(range(4096, 16385, 1024)),
    4096: list(range(8192, 30721, 1024)),
    8192: list(range(16384, 61441, 4096)),
    16384: list(range(32768, 122881, 8192)),
}


# The files ------------------------------------------------------------------------------

def read_yaml(text: str, name: str, answer: str = "it",
              shape: str = "a mapping of settings") -> dict:
    """A deployment file's text (`name`: prefect.yaml, dagster.yaml...) as a mapping;
    NotImplementedError while it holds the exercise's placeholder (`answer`: what to write in
    its place), ValueError (naming the problem) when it is no YAML mapping (`shape`)."""
    import yaml

    if "raise NotImplementedError()" in text:
        raise NotImplementedError(f"{name} still holds the exercise's placeholder: write "
                                  f"{answer} in place of `# YOUR CODE HERE`")
    try:
        found = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ValueError(f"{name} is not valid YAML: {error}") from None
    if not isinstance(found, dict):
        raise ValueError(f"{name} is not {shape}")
    return found


# The image --------------------------------------------------------------------------------

def hadolint(dockerfile: Path = DOCKERFILE) -> list[str]:
    """hadolint's findings on a Dockerfile (the base environment's binary, offline)."""
    binary = paths.env_python("base").with_name("hadolint")
    done = subprocess.run([str(binary), "--no-color", str(dockerfile)], capture_output=True,
                          text=True)
    return [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]


def dockerfile_args(text: str) -> dict[str, str]:
    """The ARG and ENV defaults of a Dockerfile (continuations joined)."""
    found, joined = {}, re.sub(r"\\\n", " ", text)
    for line in joined.splitlines():
        keyword, _, rest = line.strip().partition(" ")
        if keyword.upper() in ("ARG", "ENV"):
            for word in shlex.split(rest, comments=True):
                name, _, value = word.partition("=")
                found[name] = value
    return found


def image_envs(build_args: dict[str, str], dockerfile_text: str) -> list[str]:
    """The course's environments an image built with `build_args` holds (its ENVS)."""
    return (build_args.get("ENVS") or dockerfile_args(dockerfile_text).get("ENVS", "")).split()


# AWS ECS ----------------------------------------------------------------------------------

def ecs_client(endpoint_url: str | None, region: str):
    """boto3's ECS client: the local AWS emulator (moto serves ECS on the s3 service's
    endpoint) or, with endpoint_url None, real AWS."""
    import boto3

    from workbook.services.s3 import environment

    variables = environment(endpoint_url, region)
    kwargs = {"region_name": region, "endpoint_url": endpoint_url}
    if endpoint_url is not None:
        kwargs |= {"aws_access_key_id": variables["AWS_ACCESS_KEY_ID"],
                   "aws_secret_access_key": variables["AWS_SECRET_ACCESS_KEY"]}
    return boto3.client("ecs", **kwargs)


def register(ecs, definition: dict) -> dict:
    """Register a task definition and read it back as plain values; {'error': ...} when ECS
    refuses it. `ecs` None (a lesson on real AWS): nothing is registered, the definition is
    judged as written (the lessons make no call to a real cloud)."""
    if ecs is None:
        return json.loads(json.dumps(definition, default=str))

    from botocore.exceptions import ClientError, ParamValidationError

    try:
        arn = ecs.register_task_definition(**definition)["taskDefinition"]["taskDefinitionArn"]
    except (ClientError, ParamValidationError, TypeError) as error:
        return {"error": f"{type(error).__name__}: {error}"}
    described = ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]
    return json.loads(json.dumps(described, default=str))


def first_container(described: dict) -> dict | None:
    """The task's first container definition (the one that runs the code), if any."""
    containers = described.get("containerDefinitions") or []
    return containers[0] if containers and isinstance(containers[0], dict) else None


def environment_of(container: dict) -> dict[str, str]:
    """A container definition's plain environment variables, by name."""
    return {e.get("name"): e.get("value") for e in container.get("environment") or []
            if isinstance(e, dict)}


def fargate_problems(described: dict, image: str, whose: str = "the code's") -> list[str]:
    """What in a registered task definition (as ECS describes it) keeps it from running on
    Fargate with `image` (`whose`: what the image holds, for the message)."""
    if "error" in described:
        hint = ""
        if "image" in described["error"]:
            hint = ": every container needs an `image` (the code's image)"
        return [f"ECS refused the task definition: {described['error']}{hint}"]
    problems = []
    if "FARGATE" not in (described.get("requiresCompatibilities") or []):
        problems.append("no requiresCompatibilities: [\"FARGATE\"]: without it ECS checks the "
                        "definition for EC2 only, and a Fargate run_task refuses it")
    if described.get("networkMode") != "awsvpc":
        problems.append(f"networkMode is {described.get('networkMode')!r}: Fargate tasks need "
                        "\"awsvpc\"")
    try:
        cpu, memory = int(described.get("cpu")), int(described.get("memory"))
    except (TypeError, ValueError):
        problems.append("the task needs cpu and memory at task level on Fargate "
                        "(strings: cpu \"512\", memory \"1024\")")
    else:
        if memory not in FARGATE.get(cpu, []):
            sizes = FARGATE.get(cpu)
            problems.append(f"cpu {cpu} with memory {memory} is not a valid Fargate pair: "
                            + (f"with cpu {cpu} memory is one of {sizes} (MiB)" if sizes
                               else f"cpu is one of {sorted(FARGATE)} units"))
    container = first_container(described)
    if container is None:
        return [*problems, "no containerDefinitions: the task runs nothing"]
    if container.get("image") != image:
        problems.append(f"the container's image is {container.get('image')!r}, not {whose} "
                        f"image {image!r} (the one you pushed to ECR)")
    return problems
