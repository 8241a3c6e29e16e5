"""Where things live in the repository, and the environment Jupyter tools run with.

Environments are found by name, so the course runs the same on uv's `.venvs/` and on conda:
the base environment is `.venvs/base` unless WORKBOOK_BASE_PREFIX names another prefix (the
Makefile sets it to an active conda environment named workbook-base), and a level's interpreter
is the one its kernel `workbook-<level>` names, wherever Jupyter finds that kernel.
"""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENVIRONMENTS = ROOT / "environments"
# Overridable so benchmarks can time a cold set-up without touching the learner's environments.
VENVS = Path(os.environ.get("WORKBOOK_VENVS", ROOT / ".venvs"))
STATE = ROOT / ".workbook"
JUPYTER_RUNTIME = STATE / "jupyter" / "runtime"  # connection files and kernels' IPC sockets
SOLUTIONS = ROOT / "solutions"
NOTEBOOKS = ROOT / "notebooks"
WORKSPACE = ROOT / "workspace"
RUNS = ROOT / "runs"
DATASETS = ROOT / "datasets"
SALES_SAMPLE = DATASETS / "sample" / "sales"
SENSORS_SAMPLE = DATASETS / "sample" / "sensors"

BASE_ENV = "base"
KERNEL_PREFIX = "workbook-"
BASE_PREFIX_VARIABLE = "WORKBOOK_BASE_PREFIX"
BASE_PREFIX = Path(os.environ.get(BASE_PREFIX_VARIABLE) or VENVS / BASE_ENV)


def env_names() -> list[str]:
    """Every environment with a lock file, base first."""
    names = sorted(p.parent.name for p in ENVIRONMENTS.glob("*/requirements.txt"))
    return sorted(names, key=lambda n: n != BASE_ENV)


def level_envs() -> list[str]:
    """Environments that provide a notebook kernel (all but base)."""
    return [n for n in env_names() if n != BASE_ENV]


def venv_python(env: str) -> Path:
    """Where `make setup` puts an environment's interpreter (the uv route)."""
    return VENVS / env / "bin" / "python"


def base_is_external() -> bool:
    """True when the base environment is not uv's `.venvs/base` (a conda environment)."""
    return BASE_PREFIX.absolute() != (VENVS / BASE_ENV).absolute()


def base_python() -> Path:
    return BASE_PREFIX / "bin" / "python"


def kernel_search_path() -> list[Path]:
    """Where Jupyter tools run with `jupyter_environ` look for kernels, in Jupyter's order."""
    from jupyter_core.paths import SYSTEM_JUPYTER_PATH

    env = jupyter_environ()
    folders = [env["JUPYTER_DATA_DIR"], *env["JUPYTER_PATH"].split(os.pathsep),
               *SYSTEM_JUPYTER_PATH]
    return [Path(folder) / "kernels" for folder in folders]


def kernel_python(env: str) -> Path | None:
    """The interpreter the kernel `workbook-<env>` runs, as papermill, nbval and JupyterLab
    find that kernel; None without such a kernel."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    manager = KernelSpecManager(kernel_dirs=[str(p) for p in kernel_search_path()])
    try:
        return Path(manager.get_kernel_spec(kernel_name(env)).argv[0])
    except NoSuchKernel:
        return None


def env_python(env: str) -> Path:
    """An environment's interpreter, found by name: the base's is BASE_PREFIX's, a level's the
    one its kernel runs. Without Jupyter (set-up runs before any environment exists) or without
    the kernel, the uv route's `.venvs/<env>`."""
    if env == BASE_ENV:
        return base_python()
    try:
        found = kernel_python(env)
    except ImportError:
        found = None
    return found or venv_python(env)


def kernel_name(env: str) -> str:
    return f"{KERNEL_PREFIX}{env}"


def kernels_dir() -> Path:
    """Kernels go into the base env's share/jupyter, where Jupyter finds them with no variables."""
    return BASE_PREFIX / "share" / "jupyter" / "kernels"


def jupyter_environ(base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for Jupyter tools: all their state stays inside the project's .workbook/,
    and so do Prefect's and Dagster's in their kernels (their homes; Prefect's API is set by
    `prefect_home.activate`, as the server's port is known only once it runs)."""
    from workbook import dagster_home, prefect_home

    env = dict(os.environ if base is None else base)
    env.update(prefect_home.environ())
    env.update(dagster_home.environ())
    state = STATE / "jupyter"
    env.update(
        JUPYTER_DATA_DIR=str(state / "data"),
        JUPYTER_RUNTIME_DIR=str(JUPYTER_RUNTIME),
        JUPYTER_CONFIG_DIR=str(state / "config"),
        IPYTHONDIR=str(state / "ipython"),
        MPLCONFIGDIR=str(state / "matplotlib"),
        JUPYTER_PATH=str(BASE_PREFIX / "share" / "jupyter"),  # the kernels, from any env
        JUPYTER_PLATFORM_DIRS="1",
        PYDEVD_DISABLE_FILE_VALIDATION="1",
    )
    if base_is_external():  # a conda base: children find it too (uv's follows WORKBOOK_VENVS)
        env[BASE_PREFIX_VARIABLE] = str(BASE_PREFIX)
    # The base env's bin first, so `jupyter` subcommands resolve to the project's own.
    env["PATH"] = os.pathsep.join([str(BASE_PREFIX / "bin"), env.get("PATH", "")])
    return env


def apply_jupyter_environ() -> None:
    """Set the project's Jupyter variables in this process (used by tests and the CLI)."""
    os.environ.update(jupyter_environ())
    for key in ("JUPYTER_RUNTIME_DIR", "IPYTHONDIR", "MPLCONFIGDIR"):
        Path(os.environ[key]).mkdir(parents=True, exist_ok=True)

