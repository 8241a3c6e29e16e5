"""Where things live in the repository, and the environment Jupyter tools run with."""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENVIRONMENTS = ROOT / "environments"
# Overridable so benchmarks can time a cold set-up without touching the learner's environments.
VENVS = Path(os.environ.get("WORKBOOK_VENVS", ROOT / ".venvs"))
STATE = ROOT / ".workbook"
SOLUTIONS = ROOT / "solutions"
NOTEBOOKS = ROOT / "notebooks"
WORKSPACE = ROOT / "workspace"
RUNS = ROOT / "runs"
DATASETS = ROOT / "datasets"
SALES_SAMPLE = DATASETS / "sample" / "sales"

BASE_ENV = "base"
KERNEL_PREFIX = "workbook-"


def env_names() -> list[str]:
    """Every environment with a lock file, base first."""
    names = sorted(p.parent.name for p in ENVIRONMENTS.glob("*/requirements.txt"))
    return sorted(names, key=lambda n: n != BASE_ENV)


def level_envs() -> list[str]:
    """Environments that provide a notebook kernel (all but base)."""
    return [n for n in env_names() if n != BASE_ENV]


def venv_python(env: str) -> Path:
    return VENVS / env / "bin" / "python"


def kernel_name(env: str) -> str:
    return f"{KERNEL_PREFIX}{env}"


def kernels_dir() -> Path:
    """Kernels go into the base env's share/jupyter, where Jupyter finds them with no variables."""
    return VENVS / BASE_ENV / "share" / "jupyter" / "kernels"


def jupyter_environ(base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for Jupyter tools: all their state stays inside the project's .workbook/."""
    env = dict(os.environ if base is None else base)
    state = STATE / "jupyter"
    env.update(
        JUPYTER_DATA_DIR=str(state / "data"),
        JUPYTER_RUNTIME_DIR=str(state / "runtime"),
        JUPYTER_CONFIG_DIR=str(state / "config"),
        IPYTHONDIR=str(state / "ipython"),
        MPLCONFIGDIR=str(state / "matplotlib"),
        JUPYTER_PLATFORM_DIRS="1",
        PYDEVD_DISABLE_FILE_VALIDATION="1",
    )
    # The base env's bin first, so `jupyter` subcommands resolve to the project's own.
    base_bin = str(VENVS / BASE_ENV / "bin")
    env["PATH"] = os.pathsep.join([base_bin, env.get("PATH", "")])
    return env


def apply_jupyter_environ() -> None:
    """Set the project's Jupyter variables in this process (used by tests and the CLI)."""
    os.environ.update(jupyter_environ())
    for key in ("JUPYTER_RUNTIME_DIR", "IPYTHONDIR", "MPLCONFIGDIR"):
        Path(os.environ[key]).mkdir(parents=True, exist_ok=True)

