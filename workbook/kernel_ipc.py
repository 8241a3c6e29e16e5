"""Course kernels reach Jupyter over IPC: Unix sockets beside the kernel's connection file in
the project's runtime folder, not TCP ports on 127.0.0.1.

On a shared workshop machine no other user can connect to a learner's kernel, and ipykernel
no longer warns "Kernel is running over TCP without encryption" at every start, in `make lab`'s
terminal and in `make run`'s output. jupyter_client names the sockets `<connection file
without .json>-ipc-<n>` (ConnectionFileMixin._ip_default), so a kernel manager needs a
connection file before it starts: JupyterLab's has one (`<runtime>/kernel-<id>.json`); a
notebook run gets one from `run_config`.

A socket's path must fit in `sun_path` (108 bytes on Linux, 104 on macOS). A project checked
out deep enough to exceed it keeps TCP (and the warning) rather than kernels that cannot start.
"""

import uuid
from pathlib import Path

SOCKET_PATH_MAX = 100  # below both systems' limits, with room for a two-digit socket number


def connection_file(runtime: Path) -> Path:
    """A new kernel's connection file, named as Jupyter's server names its kernels' files."""
    return runtime / f"kernel-{uuid.uuid4()}.json"


def fits(runtime: Path) -> bool:
    """Whether the sockets of a kernel whose connection file is in `runtime` fit `sun_path`."""
    longest = f"{connection_file(runtime).with_suffix('')}-ipc-99"
    return len(longest.encode()) <= SOCKET_PATH_MAX


def lab_options(runtime: Path) -> list[str]:
    """JupyterLab's command-line options: every kernel it starts uses IPC (when it fits)."""
    return ["--KernelManager.transport=ipc"] if fits(runtime) else []


def run_config(runtime: Path) -> dict:
    """Configuration of a notebook run's kernel manager (nbclient's `config`, through
    papermill): IPC with a connection file in `runtime`. Without one, jupyter_client would put
    the sockets in the kernel's working folder (the notebook's) and the connection file in /tmp."""
    if not fits(runtime):
        return {}
    return {"KernelManager": {"transport": "ipc", "connection_file": str(connection_file(runtime))}}
