"""The event-driven path of the Prefect track (03_advanced/prefect/02_event_driven), around the
lake pipeline (workbook.lake, reused, never copied):

    upload to S3 -> S3 event notification in the lesson's SQS queue -> a watcher turns each new
    file into a Prefect event `sensors.file.uploaded` (resource `s3.<bucket>.<key>`) and only
    then deletes the message -> a deployment trigger (an automation on the Prefect server) starts
    the served ingestion flow with the key -> ingest.ingest commits the file once.

A scheduled sweep lists what arrived since its watermark and ingests what the table does not
hold, catching what the events missed; the Delta table's app transactions (workbook.lake.table)
make each file land once whichever path saw it first.

Here are the reference answers of the lesson's exercises (`handle_message`, `file_trigger`,
`pending_keys`), the watcher's loop, the background processes a lesson starts (the served
deployments and the watcher, each in its own session, stopped by process group), waits on real
conditions (a deployment registered, rows committed, flow runs finished) each with a deadline
and a message, what a check asks of a trigger (`fires`, `rendered`), and `measure_latency`, the
benchmark's event-to-row latency. Prefect is imported inside the functions: a lesson's setup
points Prefect at its server (prefect_home.activate) before anything imports it.
"""

import atexit
import contextlib
import datetime as dt
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from workbook import paths, processes
from workbook.lake import Lake, table
from workbook.lake.keys import announced, list_new_keys
from workbook.lake_lesson import drop_messages  # noqa: F401 (lesson 02 calls it from here)
from workbook.sensors import MANIFEST_SUFFIX
from workbook.services import base
from workbook.waiting import wait_for

EVENT = "sensors.file.uploaded"  # the event the watcher emits, once per complete file
RUNNER_POLL_S = 1  # how often a served deployment asks for runs to start (Prefect's default: 10)
SERVE_TIMEOUT_S = 90  # a served process registering its deployments (a loaded 2-core machine)
# The variables a lesson's background processes and flow runs read their lake from.
BUCKET_VARIABLE, ENDPOINT_VARIABLE = "LAKE_BUCKET", "LAKE_ENDPOINT"
QUEUE_VARIABLE = "LAKE_QUEUE_URL"


def resource_id(bucket: str, key: str) -> str:
    """The Prefect resource a file is: `s3.<bucket>.<data key>`."""
    return f"s3.{bucket}.{key}"


# ---------------------------------------------------------------- the reference answers

def handle_message(message: dict, bucket: str, emit, delete) -> list[str]:
    """One SQS message: emit one event per file it says is complete (its manifest arrived: the
    device uploads it last), then delete the message; the data keys it announced. A message
    deleted before its events are out is lost if the watcher dies in between; one never
    deleted (S3's test event included) comes back after its visibility time-out, forever."""
    keys = announced(message["Body"])
    for key in keys:
        emit(event=EVENT, resource={"prefect.resource.id": resource_id(bucket, key)},
             payload={"key": key})
    delete(message["ReceiptHandle"])
    return keys


def file_trigger(bucket: str):
    """The ingestion deployment's trigger: one run per `sensors.file.uploaded` event of a file
    of `bucket`, with the file's key as the run's `key` parameter."""
    from prefect.events import DeploymentEventTrigger

    return DeploymentEventTrigger(
        expect={EVENT}, match={"prefect.resource.id": f"s3.{bucket}.*"},
        parameters={"key": "{{ event.payload.key }}"})


def pending_keys(lake: Lake, since: dt.datetime | None) -> tuple[list[str], dt.datetime | None]:
    """What a sweep ingests: the complete files that arrived since the watermark `since` and
    that the table does not hold yet; and the new watermark."""
    keys, watermark = list_new_keys(lake.s3, lake.bucket, since, prefix=lake.incoming)
    snapshot = table.open_table(lake.table_uri(), lake.storage_options)
    etags = {key: lake.s3.head_object(Bucket=lake.bucket, Key=key)["ETag"].strip('"')
             for key in keys}
    done = table.committed(snapshot, list(etags.items()))
    return [key for key in keys if (key, etags[key]) not in done], watermark


# ---------------------------------------------------------------- the watcher

def emit_delivered(**event):
    """`prefect.events.emit_event(**event)`, returning once the event has left this process:
    emit_event only queues it for a background thread, and a watcher that then deletes the SQS
    message must not lose the event with the message if it dies a moment later."""
    from prefect.events import emit_event
    from prefect.events.worker import EventsWorker

    emitted = emit_event(**event)
    if emitted is None:
        raise RuntimeError("Prefect emits no events here (no API URL?): not deleting the message")
    EventsWorker.instance().wait_until_empty()
    return emitted


