"""Timing helpers: wall time and peak memory of one process, and repeats of it.

A fresh process per run, so each figure includes starting Python and importing its libraries, as
a learner's or cron's run does, and no run inherits another's memory (workbook.processes's
run_measured, which the capstone notebook uses too).
"""

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from workbook import processes


class MeasureError(RuntimeError):
    """A measured process failed: its figure would mean nothing."""


@dataclass(frozen=True)
class Run:
    seconds: float
    peak_bytes: int


@dataclass(frozen=True)
class Figure:
    """Repeated runs of one thing: median time (robust to one slow run), worst peak memory."""

    runs: tuple[Run, ...]

    @property
    def seconds(self) -> float:
        return statistics.median(run.seconds for run in self.runs)

    @property
    def peak_bytes(self) -> int:
        return max(run.peak_bytes for run in self.runs)


def run_process(cmd: list, log: Path, env: dict | None = None, cwd: Path | None = None) -> Run:
    """Run `cmd` to completion, its output going to `log`; raises MeasureError on failure."""
    code, seconds, peak = processes.run_measured(cmd, log, env, cwd)
    if code != 0:
        raise MeasureError(f"exit {code}: {' '.join(map(str, cmd))} (see {log})")
    return Run(seconds, peak)


def timed(action: Callable[[], object]) -> float:
    """Wall seconds of an in-process call (for work that starts its own processes)."""
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def folder(name: str) -> str:
    """Where a variant's runs go under the output folder: its name without spaces."""
    return name.replace(" ", "-")


def interleaved(commands: dict[str, Callable[[Path], list]], times: int, out: Path,
                fewer: dict[str, int] | None = None) -> dict[str, Figure]:
    """Each command `times` times, round robin, so a drift in the machine hits all alike;
    `fewer` caps some commands' runs (a slow baseline), which then run in the first rounds.

    A command is built for a fresh folder per run (its outputs, database and log go there), so
    no run finds another's files.
    """
    runs = {name: [] for name in commands}
    for rep in range(1, times + 1):
        for name, command in commands.items():
            if rep > (fewer or {}).get(name, times):
                continue
            where = out / folder(name) / str(rep)
            run = run_process(command(where), where / "output.log")
            runs[name].append(run)
            print(f"  {name} #{rep}: {run.seconds:.2f} s, {run.peak_bytes / 1e9:.2f} GB",
                  flush=True)
    return {name: Figure(tuple(found)) for name, found in runs.items()}
