"""The Prefect adapter of the advanced level's lessons (03_advanced/prefect): the lake lesson's
files and bucket (workbook.lake_lesson, orchestrator-free) plus Prefect's side: the project's
Prefect server as every kernel's API, and the folder the lessons write their flow modules to.

Each lesson of the track has a bucket and a queue of its own on the s3 service
(`prefect-<NN>`, `prefect-<NN>-events`), emptied at setup, so lessons run side by side (nbval,
the grader's workers) without seeing each other's files, and a re-run starts clean.
"""

import logging
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from workbook import lake_lesson, lesson, prefect_home
from workbook.lake_lesson import LakeLesson, limit_reservations

TRACK = "03_advanced/prefect"
LOCAL = "the project's server (workbook services up prefect)"
FLOWS = "flows"  # <workspace>/flows: `%%writefile {flows}/...` (course.PREFECT's folder)


@dataclass(frozen=True)
class PrefectLesson:
    lake: LakeLesson  # the files, their answer key, the lesson's bucket and queue
    flows: Path  # where the lesson's flow modules are written (on sys.path)
    api_url: str | None  # the Prefect API this kernel talks to (None in the grader's checker)
    local: bool = True  # the project's own server (no api_url parameter given)

    def describe(self) -> str:
        """What the lesson uses; the same on every machine (the local server's port is not)."""
        where = LOCAL if self.local else self.api_url
        return f"{self.lake.describe()}\nprefect  {where or 'not started (checker)'}"


def names(lesson_name: str) -> tuple[str, str]:
    """The bucket and queue of a lesson of the track ('02_events' -> prefect-02...)."""
    return lake_lesson.own_names(TRACK, "prefect", lesson_name)


def setup(lesson_name: str, start: str, hours: int, seed: int, workspace: str | None = None,
          api_url: str | None = None, s3_endpoint: str | None = None,
          bucket: str | None = None, queue: str | None = None) -> PrefectLesson:
    """The lesson's files in its own empty bucket, Prefect pointed at `api_url` (None: the
    project's server, started if needed), and its flows folder importable."""
    limit_reservations()
    own_bucket, own_queue = names(lesson_name)
    lake = lake_lesson.setup(start, hours, seed, workspace, s3_endpoint, bucket or own_bucket,
                             queue or own_queue, track=TRACK)
    variables = prefect_home.activate(api_url)
    flows = lake.ctx.workspace / FLOWS
    if not lesson.checking():  # the checker writes nothing in the learner's workspace
        flows.mkdir(exist_ok=True)
    if str(flows) not in sys.path:  # `import ingest_flow` after `%%writefile {flows}/...`
        sys.path.insert(0, str(flows))
    return PrefectLesson(lake, flows, variables.get("PREFECT_API_URL"), local=api_url is None)


@contextmanager
def quiet_prefect():
    """Prefect's console handlers silenced inside the block: a check's runs print no logs.
    The loggers keep their levels, so whatever else reads their records (Prefect's API
    handler, sentry-sdk's logging integration) still sees them."""
    from prefect.logging.handlers import PrefectConsoleHandler

    loggers = [logging.root, *(logging.getLogger(name)
                               for name in list(logging.root.manager.loggerDict)
                               if name == "prefect" or name.startswith("prefect."))]
    handlers = [handler for logger in loggers for handler in getattr(logger, "handlers", [])
                if isinstance(handler, PrefectConsoleHandler)]
    levels = [handler.level for handler in handlers]
    for handler in handlers:
        handler.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for handler, level in zip(handlers, levels, strict=True):
            handler.setLevel(level)