def lake_environ(lake: Lake, queue_url: str | None = None) -> dict[str, str]:
    """What a background process or a flow run needs to find the lesson's lake."""
    found = {BUCKET_VARIABLE: lake.bucket, ENDPOINT_VARIABLE: lake.endpoint_url or ""}
    return found | ({QUEUE_VARIABLE: queue_url} if queue_url else {})


def lake_from_environ() -> Lake:
    """The lake named by `lake_environ`'s variables (in a served flow run or the watcher)."""
    if BUCKET_VARIABLE not in os.environ:
        raise RuntimeError(f"{BUCKET_VARIABLE} is not set: start this process with "
                           "workbook.prefect_events.start(...), which passes the lake")
    return Lake(os.environ[BUCKET_VARIABLE], os.environ.get(ENDPOINT_VARIABLE) or None)


def watch(handle=handle_message, wait_s: int = 1, log=print) -> None:
    """The watcher's loop, until stopped: receive the queue's messages (long polling, `wait_s`
    seconds), and hand each to `handle(message, bucket, emit, delete)`. A message `handle` did
    not delete comes back after its visibility time-out (SQS delivers at least once); a handler
    that raises stops the watcher, its message still in the queue."""
    lake, queue_url = lake_from_environ(), os.environ[QUEUE_VARIABLE]
    sqs = lake.sqs

    def delete(receipt_handle: str) -> None:
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=receipt_handle)

    # One event first: it opens the connection to the server, so the first file's is not slower.
    emit_delivered(event="sensors.watcher.started",
                   resource={"prefect.resource.id": f"sensors.watcher.{lake.bucket}"})
    log(f"watching {queue_url} for {lake.bucket}", flush=True)
    while True:
        got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10,
                                  WaitTimeSeconds=wait_s, VisibilityTimeout=30)
        for message in got.get("Messages", []):
            keys = handle(message, lake.bucket, emit_delivered, delete)
            log(f"{dt.datetime.now(dt.UTC):%H:%M:%S.%f} message {message['MessageId'][:8]}: "
                f"{len(keys)} event(s) {keys}", flush=True)


# ---------------------------------------------------------------- background processes

