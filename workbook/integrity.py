"""The integrity suite: what every orchestrator file the solutions write must satisfy, as
Astronomer's projects test their DAGs before they ship.

Each file imports with no error; each DAG has tags, documentation (`doc_md`, or its module's
docstring) and retries set in its default arguments, or zero retries with its documentation
saying why. `python -m workbook.integrity airflow FOLDER` runs in the orchestrator's own
environment and prints {file: [problems]} as JSON; the tests judge it (tests/test_integrity.py).
"""

import ast
import json
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


SUITES = {"airflow": airflow}
# The variables each orchestrator reads before its first import (its home, its dags folder).
ENVIRONS = {"airflow": _airflow_environ}


def main(argv: list[str]) -> int:
    kind, folder = argv
    print(json.dumps(SUITES[kind](Path(folder).resolve())))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
