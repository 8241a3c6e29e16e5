"""The integrity suite: what every orchestrator file the solutions write must satisfy, as
Astronomer's projects test their DAGs before they ship.

Airflow: each file imports with no error; each DAG has tags, documentation (`doc_md`, or its
module's docstring) and retries set in its default arguments, or zero retries with its
documentation saying why.

Prefect 3 has no DAG object and no flow tags, so the same four promises read (see `prefect`):
each file imports with no error, with no API URL and no temporary server, and starts no flow
run while it imports; each flow has a description (its docstring, or `description=`); it is
tagged through a deployment (prefect.yaml beside it, or `serve`/`deploy`/`to_deployment` with
`tags=` in the file), else every task it calls is tagged; it sets retries, else every task it
calls does, and `retries=0` counts only with a reason (a comment on that line, or "retries" in
its description or its module's docstring).

Dagster: the code location passes Dagster's own `dagster definitions validate` (definitions.py,
where the folder has one); each file imports with no error and materializes nothing while it
imports; each asset has a description and a group (or tags or kinds) to sort it by in the UI, and
a retry policy, or zero retries with its documentation saying why; time partitions end (an
unbounded hourly definition from 2015 holds every hour since, and declarative automation looks at
the latest window only); each sensor sets its own minimum interval.

`python -m workbook.integrity KIND FOLDER` runs in the orchestrator's own environment and prints
{file: [problems]} as JSON; the tests judge it (tests/test_integrity.py).
"""

import ast
import json
import os
import re
import sys
from pathlib import Path


def module_doc(path: Path) -> str:
    try:
        return ast.get_docstring(ast.parse(path.read_text())) or ""
    except (OSError, SyntaxError):
        return ""


def dag_problems(dag, path: Path) -> list[str]:
    """What one DAG lacks, each as a sentence naming the DAG."""
    doc = dag.doc_md or module_doc(path)
    problems = [] if dag.tags else [f"{dag.dag_id} has no tags"]
    if not doc:
        problems.append(f"{dag.dag_id} has no doc_md and its module no docstring")
    retries = (dag.default_args or {}).get("retries")
    if retries is None:
        problems.append(f"{dag.dag_id} sets no retries in default_args")
    elif retries == 0 and "retr" not in doc.lower():
        problems.append(f"{dag.dag_id} has retries=0 and its documentation does not say why")
    return problems


def airflow(folder: Path) -> dict[str, list[str]]:
    """{file in `folder`: its problems} for every Python file of a dags folder."""
    from workbook import airflow_lesson

    sys.path.insert(0, str(folder))  # as the DAG processor does: DAGs import their helpers
    bag = airflow_lesson.dagbag(folder)
    found = {str(p.relative_to(folder)): [] for p in sorted(folder.rglob("*.py"))}
    for path, error in bag.import_errors.items():
        found[str(Path(path).relative_to(folder))].append(
            f"does not import: {airflow_lesson.import_error_line(error)}")
    for dag in bag.dags.values():
        path = Path(dag.fileloc)
        found[str(path.relative_to(folder))] += dag_problems(dag, path)
    return found


# Prefect 3 ------------------------------------------------------------------------------------

# The Flow methods that run or register it (they take a deployment's `tags=`).
DEPLOYING = ("serve", "deploy", "to_deployment")
ZERO_RETRIES = re.compile(r"\bretries\s*=\s*0\b(?P<after>.*)")
DEF = re.compile(r"\s*(async\s+)?def\s")
IMPORT_TIMEOUT_S = 60  # per file, as Airflow's dagbag_import_timeout: a file may not hang


def _is_flow_decorator(node: ast.expr) -> bool:
    """`@flow`, `@flow(...)`, `@prefect.flow`, `@prefect.flow(...)`."""
    node = node.func if isinstance(node, ast.Call) else node
    return (isinstance(node, ast.Name) and node.id == "flow") or (
        isinstance(node, ast.Attribute) and node.attr == "flow")


def _main_guard(node: ast.stmt) -> bool:
    return isinstance(node, ast.If) and "__name__" in ast.unparse(node.test)