@dataclass
class Background:
    """A process the lesson started in its own session (stop it: its whole group and tree)."""

    name: str
    pid: int
    log: Path
    started: dt.datetime
    proc: object = field(repr=False, default=None)

    def running(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            return False
        return processes.running(self.pid)

    def tail(self, lines: int = 12) -> str:
        try:
            text = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(text[-lines:])

    def stop(self) -> list[int]:
        """Stop it with its process group and every descendant; those that survived (none)."""
        left = processes.stop_tree(self.pid, timeout=15)
        if self.proc is not None:
            self.proc.wait(5)
        _started.pop(self.pid, None)
        return left


_started: dict[int, Background] = {}


@atexit.register
def stop_all() -> list[int]:
    """Stop every background process this interpreter started (also at its exit)."""
    return [pid for b in list(_started.values()) for pid in b.stop()]


def child_environ(lake: Lake, queue_url: str | None, flows: Path | None) -> dict[str, str]:
    """This process's environment (the Prefect server's variables included) with the lake,
    Prefect's runner polling every second, and the flows folder importable."""
    path = [str(flows)] if flows else []
    path += [str(paths.ROOT), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, **lake_environ(lake, queue_url),
            "PREFECT_RUNNER_POLL_FREQUENCY": str(RUNNER_POLL_S),
            "PYTHONPATH": os.pathsep.join(p for p in path if p), "PYTHONUNBUFFERED": "1"}


def start(name: str, argv: list[str], lake: Lake, queue_url: str | None = None,
          flows: Path | None = None, logs: Path | None = None) -> Background:
    """Run `python *argv` in the background, in its own session, logging to `<logs>/<name>.log`
    (default: the flows folder's parent, else a temporary folder). When none of this
    interpreter's processes runs, the runs that events about the lake's files queued before
    are forgotten first: what a served process runs is this session's, and while one of its
    processes runs (a second watcher started beside the first), a waiting run is one its events
    just queued. (Not at the lesson's setup: that runs before `import prefect`.)"""
    if not any(b.running() for b in _started.values()):
        forget_waiting_runs(lake.bucket)
    folder = logs or (flows.parent / "logs" if flows else Path(tempfile.mkdtemp()))
    log = folder / f"{name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    left_over(log.with_suffix(".pid"))
    log.write_text("")
    started = dt.datetime.now(dt.UTC)
    proc = base.spawn([sys.executable, *argv], log, env=child_environ(lake, queue_url, flows))
    log.with_suffix(".pid").write_text(f"{proc.pid} {argv[-1]}\n")
    _started[proc.pid] = Background(name, proc.pid, log, started, proc)
    return _started[proc.pid]


def left_over(pid_file: Path) -> list[int]:
    """Stop the process an earlier run left under this name (a kernel killed before the
    lesson's last cell: its watcher would compete for the queue's messages), if it still runs
    the same script; those that survived."""
    try:
        pid, script = pid_file.read_text().split(maxsplit=1)
        command = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except (OSError, ValueError):
        return []
    return processes.stop_tree(int(pid)) if script.strip() in command else []


def _died(*watched: Background) -> str | None:
    for b in watched:
        if not b.running():
            return f"the {b.name} process stopped; the end of its log ({b.log}):\n{b.tail()}"
    return None


def wait_until(condition, timeout: float, what: str, *watched: Background) -> None:
    """Wait for `condition`, failing at once with the log of a watched process that stopped,
    and after `timeout` seconds with a message naming `what` was awaited."""
    died = []

    def done() -> bool:
        if (why := _died(*watched)) is not None:
            died.append(why)
            return True
        return condition()

    if not wait_for(done, timeout, 0.5):
        logs = "\n".join(f"--- {b.name}:\n{b.tail()}" for b in watched)
        raise TimeoutError(f"waited {timeout:.0f} s for {what}, in vain\n{logs}")
    if died:
        raise RuntimeError(f"while waiting for {what}, {died[0]}")


def deployment(name: str):
    """A deployment by its `flow-name/deployment-name`, or None."""
    from prefect import get_client
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            return client.read_deployment_by_name(name)
        except ObjectNotFound:
            return None


def triggered_by(automation, bucket: str) -> list:
    """The deployments an automation starts on events about the files of `bucket`."""
    match = automation.trigger.model_dump(mode="json").get("match") or {}
    patterns = match.get("prefect.resource.id") or []
    patterns = [patterns] if isinstance(patterns, str) else patterns
    if not any(p.startswith(resource_id(bucket, "")) for p in patterns):
        return []
    return [a.deployment_id for a in automation.actions
            if getattr(a, "type", None) == "run-deployment" and a.deployment_id]


def forget_waiting_runs(bucket: str) -> int:
    """Delete the runs that events about `bucket`'s files queued and nobody started: a trigger
    fires whether or not its deployment is served, so a run queued after an earlier session
    (the lesson done, the latency bench after it) waits, and the next time the deployment is
    served it runs, ingesting a file this session never announced. How many were deleted."""
    from prefect import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterDeploymentId,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType

    with get_client(sync_client=True) as client:
        targets = {d for a in client.read_automations() for d in triggered_by(a, bucket)}
        if not targets:
            return 0
        waiting = client.read_flow_runs(flow_run_filter=FlowRunFilter(
            deployment_id=FlowRunFilterDeploymentId(any_=list(targets)),
            state=FlowRunFilterState(type=FlowRunFilterStateType(
                any_=[StateType.SCHEDULED, StateType.PENDING]))))
        for run in waiting:
            client.delete_flow_run(run.id)
    return len(waiting)


def forget_deployment(name: str) -> None:
    """Delete a deployment nobody serves any more, with the triggers it owns: left on the
    server, a trigger queues a run for every later event it matches (`forget_waiting_runs`)."""
    from prefect import get_client

    with get_client(sync_client=True) as client:
        found = client.read_deployment_by_name(name)
        client.delete_resource_owned_automations(f"prefect.deployment.{found.id}")
        client.delete_deployment(found.id)


def wait_served(served: Background, *names: str, timeout: float = SERVE_TIMEOUT_S) -> None:
    """Wait until `served` has registered every deployment of `names` (updated since it
    started: a deployment left by an earlier run does not count) and polls for runs."""
    def registered() -> bool:
        found = [deployment(n) for n in names]
        return all(d is not None and d.updated >= served.started for d in found) and (
            "polling for scheduled runs" in served.tail(200)
            or "is being served" in served.tail(200))

    wait_until(registered, timeout, f"{served.name} to serve {', '.join(names)}", served)


def variable(name: str, unset: bool = False):
    """A Prefect Variable's value (None if it is not set), read through the sync client, as a
    notebook cell can (in a kernel, whose event loop runs, `Variable.get` gives a coroutine);
    `unset=True` deletes it first."""
    from prefect import get_client
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        if unset:
            with contextlib.suppress(ObjectNotFound):
                client.delete_variable_by_name(name)
        found = client.read_variable_by_name(name)
    return None if found is None else found.value


def committed_keys(lake: Lake) -> dict[str, int]:
    """The table's rows per source file ({} before the first commit)."""
    found = table.open_table(lake.table_uri(), lake.storage_options)
    if found is None:
        return {}
    counts = found.to_pandas(columns=["source_key"])["source_key"].value_counts()
    return {str(k): int(v) for k, v in counts.items()}


def wait_committed(lake: Lake, keys: list[str], timeout: float, *watched: Background,
                   deployment_name: str | None = None, since: dt.datetime | None = None) -> dict:
    """Wait until the table holds rows of every file of `keys`; its rows per file then. With
    `deployment_name`, fail as soon as that many of its runs since `since` finished and rows
    are still missing (the runs got other keys, or failed), naming what the runs were given."""
    final = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
    runs_done: list[list[dict]] = []

    def there() -> bool:
        if set(keys) <= set(committed_keys(lake)):
            return True
        if deployment_name is not None:  # runs for these keys, or for no key of the bucket
            runs = [r for r in flow_runs(deployment_name, since)
                    if r["parameters"].get("key") in keys
                    or not str(r["parameters"].get("key")).startswith(lake.incoming)]
            if sum(r["state"] in final for r in runs) >= len(keys):
                runs_done.append(runs)
                return True
        return False

    wait_until(there, timeout, f"rows of {len(keys)} file(s) in {lake.table_uri()}", *watched)
    rows = committed_keys(lake)
    if not set(keys) <= set(rows) and runs_done:
        missing = sorted(set(keys) - set(rows))
        given = [(r["parameters"], r["state"]) for r in runs_done[-1]]
        raise RuntimeError(f"{len(given)} run(s) of {deployment_name} finished, but the table "
                           f"has no rows of {missing}; the runs were given {given}")
    return rows


def flow_runs(deployment_name: str, since: dt.datetime) -> list[dict]:
    """The runs of a deployment created since `since`, oldest first: state and parameters."""
    from prefect import get_client
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterId,
        FlowRunFilter,
        FlowRunFilterStartTime,
    )

    found = deployment(deployment_name)
    if found is None:
        return []
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[found.id])),
            flow_run_filter=FlowRunFilter(start_time=FlowRunFilterStartTime(after_=since)))
    return sorted(({"name": r.name, "state": r.state.type.value if r.state else None,
                    "parameters": r.parameters, "created": r.created} for r in runs),
                  key=lambda r: r["created"])


