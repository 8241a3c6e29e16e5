"""The Dagster adapter of the advanced level's lessons (03_advanced/dagster): the lake lesson's
files and bucket (workbook.lake_lesson, orchestrator-free) plus Dagster's side: the project's
DAGSTER_HOME as every kernel's instance, and the code location the lessons write to
(<workspace>/defs: resources, assets, definitions.py), the one `make dagster-ui` serves.

Each lesson of the track has a bucket and a queue of its own on the s3 service (`dagster-<NN>`,
`dagster-<NN>-events`), emptied at setup, as the Prefect track's lessons do. The code location
finds its bucket and endpoint in `<defs>/.env`, which every `dagster` command (and `dagster dev`)
loads from its working folder; the kernel gets the same variables.
"""

import datetime as dt
import os
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

from workbook import dagster_home, in_flight, lake_lesson
from workbook.lake import keys
from workbook.lake_lesson import LakeLesson, limit_reservations

TRACK = "03_advanced/dagster"
DEFS = "defs"  # <workspace>/defs: `%%writefile {defs}/...` (course.DAGSTER's folder)
ENV_FILE = ".env"
BUCKET_VARIABLE, ENDPOINT_VARIABLE = "LAKE_BUCKET", "LAKE_ENDPOINT"
QUEUE_VARIABLE = "LAKE_QUEUE_URL"  # the bucket's event queue (lesson 03's sensor reads it)
PUSHGATEWAY_VARIABLE = "LAKE_PUSHGATEWAY"  # where runs push their metrics (lesson 05), or ""
# The sensor files' month. The lessons' hourly partitions span it (a time partition needs an
# end), so any lesson window in June 2015, the default and the grader's, is a set of them.
MONTH = (dt.datetime(2015, 6, 1, tzinfo=dt.UTC), dt.datetime(2015, 7, 1, tzinfo=dt.UTC))
HOUR_KEY = "%Y-%m-%d-%H:%M"  # Dagster's key format for hourly partitions


@dataclass(frozen=True)
class DagsterLesson:
    lake: LakeLesson  # the files, their answer key, the lesson's bucket and queue
    defs: Path  # the code location's folder (on sys.path)
    home: str | None  # DAGSTER_HOME (None in the grader's checker, which runs no asset)

    def describe(self) -> str:
        """What the lesson uses; the same on every machine."""
        where = "the project's DAGSTER_HOME" if self.home else "none (checker)"
        return f"{self.lake.describe()}\ndagster  instance in {where}"

    def hours(self) -> list[str]:
        """The hourly partition keys of the lesson's files, in time order."""
        return sorted({hour_key(f.key) for f in self.lake.files()})

    def stores(self) -> list[str]:
        """The stores' ids, as partition keys ("1", "2")."""
        return sorted({str(device["store_id"]) for device in self.lake.answer_key.devices})

    def instance(self):
        """The Dagster instance of the project's DAGSTER_HOME: runs materialized here are the
        ones the UI shows (an instance made without a home keeps nothing)."""
        from dagster import DagsterInstance

        return DagsterInstance.get()


def hour_key(key: str) -> str:
    """The hourly partition key ("2015-06-01-12:00") of the window a file's key names."""
    return f"{keys.window_start(key).replace(minute=0):{HOUR_KEY}}"


def names(lesson_name: str) -> tuple[str, str]:
    """The bucket and queue of a lesson of the track ('01_assets...' -> dagster-01...)."""
    return lake_lesson.own_names(TRACK, "dagster", lesson_name)


def in_month(start: str, hours: int) -> None:
    """Refuse a lesson window outside the partitions' month, saying which month."""
    first = dt.datetime.fromisoformat(str(start)).replace(tzinfo=dt.UTC)
    if not (MONTH[0] <= first and first + dt.timedelta(hours=int(hours)) <= MONTH[1]):
        raise ValueError(f"start={start!r} with hours={hours}: the Dagster lessons' partitions "
                         f"cover {MONTH[0]:%Y-%m-%d} to {MONTH[1]:%Y-%m-%d} (UTC)")


