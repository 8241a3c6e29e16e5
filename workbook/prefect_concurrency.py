"""The Prefect track's concurrency lesson (03_advanced/prefect/03_concurrency): the timed steps its
flows wrap, the limits on the server, and Prefect's overhead (how many ran at once is measured
by workbook.in_flight, shared with the Dagster track).

The steps are plain functions on the lake pipeline (workbook.lake: fetch, validate, write_batch),
each returning when its body started and ended (time.perf_counter, one clock for every thread
of the process), so a notebook can measure how many ran at once. The flows in the lesson's
flows/ folder are thin wrappers around them; the limits themselves live on the Prefect server:

    a global concurrency limit   `with concurrency("delta-writer", occupy=1)` around the commit;
                                 created with `client.upsert_global_concurrency_limit_by_name`
                                 or `prefect gcl create delta-writer --limit 1`
    a tag concurrency limit      every task run tagged `s3-read` takes a slot of the limit
                                 `client.create_concurrency_limit(tag="s3-read", ...)` (Prefect
                                 3.9 keeps it as the global limit `tag:s3-read`)

A limit that does not exist is no limit at all: `concurrency()` then runs at once (unless
`strict=True`), and a tag with no limit is just a label. `limits()` reads what the server has.
"""

import functools
import time
from dataclasses import dataclass

WRITER = "delta-writer"  # the global limit around Delta commits
READ_TAG = "s3-read"  # the tag of the task runs that read S3
TAG_PREFIX = "tag:"  # how Prefect 3.9 names the global limit behind a tag limit
READ_LIMIT = TAG_PREFIX + READ_TAG  # the tag limit on the reads, as the server keeps it


# ------------------------------------------------------------------ the steps, timed


@functools.lru_cache(maxsize=8)
def lake_at(bucket: str, endpoint: str | None):
    """One Lake (and so one boto3 client, thread-safe once made) per bucket in this process:
    a client costs tens of milliseconds to make, more than a read."""
    from workbook.lake import Lake

    lake = Lake(bucket, endpoint)
    lake.s3  # noqa: B018 (made now, in one thread: making clients is not thread-safe)
    return lake


def timed_read(bucket: str, endpoint: str | None, keys: list[str]) -> dict:
    """Read files and their manifests from S3 and validate them (one device's files, say);
    when the body ran and what it found: {"keys", "start", "end", "good", "rows", "tags"}.
    `tags`: the tags of the task run it ran in ([] outside Prefect)."""
    good, uploaded_at = checked_files(bucket, endpoint, keys, timed := {})
    return {"keys": list(keys), "start": timed["start"], "end": timed["end"],
            "good": len(good), "rows": sum(len(f.rows) for f in good), "tags": run_tags()}


def run_tags() -> list[str]:
    """The tags of the task run this code runs in (what a tag limit sees), [] outside one."""
    from prefect.context import TaskRunContext

    context = TaskRunContext.get()
    return sorted(context.task_run.tags) if context else []


def checked_files(bucket: str, endpoint: str | None, keys: list[str],
                  timed: dict | None = None) -> tuple[list, dict]:
    """The good files of `keys`, validated (workbook.lake.validate.Checked), ready to commit,
    and when each was uploaded (S3's LastModified, for the latency write_batch reports).
    `timed`: a dict that gets when the reads started and ended."""
    from workbook.lake.ingest import fetch
    from workbook.lake.keys import manifest_key
    from workbook.lake.validate import validate_file

    lake = lake_at(bucket, endpoint)
    good, uploaded_at = [], {}
    start = time.perf_counter()
    for key in keys:
        manifest, data = fetch(lake, manifest_key(key)), fetch(lake, key)
        if manifest and data:
            checked = validate_file(key, data[0], manifest[0], data[1])
            if checked.ok:
                good.append(checked)
                uploaded_at[key] = data[2]
    if timed is not None:
        timed |= {"start": start, "end": time.perf_counter()}
    return good, uploaded_at


def timed_commit(bucket: str, endpoint: str | None, batch: tuple[list, dict]) -> dict:
    """Commit the validated files (`checked_files`' answer) with the pipeline's writer
    (ingest.write_batch: one commit, each file's key and ETag recorded in it; a commit lost to
    a concurrent writer of the same files is retried); when it ran and what it did."""
    from workbook.lake.ingest import Report, write_batch

    lake = lake_at(bucket, endpoint)
    good, uploaded_at = batch
    report = Report(uploaded_at=dict(uploaded_at))
    start = time.perf_counter()
    write_batch(lake, good, report)
    end = time.perf_counter()
    return {"start": start, "end": end, "commits": report.commits,
            "conflicts": report.conflicts, "rows": report.rows,
            "files": len(report.ingested)}


# ------------------------------------------------------------------ the limits on the server