def wait_runs_final(deployment_name: str, since: dt.datetime, keys: list[str], timeout: float,
                    *watched: Background, prefix: str = "incoming/") -> list[dict]:
    """Wait until a run of the deployment since `since` for each of `keys` (its `key`
    parameter) reached a final state; those runs (a run an earlier session left scheduled, for
    another file, is not counted). Fails at once when as many runs finished with a key that
    is no key under `prefix` (a trigger passing the wrong value)."""
    final = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}

    def ours() -> list[dict]:
        return [r for r in flow_runs(deployment_name, since) if r["parameters"].get("key") in keys]

    def done() -> bool:
        runs = flow_runs(deployment_name, since)
        finished = {r["parameters"].get("key") for r in runs if r["state"] in final}
        if finished >= set(keys):
            return True
        strays = [r["parameters"] for r in runs if r["state"] in final
                  and not str(r["parameters"].get("key")).startswith(prefix)]
        if len(strays) >= len(keys):  # the trigger gives its runs no key of the bucket
            raise RuntimeError(f"{len(strays)} run(s) of {deployment_name} finished with "
                               f"parameters {strays[:3]}, none for {sorted(keys)[:3]}: what "
                               "key does the trigger pass?")
        return False

    wait_until(done, timeout,
               f"a finished run of {deployment_name} for each of {len(keys)} file(s)", *watched)
    return ours()


# ---------------------------------------------------------------- what a check asks of a trigger