def _top_level_calls(tree: ast.Module):
    """Each call a module makes while it is imported: outside its functions, classes and
    `if __name__ == "__main__":` block."""
    for statement in tree.body:
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) or (
                _main_guard(statement)):
            continue
        yield from (node for node in ast.walk(statement) if isinstance(node, ast.Call))


def _called_at_import(call: ast.Call) -> str:
    return (f"calls {ast.unparse(call.func)}() at import time (line {call.lineno}): put it "
            f"under `if __name__ == \"__main__\":`")


def runs_at_import(source: str) -> list[str]:
    """The flow runs (a call, `.serve()`, `.deploy()`) a module makes at its top level, read
    from its text, so that they are reported and never started: each as a sentence."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []  # the import reports it
    flows = {node.name for node in tree.body
             if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
             and any(_is_flow_decorator(d) for d in node.decorator_list)}
    flows |= {target.id for node in tree.body if isinstance(node, ast.Assign)
              and isinstance(node.value, ast.Call) and _is_flow_decorator(node.value.func)
              for target in node.targets if isinstance(target, ast.Name)}
    return [_called_at_import(call) for call in _top_level_calls(tree)
            if (isinstance(call.func, ast.Name) and call.func.id in flows) or (
                isinstance(call.func, ast.Attribute) and isinstance(call.func.value, ast.Name)
                and call.func.value.id in flows and call.func.attr in ("serve", "deploy"))]


def _resolve(node: ast.expr, names: dict):
    """The object a name or dotted name in a function's body stands for, from its globals."""
    if isinstance(node, ast.Name):
        return names.get(node.id)
    if isinstance(node, ast.Attribute):
        return getattr(_resolve(node.value, names), node.attr, None)
    return None


def tasks_called(flow) -> list:
    """The tasks a flow's body names (called, `.submit`-ted, `.map`-ped), found in its module's
    globals; a task defined inside the flow's body is not seen."""
    import inspect
    import textwrap

    from prefect import Task

    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(flow.fn)))
    except (OSError, TypeError, SyntaxError):  # no source to read: no task seen
        return []
    definition = next((node for node in ast.walk(tree) if isinstance(
        node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)), None)
    body = [] if definition is None else (
        definition.body if isinstance(definition.body, list) else [definition.body])
    found = {}
    for node in (n for statement in body for n in ast.walk(statement)):
        task = _resolve(node, flow.fn.__globals__)
        if isinstance(task, Task):
            found.setdefault(id(task), task)
    return list(found.values())


def retry_policy(obj, doc: str) -> str:
    """'set' (retries > 0), 'stated' (retries=0 with a comment on that line or a documentation
    that speaks of retries), 'silent' (retries=0 alone) or 'unset', for a flow or a task.
    The suite pins Prefect's default retries to 0, so retries > 0 were set by the file."""
    import inspect

    if obj.retries > 0:
        return "set"
    try:
        lines = inspect.getsourcelines(obj.fn)[0]  # from its first decorator on
    except (OSError, TypeError):
        return "unset"
    header = next((i for i, line in enumerate(lines) if DEF.match(line)), len(lines) - 1)
    for line in lines[:header + 1]:  # its decorators and its `def` line, not its body
        zero = ZERO_RETRIES.search(line)
        if zero:
            stated = "#" in zero["after"] or "retr" in doc.lower()
            return "stated" if stated else "silent"
    return "unset"


def deployment_tags(path: Path, folder: Path, deployments: list[dict]) -> dict[str, bool]:
    """{flow name: whether a deployment of it has tags}, from prefect.yaml's `deployments` and
    from the file's own `NAME.serve/deploy/to_deployment(tags=...)` calls."""
    tagged: dict[str, bool] = {}
    for deployment in deployments:
        file, _, name = str(deployment.get("entrypoint", "")).rpartition(":")
        if file and (folder / file).resolve() == path.resolve():
            tagged[name] = tagged.get(name, False) or bool(deployment.get("tags"))
    for node in ast.walk(ast.parse(path.read_text())):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in DEPLOYING and isinstance(node.func.value, ast.Name)):
            tags = next((k.value for k in node.keywords if k.arg == "tags"), None)
            try:
                given = bool(ast.literal_eval(tags)) if tags is not None else False
            except (ValueError, TypeError):
                given = True  # a name or an expression: set, though not readable here
            name = node.func.value.id
            tagged[name] = tagged.get(name, False) or given
    return tagged