def limits() -> dict[str, int]:
    """The server's active global concurrency limits by name, each with its size; a tag limit
    is there as `tag:<tag>` (how Prefect 3.9 keeps it)."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        found = client.read_global_concurrency_limits(limit=200)
    return {g.name: g.limit for g in found if g.active}


def forget_missing_tag_limits() -> None:
    """Forget what this process learnt about tags without a limit. Prefect 3.9's task engine
    keeps, per process, the tags whose limit the server did not have
    (prefect.concurrency.services._no_limits_cache) and stops asking for them; in the lesson's
    kernel a tag limit created after a run of that tag was then ignored by the next run. The
    lesson runs "before" and "after" in one kernel, so it clears that memory in between; in
    production, create limits before the workers start."""
    from prefect.concurrency import services

    with services._cache_lock:
        services._no_limits_cache.clear()


def remove_limits(*names: str) -> list[str]:
    """Delete these limits from the server if they are there (a run "before" a limit shows
    what no limit does, and a re-run after a wrong try must not find the limit that try
    made); the names deleted."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        found = [g.name for g in client.read_global_concurrency_limits(limit=200)
                 if g.name in names]
        for name in found:
            client.delete_global_concurrency_limit_by_name(name)
    return sorted(found)


def made_from_none(make, name: str) -> tuple[str, int | None]:
    """What the learner's `make()`, which creates the limit `name`, does on a server without
    it (one an earlier try made is deleted first, so that only this call's work is measured):
    'returned' or what it raised, and the size of `name` after (None: still no such limit)."""
    from workbook import probes

    remove_limits(name)
    outcome = probes.attempt(make)
    return outcome, limits().get(name)


def quiet_console() -> None:
    """Prefect's INFO lines (each flow and task run's start and end) off the console, its
    warnings kept; the runs still send every log line to the server (the UI shows them)."""
    import logging
    import os

    os.environ["PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL"] = "WARNING"  # read at `import prefect`
    for handler in logging.getLogger().handlers:  # prefect imported already: its handler
        if handler.get_name() == "console":
            handler.setLevel(logging.WARNING)


@dataclass(frozen=True)
class Prepared:
    devices: list[list[str]]  # each device's data keys, in window order: one read task each
    batch: list[str]  # the files every writer is given (the first good ones to arrive)


def prepare(lesson_, writers_batch: int = 12) -> Prepared:
    """The lesson's files uploaded to its bucket and its limits removed from the server (not in
    the grader's checker, which only reads the answer key); what its flows are given."""
    from workbook import lake_lesson, lesson

    quiet_console()
    files = lesson_.lake.files()
    if not lesson.checking():
        lake_lesson.upload(lesson_.lake, files)
        remove_limits(WRITER, READ_LIMIT)
    devices: dict[str, list[str]] = {}
    for f in sorted(files, key=lambda f: (f.device_id, f.key)):
        devices.setdefault(f.device_id, []).append(f.key)
    good = [f.key for f in files if f.disposition != "quarantine"][:writers_batch]
    return Prepared(list(devices.values()), good)


def expected_rows(lesson_, keys: list[str]) -> dict[str, int]:
    """The rows each of `keys` must have in the table, once (the answer key's)."""
    return {f.key: f.valid_rows for f in lesson_.lake.answer_key.files if f.key in keys}


# ------------------------------------------------------------------ Prefect's overhead


def trivial(x: int) -> int:
    """The work measured: none, so what is timed is the orchestration around it."""
    return x + 1


def overhead(tasks: int = 50, flows: int = 5) -> dict[str, float]:
    """Seconds per call of the same trivial function called directly, as a Prefect task run
    (`tasks` runs `.map`-ped at once, then `tasks` called one after another, each timed inside
    its flow run), and as a flow run (`flows` runs), against the Prefect API this process is
    pointed at (activate it first). A warm-up flow run comes first, untimed (imports, the
    client's connection)."""
    from prefect import flow, task

    as_task = task(trivial, name="trivial", retries=0)  # retries=0: a measure, not a pipeline

    @flow(name="overhead-map", retries=0)
    def mapped(n: int) -> float:
        start = time.perf_counter()
        as_task.map(range(n)).result()
        return time.perf_counter() - start

    @flow(name="overhead-sequential", retries=0)
    def sequential(n: int) -> float:
        start = time.perf_counter()
        for i in range(n):
            as_task(i)
        return time.perf_counter() - start

    as_flow = flow(trivial, name="overhead-flow", retries=0)

    def timed(call) -> float:
        start = time.perf_counter()
        call()
        return time.perf_counter() - start

    mapped(2)  # warm-up
    direct = timed(lambda: [trivial(i) for i in range(tasks)]) / tasks
    return {"direct_call_s": direct, "task_run_mapped_s": mapped(tasks) / tasks,
            "task_run_sequential_s": sequential(tasks) / tasks,
            "flow_run_s": timed(lambda: [as_flow(i) for i in range(flows)]) / flows,
            "tasks": tasks, "flows": flows}
