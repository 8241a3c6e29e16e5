"""Plausible wrong answers, kept as tests: each must fail its own exercise with a hint that
names the mistake (issue 10's standard for every lesson).

A mistake is the solution's answer cell with one fragment replaced, so it stays in step with
the solution: when the fragment is gone from the solution, `submission` says so instead of
grading a stale case. The grader shows the check's own message, so its feedback is what the
learner reads under the check cell in JupyterLab.

Mistakes of one lesson in exercises that do not build on each other share a submission: each
exercise's check still sees one mistake, and the roster grades one notebook instead of several.
Which exercises build on which is read from the lesson's source (`depends_on`), never run.
"""

import ast
import datetime as dt
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from workbook import dagster_lesson, markers, sensors
from workbook.grading import names, samples

LAKE = "03_advanced/lake/01_files_to_lake"
OBSERVABILITY = "03_advanced/prefect/05_observability"
DEPLOY = "03_advanced/prefect/06_deployment"
EVENTS = "03_advanced/prefect/02_event_driven"
CONCURRENCY = "03_advanced/prefect/03_concurrency"
PREFECT_04 = "03_advanced/prefect/04_features_and_artifacts"
PF01 = "03_advanced/prefect/01_flows_and_tasks"
D01 = "03_advanced/dagster/01_assets_and_resources"
D02 = "03_advanced/dagster/02_partitions_and_backfills"
D03 = "03_advanced/dagster/03_sensors"
D04 = "03_advanced/dagster/04_checks_and_automation"
D05 = "03_advanced/dagster/05_observability_and_pools"
D06 = "03_advanced/dagster/06_ui_and_deployment"
STYLES = "03_advanced/capstone/01_four_styles"
BOTH = "    return load_with_retry(transform(stores, online), out, day)\n"
SUMMARY_DOC = '    """The day\'s sales, cleaned and summarised per category."""\n'
RUN_KEY = '    return [dg.RunRequest(partition_key=hour, run_key=f"{hour}:{digest(files)}")\n'
NEW_KEYS = "    new = [key for key in dict.fromkeys(announced + listed) if key not in asked]\n"
FAILED_ONLY = ("    status = instance.get_status_by_partition(asset_key, keys, partitions_def)\n"
               "    return sorted(key for key, found in status.items()\n"
               "                  if found == dg.AssetPartitionStatus.FAILED)\n")
CONDITION = ("    return (dg.AutomationCondition.eager()\n"
             "            .without(dg.AutomationCondition.in_latest_time_window())\n"
             "            & dg.AutomationCondition.all_deps_blocking_checks_passed())\n")
DIFFERENCES = ("    for field in found:\n"
               "        if field.name not in expected.names:\n"
               "            problems.append(f\"{field.name} is not a column of the table\")\n"
               "        elif field.type != expected.field(field.name).type:\n")
MISMATCHES = ("    return {key: [in_table.get(key, 0), committed.get(key, 0)]\n"
              "            for key in sorted(set(in_table) | set(committed))\n"
              "            if in_table.get(key, 0) != committed.get(key, 0)}\n")
PUSH = "        lake_metrics.push(metrics, self.url, context.run_id)\n"
POOL = "          pool=WRITER_POOL,\n"
LIMIT = "    instance.event_log_storage.set_concurrency_slots(WRITER_POOL, writers)\n"
ROW_COUNT = '        "dagster/row_count": table.rows_between(found, window.start, window.end),\n'


@dataclass(frozen=True)
class Mistake:
    name: str  # a learner name in the roster: unique, short
    lesson: str  # a course lesson key
    cell: str  # the id of the answer cell the mistake is made in
    right: str  # a fragment of the solution's answer ...
    wrong: str  # ... and what the mistaken learner writes instead
    hint: str  # words the failed check's message must contain

    def exercise(self) -> str:
        return exercise_of(self.lesson, self.cell)

    @property
    def learner(self) -> str:
        """The roster's learner whose submission holds this mistake."""
        return learners()[self.name]

    def make(self, answers: dict[str, str]) -> None:
        """Make the mistake in `answers` (answer cell id -> source)."""
        if self.right not in answers.get(self.cell, ""):
            raise ValueError(f"mistake {self.name}: the solution's cell {self.cell} no longer "
                             f"contains {self.right!r}; update tests/mistakes.py")
        answers[self.cell] = answers[self.cell].replace(self.right, self.wrong)


@dataclass(frozen=True)
class HardCoded(Mistake):
    """A value of the lesson's own run written in where the answer computes it: `wrong` says
    VALUE where `value(lesson)` goes, read from the lesson's default parameters. With those
    parameters it may pass (`passes_by_default`): the grader's other parameters must catch it.
    Where the check catches it anyway, it says so at the first try."""

    value: Callable[[str], object]
    passes_by_default: bool = True

    def make(self, answers: dict[str, str]) -> None:
        literal = repr(self.value(self.lesson))
        Mistake(self.name, self.lesson, self.cell, self.right,
                self.wrong.replace("VALUE", literal), self.hint).make(answers)


def defaults(key: str) -> dict:
    return samples.parameters(samples.lesson(key)[0])


@cache
def answer_key(key: str) -> sensors.AnswerKey:
    """The sensor files a lesson generates with its own parameters: what its learner saw."""
    given = defaults(key)
    with tempfile.TemporaryDirectory() as folder:
        return sensors.generate_sensors(Path(folder), dt.datetime.fromisoformat(given["start"]),
                                        given["hours"], given["seed"])


def last_hour(key: str) -> str:
    """The hourly partition key of a lesson's last hour, with its default parameters."""
    given = defaults(key)
    last = dt.datetime.fromisoformat(given["start"]) + dt.timedelta(hours=given["hours"] - 1)
    return f"{last:%Y-%m-%d-%H}:00"


def damaged_files(key: str) -> list[str]:
    """The two files lesson D04's reconciliation check damages with its default parameters: the
    first two good files of the first hour that have the same rows, in arrival order."""
    first = f"{dt.datetime.fromisoformat(defaults(key)['start']):%Y-%m-%d-%H}:00"
    same_size = {}
    for f in answer_key(key).in_arrival_order():
        if dagster_lesson.hour_key(f.key) == first and f.disposition != "quarantine":
            same_size.setdefault(f.valid_rows, []).append(f.key)
    return next(keys for keys in same_size.values() if len(keys) > 1)[:2]


def files(key: str, disposition: str) -> list[sensors.FileRecord]:
    return [f for f in answer_key(key).in_arrival_order() if f.disposition == disposition]


@cache
def exercise_of(key: str, cell_id: str) -> str:
    solution, _ = samples.lesson(key)
    return next(markers.exercise(c) for c in solution.cells if c.id == cell_id)


