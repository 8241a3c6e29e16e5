"""A UI command (`workbook airflow-ui`, `workbook dagster-ui`) run as a learner runs it, for the
tests of each: on a scratch workspace and a free port, its output in a log, stopped with its
tree if a test left it running."""

import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from workbook import paths, processes
from workbook.services.base import free_port
from workbook.waiting import wait_for


@contextmanager
def running(command: str, workspace: Path, log: Path, healthy: Callable[[str], bool],
            timeout: float) -> Iterator[tuple[str, subprocess.Popen]]:
    """(its URL, its process), once `healthy(url)`; the log's end says why it never was."""
    port = free_port()
    log.parent.mkdir(exist_ok=True)
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "workbook", command, "--workspace", str(workspace),
             "--port", str(port)], stdout=out, stderr=subprocess.STDOUT, cwd=paths.ROOT,
            start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        up = wait_for(lambda: healthy(url) or proc.poll() is not None, timeout, 1)
        assert up and healthy(url), log.read_text()[-3000:]
        yield url, proc
    finally:
        if proc.poll() is None:
            processes.stop_tree(proc.pid)