def quiet(level: str = "WARNING") -> dict:
    """A run's run_config that keeps Dagster's console log at `level` and above: in a notebook
    it prints a dozen DEBUG lines per run to stderr, and the whole log stays in the instance
    (the UI). "CRITICAL" for runs that fail on purpose: Dagster logs each failure at ERROR, which
    a notebook shows as a red traceback, and the failure is the lesson's evidence, read from
    the run."""
    return {"loggers": {"console": {"config": {"log_level": level}}}}


def setup(lesson_name: str, start: str, hours: int, seed: int, workspace: str | None = None,
          s3_endpoint: str | None = None, bucket: str | None = None,
          queue: str | None = None, pushgateway: str | None = None) -> DagsterLesson:
    """The lesson's files in its own empty bucket, Dagster pointed at the project's home, and
    the code location's folder importable, with the bucket's address (and the pushgateway's,
    if given) in its .env."""
    limit_reservations()
    in_month(start, hours)
    # materialize() in a kernel, whose event loop is running, leaves this warning at each run's
    # end (Dagster closes a loop of its own); it says nothing about the learner's code.
    warnings.filterwarnings("ignore", message="coroutine 'BaseEventLoop.shutdown_asyncgens'")
    own_bucket, own_queue = names(lesson_name)
    lake = lake_lesson.setup(start, hours, seed, workspace, s3_endpoint, bucket or own_bucket,
                             queue or own_queue, track=TRACK)
    home = dagster_home.activate().get("DAGSTER_HOME")
    defs = lake.ctx.workspace / DEFS
    if lake.lake is not None:  # not the checker, which writes nothing in the learner's workspace
        variables = {BUCKET_VARIABLE: lake.lake.bucket,
                     ENDPOINT_VARIABLE: lake.lake.endpoint_url or "",
                     QUEUE_VARIABLE: lake.queue_url or "",
                     PUSHGATEWAY_VARIABLE: pushgateway or ""}
        defs.mkdir(exist_ok=True)
        (defs / ENV_FILE).write_text("".join(f"{k}={v}\n" for k, v in variables.items()))
        os.environ.update(variables)
    if str(defs) not in sys.path:  # `import lake_assets` after `%%writefile {defs}/...`
        sys.path.insert(0, str(defs))
    return DagsterLesson(lake, defs, home)


# ---------------------------------------------------------------- what a run left, as evidence

def outcome(result, asset: str) -> dict:
    """A materialize() run as evidence: whether it succeeded, the learner's own error if not
    (the innermost cause, under Dagster's wrappers and retries), and `asset`'s metadata."""
    failures = [event.step_failure_data.error for event in result.all_events
                if event.is_step_failure]
    error = failures[0] if failures else None
    while error is not None and error.cause is not None:
        error = error.cause
    said = f"{error.cls_name}: {error.message.strip()}" if error else None
    return {"success": result.success, "error": said, "metadata": metadata(result, asset)}


def raise_unfinished(runs: list[dict]) -> None:
    """Raise here, in the kernel, the NotImplementedError a run met (`outcome`'s evidence): an
    exercise still holding its stub then stops its check as a stub called directly does,
    rather than as a failed run."""
    for run in runs:
        if (run.get("error") or "").startswith("NotImplementedError"):
            raise NotImplementedError(f"the run of {run.get('partition')} reached code that is "
                                      "still to write")


def metadata(result, asset: str) -> list[dict]:
    """The metadata of each materialization of `asset` in a run's result (materialize()'s),
    as {name: (the metadata value's type, its plain value)}."""
    return [plain(m.metadata) for m in result.asset_materializations_for_node(asset)]


def plain(metadata: dict) -> dict:
    """Dagster metadata as {name: (the metadata value's type, its plain value)}."""
    return {name: (type(value).__name__, value.value) for name, value in metadata.items()}


def check_evaluations(result) -> list[dict]:
    """The asset checks a run evaluated, as evidence: their name, whether they passed, their
    severity ("ERROR" blocks what follows when the check is blocking) and their metadata, as
    {name: (type, plain value)}."""
    return [{"check": e.check_name, "passed": e.passed, "severity": e.severity.value,
             "metadata": plain(e.metadata)}
            for e in result.get_asset_check_evaluations()]