def written_module(source: str) -> set[str]:
    """`%%writefile {flows}/ingest.py` binds what `import ingest` reads: the module's name."""
    first = source.split("\n", 1)[0].split()
    return {Path(first[1]).stem} if first[:1] == ["%%writefile"] and len(first) > 1 else set()


def imported(source: str) -> set[str]:
    """The modules a cell imports by name (`import ingest_flow`, `from ingest_flow import x`),
    or the module a `%%writefile` cell writes imports (its flow uses another exercise's file)."""
    if written_module(source):
        try:
            tree = ast.parse(source.split("\n", 1)[1])
        except SyntaxError:  # a file that is not Python (prefect.yaml)
            return set()
    else:
        tree = names.parse(source)
    return ({alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
             for alias in node.names}
            | {node.module.split(".")[0] for node in ast.walk(tree)
               if isinstance(node, ast.ImportFrom) and node.module})


def free(source: str) -> set[str]:
    """The names a cell reads and does not bind itself (anywhere in it: a loop or
    comprehension variable, a function's parameters): what it takes from earlier cells."""
    arguments = {node.arg for node in ast.walk(names.parse(source)) if isinstance(node, ast.arg)}
    return names.read(source) - names.defined(source) - arguments


@cache
def depends_on(key: str) -> dict[str, set[str]]:
    """exercise -> the exercises whose cells bind a name its cells read, directly or through
    them (a name bound by a cell outside the exercises stands for the names that cell reads)."""
    solution, _ = samples.lesson(key)
    binds: dict[str, set[str]] = {}
    reads: dict[str, set[str]] = {}
    derived: dict[str, set[str]] = {}
    imports: dict[str, set[str]] = {}
    for cell in solution.cells:
        if cell.cell_type != "code":
            continue
        read = free(cell.source)
        exercise = markers.exercise(cell)
        if exercise is None:
            for name in names.bound(cell.source):
                derived.setdefault(name, set()).update(read)
            continue
        binds.setdefault(exercise, set()).update(
            names.bound(cell.source) | written_module(cell.source))
        reads.setdefault(exercise, set()).update(read)
        imports.setdefault(exercise, set()).update(imported(cell.source))
    for exercise, read in reads.items():  # its own names are its own; a module it imports not
        read -= binds[exercise]
        read |= imports[exercise]
        todo = list(read)
        while todo:
            for name in derived.get(todo.pop(), ()):
                if name not in read:
                    read.add(name)
                    todo.append(name)
    needs = {b: {a for a in binds if a != b and binds[a] & reads[b]} for b in reads}
    changed = True
    while changed:  # transitively
        changed = False
        for b, found in needs.items():
            more = set().union(*(needs[a] for a in found)) - found - {b}
            if more:
                found |= more
                changed = True
    return needs


@cache
def exercises(key: str) -> tuple[str, ...]:
    """The lesson's exercises in the order of their answer cells."""
    return tuple(dict.fromkeys(markers.exercise(c) for c in samples.lesson(key)[0].cells
                               if markers.role(c) == "solution"))


@cache
def learners() -> dict[str, str]:
    """mistake -> the roster learner whose submission holds it: each lesson's mistakes packed,
    in order (hard-coded answers first, so that the roster grades each), into the first
    submission that has none in the same exercise nor in one that builds on it or that it
    builds on. The roster's batch (the first) ends at its first mistake's exercise: a later one
    joins it only in an exercise before that, as the graded run stops there (`submissions`)."""
    batches: dict[str, list[list[Mistake]]] = {}
    found = {}
    for mistake in sorted(MISTAKES, key=lambda m: not isinstance(m, HardCoded)):
        needs = depends_on(mistake.lesson)
        mine = exercise_of(mistake.lesson, mistake.cell)
        order = exercises(mistake.lesson)
        lesson = batches.setdefault(mistake.lesson, [])
        for number, batch in enumerate(lesson, start=1):  # noqa: B007 (used after the loop)
            theirs = {exercise_of(m.lesson, m.cell) for m in batch}
            if number == 1 and order.index(mine) > order.index(batch[0].exercise()):
                continue
            if mine not in theirs and not (needs.get(mine, set()) & theirs) and not any(
                    mine in needs.get(other, set()) for other in theirs):
                batch.append(mistake)
                break
        else:
            lesson.append([mistake])
            number = len(lesson)
        found[mistake.name] = f"{Path(mistake.lesson).name}-mistakes-{number}"
    return found


def batches() -> dict[str, list[Mistake]]:
    """learner -> the mistakes in that learner's submission."""
    grouped: dict[str, list[Mistake]] = {}
    for mistake in MISTAKES:
        grouped.setdefault(mistake.learner, []).append(mistake)
    return grouped


def graded(learner: str) -> bool:
    """Whether the roster grades this batch: each lesson's first, so that the grader's path
    is taken by a mistake of every lesson that has one. The others are tried as a learner tries
    them (tests/test_lessons.py: the wrong answer, its hint, then the fix, in one kernel),
    which shows the same message for a fraction of the cost."""
    return learner.endswith("-mistakes-1")


def submissions() -> dict[str, tuple[str, object]]:
    """learner -> (lesson, notebook) for the roster's batches: the lesson answered correctly
    up to the batch's last mistake but for its mistakes, and unanswered after it (partial work:
    the grader's run stops there, so a batch costs the part of the lesson it is in)."""
    made = {}
    for learner, mistakes in batches().items():
        if not graded(learner):
            continue
        key = mistakes[0].lesson
        solution, student = samples.lesson(key)
        order = exercises(key)
        last = max(order.index(m.exercise()) for m in mistakes)
        place = {c.id: order.index(markers.exercise(c)) for c in solution.cells
                 if markers.role(c) == "solution"}
        answers = {cell: source for cell, source in samples.answers(solution).items()
                   if place[cell] <= last}
        for mistake in mistakes:
            mistake.make(answers)
        made[learner] = (key, samples.submission(student, answers))
    return made


