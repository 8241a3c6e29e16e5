"""Create the uv environments from their locks and register their kernels (standard library only).

Idempotent: an environment is synced only when its lock changed,
which a stamp file inside the venv records; a warm `make setup` does no installs at all.
"""

import hashlib
import json
import os
import shutil
import site
import subprocess
import sys
from pathlib import Path

from workbook import paths

STAMP = ".workbook-lock.sha256"
# The course's Python, defined here only: uv venvs, the locks' --python-version, the conda
# files (envfiles) and the learners' workflow (tests check that those agree).
PYTHON_VERSION = "3.11"


class SetupError(RuntimeError):
    """A step of the setup failed; the message says which and how to fix it."""


def find_uv() -> list[str] | None:
    """The uv command if installed: on PATH, in the user's scripts folder, or as a module."""
    user_uv = Path(site.USER_BASE) / "bin" / "uv"
    if found := shutil.which("uv") or (str(user_uv) if user_uv.exists() else None):
        return [found]
    probe = subprocess.run([sys.executable, "-m", "uv", "--version"], capture_output=True)
    return [sys.executable, "-m", "uv"] if probe.returncode == 0 else None


def uv_command() -> list[str]:
    """The uv command, installing uv for the user from PyPI when it is missing."""
    if found := find_uv():
        return found
    print("uv is missing: installing it for this user from PyPI (pip install --user uv)")
    install = subprocess.run([sys.executable, "-m", "pip", "install", "--user", "--quiet", "uv"])
    if install.returncode != 0 or not (found := find_uv()):
        raise SetupError("could not install uv: run `python3 -m pip install --user uv`")
    return found


BYTECODE_VARIABLE = "WORKBOOK_BYTECODE"


def sync_options() -> tuple[str, ...]:
    """uv installs no bytecode by default, and where PYTHONDONTWRITEBYTECODE is set (this
    machine's CI) or bytecode cannot be written (the grader's read-only sandbox), every process
    then compiles each module it imports: 5.6 s of CPU to import Airflow's SDK and pandas, 2.5 s
    compiled. WORKBOOK_BYTECODE=0 leaves it out, for scratch environments that are only looked
    at (tests/test_docker.py), where compiling 20,000 files is most of the cost."""
    return () if os.environ.get(BYTECODE_VARIABLE) == "0" else ("--compile-bytecode",)


def lock_digest(env: str) -> str:
    """What an environment's contents depend on: its lock and how it is installed (the
    workbook package is editable); an environment built without bytecode is compiled once."""
    lock = (paths.ENVIRONMENTS / env / "requirements.txt").read_bytes()
    return hashlib.sha256(lock + " ".join(sync_options()).encode()).hexdigest()


def is_current(env: str) -> bool:
    stamp = paths.VENVS / env / STAMP
    python = paths.venv_python(env)
    return python.exists() and stamp.exists() and stamp.read_text().strip() == lock_digest(env)


def _run(cmd: list[str], what: str) -> None:
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        print(result.stdout + result.stderr, file=sys.stderr)
        raise SetupError(f"{what} failed (exit {result.returncode}): {' '.join(map(str, cmd))}")


def sync_env(env: str, uv: list[str]) -> None:
    """Make .venvs/<env> exactly its lock, plus the workbook package in editable mode."""
    venv = paths.VENVS / env
    python = str(paths.venv_python(env))
    if not paths.venv_python(env).exists():
        _run([*uv, "venv", "--quiet", "--python", PYTHON_VERSION, str(venv)], f"creating {env}")
    lock = str(paths.ENVIRONMENTS / env / "requirements.txt")
    _run([*uv, "pip", "sync", "--quiet", *sync_options(), "--python", python, lock],
         f"installing {env}")
    _run(
        [*uv, "pip", "install", "--quiet", "--python", python, "--no-deps", "-e", str(paths.ROOT)],
        f"installing the workbook package into {env}",
    )
    (venv / STAMP).write_text(lock_digest(env) + "\n")


def kernel_spec_path(env: str) -> Path:
    return paths.kernels_dir() / paths.kernel_name(env) / "kernel.json"


def kernel_is_registered(env: str) -> bool:
    """Registered and pointing at this checkout's venv (kernel.json holds an absolute path)."""
    spec = kernel_spec_path(env)
    if not spec.exists():
        return False
    argv = json.loads(spec.read_text()).get("argv", [])
    return bool(argv) and Path(argv[0]) == paths.venv_python(env)


def register_kernel(env: str) -> None:
    _run(
        [
            str(paths.venv_python(env)), "-m", "ipykernel", "install", "--prefix",
            str(paths.VENVS / paths.BASE_ENV), "--name", paths.kernel_name(env),
            "--display-name", f"Workbook ({env})",
        ],
        f"registering kernel {paths.kernel_name(env)}",
    )


def check_kernels(envs: list[str]) -> None:
    """The conda route (an external base, see `paths`): conda made the environments, so check
    only that each level's kernel is found by name and its interpreter exists."""
    for env in envs:
        if env == paths.BASE_ENV:
            continue
        python = paths.kernel_python(env)
        if python is None or not python.exists():
            raise SetupError(
                f"kernel {paths.kernel_name(env)} not found"
                f"{f' (its interpreter {python} is gone)' if python else ''} for the base "
                f"environment {paths.BASE_PREFIX}: create it and register its kernel as the "
                f"README says (With conda), e.g. `conda env create -f environments/{env}/"
                f"environment.yml`, then `conda run -n {paths.kernel_name(env)} python -m "
                f"ipykernel install --prefix \"$CONDA_PREFIX\" --name {paths.kernel_name(env)}`")
        print(f"  {env}: kernel {paths.kernel_name(env)} runs {python}")


def setup(envs: list[str] | None = None) -> None:
    """Bring every (or the named) environment up to date; quick when nothing changed. With an
    external (conda) base, only check that the kernels are found."""
    envs = envs or paths.env_names()
    unknown = sorted(set(envs) - set(paths.env_names()))
    if unknown:
        raise SetupError(f"unknown environment(s) {unknown}; known: {paths.env_names()}")
    if paths.base_is_external():
        check_kernels(envs)
        return
    if paths.BASE_ENV not in envs:
        envs = [paths.BASE_ENV, *envs]  # kernels are registered into base
    uv = None
    for env in envs:
        if is_current(env):
            print(f"  {env}: up to date")
            continue
        uv = uv or uv_command()
        print(f"  {env}: installing from environments/{env}/requirements.txt")
        sync_env(env, uv)
    for env in envs:
        if env != paths.BASE_ENV and not kernel_is_registered(env):
            register_kernel(env)
            print(f"  {env}: kernel {paths.kernel_name(env)} registered")
