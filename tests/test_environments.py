"""Offline checks of every environment: its lock and its conda file agree.

No conda is needed: environment.yml must be exactly what `python -m workbook envfiles` renders
from the lock. The one Dockerfile, which builds every environment, has tests/test_docker.py.
"""

import importlib.util
import re
import shutil
from pathlib import Path

import pytest
import yaml
from packaging.markers import Marker

from workbook import envfiles, envs, paths

ENVS = paths.env_names()
FILES = ["requirements.in", "requirements.txt", "environment.yml"]


def normalize(name: str) -> str:
    """PEP 503 normalized project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_lines(env: str) -> list[str]:
    """The non-comment lines of an environment's requirements.in."""
    text = (paths.ENVIRONMENTS / env / "requirements.in").read_text()
    return [
        line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")
    ]


def test_environments_exist():
    assert paths.BASE_ENV in ENVS and len(ENVS) >= 2, ENVS


@pytest.mark.parametrize("env", ENVS)
def test_environment_has_all_files(env):
    missing = [name for name in FILES if not (paths.ENVIRONMENTS / env / name).is_file()]
    assert not missing, f"environments/{env}/ lacks {missing}"


@pytest.mark.parametrize("env", ENVS)
def test_environment_yml_is_rendered_from_lock(env):
    path = paths.ENVIRONMENTS / env / "environment.yml"
    text = path.read_text()
    data = yaml.safe_load(text)
    assert data["name"] == paths.kernel_name(env)
    assert data["channels"] == ["conda-forge"]
    assert f"python={envs.PYTHON_VERSION}" in data["dependencies"]
    assert text == envfiles.render(env), (
        f"{path.relative_to(paths.ROOT)} is out of date: run `python -m workbook envfiles`"
    )


def conda_pip_list(env: str) -> list[str]:
    data = yaml.safe_load((paths.ENVIRONMENTS / env / "environment.yml").read_text())
    return next(d["pip"] for d in data["dependencies"] if isinstance(d, dict))


@pytest.mark.parametrize("subdir", envfiles.PLATFORMS)
@pytest.mark.parametrize("env", ENVS)
def test_conda_pins_equal_lock_pins_on_every_platform(env, subdir):
    """What pip installs from the conda file's pip list on each conda platform (bare pins, and
    the pins whose marker holds there) is exactly what the lock pins for that platform."""
    target = envfiles.PLATFORMS[subdir]
    installed = [pin for pin, marker in (entry.partition(" ; ")[::2]
                                         for entry in conda_pip_list(env))
                 if not marker or Marker(marker).evaluate(target)]
    assert installed == envfiles.pins(envfiles.lock_path(env).read_text(), target)
    names = [normalize(p.split("==")[0]) for p in installed]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("env", ENVS)
def test_conda_pip_list_is_pins_with_markers_only_where_platform_only(env):
    pip = conda_pip_list(env)
    for entry in pip:
        pin, _, marker = entry.partition(" ; ")
        assert re.fullmatch(r"[A-Za-z0-9._\[\],-]+==[^=\s;]+", pin), entry
        if marker:
            holds = [Marker(marker).evaluate(t) for t in envfiles.PLATFORMS.values()]
            assert any(holds) and not all(holds), f"{entry}: not platform-only"
    # macOS's appnope is in every lock (through ipykernel), only for macOS
    assert 'appnope==1.0.0 ; sys_platform == "darwin"' in pip


@pytest.mark.parametrize("env", ENVS)
def test_conda_file_keeps_the_requirements_comments(env):
    """Each direct requirement's line says where it is used, as requirements.in does."""
    lines = (paths.ENVIRONMENTS / env / "environment.yml").read_text().splitlines()
    for line in requirement_lines(env):
        spec, comment = (part.strip() for part in line.split("#", 1))
        name = normalize(re.match(r"[A-Za-z0-9._-]+", spec).group())
        found = [item for item in lines if re.match(r"\s+- ([A-Za-z0-9._-]+)==", item)
                 and normalize(re.match(r"\s+- ([A-Za-z0-9._-]+)==", item).group(1)) == name]
        assert len(found) == 1 and found[0].endswith(f"  # {comment}"), (name, found)


def test_conda_files_use_no_selectors():
    """`conda env create` ignores `# [osx]` selectors (only conda-build reads them): a pin
    marked so would be installed everywhere. Platform-only pins carry PEP 508 markers."""
    for path in [paths.ROOT / "environment.yml", *paths.ENVIRONMENTS.glob("*/environment.yml")]:
        assert not re.search(r"#\s*\[", path.read_text()), path


@pytest.mark.parametrize("env", ENVS)
def test_lock_is_compiled_for_the_course_python(env):
    """The Python version is defined once (envs.PYTHON_VERSION); each lock's header says it."""
    header = envfiles.lock_path(env).read_text().split("\n", 3)[1]
    found = re.search(r"--python-version (\S+)", header)
    assert found and found.group(1) == envs.PYTHON_VERSION, header


def test_top_level_environment_yml_is_base():
    top = (paths.ROOT / "environment.yml").read_text()
    assert top == (paths.ENVIRONMENTS / paths.BASE_ENV / "environment.yml").read_text()


def test_envfiles_check_is_clean():
    assert envfiles.main(check=True) == 0


@pytest.mark.parametrize("env", ENVS)
def test_every_requirement_is_locked(env):
    lock = envfiles.lock_path(env).read_text()
    locked = {normalize(m) for m in re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*)", lock, re.M)}
    wanted = {
        normalize(re.match(r"[A-Za-z0-9._-]+", line).group()) for line in requirement_lines(env)
    }
    assert wanted <= locked, f"not in environments/{env}/requirements.txt: {wanted - locked}"