MISTAKES = (
    Mistake("read-without-keep-default-na", "01_beginner/01_extract_transform",
            "read-day-solution", right=" keep_default_na=False,", wrong="",
            hint="keep_default_na=False"),
    Mistake("no-delete-before-insert", "01_beginner/02_load", "load-day-solution",
            right='conn.execute("DELETE FROM sales WHERE sale_date = ?", (day.isoformat(),))\n',
            wrong="", hint="delete the day's rows before inserting them again"),
    Mistake("sum-without-round", "01_beginner/02_load", "revenue-sql-solution",
            right="ROUND(SUM(revenue), 2) AS", wrong="SUM(revenue) AS",
            hint="not a whole number of cents: round the sum"),
    Mistake("sum-of-rounded-lines", "01_beginner/02_load", "revenue-sql-solution",
            right="ROUND(SUM(revenue), 2) AS", wrong="SUM(ROUND(revenue, 2)) AS",
            hint="rounding each line first"),
    Mistake("bad-input-logged-as-warning", "01_beginner/03_notebook_to_script",
            "script-main-solution", right='log.error("bad input: %s", err)',
            wrong='log.warning("bad input: %s", err)',
            hint="your script logged `WARNING sales_report: bad input: sales_2015-06-06.csv"),
    Mistake("bad-input-printed", "01_beginner/03_notebook_to_script", "script-main-solution",
            right='log.error("bad input: %s", err)', wrong='print(f"bad input: {err}")',
            hint="your script logged nothing about the bad input"),
    Mistake("cron-every-minute-of-hour-8", "01_beginner/04_scheduling_with_cron",
            "schedule-solution", right='"0 8 * * *"', wrong='"* 8 * * *"',
            hint="'*' in the minute field means every minute"),
    Mistake("request-without-timeout", "02_intermediate/02_sources", "weather-call-solution",
            right=", timeout=(3.05, 10))", wrong=")", hint="timeout="),
    Mistake("no-raise-for-status", "02_intermediate/02_sources", "weather-call-solution",
            right="    response.raise_for_status()\n", wrong="", hint="raise_for_status()"),
    Mistake("warehouse-load-without-delete", "02_intermediate/03_the_dag",
            "idempotent-load-solution",
            right='            con.execute(f"DELETE FROM {TABLE} WHERE sale_date = ?", [day])\n',
            wrong="", hint="delete the day's rows before inserting"),
    Mistake("psycopg2-error-class", "02_intermediate/04_reliability", "fail-fast-solution",
            right='"psycopg.errors.UndefinedColumn"', wrong='"psycopg2.errors.UndefinedColumn"',
            hint="psycopg 3"),
    Mistake("python-loop-over-xcomarg", "02_intermediate/05_dynamic_mapping", "expand-solution",
            right="    load(enrich.expand(store=stores))\n",
            wrong="    load([enrich(store) for store in stores])\n", hint=".expand("),
    # 03_advanced/lake/01_files_to_lake: one per warning of the lesson
    Mistake("event-keys-not-decoded", LAKE, "event-keys-solution",
            right='unquote_plus(record["s3"]["object"]["key"])',
            wrong='record["s3"]["object"]["key"]', hint="still look URL-encoded"),
    Mistake("event-keys-unquote-not-plus", LAKE, "event-keys-solution",
            right="    message = json.loads(body)\n",
            wrong="    from urllib.parse import unquote as unquote_plus  # the wrong decoder\n"
                  "    message = json.loads(body)\n",
            hint="a space arrives as '+': decode with unquote_plus"),
    Mistake("validation-not-lazy", LAKE, "validate-file-solution",
            right=".validate(rows, lazy=True)", wrong=".validate(rows)", hint="lazy=True"),
    Mistake("resent-readings-rejected", LAKE, "validate-file-solution",
            right=".drop_duplicates(ignore_index=True)", wrong="",
            hint="drop exact duplicates before validating"),
    Mistake("append-without-transaction", LAKE, "exactly-once-solution",
            right=", commit_properties=CommitProperties(app_transactions=done))", wrong=")",
            hint="rows again: record each file as an app transaction"),
    Mistake("read-rows-before-append", LAKE, "exactly-once-solution",
            right="    new = [f for f in files if snapshot.transaction_version(table.app_id(f.key, "
                  "f.etag)) is None]\n    if not new:\n        return 0\n"
                  "    data = table.to_arrow(new, dt.datetime.now(dt.UTC))\n"
                  "    done = [Transaction(table.app_id(f.key, f.etag), 1) for f in new]\n",
            wrong="    there = set(snapshot.to_pandas(columns=['source_key'])['source_key'])\n"
                  "    new = [f for f in files if f.key not in there]\n"
                  "    if not new:\n        return 0\n"
                  "    data = table.to_arrow(new, dt.datetime.now(dt.UTC))\n"
                  "    done = []  # the rows themselves say which files are there\n",
            hint="a read of the rows before writing is not a record"),
    HardCoded("hard-coded-quarantine-key", LAKE, "quarantine-solution",
              right="    for source in (key, manifest_key(key)):\n",
              wrong="    key = VALUE  # the bad file of my first run\n"
                    "    for source in (key, manifest_key(key)):\n",
              value=lambda k: files(k, "quarantine")[0].key, hint="never a key written in"),
    Mistake("quarantine-delete-before-copy", LAKE, "quarantine-solution",
            right="    for source in (key, manifest_key(key)):\n"
                  "        s3.copy_object(Bucket=bucket, Key=quarantine_key(source),\n"
                  '                       CopySource={"Bucket": bucket, "Key": source})\n',
            wrong="    for source in (key, manifest_key(key)):  # move each file in turn\n"
                  "        s3.copy_object(Bucket=bucket, Key=quarantine_key(source),\n"
                  '                       CopySource={"Bucket": bucket, "Key": source})\n'
                  "        s3.delete_object(Bucket=bucket, Key=source)\n",
            hint="deleted from incoming/ before"),
    Mistake("quarantine-manifest-deleted-first", LAKE, "quarantine-solution",
            right="    s3.delete_object(Bucket=bucket, Key=key)\n"
                  "    s3.delete_object(Bucket=bucket, Key=manifest_key(key))\n",
            wrong="    s3.delete_object(Bucket=bucket, Key=manifest_key(key))\n"
                  "    s3.delete_object(Bucket=bucket, Key=key)\n",
            hint="delete the manifest last"),
    Mistake("redelivered-key-not-skipped", LAKE, "ingest-batch-solution",
            right="    if manifest is None or data is None:  # not complete yet, or already moved\n"
                  "        counts[\"skipped\"] += 1\n        return\n",
            wrong="", hint="skip a file whose manifest or data is gone"),
    # 03_advanced/prefect/05_observability: metric types and labels, PromQL, the alert rule
    # (promtool), the Sentry hook
    Mistake("device-files-as-gauge", OBSERVABILITY, "device-metrics-solution",
            right="    files = Counter(", wrong="    files = Gauge(",
            hint="a count that only grows is a Counter"),
    Mistake("device-last-upload-as-counter", OBSERVABILITY, "device-metrics-solution",
            right="    last = Gauge(", wrong="    last = Counter(",
            hint="a timestamp is set, not added to"),
    Mistake("device-label-per-key", OBSERVABILITY, "device-metrics-solution",
            right="        files.labels(device=device).inc()\n"
                  "        last.labels(device=device).set(",
            wrong="        files.labels(device=key).inc()\n"
                  "        last.labels(device=key).set(",
            hint="cardinality explosion"),
    HardCoded("hard-coded-row-total", OBSERVABILITY, "promql-solution",
              right="total_rows_query = 'sum(lake_rows_written_total{job=\"lake_ingest\"})'",
              wrong="total_rows_query = VALUE",
              value=lambda k: f"vector({sum(f.valid_rows for f in files(k, 'accept'))})",
              passes_by_default=False, hint="a number written in"),
    Mistake("promql-without-job", OBSERVABILITY, "promql-solution",
            right="'sum(lake_rows_written_total{job=\"lake_ingest\"})'",
            wrong="'sum(lake_rows_written_total)'", hint="name the job"),
    Mistake("promql-rate-of-pushed-counter", OBSERVABILITY, "promql-solution",
            right="'sum(lake_rows_written_total{job=\"lake_ingest\"})'",
            wrong="'sum(rate(lake_rows_written_total{job=\"lake_ingest\"}[1m]))'",
            hint="rate() of a pushed counter is 0"),
    Mistake("promql-rate-of-gauge", OBSERVABILITY, "promql-solution",
            right="'time() - max(lake_newest_reading_timestamp_seconds{job=\"lake_ingest\"})'",
            wrong="'max(rate(lake_newest_reading_timestamp_seconds{job=\"lake_ingest\"}[5m]))'",
            hint="rate() of a gauge"),
    Mistake("promql-age-in-minutes", OBSERVABILITY, "promql-solution",
            right="'time() - max(lake_newest_reading_timestamp_seconds{job=\"lake_ingest\"})'",
            wrong="'(time() - max(lake_newest_reading_timestamp_seconds{job=\"lake_ingest\"}))"
                  " / 60'",
            hint="in seconds (not minutes"),
    Mistake("alert-without-for", OBSERVABILITY, "alert-rule-solution",
            right='no_fresh_data_for = "5m"', wrong="no_fresh_data_for = None",
            hint="add for: 5m"),
    Mistake("alert-compares-backwards", OBSERVABILITY, "alert-rule-solution",
            right="> 30 * 60", wrong="< 30 * 60", hint="the comparison is backwards"),
    Mistake("alert-threshold-in-minutes", OBSERVABILITY, "alert-rule-solution",
            right="> 30 * 60", wrong="> 30", hint="30 minutes is 30 * 60"),
    Mistake("alert-without-max", OBSERVABILITY, "alert-rule-solution",
            right="time() - max(lake_newest_reading_timestamp_seconds) >",
            wrong="time() - lake_newest_reading_timestamp_seconds >",
            hint="take max() over them"),
    Mistake("sentry-init-in-hook", OBSERVABILITY, "sentry-hook-solution",
            right="    error = state.result(raise_on_failure=False)\n",
            wrong="    init_sentry()  # make sure Sentry is set up\n"
                  "    error = state.result(raise_on_failure=False)\n",
            hint="init once per process"),
    Mistake("sentry-without-flush", OBSERVABILITY, "sentry-hook-solution",
            right="    sentry_sdk.flush(timeout=5)\n", wrong="",
            hint="captured without flushing"),
    Mistake("sentry-logging-integration", OBSERVABILITY, "sentry-hook-solution",
            right=", default_integrations=False)", wrong=")",
            hint="init with default_integrations=False"),
    Mistake("sentry-without-run-tag", OBSERVABILITY, "sentry-hook-solution",
            right='        scope.set_tag("flow_run_id", str(flow_run.id))\n', wrong="",
            hint="flow_run_id = str(flow_run.id)"),
    Mistake("sentry-message-not-exception", OBSERVABILITY, "sentry-hook-solution",
            right="sentry_sdk.capture_exception(error)",
            wrong='sentry_sdk.capture_message(f"flow run failed: {error}")',
            hint="capture the exception"),
    # 03_advanced/prefect/06_deployment: prefect.yaml, the worker run, the ECS task definition
    Mistake("entrypoint-without-flow-function", DEPLOY, "prefect-yaml-solution",
            right="entrypoint: ingest_deployment.py:ingest_sensors",
            wrong="entrypoint: ingest_deployment.py", hint="the file AND the flow function"),
    Mistake("deployment-without-tags", DEPLOY, "prefect-yaml-solution",
            right="    tags: [sensors, lake]\n", wrong="", hint="has no tags"),
    Mistake("parameter-the-flow-does-not-take", DEPLOY, "prefect-yaml-solution",
            right="      bucket: prefect-06\n",
            wrong="      bucket: prefect-06\n      date: 2015-06-01\n",
            hint="parameters the flow does not take: ['date']"),
    Mistake("worker-on-another-pool", DEPLOY, "worker-run-solution",
            right='"worker", "start", "--pool", POOL]',
            wrong='"worker", "start", "--pool", "default"]',
            hint="no worker polls the work pool 'sensors-process'"),
    HardCoded("hard-coded-image", DEPLOY, "ecs-task-solution",
              right='            "image": image,\n', wrong='            "image": VALUE,\n',
              value=lambda k: defaults(k)["image"], hint="not the flow's image"),
    Mistake("ecs-without-fargate", DEPLOY, "ecs-task-solution",
            right='        "requiresCompatibilities": ["FARGATE"],\n', wrong="",
            hint='requiresCompatibilities: ["FARGATE"]'),
    Mistake("ecs-invalid-fargate-pair", DEPLOY, "ecs-task-solution",
            right='"memory": "1024"', wrong='"memory": "512"',
            hint="is not a valid Fargate pair"),
    Mistake("ecs-container-without-image", DEPLOY, "ecs-task-solution",
            right='            "image": image,\n', wrong="",
            hint="every container needs an `image`"),
    Mistake("ecs-without-api-url", DEPLOY, "ecs-task-solution",
            right='            "environment": [{"name": "PREFECT_API_URL", "value": api_url}],\n',
            wrong="", hint="PREFECT_API_URL is None in the container's environment"),
    Mistake("cloud-run-cpu-throttled", DEPLOY, "cloud-run-solution",
            right='{"run.googleapis.com/cpu-throttling": "false",\n'
                  '                                         "autoscaling',
            wrong='{"autoscaling', hint="cpu-throttling"),
    # 03_advanced/prefect/02_event_driven: the trigger, the watcher, the sweep
    HardCoded("hard-coded-trigger-key", EVENTS, "trigger-solution",
              right='parameters={"key": "{{ event.payload.key }}"}',
              wrong='parameters={"key": VALUE}',
              value=lambda k: files(k, "accept")[0].key, hint="from {{ event.payload.key }}"),
    Mistake("trigger-without-match", EVENTS, "trigger-solution",
            right='        match={"prefect.resource.id": f"s3.{bucket}.*"},\n', wrong="",
            hint="no match filter starts a run for every such event"),
    Mistake("trigger-without-expect", EVENTS, "trigger-solution",
            right="        expect={EVENT},\n", wrong="", hint="name the event in expect"),
    Mistake("trigger-key-from-resource-id", EVENTS, "trigger-solution",
            right='parameters={"key": "{{ event.payload.key }}"}',
            wrong='parameters={"key": "{{ event.resource.id }}"}',
            hint="pass the key itself, from {{ event.payload.key }}"),
    Mistake("watcher-delete-before-emit", EVENTS, "watcher-solution",
            right="    for key in files:\n"
                  '        emit(event=EVENT, resource={"prefect.resource.id": '
                  'f"s3.{bucket}.{key}"},\n'
                  '             payload={"key": key})\n'
                  '    delete(message["ReceiptHandle"])\n',
            wrong='    delete(message["ReceiptHandle"])  # handled: off the queue\n'
                  "    for key in files:\n"
                  '        emit(event=EVENT, resource={"prefect.resource.id": '
                  'f"s3.{bucket}.{key}"},\n'
                  '             payload={"key": key})\n',
            hint="deleting before emitting loses the file if the watcher dies"),
    Mistake("watcher-event-per-object", EVENTS, "watcher-solution",
            right="    files = [data_key(key) for key in parse_event(message[\"Body\"])\n"
                  "             if key.endswith(MANIFEST_SUFFIX)]\n",
            wrong="    files = [data_key(key) for key in parse_event(message[\"Body\"])]\n",
            hint="emitting for the manifest AND the data file"),
    Mistake("watcher-delete-per-file", EVENTS, "watcher-solution",
            right='             payload={"key": key})\n    delete(message["ReceiptHandle"])\n',
            wrong='             payload={"key": key})\n        delete(message["ReceiptHandle"])\n',
            hint="delete each message once, whatever it holds"),
    Mistake("sweep-without-committed-filter", EVENTS, "sweep-solution",
            right="    return [key for key in listed if (key, etags[key]) not in done], "
                  "watermark\n",
            wrong="    return listed, watermark  # ingest skips what it holds anyway\n",
            hint="file(s) the table already holds"),
    Mistake("sweep-ignores-watermark", EVENTS, "sweep-solution",
            right="list_new_keys(lake.s3, lake.bucket, since, prefix=lake.incoming)",
            wrong="list_new_keys(lake.s3, lake.bucket, None, prefix=lake.incoming)",
            hint="pass `since` to list_new_keys"),
    # 03_advanced/prefect/03_concurrency
    Mistake("touching-tasks-counted-concurrent", CONCURRENCY, "peak-solution",
            right="                    [(end, -1) for start, end in intervals])\n",
            wrong="                    [(end, -1) for start, end in intervals],\n"
                  "                    key=lambda event: event[0])  # by time only\n",
            hint="at equal times, count the ends before the starts"),
    Mistake("tasks-counted-not-overlaps", CONCURRENCY, "peak-solution",
            right="    events = sorted(",
            wrong="    return sum(any(s < end and start < e for s, e in intervals if (s, e) != "
                  "(start, end))\n               for start, end in intervals)\n"
                  "    events = sorted(",
            hint="not how many tasks overlap some other one"),
    Mistake("read-task-untagged", CONCURRENCY, "read-limit-solution",
            right="@task(tags=[READ_TAG], retries=2", wrong="@task(retries=2",
            hint="put tags=[READ_TAG] on the @task read_device"),
    Mistake("tag-limit-for-another-tag", CONCURRENCY, "read-limit-solution",
            right="client.create_concurrency_limit(tag=READ_TAG,",
            wrong='client.create_concurrency_limit(tag="s3-reads",',
            hint="a limit created for a different tag does not apply"),
    HardCoded("tag-limit-hard-coded", CONCURRENCY, "read-limit-solution",
              right="concurrency_limit=limit)", wrong="concurrency_limit=VALUE)",
              value=lambda k: defaults(k)["read_limit"], passes_by_default=False,
              hint="use the `limit` argument"),
    Mistake("writer-limit-never-created", CONCURRENCY, "writer-limit-solution",
            right="    client.upsert_global_concurrency_limit_by_name(WRITER, limit=1)\n",
            wrong="    pass  # concurrency() makes the limit the first time it is used\n",
            hint="concurrency() does not create a missing limit, a missing limit means no limit"),
    Mistake("commit-outside-the-limit", CONCURRENCY, "writer-limit-solution",
            right="    with concurrency(WRITER, occupy=1):\n"
                  "        return steps.timed_commit(bucket, endpoint, batch)\n",
            wrong="    return steps.timed_commit(bucket, endpoint, batch)\n",
            hint="wrap the commit (steps.timed_commit) in `with concurrency(WRITER, occupy=1):`"),
    # 03_advanced/prefect/04_features_and_artifacts
    HardCoded("hard-coded-feature-dates", PREFECT_04, "touched-partitions-solution",
              right='build_features(bucket, endpoint, dates=ingested["dates"])',
              wrong="build_features(bucket, endpoint, dates=VALUE)",
              value=lambda k: [(dt.date.fromisoformat(defaults(k)["start"][:10])
                                + dt.timedelta(days=1)).isoformat()],  # the night's date
              hint="not dates written in by hand"),
    Mistake("artifact-key-with-underscore", PREFECT_04, "ingest-artifacts-solution",
            right='key="ingest-report"', wrong='key="ingest_report"',
            hint="only lowercase letters, numbers and dashes"),
    Mistake("features-from-the-whole-table", PREFECT_04, "touched-partitions-solution",
            right="lf.read_readings(lake.table_uri(), lake.storage_options, dates=dates)",
            wrong="lf.read_readings(lake.table_uri(), lake.storage_options)",
            hint="recomputed from the whole table"),
    Mistake("pipeline-without-dates", PREFECT_04, "touched-partitions-solution",
            right='build_features(bucket, endpoint, dates=ingested["dates"])',
            wrong="build_features(bucket, endpoint)",
            hint="pass it the dates the ingestion committed"),
    Mistake("trigger-on-running", PREFECT_04, "trigger-solution",
            right='expect={"prefect.flow-run.Completed"}',
            wrong='expect={"prefect.flow-run.Running"}', hint="before ingestion commits"),
    Mistake("trigger-on-any-state", PREFECT_04, "trigger-solution",
            right='expect={"prefect.flow-run.Completed"}', wrong='expect={"prefect.flow-run.*"}',
            hint="before ingestion commits"),
    Mistake("trigger-on-any-flow", PREFECT_04, "trigger-solution",
            right='        match_related={"prefect.resource.role": "flow",\n'
                  '                       "prefect.resource.name": "ingest-sensors"},\n',
            wrong="", hint="fires on any flow's completion"),
    # 03_advanced/prefect/01_flows_and_tasks
    Mistake("block-saved-without-overwrite", PF01, "bucket-block-solution",
            right="    block.save(name, overwrite=True, _sync=True)\n",
            wrong="    block.save(name, _sync=True)\n", hint="overwrite=True"),
    Mistake("retry-every-failure", PF01, "retry-condition-solution",
            right="    except Exception:  # a bad file (BadFile), a missing bucket, a bug: the "
                  "same next time\n        return False\n",
            wrong="    except Exception:  # whatever failed may work next time\n"
                  "        return True\n",
            hint="do not retry BadFile, it goes to quarantine"),
    Mistake("retry-every-s3-error", PF01, "retry-condition-solution",
            right='        return err.response["Error"]["Code"] in TRANSIENT_CODES\n',
            wrong="        return True  # S3 failed: try again\n",
            hint="a missing bucket or AccessDenied stays so"),
    Mistake("cache-on-key-alone", PF01, "cache-key-solution",
            right="    return f\"{parameters['key']}@{parameters['etag']}\"\n",
            wrong="    return parameters[\"key\"]\n",
            hint="put the ETag in the cache key"),
    Mistake("cache-default-policy", PF01, "cache-key-solution",
            right="CACHE_POLICY = TASK_SOURCE + CacheKeyFnPolicy(cache_key_fn=file_version)\n",
            wrong="CACHE_POLICY = DEFAULT\n", hint="DEFAULT includes RUN_ID"),
    Mistake("cache-without-task-source", PF01, "cache-key-solution",
            right="CACHE_POLICY = TASK_SOURCE + CacheKeyFnPolicy(cache_key_fn=file_version)\n",
            wrong="CACHE_POLICY = CacheKeyFnPolicy(cache_key_fn=file_version)\n",
            hint="add TASK_SOURCE"),
    Mistake("task-called-in-a-loop", PF01, "map-files-solution",
            right="    futures = check_file.map(unmapped(block), list(files), "
                  "list(files.values()))\n"
                  "    for future in futures:\n"
                  "        outcome = future.result(raise_on_failure=False)\n",
            wrong="    for key, etag in files.items():  # one file after the other\n"
                  "        try:\n"
                  "            outcome = check_file(block, key, etag)\n"
                  "        except BadFile as err:\n"
                  "            outcome = err\n",
            hint="runs each call serially"),
    Mistake("failed-future-raises", PF01, "map-files-solution",
            right="        outcome = future.result(raise_on_failure=False)\n",
            wrong="        outcome = future.result()\n", hint="raise_on_failure=False"),
    HardCoded("hard-coded-watermark", PF01, "watermark-solution",
              right="    since = Variable.get(WATERMARK, default=None)\n",
              wrong="    since = VALUE  # where the files start\n",
              value=lambda k: dt.datetime.fromisoformat(defaults(k)["start"]).replace(
                  tzinfo=dt.UTC).isoformat(),
              passes_by_default=False, hint="pass the Variable's watermark"),
    Mistake("watermark-not-advanced", PF01, "watermark-solution",
            right="    if watermark is not None:\n"
                  "        Variable.set(WATERMARK, watermark, overwrite=True)\n",
            wrong="", hint="the watermark was not advanced"),
    Mistake("watermark-before-commit", PF01, "watermark-solution",
            right="    done = ingest_flow.ingest_files(block, files)\n"
                  "    if watermark is not None:\n"
                  "        Variable.set(WATERMARK, watermark, overwrite=True)\n",
            wrong="    if watermark is not None:\n"
                  "        Variable.set(WATERMARK, watermark, overwrite=True)\n"
                  "    done = ingest_flow.ingest_files(block, files)\n",
            hint="advanced before the commit"),
    Mistake("watermark-not-used", PF01, "watermark-solution",
            right="    files, watermark = new_files(block, since, lag_s)\n",
            wrong="    files, watermark = new_files(block, None, lag_s)  # every ready file\n",
            hint="pass the Variable's watermark"),
    # 03_advanced/dagster/01_assets_and_resources
    Mistake("resource-without-endpoint", D01, "lake-resource-solution",
            right="        return Lake(self.bucket, self.endpoint_url or None)\n",
            wrong="        return Lake(self.bucket)\n",
            hint="without endpoint_url boto3 goes to AWS"),
    Mistake("resource-empty-endpoint", D01, "lake-resource-solution",
            right="        return Lake(self.bucket, self.endpoint_url or None)\n",
            wrong="        return Lake(self.bucket, self.endpoint_url)\n",
            hint="an empty endpoint_url means real AWS"),
    Mistake("resource-literal-bucket", D01, "lake-resource-solution",
            right='LAKE = LakeResource(bucket=dg.EnvVar("LAKE_BUCKET"),',
            wrong='LAKE = LakeResource(bucket="dagster-01",', hint="dg.EnvVar('LAKE_BUCKET')"),
    HardCoded("hard-coded-hour", D01, "readings-asset-solution",
              right="    hour = [key for key in listed if window.start <= keys.window_start(key) "
                    "< window.end]\n",
              wrong="    hour = [key for key in listed if keys.window_start(key).hour == VALUE]\n",
              value=lambda k: dt.datetime.fromisoformat(defaults(k)["start"]).hour,
              passes_by_default=False, hint="take the partition's hour from "
                                            "context.partition_time_window"),
    Mistake("readings-every-file", D01, "readings-asset-solution",
            right="    hour = [key for key in listed if window.start <= keys.window_start(key) "
                  "< window.end]\n",
            wrong="    hour = listed\n", hint="filter the keys by context.partition_time_window"),
    Mistake("readings-commit-per-file", D01, "readings-asset-solution",
            right="    report = ingest.ingest(hour, the_lake)\n",
            wrong="    report = ingest.ingest(hour, the_lake, one_commit=False)\n",
            hint="never one_commit=False"),
    Mistake("row-count-of-the-run", D01, "readings-asset-solution",
            right=ROW_COUNT,
            wrong='        "dagster/row_count": report.rows,\n',
            hint="report what the partition holds"),
    Mistake("row-count-as-text", D01, "readings-asset-solution",
            right=ROW_COUNT,
            wrong='        "dagster/row_count": str(table.rows_between(found, window.start, '
                  'window.end)),\n',
            hint="report it as an int"),
    Mistake("scores-without-deps", D01, "scores-metadata-solution",
            right="@dg.asset(deps=[readings], ", wrong="@dg.asset(",
            hint="declare deps=[readings]"),
    Mistake("preview-as-text", D01, "scores-metadata-solution",
            right='        "preview": dg.MetadataValue.md(top.to_markdown(index=False)),\n',
            wrong='        "preview": top.to_markdown(index=False),\n', hint="dg.MetadataValue.md"),
    Mistake("plot-as-path", D01, "scores-metadata-solution",
            right='        "plot": dg.MetadataValue.md(\n'
                  '            f"![anomaly scores](data:image/png;base64,'
                  '{base64.b64encode(png).decode()})"),\n',
            wrong='        "plot": dg.MetadataValue.path("anomaly_scores.png"),\n',
            hint="embed the PNG in Markdown"),
    # 03_advanced/dagster/02_partitions_and_backfills
    Mistake("files-never-added", D02, "per-file-partitions-solution",
            right="    instance.add_dynamic_partitions(SENSOR_FILES.name, new)\n", wrong="",
            hint="add them with instance.add_dynamic_partitions"),
    Mistake("file-partition-takes-every-file", D02, "per-file-partitions-solution",
            right="    report = ingest.ingest([context.partition_key], the_lake)\n",
            wrong="    from workbook.lake import keys\n"
                  "    report = ingest.ingest(keys.list_new_keys(the_lake.s3, the_lake.bucket)[0], "
                  "the_lake)\n",
            hint="ingests its own file alone"),
    Mistake("dead-letter-swallowed", D02, "dead-letter-solution",
            right="        raise\n",
            wrong='        return dg.MaterializeResult(metadata={"failed": str(err)})\n',
            hint="then raise again"),
    Mistake("dead-letter-by-run", D02, "dead-letter-solution",
            right="        deadletter.record(the_lake, ASSET, partition, err, "
                  "context.run.run_id)\n",
            wrong="        deadletter.record(the_lake, ASSET, context.run.run_id, err, "
                  "context.run.run_id)\n",
            hint="key each record by its partition"),
    Mistake("dead-letter-never-cleared", D02, "dead-letter-solution",
            right="    deadletter.clear(the_lake, ASSET, partition)\n", wrong="",
            hint="clear the record when the partition succeeds"),
    Mistake("backfill-missing-too", D02, "failed-only-backfill-solution",
            right="if found == dg.AssetPartitionStatus.FAILED)",
            wrong="if found != dg.AssetPartitionStatus.MATERIALIZED)",
            hint="missing is not failed"),
    Mistake("backfill-whole-night", D02, "failed-only-backfill-solution",
            right="if found == dg.AssetPartitionStatus.FAILED)", wrong="if found is not None)",
            hint="which had succeeded"),
    HardCoded("backfill-hard-coded", D02, "failed-only-backfill-solution",
              right=FAILED_ONLY, wrong="    return [VALUE]\n",
              value=lambda k: f"{last_hour(k)}|2", hint="missing is not failed"),
    # 03_advanced/dagster/03_sensors
    HardCoded("hard-coded-first-hour", D03, "run-requests-solution",
              right="        by_hour.setdefault(hour_of(key), []).append(key)\n",
              wrong="        by_hour.setdefault(VALUE, []).append(key)\n",
              value=lambda k: f"{dt.datetime.fromisoformat(defaults(k)['start']):%Y-%m-%d-%H}:00",
              passes_by_default=False, hint="one request per hour with new files"),
    Mistake("run-key-of-the-time", D03, "run-requests-solution", right=RUN_KEY,
            wrong="    import time\n\n"
                  "    return [dg.RunRequest(partition_key=hour, "
                  'run_key=f"{hour}:{time.time()}")\n',
            hint="two calls with the same files gave different run_keys"),
    Mistake("run-key-of-the-hour", D03, "run-requests-solution", right=RUN_KEY,
            wrong="    return [dg.RunRequest(partition_key=hour, run_key=hour)\n",
            hint="Name the files in the run_key"),
    Mistake("cursor-never-set", D03, "sensor-cursor-solution",
            right="    context.update_cursor(json.dumps(", wrong="    (json.dumps(",
            hint="keep in the cursor what you asked for"),
    Mistake("queue-only", D03, "sensor-cursor-solution", right=NEW_KEYS,
            wrong="    new = [key for key in announced if key not in asked]\n",
            hint="list the bucket since the cursor's watermark"),
    Mistake("asked-forgotten", D03, "sensor-cursor-solution",
            right='"asked": sorted(set(listed) | set(announced))}))',
            wrong='"asked": []}))', hint="keep in the cursor what you asked for"),
    # 03_advanced/dagster/04_checks_and_automation
    Mistake("eager-in-the-latest-window", D04, "automation-solution", right=CONDITION,
            wrong="    return dg.AutomationCondition.eager()\n",
            hint=".without(dg.AutomationCondition.in_latest_time_window())"),
    Mistake("automation-ignores-checks", D04, "automation-solution", right=CONDITION,
            wrong="    return dg.AutomationCondition.eager().without(\n"
                  "        dg.AutomationCondition.in_latest_time_window())\n",
            hint="all_deps_blocking_checks_passed"),
    Mistake("schema-check-not-blocking", D04, "schema-check-solution",
            right="@dg.asset_check(asset=readings, blocking=True, ",
            wrong="@dg.asset_check(asset=readings, ", hint="make the check blocking"),
    Mistake("schema-names-only", D04, "schema-check-solution", right=DIFFERENCES,
            wrong="    for field in found:\n"
                  "        if field.name not in expected.names:\n"
                  "            problems.append(f\"{field.name} is not a column of the table\")\n"
                  "        elif False:\n",
            hint="compare each column's type"),
    Mistake("schema-check-a-warning", D04, "schema-check-solution",
            right="severity=dg.AssetCheckSeverity.ERROR",
            wrong="severity=dg.AssetCheckSeverity.WARN", hint="only ERROR blocks"),
    HardCoded("reconcile-the-damaged-files", D04, "reconciliation-solution", right=MISMATCHES,
              wrong="    return {key: [in_table.get(key, 0), committed.get(key, 0)]\n"
                    "            for key in VALUE\n"
                    "            if in_table.get(key, 0) != committed.get(key, 0)}\n",
              value=damaged_files, passes_by_default=False,
              hint="every file of the table and every committed one"),
    Mistake("reconcile-totals", D04, "reconciliation-solution", right=MISMATCHES,
            wrong="    total, expected = sum(in_table.values()), sum(committed.values())\n"
                  '    return {} if total == expected else {"all files": [total, expected]}\n',
            hint="compare file by file"),
    Mistake("reconcile-the-tables-files", D04, "reconciliation-solution", right=MISMATCHES,
            wrong="    return {key: [rows, committed.get(key, 0)]\n"
                  "            for key, rows in in_table.items()\n"
                  "            if rows != committed.get(key, 0)}\n",
            hint="go through the committed files too"),
    Mistake("reconcile-the-committed-files", D04, "reconciliation-solution", right=MISMATCHES,
            wrong="    return {key: [in_table.get(key, 0), rows]\n"
                  "            for key, rows in committed.items()\n"
                  "            if in_table.get(key, 0) != rows}\n",
            hint="go through the table's files too"),
    # 03_advanced/dagster/05_observability_and_pools
    Mistake("metrics-grouped-by-partition", D05, "run-metrics-solution", right=PUSH,
            wrong="        lake_metrics.push(metrics, self.url, context.partition_key)\n",
            hint="a group of its own, run=context.run_id"),
    Mistake("metrics-one-group", D05, "run-metrics-solution", right=PUSH,
            wrong='        lake_metrics.push(metrics, self.url, "readings")\n',
            hint="a group of its own, run=context.run_id"),
    Mistake("metrics-not-recorded", D05, "run-metrics-solution",
            right="        metrics.record(report, newest)\n", wrong="",
            hint="record this run's report"),
    Mistake("pool-as-tag", D05, "pool-solution", right=POOL,
            wrong='          tags={"pool": WRITER_POOL},\n',
            hint="a tag named pool is only a label"),
    Mistake("pool-name-typo", D05, "pool-solution", right=POOL,
            wrong='          pool="delta_writer",\n',
            hint="use the name WRITER_POOL in both places"),
    Mistake("limit-never-set", D05, "pool-solution", right=LIMIT,
            wrong="    pass  # dagster.yaml's default_limit is 1 already\n", hint="nobody set it"),
    HardCoded("limit-hard-coded", D05, "pool-solution", right=LIMIT,
              wrong="    instance.event_log_storage.set_concurrency_slots(WRITER_POOL, VALUE)\n",
              value=lambda k: defaults(k)["writers"], hint="set it from writers"),
    # 03_advanced/dagster/06_ui_and_deployment
    Mistake("workspace-without-working-directory", D06, "workspace-solution",
            right="      working_directory: ../defs\n", wrong="",
            hint="set working_directory: ../defs"),
    Mistake("workspace-path-from-the-repository", D06, "workspace-solution",
            right="relative_path: ../defs/definitions.py",
            wrong="relative_path: defs/definitions.py",
            hint="relative to workspace.yaml's folder"),
    Mistake("workspace-without-name", D06, "workspace-solution",
            right="      location_name: sensor-lake\n", wrong="", hint="name it 'sensor-lake'"),
    Mistake("instance-on-sqlite", D06, "instance-solution",
            right="storage:\n  postgres:\n    postgres_db:\n"
                  "      hostname: {env: DAGSTER_PG_HOST}\n      port: {env: DAGSTER_PG_PORT}\n"
                  "      username: {env: DAGSTER_PG_USER}\n"
                  "      password: {env: DAGSTER_PG_PASSWORD}\n"
                  "      db_name: {env: DAGSTER_PG_DB}\n",
            wrong="", hint="use storage: postgres"),
    Mistake("instance-password-written", D06, "instance-solution",
            right="password: {env: DAGSTER_PG_PASSWORD}", wrong="password: not-a-real-secret",
            hint="the password is written in dagster.yaml"),
    Mistake("instance-host-written", D06, "instance-solution",
            right="hostname: {env: DAGSTER_PG_HOST}", wrong="hostname: 127.0.0.1",
            hint="hostname written in dagster.yaml"),
    Mistake("instance-limit-in-the-coordinator", D06, "instance-solution",
            right="  class: QueuedRunCoordinator\n",
            wrong="  class: QueuedRunCoordinator\n  config:\n    max_concurrent_runs: 4\n",
            hint="set the limit once, under concurrency: runs"),
    Mistake("instance-default-coordinator", D06, "instance-solution",
            right="  class: QueuedRunCoordinator\n", wrong="  class: DefaultRunCoordinator\n",
            hint="each launched run starts at once"),
    HardCoded("code-location-image-hard-coded", D06, "ecs-task-solution",
              right='            "image": image,\n', wrong='            "image": VALUE,\n',
              value=lambda k: defaults(k)["image"], hint="not the code location's image"),
    Mistake("code-server-on-localhost", D06, "ecs-task-solution",
            right='"-h", "0.0.0.0", ', wrong="", hint="listens on localhost"),
    Mistake("code-server-dagster-on-the-path", D06, "ecs-task-solution",
            right="[dagster_deploy.IMAGE_DAGSTER, ", wrong='["dagster", ',
            hint="the image's dagster is /opt/venvs/dagster/bin/dagster"),
    Mistake("code-server-port-not-mapped", D06, "ecs-task-solution",
            right='"portMappings": [{"containerPort": GRPC_PORT, "protocol": "tcp"}]',
            wrong='"portMappings": []', hint="containerPort 4000"),
    Mistake("code-server-password-in-environment", D06, "ecs-task-solution",
            right='"LAKE_ENDPOINT": ""}',
            wrong='"LAKE_ENDPOINT": "", "DAGSTER_PG_PASSWORD": "s3cret"}',
            hint="shown in clear"),
    Mistake("code-server-without-bucket", D06, "ecs-task-solution",
            right='"LAKE_BUCKET": "northwind-sensors",\n                   ', wrong="",
            hint="the container lacks LAKE_BUCKET"),
    # 03_advanced/capstone/01_four_styles
    HardCoded("capstone-day-hard-coded", STYLES, "cron-source-solution",
              right="    online = extract_online(data, day)\n",
              wrong="    online = extract_online(data, VALUE)\n",
              value=lambda k: defaults(k)["day"], hint="failed in its step extract_online"),
    Mistake("capstone-stores-only", STYLES, "cron-source-solution", right=BOTH,
            wrong="    return load_with_retry(transform(stores), out, day)\n",
            hint="holds the stores' sales only"),
    Mistake("capstone-load-without-its-retry", STYLES, "cron-source-solution", right=BOTH,
            wrong="    return load(transform(stores, online), out, day)\n",
            hint="failed in its step load"),
    Mistake("capstone-online-arguments-swapped", STYLES, "cron-source-solution",
            right="extract_online(data, day)", wrong="extract_online(day, data)",
            hint="failed in its step extract_online"),
    Mistake("capstone-online-read-in-the-summary", STYLES, "dagster-source-solution",
            right="def daily_summary(store_sales, online_orders):\n" + SUMMARY_DOC
                  + "    return steps.transform(store_sales, online_orders)\n",
            wrong="def daily_summary(context: dg.AssetExecutionContext, store_sales,\n"
                  "                  folders: SalesFolders):\n" + SUMMARY_DOC
                  + "    online = steps.extract_online(folders.data, context.partition_key)\n"
                  "    return steps.transform(store_sales, online)\n",
            hint="in an asset of their own"),
    Mistake("capstone-online-in-another-group", STYLES, "dagster-source-solution",
            right='group_name="sales", retry_policy=RETRY)\ndef online_orders(',
            wrong='group_name="web", retry_policy=RETRY)\ndef online_orders(',
            hint="job's selection"),
)
