"""Runs inside the sandbox, as root: drives the learner's kernel and the checker, interleaved.

`python -m workbook.grading.execute SPEC.json`. The learner's kernel runs the lesson's cells
with the learner's answers and, at each check, the check's evidence and the export of what it
produced. Right then, while the learner's kernel waits, the checker loads that evidence and runs
the verdict. The checker starts with the parameters and setup cells (the lesson's own trusted
code) and never runs a learner cell.

This process receives every output: it keeps at most `output_bytes` per cell, refuses oversized
messages, and has a memory limit of its own (see `sandbox.wrap`). Its environment is rebuilt
from nothing, so none of the grader's variables reach a kernel.
"""

import asyncio
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
import zmq
import zmq.asyncio
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, DeadKernelError

from workbook.grading.timing import Timings

MAX_MESSAGE_BYTES = 64 * 1024**2  # larger messages from a kernel are refused by zmq
TRUNCATED = "\n[the grader kept only the first {limit:,} bytes of this cell's output]\n"
BASE_ENVIRON = {"LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1",
                "PYDEVD_DISABLE_FILE_VALIDATION": "1", "MPLBACKEND": "agg"}


class ConfinedKernelManager(AsyncKernelManager):
    """A kernel whose connection file belongs to its user, and whose messages are size-capped."""

    owner: tuple[int, int] | None = None

    def write_connection_file(self, **kwargs):
        super().write_connection_file(**kwargs)
        if self.owner:
            os.chown(self.connection_file, *self.owner)

    def client(self, **kwargs):
        return super().client(context=self.context, **kwargs)


class CappedClient(NotebookClient):
    """Keeps at most `output_limit` bytes of each cell's output (error outputs always), and the
    status of every reply by cell id."""

    def __init__(self, *args, output_limit: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.output_limit = output_limit
        self.used: dict[int, int] = {}
        self.replies: dict[str, dict] = {}
        self.truncated: list[str] = []  # ids of the cells whose output was cut
        self.on_cell_executed = self._record

    def _record(self, cell, cell_index, execute_reply):
        content = (execute_reply or {}).get("content", {})
        self.replies[cell.id] = {k: content.get(k) for k in ("status", "ename", "evalue")}

    def output(self, outs, msg, display_id, cell_index):
        if msg["msg_type"] == "error":
            content = msg["content"]
            content["traceback"] = content.get("traceback", [])[-40:]
            content["evalue"] = str(content.get("evalue", ""))[:4000]
            return super().output(outs, msg, display_id, cell_index)
        size = len(json.dumps(msg["content"], default=str))
        used = self.used.get(cell_index, 0)
        self.used[cell_index] = used + size
        if used + size <= self.output_limit:
            return super().output(outs, msg, display_id, cell_index)
        if used <= self.output_limit:  # the first output over the limit: say so, once
            outs.append(nbformat.v4.new_output(
                "stream", name="stderr", text=TRUNCATED.format(limit=self.output_limit)))
            self.truncated.append(self.nb.cells[cell_index].id)
        return None


@dataclass(frozen=True)
class Kernel:
    """One kernel of the run: its spec name, its command, its user, its environment."""

    name: str
    argv: list[str]
    owner: tuple[int, int] | None
    env: dict[str, str]
    home: Path  # its working folder
    runtime: Path  # where its connection file goes (readable by its user only)
    ipc: Path | None = None  # a folder for its sockets (IPC: no port, no TCP, no network)


def write_kernelspec(folder: Path, kernel: Kernel) -> None:
    spec = folder / "kernels" / kernel.name
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(json.dumps(
        {"argv": kernel.argv, "env": kernel.env, "display_name": kernel.name,
         "language": "python"}))


def manager(kernel: Kernel) -> ConfinedKernelManager:
    context = zmq.asyncio.Context()
    context.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE_BYTES)
    options = {"transport": "ipc", "ip": str(kernel.ipc / "kernel")} if kernel.ipc else {}
    km = ConfinedKernelManager(kernel_name=kernel.name, context=context, **options)
    km.owner = kernel.owner
    km.connection_file = str(kernel.runtime / f"{kernel.name}.json")
    return km


# A lesson's set-up cells may take this many times the cell limit: in the sandbox they start the
# lesson's own services (a Prefect server alone takes 10-40 s on a loaded 2-core machine, and the
# set-up imports Prefect too), work no learner cell does.
SETUP_FACTOR = 3


def cell_limit(limit: int):
    """nbclient's `timeout_func`: a cell's time limit, longer for the lesson's set-up cells."""
    def limit_of(cell) -> int:
        role = cell.get("metadata", {}).get("workbook", {}).get("role")
        return limit * SETUP_FACTOR if role == "setup" else limit
    return limit_of


def client(nb, kernel: Kernel, spec: dict, allow_errors: bool = True) -> CappedClient:
    limit = spec["cell_timeout_s"]
    return CappedClient(
        nb, km=manager(kernel), timeout=limit, timeout_func=cell_limit(limit),
        allow_errors=allow_errors,
        interrupt_on_timeout=True, record_timing=False, startup_timeout=120,
        error_on_timeout={"ename": "CellTimeout",
                          "evalue": f"the cell was stopped after {limit} s (an endless loop, "
                                    f"or a step far slower than it should be)"},
        resources={"metadata": {"path": str(kernel.home)}}, output_limit=spec["output_bytes"])


async def run_prerequisites(spec: dict, learner: Kernel, private: Path,
                            timings: Timings) -> str | None:
    """Run the solutions the lesson builds on into the learner's workspace (trusted code, as
    the learner's user); the error if one fails."""
    with timings.span("prerequisites"):
        return await _prerequisites(spec, learner, private)


