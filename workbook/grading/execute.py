"""Runs inside the sandbox: execute the assembled notebook with a confined kernel.

`python -m workbook.grading.execute SPEC.json`. This process (root in the sandbox) is the
notebook client; only the kernel runs the learner's code, as the grader user. The executed
notebook is written here, where the kernel cannot write.
"""

import json
import os
import sys
from pathlib import Path

import nbformat
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError

KERNEL_NAME = "workbook-grade"


class ConfinedKernelManager(AsyncKernelManager):
    """Hands the connection file to the grader user (it is written 0600 by this root process)."""

    owner: tuple[int, int] | None = None

    def write_connection_file(self, **kwargs):
        super().write_connection_file(**kwargs)
        if self.owner:
            os.chown(self.connection_file, *self.owner)


def write_kernelspec(folder: Path, argv: list[str], env: dict[str, str]) -> None:
    spec = folder / "kernels" / KERNEL_NAME
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(json.dumps(
        {"argv": argv, "env": env, "display_name": "Workbook (grading)", "language": "python"}))


def kernel_environment(work: Path) -> dict[str, str]:
    """Only the kernel gets these (through its kernelspec, not this root process, which must
    create nothing in the kernel's folders): all it writes stays in its work folder."""
    state = work / ".state"
    return {"HOME": str(work), "TMPDIR": str(state / "tmp"),
            "WORKBOOK_WORKSPACE": str(work / "workspace"), "IPYTHONDIR": str(state / "ipy"),
            "WORKBOOK_SERVICES_DIR": str(state / "services"),  # its own services, in its sandbox
            "MPLCONFIGDIR": str(state / "mpl"), "JUPYTER_DATA_DIR": str(state / "data"),
            "JUPYTER_CONFIG_DIR": str(state / "config"), "PYTHONDONTWRITEBYTECODE": "1"}


def main(spec_path: str) -> int:
    spec = json.loads(Path(spec_path).read_text())
    private, work = Path(spec["private"]), Path(spec["work"])
    kernel_env = kernel_environment(work)
    write_kernelspec(private / "jupyter", spec["kernel_argv"], kernel_env)
    runtime = work / ".state" / "runtime"
    os.environ.update(JUPYTER_PATH=str(private / "jupyter"), JUPYTER_RUNTIME_DIR=str(runtime))
    for folder in (runtime, Path(kernel_env["TMPDIR"])):
        folder.mkdir(parents=True, exist_ok=True)
    if spec.get("owner"):
        ConfinedKernelManager.owner = tuple(spec["owner"])
        for folder in (work / ".state", runtime, Path(kernel_env["TMPDIR"])):
            os.chown(folder, *spec["owner"])
    nb = nbformat.read(private / "assembled.ipynb", as_version=4)
    client = NotebookClient(
        nb, kernel_name=KERNEL_NAME, timeout=spec["cell_timeout_s"], allow_errors=True,
        interrupt_on_timeout=True, kernel_manager_class=ConfinedKernelManager,
        resources={"metadata": {"path": str(work)}}, record_timing=False,
    )
    status = {"kernel_died": False}
    try:
        client.execute()
    except DeadKernelError as err:
        status["kernel_died"] = True
        status["error"] = str(err)[:500]
    nbformat.write(nb, private / "executed.ipynb")
    (private / "status.json").write_text(json.dumps(status))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