def flow_problems(name: str, flow, module_doc_text: str, tagged: bool) -> list[str]:
    """What one flow lacks, each as a sentence naming it (as its module names it)."""
    tasks = tasks_called(flow)
    problems = [] if flow.description else [f"{name} has no docstring or description"]
    if not (tagged or (tasks and all(task.tags for task in tasks))):
        problems.append(f"{name} has no tags (on a deployment of it, or on every task it calls)")
    doc = f"{flow.description or ''} {module_doc_text}"
    policy = retry_policy(flow, doc)
    if policy == "silent":
        problems.append(f"{name} has retries=0 and no comment or documentation says why")
    if policy != "unset":
        return problems
    policies = {task.fn.__name__: retry_policy(task, f"{task.description or ''} {doc}")
                for task in tasks}
    unset = [task for task, policy in policies.items() if policy == "unset"]
    if not tasks:
        problems.append(f"{name} sets no retries and calls no task")
    elif unset:
        problems.append(f"{name} sets no retries, nor do its tasks {', '.join(unset)}")
    problems += [f"{name}'s task {task} has retries=0 and no comment or documentation says why"
                 for task, policy in policies.items() if policy == "silent"]
    return problems


def read_deployments(path: Path) -> tuple[list[dict], list[str]]:
    """The `deployments` of a prefect.yaml, and its problems if it is not that shape."""
    import yaml

    try:
        project = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        return [], [f"does not parse: {error}"]
    deployments = project.get("deployments") or [] if isinstance(project, dict) else None
    if not (isinstance(deployments, list) and all(isinstance(d, dict) for d in deployments)):
        return [], ["is not a mapping whose `deployments` is a list of mappings"]
    return deployments, []


def _time_limit(signum, frame):
    raise TimeoutError(f"importing took more than {IMPORT_TIMEOUT_S} s")


def prefect(folder: Path) -> dict[str, list[str]]:
    """{file in `folder`: its problems} for every Python file of a flows folder and its
    project files (prefect.yaml, and prefect.<variant>.yaml that `prefect deploy --prefect-file`
    reads). Each file is loaded as Prefect loads a deployment's entrypoint
    (`load_script_as_module`), under `report`'s settings: no API URL and no temporary server,
    so that a flow run or an API call made at import time fails at once instead of running."""
    import signal

    from prefect import Flow
    from prefect.exceptions import ScriptError
    from prefect.utilities.importtools import load_script_as_module

    files = sorted(folder.rglob("*.py"))
    found = {str(p.relative_to(folder)): runs_at_import(p.read_text()) for p in files}
    deployments: list[dict] = []
    projects: dict[str, list[dict]] = {}  # prefect.yaml, and others such as prefect.docker.yaml
    for project in sorted(folder.glob("prefect*.yaml")):
        projects[project.name], found[project.name] = read_deployments(project)
        deployments += projects[project.name]
    flows: dict[str, set[str]] = {}  # file -> the flows it defines, for prefect.yaml's check
    signal.signal(signal.SIGALRM, _time_limit)
    for path in files:
        name = str(path.relative_to(folder))
        signal.alarm(IMPORT_TIMEOUT_S)
        try:
            module = load_script_as_module(str(path))
        except ScriptError as error:
            found[name].append(f"does not import: {type(error.user_exc).__name__}: "
                               f"{(str(error.user_exc).splitlines() or [''])[0]}")
            continue
        except SystemExit as error:  # not an Exception: Prefect's loader lets it through
            found[name].append(f"does not import: it exits (SystemExit: {error.code})")
            continue
        finally:
            signal.alarm(0)
        tags = deployment_tags(path, folder, deployments)
        own = {attribute: value for attribute, value in vars(module).items()
               if isinstance(value, Flow) and value.fn.__code__.co_filename == str(path)}
        flows[name] = set(own)
        for attribute, flow in own.items():
            found[name] += flow_problems(attribute, flow, module.__doc__ or "",
                                         tags.get(attribute, False))
    for project, deployment in ((p, d) for p, listed in projects.items() for d in listed):
        file, _, attribute = str(deployment.get("entrypoint", "")).rpartition(":")
        known = flows.get(str(Path(file)))
        if (known is None and str(Path(file)) not in found) or (
                known is not None and attribute not in known):
            found[project].append(
                f"deployment {deployment.get('name')}: entrypoint "
                f"{deployment.get('entrypoint')!r} names no flow in this folder")
    return found


