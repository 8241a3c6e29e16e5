"""The foreground loop of a UI command (`workbook airflow-ui`, `workbook dagster-ui`): its
processes started, its URL printed once healthy, and all of it stopped with Ctrl-C (or SIGTERM),
or when one of its processes exits."""

import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from subprocess import Popen

from workbook.services.base import port_in_use
from workbook.waiting import wait_for


@dataclass(frozen=True)
class Ui:
    command: str  # "airflow-ui": how messages name the command
    title: str  # "Airflow": how messages name what it runs
    start: Callable[[], dict[str, Popen]]  # its processes by name, each in a session of its own
    healthy: Callable[[str], bool]  # the URL answers as it should once started
    stop: Callable[[dict[str, Popen]], list[int]]  # stops them all; those still running
    start_timeout_s: float
    ready: str  # printed with the URL once healthy: "(no login: ...)"
    logs: Path  # where its processes' output goes


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def port_taken(command: str, port: int) -> bool:
    """True, with a message naming the fix, when something already listens on `port`."""
    if port_in_use(port):
        print(f"workbook {command}: port {port} is in use (another UI?); choose one with --port",
              file=sys.stderr)
        return True
    return False


def serve(ui: Ui, url: str, starting: str) -> int:
    """Run `ui` until Ctrl-C (exit 0) or until one of its processes exits (exit 1)."""
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # also when started in background
    started = ui.start()
    print(f"{starting}; Ctrl-C stops all of it", flush=True)
    try:
        if wait_for(lambda: ui.healthy(url) or any(p.poll() is not None
                                                   for p in started.values()),
                    ui.start_timeout_s, 1) and ui.healthy(url):
            print(f"{ui.title} UI on {url} {ui.ready}", flush=True)
        while all(proc.poll() is None for proc in started.values()):
            time.sleep(1)
        failed = [name for name, proc in started.items() if proc.poll() is not None]
        print(f"workbook {ui.command}: {', '.join(failed)} stopped; see {ui.logs}",
              file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        left = ui.stop(started)
        print(f"{ui.title} stopped" + (f"; still running: {left}" if left else ", nothing left"),
              flush=True)
