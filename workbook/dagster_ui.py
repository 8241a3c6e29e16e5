"""`workbook dagster-ui` (`make dagster-ui`): Dagster's UI and daemon (`dagster dev`) for the
advanced level's Dagster workspace, as a learner needs them: on 127.0.0.1 only, on the project's
DAGSTER_HOME (so the runs the notebooks made are there), loading the code location the lessons
write (<workspace>/defs/definitions.py), and stopped as a whole with Ctrl-C.

`dagster dev` stops its webserver, daemon and code server itself only on a KeyboardInterrupt; a
SIGTERM stops it alone and leaves them running (dagster-io/dagster#1651). So the stop is Ctrl-C
to its process group, as a terminal sends it, and only what is still running after that is
stopped with its tree."""

import contextlib
import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

from workbook import dagster_home, lesson, processes, ui_command
from workbook.waiting import wait_for

TRACK = "03_advanced/dagster"
PORT = 3000
START_TIMEOUT_S = 180  # webserver, daemon and code server on a loaded two-core machine
STOP_TIMEOUT_S = 60  # `dagster dev` waits for its parts to shut down after Ctrl-C
DEFINITIONS = "definitions.py"
LOCATIONS = "{workspaceOrError {... on Workspace {locationEntries {name loadStatus}}}}"
RUNS_OF = ('{runsOrError(filter: {tags: [{key: "dagster/partition", value: "%s"}]}) '
           '{... on Runs {results {runId status startTime endTime}}}}')


def defs_folder(workspace: Path) -> Path:
    """Where the lessons write the code location (course.DAGSTER's `defs` folder)."""
    return workspace / "defs"


def command(port: int, target: tuple[str, ...] = ("-f", DEFINITIONS)) -> list[str]:
    """`dagster dev` on 127.0.0.1:`port`, loading `target` (by default definitions.py from its
    working directory, where the Dagster CLI also reads the lessons' .env; or `-w` a
    workspace.yaml)."""
    return [str(dagster_home.dagster_cli()), "dev", "--host", "127.0.0.1", "--port", str(port),
            *target]


def graphql(url: str, query: str, timeout: float = 30) -> dict:
    """The data of a query to the webserver's GraphQL API (what the UI itself reads)."""
    request = urllib.request.Request(f"{url}/graphql", json.dumps({"query": query}).encode(),
                                     {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.load(response)["data"]


def locations(url: str) -> dict[str, str]:
    """Each code location's load status, from the webserver's GraphQL API ({} if it is down)."""
    try:
        entries = graphql(url, LOCATIONS, timeout=5)["workspaceOrError"]["locationEntries"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    return {entry["name"]: entry["loadStatus"] for entry in entries}


def partition_runs(url: str, partition: str) -> list[dict]:
    """The runs of a partition (id, status, start and end in epoch seconds), newest first."""
    return graphql(url, RUNS_OF % partition)["runsOrError"]["results"]


def healthy(url: str) -> bool:
    """The webserver answers and every code location it serves has loaded."""
    found = locations(url)
    return bool(found) and set(found.values()) == {"LOADED"}


def start(folder: Path, port: int, home: Path | None = None,
          target: tuple[str, ...] = ("-f", DEFINITIONS)) -> dict[str, subprocess.Popen]:
    """`dagster dev` in `folder`, in a session of its own, on the instance of `home` (by
    default the project's DAGSTER_HOME), its output in <home>/ui.log."""
    home = home or dagster_home.prepare()
    env = {**os.environ, **dagster_home.environ(home)}
    with open(home / "ui.log", "ab") as log:
        return {"dagster dev": subprocess.Popen(
            command(port, target), cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True)}


PORT_TRIES = 3
PORT_TAKEN = b"address already in use"  # uvicorn's words when the webserver cannot bind


def start_serving(folder: Path, home: Path, target: tuple[str, ...] = ("-f", DEFINITIONS)
                  ) -> tuple[dict[str, subprocess.Popen], str]:
    """start() on a free port, waited on until healthy: the processes and the webserver's URL.
    A free port can be taken by another process before the webserver binds it (it then logs
    PORT_TAKEN and `dagster dev` runs on without it): stopped and tried on another port, up to
    PORT_TRIES times. RuntimeError names the log when it never serves."""
    from workbook.services.base import free_port

    log = home / "ui.log"
    for _ in range(PORT_TRIES):
        offset = log.stat().st_size if log.exists() else 0
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        started = start(folder, port, home, target)

        def clashed(offset=offset) -> bool:
            with open(log, "rb") as said:
                said.seek(offset)
                return PORT_TAKEN in said.read()

        wait_for(lambda url=url: clashed() or healthy(url), START_TIMEOUT_S, 1)
        if healthy(url):
            return started, url
        stop(started)
        if not clashed():
            break
    raise RuntimeError(f"dagster dev did not serve its code location in {START_TIMEOUT_S} s: "
                       f"see {log}")


def stop(started: dict[str, subprocess.Popen]) -> list[int]:
    """Ctrl-C to each process group, then, past STOP_TIMEOUT_S, the tree of what is left;
    returns the processes still running (none)."""
    tree = {pid for proc in started.values()
            for pid in (proc.pid, *processes.descendants(proc.pid))}
    for proc in started.values():
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGINT)
    wait_for(lambda: not any(processes.running(pid) for pid in tree), STOP_TIMEOUT_S, 0.5)
    left = processes.stop_tree(*(pid for pid in tree if processes.running(pid)))
    for proc in started.values():
        proc.wait(timeout=10)  # reaped: none is left a zombie
    return left


def main(workspace: str | None, port: int) -> int:
    if ui_command.port_taken("dagster-ui", port):
        return 2
    defs = defs_folder(lesson.workspace_folder(TRACK, workspace))
    if not (defs / DEFINITIONS).exists():
        print(f"workbook dagster-ui: no {defs / DEFINITIONS} yet: the Dagster lessons write it",
              file=sys.stderr)
        return 2
    ui = ui_command.Ui("dagster-ui", "Dagster", lambda: start(defs, port), healthy, stop,
                       START_TIMEOUT_S, "(it listens on 127.0.0.1 only)",
                       dagster_home.default_home() / "ui.log")
    return ui_command.serve(ui, f"http://127.0.0.1:{port}",
                            f"Dagster for {defs}: starting (about 30 s)")