DAGSTER_RUNS = ("materialize", "materialize_to_memory", "execute_job", "execute_in_process")


def materializes_at_import(source: str) -> list[str]:
    """The runs (materialize(), a job's execute_in_process(), ...) a module starts at its top
    level, read from its text, so that they are reported and never started."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []  # the import reports it
    return [_called_at_import(call) for call in _top_level_calls(tree)
            if (getattr(call.func, "id", None) or getattr(call.func, "attr", None))
            in DAGSTER_RUNS]


SENSOR_DECORATORS = ("sensor", "asset_sensor", "multi_asset_sensor", "run_status_sensor",
                     "run_failure_sensor")


def unpaced_sensors(source: str) -> list[str]:
    """The sensors whose decorator names no minimum_interval_seconds, read from the text:
    Dagster fills in its default (30 s), so the definition cannot tell it from a chosen one."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    problems = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for decorator in node.decorator_list:
            call = decorator if isinstance(decorator, ast.Call) else None
            func = call.func if call else decorator
            name = getattr(func, "id", None) or getattr(func, "attr", None)
            if name in SENSOR_DECORATORS and not any(
                    k.arg == "minimum_interval_seconds" for k in (call.keywords if call else [])):
                problems.append(f"sensor {node.name} sets no minimum_interval_seconds")
    return problems


def unbounded_time_partitions(partitions) -> bool:
    """Whether a partitions definition (or a dimension of a multi-partitioned one) is a time
    window with no end."""
    from dagster import MultiPartitionsDefinition, TimeWindowPartitionsDefinition

    if isinstance(partitions, MultiPartitionsDefinition):
        return any(unbounded_time_partitions(d.partitions_def)
                   for d in partitions.partitions_defs)
    return isinstance(partitions, TimeWindowPartitionsDefinition) and partitions.end is None


def asset_problems(assets_def, module_doc_text: str) -> list[str]:
    """What one assets definition (an @asset, each asset of a @multi_asset, or an
    @asset_check, whose description documents it too) lacks."""
    problems = []
    docs = module_doc_text + "".join(check.description or "" for check in assets_def.check_specs)
    for spec in assets_def.specs:
        key = spec.key.to_user_string()
        docs += spec.description or ""
        if not spec.description:
            problems.append(f"asset {key} has no description (a docstring or description=)")
        if spec.group_name in (None, "default") and not spec.tags and not spec.kinds:
            problems.append(f"asset {key} has no group_name, tags or kinds to sort it by")
        if unbounded_time_partitions(spec.partitions_def):
            problems.append(f"asset {key} has time partitions with no end_date: they grow by "
                            "one every period, and automation looks at the latest one only")
    if assets_def.is_executable:
        policy = assets_def.op.retry_policy
        name = assets_def.op.name
        if policy is None:
            problems.append(f"{name} sets no retry_policy")
        elif policy.max_retries == 0 and "retr" not in docs.lower():
            problems.append(f"{name} has max_retries=0 and its documentation does not say why")
    return problems


def _defined_in(assets_def, path: Path) -> bool:
    """Whether an asset's function is written in `path` (not imported there from a sibling
    module, which is judged on its own)."""
    import inspect

    function = getattr(getattr(assets_def.op, "compute_fn", None), "decorated_fn", None) \
        if assets_def.is_executable else None
    try:
        return inspect.getsourcefile(inspect.unwrap(function)) == str(path)
    except TypeError:  # no function to read: judged where it is found
        return True