async def _prerequisites(spec: dict, learner: Kernel, private: Path) -> str | None:
    for key, name in spec["requires"]:
        nb = nbformat.read(private / name, as_version=4)
        runner = client(nb, learner, spec, allow_errors=False)
        try:
            await runner.async_execute()
        except CellExecutionError as err:
            return f"the lesson's prerequisite {key} failed: {err.ename}: {err.evalue}"[:500]
        except DeadKernelError:
            return f"the lesson's prerequisite {key} failed: its kernel died"
    return None


def save_status(private: Path, status: dict) -> None:
    """Written after every check, so a run stopped at the total time-out keeps what it did."""
    tmp = private / "status.tmp"
    tmp.write_text(json.dumps(status, default=Timings.as_dict))
    tmp.replace(private / "status.json")


async def start_kernel(run: CappedClient, timings: Timings, name: str) -> None:
    """Start a kernel and wait until it answers (`async_setup_kernel` then finds it started)."""
    with timings.span(name):
        await run.async_start_new_kernel()
        await run.async_start_new_kernel_client()


async def run_lesson(spec: dict, learner: Kernel, checker: Kernel, private: Path,
                     timings: Timings) -> dict:
    """Both kernels, interleaved; the run's status (the executed notebooks are written).

    The checker's kernel starts first and beside everything before its first cell (the
    prerequisites, the learner's kernel start): nothing it runs depends on them, and a kernel
    start is mostly waiting for imports, which a second core does in the meantime."""
    lnb = nbformat.read(private / "learner.ipynb", as_version=4)
    cnb = nbformat.read(private / "checker.ipynb", as_version=4)
    lrun, crun = client(lnb, learner, spec), client(cnb, checker, spec)
    checker_started = asyncio.ensure_future(start_kernel(crun, timings, "checker kernel start"))
    if error := await run_prerequisites(spec, learner, private, timings):
        return {"error": error}  # the checker's kernel ends with the sandbox
    await asyncio.gather(start_kernel(lrun, timings, "learner kernel start"), checker_started)
    status: dict = {"replies": {"learner": lrun.replies, "checker": crun.replies},
                    "truncated": lrun.truncated, "timings": timings}
    position = {cell.id: index for index, cell in enumerate(cnb.cells)}
    verdicts: dict[str, list[str]] = spec["verdicts"]  # export cell id -> checker cells
    imports = {cells[0] for cells in verdicts.values()}  # each check's load of the evidence
    ready: asyncio.Queue = asyncio.Queue()

    async def learner_side():
        try:
            with timings.span("learner notebook"):
                for index, cell in enumerate(lnb.cells):
                    with timings.busy_in("evidence export" if cell.id in verdicts
                                         else "learner cells"):
                        await lrun.async_execute_cell(cell, index)
                    if cell.id in verdicts:
                        done = asyncio.Event()
                        await ready.put((cell.id, done))
                        with timings.busy_in("learner waits for verdicts"):
                            await done.wait()  # the learner's kernel waits while judged
        except DeadKernelError:
            status["learner_died_at"] = cell.id
        finally:
            await ready.put(None)

    async def checker_side():
        item = None
        try:
            with timings.span("checker setup cells"):
                for index in range(spec["checker_setup"]):
                    await crun.async_execute_cell(cnb.cells[index], index)
            while (item := await ready.get()) is not None:
                export_id, done = item
                for cell_id in verdicts[export_id]:
                    with timings.busy_in("evidence import" if cell_id in imports
                                         else "verdicts"):
                        await crun.async_execute_cell(cnb.cells[position[cell_id]],
                                                      position[cell_id])
                save_status(private, status)
                done.set()
            return
        except Exception as err:  # the checker died: the checks it did not reach did not run
            status["checker_died"] = f"{type(err).__name__}: {err}"[:300]
        if item is not None:  # release the learner's side until it ends
            item[1].set()
        while (item := await ready.get()) is not None:
            item[1].set()

    async with lrun.async_setup_kernel(), crun.async_setup_kernel():
        await asyncio.gather(learner_side(), checker_side())
    with timings.span("write executed notebooks"):
        nbformat.write(lnb, private / "learner.executed.ipynb")
        nbformat.write(cnb, private / "checker.executed.ipynb")
    return {**status, "finished": True}


def prepare(spec: dict, kernels: dict[str, Kernel], private: Path) -> None:
    """Folders, ownership and kernelspecs; this process's own environment, rebuilt."""
    os.environ.clear()
    os.environ.update(BASE_ENVIRON, PATH="/usr/local/bin:/usr/bin:/bin",
                      JUPYTER_PATH=str(private / "jupyter"),
                      JUPYTER_RUNTIME_DIR=str(private / "runtime"), HOME=str(private))
    for path, owner, mode in spec["folders"]:
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        if owner:
            os.chown(folder, *owner)
        folder.chmod(mode)
    for kernel in kernels.values():
        write_kernelspec(private / "jupyter", kernel)


def main(spec_path: str) -> int:
    started = time.time()
    timings = Timings()
    spec = json.loads(Path(spec_path).read_text())
    private = Path(spec_path).parent
    kernels = {role: Kernel(**{**data, "home": Path(data["home"]),
                               "runtime": Path(data["runtime"]),
                               "ipc": Path(data["ipc"]) if data.get("ipc") else None,
                               "owner": tuple(data["owner"]) if data.get("owner") else None})
               for role, data in spec["kernels"].items()}
    with timings.span("folders and kernel specs"):
        prepare(spec, kernels, private)
    status = asyncio.run(run_lesson(spec, kernels["learner"], kernels["checker"], private,
                                    timings))
    timings.add_span("client", started, time.time())
    status["timings"] = timings
    save_status(private, status)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
