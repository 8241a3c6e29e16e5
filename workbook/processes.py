"""Process trees read from /proc: servers such as `airflow standalone` and JupyterLab start
children in sessions of their own, so their process group does not hold them all. Used to
measure a tree's memory, to stop a whole tree, and to prove nothing was left running."""

import contextlib
import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

from workbook.waiting import wait_for


def _parent_and_state(pid_folder: Path) -> tuple[int, str]:
    fields = (pid_folder / "stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[1]), fields[0]


def descendants(pid: int) -> set[int]:
    """Every process below `pid`."""
    children: dict[int, list[int]] = {}
    for folder in Path("/proc").glob("[0-9]*"):
        try:
            parent, _ = _parent_and_state(folder)
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(folder.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def running(pid: int) -> bool:
    """True for a live process; a zombie awaiting its reaper counts as gone."""
    try:
        return _parent_and_state(Path(f"/proc/{pid}"))[1] != "Z"
    except (OSError, IndexError, ValueError):
        return False


def tree_pss(pid: int) -> int:
    """Proportional set size of a process and all its descendants, in bytes: shared pages
    (Python, a framework's libraries) are divided among the processes that map them, so the sum
    is what the tree really occupies (summing RSS would count them once per process)."""
    total = 0
    for process in [pid, *descendants(pid)]:
        try:
            rollup = Path(f"/proc/{process}/smaps_rollup").read_text()
        except OSError:
            continue
        total += sum(int(line.split()[1]) * 1024 for line in rollup.splitlines()
                     if line.startswith("Pss:"))
    return total


def stop_tree(*roots: int, timeout: float = 20) -> list[int]:
    """Stop each root, its group and every descendant, whatever session they moved to, all at
    once (TERM, then KILL after `timeout`); returns those still running, which should be none."""
    tree = {pid for root in roots for pid in (root, *descendants(root))}
    for root in roots:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(root, signal.SIGTERM)
    for process in tree:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process, signal.SIGTERM)
    if not wait_for(lambda: not any(running(p) for p in tree), timeout, 0.2):
        for process in tree:
            with contextlib.suppress(ProcessLookupError):
                os.kill(process, signal.SIGKILL)
        wait_for(lambda: not any(running(p) for p in tree), 5, 0.1)
    return sorted(p for p in tree if running(p))


def listening(pids: set[int]) -> list[str]:
    """The local addresses (`host:port`) where any of `pids` listens for TCP, read with `ss`:
    how a test proves that a server binds loopback only, or that a kernel uses IPC."""
    lines = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True,
                           check=True).stdout.splitlines()
    return [line.split()[3] for line in lines
            if {int(pid) for pid in re.findall(r"pid=(\d+)", line)} & pids]


def run_measured(cmd: list, log: Path, env: dict | None = None, cwd: Path | None = None,
                 timeout: float | None = None) -> tuple[int, float, int]:
    """Run `cmd` to completion, its output going to `log`: its exit code, wall seconds and
    peak memory in bytes. The peak comes from the kernel's own accounting (`wait4`'s rusage),
    not from sampling, so a short peak is not missed. After `timeout` seconds, or when the
    caller is interrupted, the whole tree is stopped: subprocess.TimeoutExpired, or the
    interrupt, with nothing left running."""
    log.parent.mkdir(parents=True, exist_ok=True)
    expired = threading.Event()
    with open(log, "wb") as out:
        start = time.perf_counter()
        proc = subprocess.Popen([str(part) for part in cmd], stdout=out, stderr=subprocess.STDOUT,
                                env=env, cwd=cwd, start_new_session=True)
        timer = None
        if timeout is not None:
            timer = threading.Timer(timeout, lambda: (expired.set(), stop_tree(proc.pid)))
            timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:
            stop_tree(proc.pid)
            raise
        finally:
            if timer is not None:
                timer.cancel()
                timer.join()  # a stop it began has ended: nothing of the tree is left
        seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, so Popen must not wait
    if expired.is_set():
        raise subprocess.TimeoutExpired(proc.args, timeout)
    return proc.returncode, seconds, usage.ru_maxrss * 1024  # ru_maxrss is in KiB on Linux