def started(result, step: str) -> bool:
    """Whether the run started `step` (an asset's step has its name). A step that a failed
    blocking check skips never starts; one that merely fails on bad input did."""
    return any(event.is_step_start and event.step_key == step for event in result.all_events)


def evaluate_automation(defs, instance, cursor=None):
    """One tick of declarative automation (dg.evaluate_automation_conditions), from `cursor`.
    Run in a thread of its own: the evaluator calls asyncio.run, which a kernel's running event
    loop refuses. Dagster's tester passes a beta parameter of its own (BetaWarning at each
    tick), which says nothing about the conditions tested: not shown."""
    from concurrent.futures import ThreadPoolExecutor

    import dagster as dg

    with warnings.catch_warnings(), ThreadPoolExecutor(max_workers=1) as pool:
        warnings.simplefilter("ignore", dg.BetaWarning)
        return pool.submit(dg.evaluate_automation_conditions, defs=defs, instance=instance,
                           cursor=cursor).result()


def table_version(lake) -> int:
    """The readings table's version (-1 before it is created)."""
    from workbook.lake import table

    found = table.open_table(lake.table_uri(), lake.storage_options)
    return -1 if found is None else found.version()


def writes_since(lake, version: int) -> int:
    """The commits that wrote rows to the readings table after `version` (its creation, an
    empty commit of its own, is not one)."""
    from workbook.lake import table

    found = table.open_table(lake.table_uri(), lake.storage_options)
    history = found.history() if found is not None else []
    return sum(1 for entry in history
               if entry.get("version", -1) > version and entry.get("operation") == "WRITE")


def lineage(defs) -> dict[str, list[str]]:
    """Each asset of a Definitions object -> the assets it depends on, as Dagster's asset
    graph has them (what the UI draws)."""
    graph = defs.resolve_asset_graph()
    return {key.to_user_string(): sorted(k.to_user_string() for k in graph.get(key).parent_keys)
            for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string())}


def row_count(instance, asset: str, partition: str) -> int | None:
    """The dagster/row_count of a partition's latest materialization (None: never
    materialized, or no count reported), as the UI shows it."""
    import dagster as dg

    found = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[partition]),
        limit=1).records
    count = found[0].asset_materialization.metadata.get("dagster/row_count") if found else None
    return None if count is None else count.value


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def embeds_png(markdown: str) -> bool:
    """Whether Markdown holds a PNG as a data URL, ![...](data:image/png;base64,...)."""
    import base64
    import binascii
    import re

    found = re.search(r"\(data:image/png;base64,([A-Za-z0-9+/=]+)\)", str(markdown))
    try:
        return bool(found) and base64.b64decode(found.group(1))[:8] == PNG_SIGNATURE
    except binascii.Error:
        return False


# ---------------------------------------------------------------- lesson 02: partitions

STORE = 2  # the store whose uplink is down in lesson 02's last hour


def materialize(assets, asset: str, partition: str, instance, resources: dict,
                tags: dict | None = None) -> dict:
    """One partition of `asset` materialized as a run of the instance (with `tags`), as
    `outcome`'s evidence; a key the partitions do not have fails the same way (Dagster refuses
    it before any run)."""
    import dagster as dg

    try:
        result = dg.materialize(assets, partition_key=partition, instance=instance,
                                resources=resources, tags=tags, run_config=quiet("CRITICAL"),
                                raise_on_error=False)
    except dg.DagsterUnknownPartitionError as err:
        return {"success": False, "error": f"DagsterUnknownPartitionError: {err}",
                "metadata": []}
    return outcome(result, asset)


def late_files(lake: LakeLesson, store: int = STORE) -> list:
    """`store`'s files of the lesson's last hour: its uplink was down, they arrive hours late."""
    last = max(hour_key(f.key) for f in lake.files())
    return [f for f in lake.files() if f.store_id == store and hour_key(f.key) == last]


def store_partitions(hours: list[str], stores: list[str]) -> list[str]:
    """The hour x store partition keys, as Dagster writes them ("2015-06-01-14:00|2")."""
    return [f"{hour}|{store}" for hour in hours for store in stores]


def day_partitions(partitions_def, hours: list[str]) -> list[str]:
    """The keys of a partitions definition that fall on the days of `hours` (hourly keys)."""
    days = tuple({hour[:10] for hour in hours})
    return [str(key) for key in partitions_def.get_partition_keys() if key.startswith(days)]


