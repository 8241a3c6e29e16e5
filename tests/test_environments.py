"""Offline checks of every environment: its lock and its conda file agree.

No conda is needed: environment.yml must be exactly what `python -m workbook envfiles` renders
from the lock. The one Dockerfile, which builds every environment, has tests/test_docker.py.
"""

import re
import shutil

import pytest
import yaml

from workbook import envfiles, paths

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
    assert f"python={envfiles.PYTHON}" in data["dependencies"]
    assert text == envfiles.render(env), (
        f"{path.relative_to(paths.ROOT)} is out of date: run `python -m workbook envfiles`"
    )


@pytest.mark.parametrize("env", ENVS)
def test_conda_pins_equal_lock_pins(env):
    """Parsed from YAML, the pip list is the lock's pins for 3.11/Linux, each name once."""
    data = yaml.safe_load((paths.ENVIRONMENTS / env / "environment.yml").read_text())
    pip = next(d["pip"] for d in data["dependencies"] if isinstance(d, dict))
    assert pip == envfiles.pins(envfiles.lock_path(env).read_text())
    names = [normalize(p.split("==")[0]) for p in pip]
    assert len(names) == len(set(names))
    assert all(re.fullmatch(r"[A-Za-z0-9._\[\],-]+==[^=\s;]+", p) for p in pip), pip


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
    assert "      - pandas==0.0.1\n" in envfiles.render("beginner")
    assert envfiles.main(check=True) == 1
    assert "environments/beginner/environment.yml" in capsys.readouterr().err

    assert envfiles.main(check=False) == 0
    assert "pandas==0.0.1" in (envs / "beginner" / "environment.yml").read_text()
    assert envfiles.main(check=True) == 0