@pytest.mark.parametrize("env", ENVS)
def test_every_requirement_says_where_it_is_used(env):
    bare = [line for line in requirement_lines(env) if not re.search(r"\s#\s*\S", line)]
    assert not bare, f"environments/{env}/requirements.in: add a comment saying where: {bare}"


LOCK = """\
# a tiny lock
alpha==1.0
    # via -r requirements.in
beta==2.0 ; python_full_version < '3.12'
beta==2.1 ; python_full_version >= '3.12'
gamma==3.0 ; sys_platform == 'win32'
delta==4.0 ; implementation_name == 'pypy'
epsilon==5.0 ; os_name != 'nt' or sys_platform != 'win32'
"""


def test_pins_keep_only_python311_linux():
    assert envfiles.pins(LOCK) == ["alpha==1.0", "beta==2.0", "epsilon==5.0"]


def test_conda_pins_keep_platform_only_pins_with_their_marker():
    assert envfiles.conda_pins(LOCK) == [
        "alpha==1.0", "beta==2.0", 'gamma==3.0 ; sys_platform == "win32"',
        'epsilon==5.0 ; os_name != "nt" or sys_platform != "win32"']
    assert envfiles.pins(LOCK, envfiles.PLATFORMS["win-64"]) == ["alpha==1.0", "beta==2.0",
                                                                 "gamma==3.0"]


def test_conda_pins_reject_a_name_pinned_twice_on_one_platform():
    twice_on_macos = "alpha==1.0\nalpha==1.1 ; sys_platform != 'linux'\n"
    assert envfiles.pins(twice_on_macos) == ["alpha==1.0"]  # fine on Linux
    with pytest.raises(ValueError, match="twice .* on darwin"):
        envfiles.conda_pins(twice_on_macos)


def test_pins_reject_loose_and_ambiguous_locks():
    with pytest.raises(ValueError, match="exact pin"):
        envfiles.pins("alpha>=1.0\n")
    with pytest.raises(ValueError, match="twice"):
        envfiles.pins("alpha==1.0\nAlpha==1.1 ; python_version == '3.11'\n")


def test_tampered_lock_changes_render_and_fails_check(tmp_path, monkeypatch, capsys):
    envs = tmp_path / "environments"
    shutil.copytree(paths.ENVIRONMENTS, envs)
    shutil.copy(paths.ROOT / "environment.yml", tmp_path / "environment.yml")
    monkeypatch.setattr(paths, "ENVIRONMENTS", envs)
    monkeypatch.setattr(paths, "ROOT", tmp_path)
    envfiles.main(check=False)
    assert envfiles.main(check=True) == 0

    lock = envs / "beginner" / "requirements.txt"
    text, count = re.subn(r"^pandas==\S+", "pandas==0.0.1", lock.read_text(), flags=re.M)
    assert count == 1
    lock.write_text(text)
    assert "      - pandas==0.0.1  # extract/transform lessons" in envfiles.render("beginner")
    assert envfiles.main(check=True) == 1
    assert "environments/beginner/environment.yml" in capsys.readouterr().err

    assert envfiles.main(check=False) == 0
    assert "pandas==0.0.1" in (envs / "beginner" / "environment.yml").read_text()
    assert envfiles.main(check=True) == 0

    wanted = envs / "beginner" / "requirements.in"
    wanted.write_text(wanted.read_text().replace("# charts of revenue", "# plots of revenue"))
    assert envfiles.main(check=True) == 1
    assert "matplotlib==3.11.2  # plots of revenue per category" in envfiles.render("beginner")


@pytest.mark.parametrize("env", ENVS)
def test_the_environment_is_installed_with_its_bytecode(env):
    """`make setup` compiles what it installs (envs.sync_options): without it, where bytecode is
    not written (PYTHONDONTWRITEBYTECODE, the grader's read-only sandbox), every process
    compiles each module it imports, about 3 s of CPU for pandas and an orchestrator. A few
    files may not compile on this Python (modules for another version); not more."""
    if paths.base_is_external():
        pytest.skip("a conda environment: conda installs its own bytecode")
    site = next((paths.VENVS / env / "lib").glob("python*/site-packages"))
    sources = list(site.rglob("*.py"))
    uncompiled = [p for p in sources if not Path(importlib.util.cache_from_source(p)).exists()]
    assert sources and len(uncompiled) <= len(sources) // 1000, (
        f"{len(uncompiled)} of {len(sources)} modules of {env} have no bytecode, e.g. "
        f"{uncompiled[:3]}: run `make setup`")


# What the lake pipeline (workbook.lake, workbook.sensors) imports, with what they import.
LAKE_STACK = ("pandas", "numpy", "pyarrow", "deltalake", "boto3", "botocore", "s3transfer",
              "pandera", "pydantic", "pydantic-core")


def test_the_orchestrator_environments_lock_one_lake_stack():
    """The lake pipeline's own tests run once, in the prefect environment (Makefile,
    test-lake); the dagster session runs only Dagster's. That stands for both because both
    environments lock the pipeline's libraries to the same versions: a lock that moves one of
    them alone fails here, and then the pipeline's tests must run in both again."""
    def stack(env: str) -> dict[str, str]:
        locked = dict(pin.split("==") for pin in envfiles.pins(envfiles.lock_path(env).read_text()))
        return {normalize(name): version for name, version in locked.items()
                if normalize(name) in LAKE_STACK}

    prefect, dagster = stack("prefect"), stack("dagster")
    assert set(prefect) == set(LAKE_STACK), f"not locked: {set(LAKE_STACK) - set(prefect)}"
    assert prefect == dagster, {name: (prefect[name], dagster.get(name)) for name in prefect
                                if prefect[name] != dagster.get(name)}