def _matches(value: str, patterns) -> bool:
    """Prefect's label matching: a value matches a pattern equal to it, or ending in `*` that
    it starts with (the pattern without the `*`); a list of patterns matches if one does."""
    patterns = [patterns] if isinstance(patterns, str) else list(patterns)
    return any(value == p or (p.endswith("*") and value.startswith(p[:-1])) for p in patterns)


def fires(trigger: dict, event: str, resource: dict) -> bool:
    """Whether a reactive event trigger (its JSON: `trigger.model_dump(mode="json")`) fires for
    an event named `event` about `resource` (its labels), as the server decides."""
    expect = trigger.get("expect") or []
    if expect and not _matches(event, expect):
        return False
    return all(label in resource and _matches(resource[label], pattern)
               for label, pattern in (trigger.get("match") or {}).items())


def rendered(trigger: dict, event: str, resource: dict, payload: dict) -> dict:
    """The parameters a run started by `trigger` gets for an event (Prefect renders them as
    Jinja templates, with the event as `event`: `event.resource.id`, `event.payload`...)."""
    from jinja2.sandbox import ImmutableSandboxedEnvironment
    from prefect.events import Event

    found = Event(event=event, resource=resource, payload=payload)
    env = ImmutableSandboxedEnvironment()
    return {name: env.from_string(value).render(event=found) if isinstance(value, str)
            else value for name, value in (trigger.get("parameters") or {}).items()}


def sample_events(bucket: str, key: str) -> dict[str, tuple[str, dict]]:
    """Events a trigger meets, by name: (event, resource labels)."""
    return {
        "a file of the bucket uploaded": (EVENT, {"prefect.resource.id": resource_id(bucket, key)}),
        "a file of another bucket uploaded": (
            EVENT, {"prefect.resource.id": resource_id(f"{bucket}-other", key)}),
        "a file of the bucket deleted": (
            "sensors.file.deleted", {"prefect.resource.id": resource_id(bucket, key)}),
        "a flow run completed": ("prefect.flow-run.Completed",
                                 {"prefect.resource.id": "prefect.flow-run.0000"}),
    }


# ---------------------------------------------------------------- what a check asks of a watcher

PROBE_KEY = "incoming/store=1/device=s1-fridge-1/2015-06-01/1200 (resent).csv"


def probe_messages() -> dict[str, str]:
    """SQS message bodies a watcher meets, by what they announce (a key with a space in it,
    URL-encoded as S3 sends it)."""
    import json

    from workbook.lake_lesson import event

    data, manifest = PROBE_KEY, PROBE_KEY + MANIFEST_SUFFIX
    return {
        "a data file and its manifest in one message": event(("ObjectCreated:Put", data),
                                                             ("ObjectCreated:Put", manifest)),
        "the data file alone (its manifest not there yet)": event(("ObjectCreated:Put", data)),
        "the manifest alone": event(("ObjectCreated:CompleteMultipartUpload", manifest)),
        "S3's test event": json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent",
                                       "Bucket": "any"}),
        "a deletion": event(("ObjectRemoved:Delete", manifest)),
    }


def probe_watcher(handle, bucket: str) -> dict[str, dict]:
    """What `handle(message, bucket, emit, delete)` does with each of `probe_messages`, and with
    a manifest's message when the Prefect server cannot be reached: the calls it made, in
    order (["emit", event, resource id, payload key] or ["delete", receipt handle]) and its
    outcome (probes.attempt's words)."""
    from workbook import probes

    found = {}
    cases = [(name, body, False) for name, body in probe_messages().items()]
    cases.append(("the manifest, with the Prefect server unreachable",
                  probe_messages()["the manifest alone"], True))
    for number, (name, body, failing) in enumerate(cases):
        calls: list[list] = []

        def emit(failing=failing, calls=calls, **event):
            resource = event.get("resource") or {}
            calls.append(["emit" if not failing else "emit (failed)", event.get("event"),
                          resource.get("prefect.resource.id") if isinstance(resource, dict)
                          else None, (event.get("payload") or {}).get("key")])
            if failing:
                raise ConnectionError("the Prefect server is unreachable")

        def delete(receipt_handle, calls=calls):
            calls.append(["delete", receipt_handle])

        message = {"MessageId": f"message-{number}", "ReceiptHandle": f"receipt-{number}",
                   "Body": body}
        outcome = probes.attempt(lambda m=message, e=emit, d=delete: handle(m, bucket, e, d),
                                 deadline_s=10)
        found[name] = {"calls": calls, "outcome": outcome, "receipt": message["ReceiptHandle"]}
    return found