def incomplete(answer_key, absent: set[str], hours: list[str], stores: list[str]) -> set[str]:
    """The store partitions whose report must fail: a device of the store that day (in the
    table) with no reading in the hour. `absent`: the keys not in the table yet."""
    from collections import defaultdict

    from workbook import store_reports

    day, hour = defaultdict(set), defaultdict(set)
    for f in answer_key.files:
        if f.valid_rows and f.key not in absent:
            key = hour_key(f.key)
            day[key[:10], str(f.store_id)].add(f.device_id)
            hour[key, str(f.store_id)].add(f.device_id)
    return {f"{h}|{s}" for h in hours for s in stores
            if not day[h[:10], s] or store_reports.missing(day[h[:10], s], hour[h, s])}


def statuses(instance, asset: str, partitions: list[str], partitions_def) -> dict[str, str]:
    """Each partition's status as Dagster keeps it: MATERIALIZED, FAILED, IN_PROGRESS or
    MISSING (never materialized)."""
    import dagster as dg

    found = instance.get_status_by_partition(dg.AssetKey(asset), partitions, partitions_def)
    return {key: (found.get(key).value if found.get(key) else "MISSING") for key in partitions}


def runs_per_partition(instance, partitions: list[str]) -> dict[str, int]:
    """How many runs the instance holds for each partition key (Dagster tags every run with
    its partition)."""
    import dagster as dg

    return {key: instance.get_runs_count(dg.RunsFilter(tags={"dagster/partition": key}))
            for key in partitions}


# ---------------------------------------------------------------- lesson 03: sensors

SENSOR_TAG, RUN_KEY_TAG = "dagster/sensor_name", "dagster/run_key"  # what the daemon tags


def requested(requests) -> list[tuple[str, str]]:
    """A sensor's run requests as plain data: (partition key, run_key) each."""
    return [(request.partition_key, request.run_key) for request in requests or []]


def launch(sensor: str, requests, assets, instance, resources: dict,
           since: dt.datetime | None = None) -> list[dict]:
    """Run a sensor evaluation's run requests as Dagster's daemon does, in this kernel: a
    request whose run_key this sensor already used (in a run made after `since`: a check that
    starts over forgets its earlier tries) is skipped, each other one is a run of its partition
    tagged with the sensor and the run_key. What happened to each request."""
    import dagster as dg

    done = []
    for request in requests:
        tags = {SENSOR_TAG: sensor, RUN_KEY_TAG: str(request.run_key)}
        seen = request.run_key is not None and instance.get_runs_count(
            dg.RunsFilter(tags=tags, created_after=since))
        entry = {"partition": request.partition_key, "run_key": request.run_key,
                 "launched": not seen}
        if not seen:  # the run's asset: the first of `assets` (the others are its inputs)
            entry["success"] = materialize(assets, assets[0].key.to_user_string(),
                                           request.partition_key, instance, resources,
                                           tags)["success"]
        done.append(entry)
    return done


# ---------------------------------------------------------------- lesson 05: pools

# What a process that runs a partition imports before it is forked (the forkserver's preload):
# the libraries, never the learner's modules, which each run imports afresh.
PRELOAD = ("dagster", "pandas", "pyarrow", "deltalake", "boto3", "workbook.lake")


def _sleep_between_claims() -> None:
    """Make a step that waits for a pool's slot sleep until its next claim. Dagster 1.13's step
    loop sleeps for InstanceConcurrencyContext.interval_to_next_pending_claim_check(), which
    returns min(0, ...) where max was meant: never positive, so a waiting step spins a core
    until its slot is free (measured here: three runs of a 3 s step in a pool of one, 20 s of
    CPU and 7 s with this; dagster-io/dagster PR 20367 proposed the fix and was closed)."""
    import time

    from dagster._core.execution.plan.instance_concurrency_context import (
        InstanceConcurrencyContext,
    )

    def interval(self) -> float:
        if not self._pending_claims:
            return 0.0
        now = time.time()
        return max(0.0, min((ready - now for ready in self._pending_timeouts.values()),
                            default=0.0))

    InstanceConcurrencyContext.interval_to_next_pending_claim_check = interval


