"""`make lab`: JupyterLab on 127.0.0.1 (`--ip` in a container), rooted at the repository,
state kept in .workbook/."""

import json
import os
import subprocess
from pathlib import Path

from workbook import course, kernel_ipc, paths

# No news popup (it fetches from the internet) and no update checks: quiet, offline-friendly.
LOOPBACK = "127.0.0.1"
OVERRIDES = {
    "@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False},
}


# nbgrader (in the base environment for `workbook export nbgrader`) turns itself on in every
# JupyterLab: its formgrader and assignment panels are the instructor's, never the learner's.
NBGRADER_SERVER_EXTENSIONS = tuple(f"nbgrader.server_extensions.{name}" for name in (
    "formgrader", "validate_assignment", "assignment_list", "course_list"))
NBGRADER_LAB_EXTENSION = "@jupyter/nbgrader"


def write_settings_overrides() -> None:
    settings = paths.BASE_PREFIX / "share" / "jupyter" / "lab" / "settings"
    settings.mkdir(parents=True, exist_ok=True)
    (settings / "overrides.json").write_text(json.dumps(OVERRIDES, indent=1) + "\n")


def hide_instructor_tools() -> None:
    """nbgrader's lab extension off in the project's Jupyter configuration (what `jupyter
    labextension disable` writes). Its server extensions are turned off on lab_command's line:
    a configuration file cannot, as the environment's own files come first in a venv."""
    labconfig = Path(os.environ["JUPYTER_CONFIG_DIR"]) / "labconfig"
    labconfig.mkdir(parents=True, exist_ok=True)
    (labconfig / "page_config.json").write_text(json.dumps(
        {"disabledExtensions": {NBGRADER_LAB_EXTENSION: True}}, indent=1))


def kernels() -> list[str]:
    """The kernels the launcher offers: the course's, in teaching order. Not ipykernel's own
    `python3` ("Python 3 (ipykernel)", the base environment, where no lesson runs)."""
    return list(dict.fromkeys(track.kernel for track in course.TRACKS))


def lab_command(port: int = 8888, extra: tuple[str, ...] = (), ip: str = LOOPBACK) -> list[str]:
    cmd = [
        str(paths.base_python()), "-m", "jupyterlab",
        f"--ip={ip}", f"--port={port}", "--no-browser",
        f"--ServerApp.root_dir={paths.ROOT}", "--LabApp.default_url=/lab/tree/notebooks",
        *(f"--KernelSpecManager.allowed_kernelspecs={name}" for name in kernels()),
        *(f"--ServerApp.jpserver_extensions={name}=False" for name in NBGRADER_SERVER_EXTENSIONS),
        f"--MappingKernelManager.default_kernel_name={kernels()[0]}",
        *kernel_ipc.lab_options(paths.JUPYTER_RUNTIME),
    ]
    if os.geteuid() == 0:
        cmd.append("--allow-root")  # containers and CI run as root
    return cmd + list(extra)


def main(ip: str = LOOPBACK) -> int:
    """JupyterLab on `ip`: this machine only, by default. The image listens on all of the
    container's interfaces (the published port is what reaches it, and it is bound to the host's
    127.0.0.1: environments/Dockerfile)."""
    paths.apply_jupyter_environ()
    write_settings_overrides()
    hide_instructor_tools()
    print("JupyterLab: open the URL printed below; notebooks/ holds the lessons (Ctrl-C stops).")
    return subprocess.call(lab_command(ip=ip))