# ---------------------------------------------------------------- the benchmark's latency

REFERENCE_FLOWS = '''"""The reference event-driven ingestion (prefect_events.start_reference)."""
from prefect import flow, serve

from workbook import prefect_events
from workbook.lake import ingest


@flow(name="reference-ingest-file", retries=1)
def ingest_file(key: str) -> dict:
    """Ingest one file (workbook.lake.ingest)."""
    report = ingest.ingest([key], prefect_events.lake_from_environ())
    return {"ingested": report.ingested, "skipped": report.skipped}


if __name__ == "__main__":
    bucket = prefect_events.lake_from_environ().bucket
    serve(ingest_file.to_deployment("on-upload", tags=["reference"],
                                    triggers=[prefect_events.file_trigger(bucket)]))
'''


def latencies(lake: Lake, keys: list[str]) -> dict[str, float]:
    """Upload to committed row, per file: each file's S3 upload time (LastModified, to the
    second, as ingest.Report.uploaded_at) to its rows' `ingested_at` in the table."""
    from workbook.lake import ingest

    frame = table.open_table(lake.table_uri(), lake.storage_options).to_pandas(
        columns=["source_key", "ingested_at"])
    committed = frame.groupby("source_key")["ingested_at"].min()
    return {key: ingest.latency(lake.s3.head_object(Bucket=lake.bucket, Key=key)["LastModified"],
                                committed[key].to_pydatetime()) for key in keys}


REFERENCE_DEPLOYMENT = "reference-ingest-file/on-upload"


def start_reference(lake: Lake, queue_url: str, folder: Path) -> tuple[Background, Background]:
    """The reference path in the background: its ingestion flow served with the reference
    trigger, and the reference watcher on `queue_url`; both registered and ready. Stop them."""
    (folder / "reference_flows.py").write_text(REFERENCE_FLOWS)
    served = start("reference-serve", [str(folder / "reference_flows.py")], lake, flows=folder,
                   logs=folder)
    watcher = start("reference-watcher", ["-m", "workbook.prefect_events", "watch"], lake,
                    queue_url, logs=folder)
    try:
        wait_served(served, REFERENCE_DEPLOYMENT)
        wait_until(lambda: "watching" in watcher.tail(), SERVE_TIMEOUT_S, "the watcher to start",
                   watcher)
    except BaseException:
        served.stop()
        watcher.stop()
        raise
    return served, watcher


def stop_reference(served: Background, watcher: Background) -> list:
    """Stop the reference path and forget its deployment: what the processes' `stop` reports
    left running."""
    left = served.stop() + watcher.stop()
    forget_deployment(REFERENCE_DEPLOYMENT)
    return left


def measure_latency(files: int = 3, workspace: str | None = None, timeout: float = 120,
                    seed: int = 2041) -> dict:
    """Event-to-row latency of the event-driven path, measured end to end on the project's
    services: the reference flow served with its trigger and the reference watcher in the
    background (`start_reference`), `files` good files uploaded at once, and each file's
    upload-to-row seconds read back from the table. Uses lesson 02's bucket and queue
    (emptied first). For the benchmark."""
    from workbook import lake_lesson, prefect_lesson

    lesson = prefect_lesson.setup("02_event_driven", "2015-06-01T12:00", 1, seed, workspace)
    lake, queue_url = lesson.lake.lake, lesson.lake.queue_url
    started = time.monotonic()
    served, watcher = start_reference(lake, queue_url, Path(tempfile.mkdtemp(prefix="latency-")))
    try:
        ready_s = time.monotonic() - started
        chosen = [f for f in lesson.lake.files() if f.disposition == "accept"][:files]
        keys = lake_lesson.upload(lesson.lake, chosen)
        wait_committed(lake, keys, timeout, served, watcher)
        measured = latencies(lake, keys)
    finally:
        stop_reference(served, watcher)
    values = sorted(measured.values())
    return {"files": len(values), "serve_ready_s": round(ready_s, 1),
            "latency_s": {k: round(v, 1) for k, v in measured.items()},
            "median_s": round(values[len(values) // 2], 1), "max_s": round(values[-1], 1)}


if __name__ == "__main__":
    if sys.argv[1:] == ["watch"]:
        watch()
    elif sys.argv[1:] == ["latency"]:
        import json

        print(json.dumps(measure_latency()))
    else:
        sys.exit("usage: python -m workbook.prefect_events watch|latency")