def validate_definitions(folder: Path) -> list[str]:
    """`dagster definitions validate` on the folder's definitions.py: its failure line, if any
    (the CLI loads the code location as `dagster dev` and a deployment do)."""
    import subprocess

    cli = Path(sys.executable).with_name("dagster")
    result = subprocess.run([str(cli), "definitions", "validate", "-f", "definitions.py"],
                            cwd=folder, capture_output=True, text=True, timeout=300)
    if result.returncode == 0:
        return []
    lines = [line.strip() for line in (result.stderr + result.stdout).splitlines()
             if line.strip()]
    failed = [line for line in lines if "Validation failed" in line or "Error" in line]
    return [f"dagster definitions validate failed: {(failed or lines or ['no output'])[-1]}"]


def dagster(folder: Path) -> dict[str, list[str]]:
    """{file in `folder`: its problems} for every Python file of a code location folder; its
    definitions.py (where there is one) validated by Dagster's own CLI, as a deployment
    loads it."""
    import importlib.util
    import signal

    from dagster import AssetsDefinition

    from workbook import dagster_home

    dagster_home.prepare(Path(os.environ["DAGSTER_HOME"]))
    files = sorted(folder.rglob("*.py"))
    found = {str(p.relative_to(folder)): materializes_at_import(p.read_text()) for p in files}
    sys.path.insert(0, str(folder))  # as `dagster ... -d folder` does: modules import siblings
    signal.signal(signal.SIGALRM, _time_limit)
    for path in files:
        name = str(path.relative_to(folder))
        if found[name]:
            continue  # importing it would start the run
        spec = importlib.util.spec_from_file_location(f"wb_location_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        signal.alarm(IMPORT_TIMEOUT_S)
        try:
            spec.loader.exec_module(module)
        except BaseException as error:  # noqa: BLE001 (SystemExit too: any failure is reported)
            found[name].append(f"does not import: {type(error).__name__}: "
                               f"{(str(error).splitlines() or [''])[0]}")
            continue
        finally:
            signal.alarm(0)
        found[name] += unpaced_sensors(path.read_text())
        for value in vars(module).values():
            if isinstance(value, AssetsDefinition) and _defined_in(value, path):
                found[name] += asset_problems(value, module.__doc__ or "")
    if (folder / "definitions.py").exists() and not found["definitions.py"]:
        found["definitions.py"] += validate_definitions(folder)
    return found


def report(kind: str, folder: Path, home: Path, python: Path) -> dict[str, list[str]]:
    """The suite `kind` over `folder`, run by `python` (the environment to judge: the learner's
    venv, or one built as an image builds its own), with the orchestrator's state in `home`."""
    import os
    import subprocess

    from workbook import paths

    result = subprocess.run(
        [str(python), "-m", "workbook.integrity", kind, str(folder)], capture_output=True,
        text=True, cwd=paths.ROOT, env={**os.environ, **ENVIRONS[kind](folder, home)})
    if result.returncode != 0:
        raise RuntimeError(f"the {kind} integrity suite failed to run:\n{result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def _airflow_environ(folder: Path, home: Path) -> dict[str, str]:
    from workbook import airflow_home

    return airflow_home.environ(folder, home)


def _prefect_environ(folder: Path, home: Path) -> dict[str, str]:
    from workbook import prefect_home

    return {**prefect_home.environ(home),
            # No server: a flow run or an API call at import time fails at once, and is
            # reported as an import error, instead of starting a temporary server and running.
            "PREFECT_API_URL": "", "PREFECT_SERVER_ALLOW_EPHEMERAL_MODE": "false",
            # Retries are judged from the files alone, not from a default set elsewhere.
            "PREFECT_FLOWS_DEFAULT_RETRIES": "0", "PREFECT_TASKS_DEFAULT_RETRIES": "0"}


def _dagster_environ(folder: Path, home: Path) -> dict[str, str]:
    from workbook import dagster_home

    return dagster_home.environ(home)


SUITES = {"airflow": airflow, "prefect": prefect, "dagster": dagster}
# The variables each orchestrator reads before its first import (its home, its dags folder).
ENVIRONS = {"airflow": _airflow_environ, "prefect": _prefect_environ,
            "dagster": _dagster_environ}


def main(argv: list[str]) -> int:
    kind, folder = argv
    print(json.dumps(SUITES[kind](Path(folder).resolve())))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
