"""The conda route, end to end, without conda: environments outside `.venvs/`, found by name.

No conda exists here (its channels are unreachable), so a uv venv at a temporary prefix stands
in for each conda environment: like `conda env create -f environments/<env>/environment.yml`
it holds the lock's pins and, as the README says, the workbook package. What the tooling sees
of it is what it would see of a conda environment: an interpreter under `<prefix>/bin`, with a
kernel registered into the base prefix by the README's own command, and the Makefile driven
with the variables `conda activate workbook-base` sets (CONDA_DEFAULT_ENV, CONDA_PREFIX, PATH).
`.venvs/` is pointed at a missing folder, so nothing can fall back to the uv route.
"""

import json
import os
import re
import subprocess
from pathlib import Path

import nbformat
import pytest

from workbook import envs, paths
from workbook.grading import samples, sandbox

STANDINS = tuple(paths.env_names())  # base, airflow, beginner: every environment
ORIENTATION = "01_beginner/00_orientation"


def readme_conda_block() -> str:
    readme = (paths.ROOT / "README.md").read_text()
    section = readme[readme.index("**With conda instead of uv**"):]
    return section[section.index("```bash\n") + 8:section.index("```\n", 8)]


def make_standin(prefix: Path, env: str, uv: list[str]) -> Path:
    """A uv venv at `prefix` holding `env`'s lock and the workbook package (what conda env
    create plus the README's `pip install --no-deps -e .` give)."""
    python = prefix / "bin" / "python"
    for step in (["venv", "--quiet", "--python", envs.PYTHON_VERSION, str(prefix)],
                 ["pip", "sync", "--quiet", "--python", str(python),
                  str(paths.ENVIRONMENTS / env / "requirements.txt")],
                 ["pip", "install", "--quiet", "--python", str(python), "--no-deps", "-e",
                  str(paths.ROOT)]):
        subprocess.run([*uv, *step], check=True, capture_output=True)
    return prefix


@pytest.fixture(scope="module")
def conda(tmp_path_factory):
    """{env: prefix} of the stand-ins, and the environment of a shell where workbook-base is
    active; the level kernels registered by the README's command."""
    root = tmp_path_factory.mktemp("conda") / "envs"
    uv = envs.uv_command()
    prefixes = {env: make_standin(root / paths.kernel_name(env), env, uv) for env in STANDINS}
    shell = {k: v for k, v in os.environ.items()
             if not k.startswith(("WORKBOOK_", "JUPYTER", "CONDA_", "VIRTUAL_ENV"))}
    shell.update(CONDA_DEFAULT_ENV="workbook-base", CONDA_PREFIX=str(prefixes["base"]),
                 PATH=f"{prefixes['base'] / 'bin'}:{shell['PATH']}",
                 WORKBOOK_VENVS=str(root / "no-venvs"))
    register = next(line for line in readme_conda_block().splitlines()
                    if "ipykernel install" in line).strip()
    # `conda run -n workbook-$env python` is that environment's interpreter.
    command = register.replace("conda run -n workbook-$env python",
                               f"{root}/workbook-$env/bin/python")
    for env in paths.level_envs():
        subprocess.run(["bash", "-c", f"env={env}; {command}"], env=shell, check=True,
                       capture_output=True)
    return prefixes, shell


def make(target: list[str], shell: dict, cwd: Path = paths.ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "--no-print-directory", "-C", str(paths.ROOT), *target],
                          env=shell, cwd=cwd, capture_output=True, text=True, timeout=900)


def test_readme_conda_route_covers_every_environment():
    """Every environment is created, gets the workbook package and (levels) its kernel."""
    block = readme_conda_block()
    loops = re.findall(r"for env in ([^;\n]+); do[^\n]*\n([^\n]+)\ndone", block)

    def looped(step: str) -> list[set[str]]:
        return [set(names.split()) for names, body in loops if step in body]

    assert "conda env create -f environment.yml" in block
    levels, every = set(paths.level_envs()), set(paths.env_names())
    assert looped("conda env create -f environments/$env/environment.yml") == [levels], loops
    assert looped("pip install --no-deps -e .") == [every], loops
    assert looped("ipykernel install --prefix \"$CONDA_PREFIX\"") == [levels], loops