def _run_partition(module: str, asset: str, partition: str, resources: dict) -> dict:
    """In a process of its own: one partition of `module`.`asset` materialized as a run of the
    project's instance (DAGSTER_HOME, inherited), with `resources` made from their fields."""
    import importlib

    import dagster as dg

    _sleep_between_claims()
    found = getattr(importlib.import_module(module), asset)
    made = {name: getattr(importlib.import_module(where), kind)(**config)
            for name, (where, kind, config) in resources.items()}
    result = dg.materialize([found], partition_key=partition, instance=dg.DagsterInstance.get(),
                            resources=made, run_config=quiet("CRITICAL"), raise_on_error=False)
    return {"partition": partition, "run_id": result.run_id, **outcome(result, asset)}


def at_once(module: str, asset: str, partitions: list[str], resources: dict) -> list[dict]:
    """Each partition of `asset` (of the code location's `module`) materialized as a run in a
    process of its own, all started at once, as a deployment's run launcher starts the runs of
    a backfill: each run's partition, run id and `outcome`. Runs cannot share one
    process: Dagster sets up each run's logging with logging.config, which deadlocks threads. The
    processes are forked from a server that imported the libraries once (Dagster's
    multiprocess executor can do the same: start_method forkserver)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(PRELOAD))
    # A resource goes to the process as its class's name and its fields: Dagster's resources
    # do not pickle.
    config = {name: (type(r).__module__, type(r).__qualname__, r.model_dump())
              for name, r in resources.items()}
    with ProcessPoolExecutor(len(partitions), mp_context=context,
                             max_tasks_per_child=1) as pool:
        runs = [pool.submit(_run_partition, module, asset, key, config) for key in partitions]
        return [run.result() for run in runs]


STEP_ENDS = ("STEP_SUCCESS", "STEP_FAILURE", "STEP_UP_FOR_RETRY")


def step_spans(instance, run_ids: list[str], step: str) -> list[tuple[float, float]]:
    """When `step` ran in each run, from the runs' event logs (Unix times, one clock for every
    process): (start, end) per attempt, from its STEP_START to its success, failure or retry."""
    spans = []
    for run_id in run_ids:
        started_at = None
        for entry in instance.all_logs(run_id):
            event = entry.dagster_event
            if event is None or event.step_key != step:
                continue
            if event.event_type_value == "STEP_START":
                started_at = entry.timestamp
            elif event.event_type_value in STEP_ENDS and started_at is not None:
                spans.append((started_at, entry.timestamp))
                started_at = None
    return spans


# Dagster 1.13 gives a pool's slot in steps nothing holds together (it reads that a slot is
# free, then takes it), so steps that ask in the same instant can all get the last one: lesson
# 05 measured it. A step over the limit that started this soon after another is that race; one
# that started well into another's work means the pool did not apply at all.
CLAIM_RACE_S = 2.0


def pool_overruns(spans, limit: int) -> tuple[int, int]:
    """How many steps started over a pool's `limit`: (those that started together with another,
    Dagster's race for the last slot; those that started later into another's work)."""
    gaps = in_flight.over_limit(spans, limit)
    raced = sum(gap <= CLAIM_RACE_S for gap in gaps)
    return raced, len(gaps) - raced


def pool_limit(instance, pool: str | None) -> dict:
    """A pool's limit as the instance has it, and whether it came from dagster.yaml's
    default_limit rather than from someone setting it (`dagster instance concurrency set`)."""
    if pool is None:
        return {"pool": None, "limit": None, "from_default": None}
    found = {p.name: p for p in instance.event_log_storage.get_pool_limits()}.get(pool)
    return {"pool": pool, "limit": found.limit if found else None,
            "from_default": found.from_default if found else None}


def forget_pool(instance, pool: str) -> None:
    """Remove a pool's limit from the instance, as if nobody had set it (a check starts from
    there: an earlier try's limit stays in DAGSTER_HOME)."""
    instance.event_log_storage.delete_concurrency_limit(pool)


def pools(assets) -> dict[str, str | None]:
    """Each asset's pool (None: it claims no slot): the pool of the op that computes it."""
    return {key.to_user_string(): asset.op.pool for asset in assets for key in asset.keys}
