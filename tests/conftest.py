"""Shared fixtures: the project's Jupyter state, scratch workspaces and the lesson script."""

import os
import shutil
from pathlib import Path

import pytest

# Services the tests start (and the notebooks they run) keep their state here, apart from the
# learner's own: set before workbook.services is imported, and inherited by every subprocess.
SERVICES_DIR = Path(os.environ.setdefault(
    "WORKBOOK_SERVICES_DIR", str(Path(os.environ.get("TMPDIR", "/tmp")) /
                                 f"workbook-test-services-{os.getpid()}")))

from workbook import lesson, paths, runner, services  # noqa: E402

# The lake pipeline's tests need the prefect environment's packages: `make test` runs them there
# (`python -m workbook pytest prefect tests/lake`), not in this session.
collect_ignore = ["lake"]

paths.apply_jupyter_environ()
BEGINNER = paths.SOLUTIONS / "01_beginner"


@pytest.fixture(scope="session", autouse=True)
def scratch_workspace(tmp_path_factory) -> Path:
    """Notebooks run by the tests write here, never into the learner's workspace/."""
    workspace = tmp_path_factory.mktemp("workspace")
    os.environ[lesson.WORKSPACE_VARIABLE] = str(workspace)
    return workspace


@pytest.fixture(scope="session", autouse=True)
def stop_test_services():
    """Whatever service the test session started is stopped when it ends."""
    yield
    for name in services.NAMES:
        services.stop(name)
    shutil.rmtree(SERVICES_DIR, ignore_errors=True)


@pytest.fixture(scope="session")
def solved_beginner_workspace(tmp_path_factory) -> Path:
    """A workspace where the solution of lesson 03 wrote sales_input.py and sales_report.py."""
    workspace = tmp_path_factory.mktemp("beginner-solved")
    runner.run_notebook(BEGINNER / "03_notebook_to_script.ipynb", {"workspace": str(workspace)},
                        workspace / "03.ipynb")
    return workspace


@pytest.fixture(scope="session")
def beginner_script(solved_beginner_workspace) -> Path:
    return solved_beginner_workspace / "sales_report.py"


@pytest.fixture
def solved_copy(solved_beginner_workspace, tmp_path) -> Path:
    """A private copy of the solved workspace (a test may overwrite or break its files)."""
    copy = tmp_path / "workspace"
    shutil.copytree(solved_beginner_workspace, copy)
    return copy