def test_make_setup_checks_the_kernels_and_builds_nothing(conda):
    prefixes, shell = conda
    result = make(["setup"], shell)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"kernel workbook-beginner runs {prefixes['beginner'] / 'bin' / 'python'}" \
        in result.stdout
    assert not Path(shell["WORKBOOK_VENVS"]).exists()


def test_make_run_uses_the_environment_the_kernel_names(conda, tmp_path):
    prefixes, shell = conda
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "workbook-beginner", "language": "python",
                                 "display_name": "Workbook (beginner)"}
    nb.metadata["language_info"] = {"name": "python"}
    params = nbformat.v4.new_code_cell("seed = 1")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(
        "import sys, workbook, pandas\nprint(sys.prefix, seed, workbook.__file__)")]
    source, executed = tmp_path / "where.ipynb", tmp_path / "where-run.ipynb"
    nbformat.write(nb, source)
    result = make(["run", f"NB={source}", "PARAMS=seed=7"], shell)
    assert result.returncode == 0, result.stdout + result.stderr
    ran = next(Path(p) for p in re.findall(r"-> (\S+\.ipynb)", result.stdout))
    ran.rename(executed)
    printed = nbformat.read(executed, as_version=4).cells[-1].outputs[0]["text"]
    assert printed.split()[:2] == [str(prefixes["beginner"]), "7"], printed
    assert printed.split()[2].startswith(str(paths.ROOT / "workbook")), printed


def test_make_grade_sandboxes_the_conda_environments(conda, tmp_path):
    """A correct submission scores in full, graded by the base stand-in in the sandbox (as
    root), its kernels run by the beginner stand-in outside .venvs/."""
    _, shell = conda
    submission = tmp_path / "mine.ipynb"
    nbformat.write(samples.correct(ORIENTATION), submission)
    out = tmp_path / "grades"
    result = make(["grade", f"NB={submission}", f"OUT={out}"], shell)
    report = json.loads(next(out.rglob("*.json")).read_text())
    assert result.returncode == 0 and report["graded"], (result.stdout + result.stderr,
                                                         report["errors"])
    assert report["score"] == report["max_score"] > 0, report["exercises"]
    if os.geteuid() == 0:
        assert not report["warnings"], report["warnings"]  # the sandbox was used


def test_sandbox_shows_the_environments_of_its_interpreters(conda):
    prefixes, _ = conda
    shown = sandbox.visible_paths([str(prefixes[env] / "bin" / "python") for env in STANDINS])
    assert {prefixes[env].resolve() for env in STANDINS} <= set(shown)
    assert paths.ROOT.resolve() not in shown and paths.SOLUTIONS.resolve() not in shown


def test_sandbox_refuses_an_environment_that_holds_the_repository(tmp_path):
    """A Python whose prefix is above the repository (a venv made in the home folder that holds
    the checkout) would show solutions/ to learners: grading refuses it."""
    python = tmp_path / "python"  # an interpreter that reports the repository's parent
    python.write_text(f"#!/bin/sh\necho '{paths.ROOT.parent}'\necho /usr\n")
    python.chmod(0o755)
    with pytest.raises(ValueError, match="whole repository"):
        sandbox.visible_paths([str(python)])


def test_setup_names_a_missing_kernel(monkeypatch, tmp_path):
    monkeypatch.setattr(paths, "BASE_PREFIX", tmp_path / "workbook-base")
    assert paths.base_is_external()
    with pytest.raises(envs.SetupError, match=r"kernel workbook-beginner not found.*"
                                              r"ipykernel install --prefix"):
        envs.setup(["beginner"])
