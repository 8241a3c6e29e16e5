"""The lake track's lesson helpers (03_advanced/lake): the sensor files, the lesson's own bucket
and queue, and what its checks read of S3 and of the Delta table. Orchestrator-free: both
orchestrator tracks start from the pipeline this lesson builds (workbook.lake is its reference).

Locally, the lesson gets a bucket and a queue of its own on the s3 service (the service's `lake`
bucket is left to the orchestrator tracks), emptied at every setup, so a re-run starts clean.
`s3_endpoint="aws"` points it at real AWS instead: a bucket and a queue the learner made, with
the bucket's ObjectCreated notifications under incoming/ sent to the queue. That path is not
tested here (no cloud account); the setup empties the lesson's prefixes there too.

In the grader's checker (lesson.checking()), setup only generates the files and reads the answer
key: verdicts compare the learner's evidence with those, and the checker never touches S3.
"""

import contextlib
import ctypes
import datetime as dt
import hashlib
import json
import os
import sys
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from workbook import course, lesson, services
from workbook.lake import Lake, keys
from workbook.lake.quarantine import REPORT_SUFFIX, quarantine_key, report_key
from workbook.sensors import MANIFEST_SUFFIX, AnswerKey, FileRecord, generate_sensors
from workbook.sensors import read_answer_key as _read_answer_key
from workbook.services import s3 as s3_service
from workbook.waiting import wait_for

TRACK = "03_advanced/lake"
BUCKET, QUEUE = "lake-lesson", "lake-lesson-events"  # the lesson's own, on the local server
AWS = "aws"
M_ARENA_MAX = -8  # glibc's mallopt parameter


@dataclass(frozen=True)
class LakeLesson:
    ctx: lesson.Lesson
    data_dir: Path  # the generated files (incoming/...) and their answer key
    answer_key: AnswerKey
    lake: Lake | None  # None in the grader's checker
    queue_url: str | None
    embedded: bool  # the local S3 server (else real AWS)

    def files(self) -> list[FileRecord]:
        """The answer key's files in the order the bucket receives them."""
        return self.answer_key.in_arrival_order()

    def read(self, key: str) -> bytes:
        """A file's bytes as the device sent them (from the generated copy, not from S3)."""
        return (self.data_dir / key).read_bytes()

    def etag(self, key: str) -> str:
        """The ETag S3 gives a file put in one part: the MD5 of its bytes."""
        return hashlib.md5(self.read(key)).hexdigest()  # noqa: S324 (S3's ETag, not security)

    def record(self, key: str) -> FileRecord:
        return next(f for f in self.answer_key.files if f.key == key)

    def describe(self) -> str:
        where = "embedded local S3 + SQS (moto)" if self.embedded else "AWS"
        bad = sum(f.disposition == "quarantine" for f in self.answer_key.files)
        return (f"S3       {where}, bucket {self.lake.bucket if self.lake else BUCKET}\n"
                f"files    {len(self.answer_key.files)} from {len(self.answer_key.devices)} "
                f"devices, {self.answer_key.settings['start']} to "
                f"{self.answer_key.settings['end']} ({bad} of them bad)")


def own_names(track: str, orchestrator: str, lesson_name: str) -> tuple[str, str]:
    """The bucket and queue of a lesson of an orchestrator track, of its own so that lessons
    run side by side (nbval, the grader's workers) without seeing each other's files:
    ('03_advanced/prefect', 'prefect', '02_event_driven') -> prefect-02, prefect-02-events."""
    if lesson_name not in course.track(track).lessons:
        raise ValueError(f"{lesson_name!r} is no lesson of {track}: "
                         f"{', '.join(course.track(track).lessons)}")
    number = lesson_name.split("_", 1)[0]
    return f"{orchestrator}-{number}", f"{orchestrator}-{number}-events"


def data_folder(root: Path, start: dt.datetime, hours: int, seed: int) -> Path:
    return root / "data" / f"sensors-seed{seed}-{start:%Y%m%dT%H%M}-{hours}h"


def generate(root: Path, start: str, hours: int, seed: int) -> tuple[Path, AnswerKey]:
    """The files of [start, start + hours) for the sample's stores and devices (generated once
    per setting: a device's window is byte-identical whenever it is generated)."""
    first = dt.datetime.fromisoformat(str(start)).replace(tzinfo=None)
    folder = data_folder(root, first, int(hours), int(seed))
    if not (folder / "_answer_key.json").exists():
        generate_sensors(folder, first, int(hours), int(seed))
    return folder, _read_answer_key(folder)


def setup(start: str, hours: int, seed: int, workspace: str | None = None,
          s3_endpoint: str | None = None, bucket: str | None = None,
          queue: str | None = None, track: str = TRACK) -> LakeLesson:
    """The lesson's workspace and files; S3 running, its bucket and queue empty. `track`:
    whose workspace (an orchestrator track's lessons start from this setup too)."""
    ctx = lesson.workspace_lesson(track, str(start)[:10], workspace)
    root = Path(os.environ.get(lesson.DATA_ROOT_VARIABLE) or ctx.workspace)
    data_dir, answer_key = generate(root, start, hours, seed)
    if s3_endpoint not in (None, AWS):
        raise ValueError(f"s3_endpoint is None (the local S3 server) or {AWS!r}, not "
                         f"{s3_endpoint!r}")
    if lesson.checking():
        return LakeLesson(ctx, data_dir, answer_key, None, None, s3_endpoint is None)
    if s3_endpoint is None:
        url = services.start("s3").url
        lake = Lake(bucket or BUCKET, url)
        s3, sqs = s3_service.clients(url)
        try:  # made by an earlier run: emptied
            queue_url = sqs.get_queue_url(QueueName=queue or QUEUE)["QueueUrl"]
            s3.head_bucket(Bucket=lake.bucket)
        except (sqs.exceptions.QueueDoesNotExist, s3.exceptions.ClientError):
            queue_url = s3_service.provision(s3, sqs, lake.bucket, queue or QUEUE)
        empty(lake)
        drain(sqs, queue_url)
    else:  # real AWS: the learner's own bucket and queue (untested here)
        import boto3

        lake = Lake(bucket or BUCKET, None)
        queue_url = boto3.client("sqs", region_name=lake.region).get_queue_url(
            QueueName=queue or QUEUE)["QueueUrl"]
        empty(lake)
        drain(boto3.client("sqs", region_name=lake.region), queue_url)
    return LakeLesson(ctx, data_dir, answer_key, lake, queue_url, s3_endpoint is None)


def empty(lake: Lake) -> None:
    """Delete what an earlier run of the lesson left in its prefixes (a bucket that does not
    exist yet is left to `provision`)."""
    for prefix in (lake.incoming, s3_service.TABLES, lake.quarantine, s3_service.REPORTS,
                   s3_service.DEAD_LETTERS):
        empty_prefix(lake, prefix)


def empty_prefix(lake: Lake, prefix: str) -> int:
    """Delete every object under `prefix` (none when the bucket does not exist); how many."""
    try:
        pages = list(lake.s3.get_paginator("list_objects_v2").paginate(
            Bucket=lake.bucket, Prefix=prefix))
    except lake.s3.exceptions.NoSuchBucket:
        return 0
    deleted = 0
    for page in pages:
        found = [{"Key": item["Key"]} for item in page.get("Contents", [])]
        if found:
            lake.s3.delete_objects(Bucket=lake.bucket, Delete={"Objects": found})
            deleted += len(found)
    return deleted


def drain(sqs, queue_url: str) -> int:
    """Receive and delete every message waiting in the queue; how many there were (not a purge:
    SQS, and moto, allow one purge a minute)."""
    return len(keys.receive_all(sqs, queue_url))


def upload(lesson_: LakeLesson, files: list[FileRecord], progress: bool = False) -> list[str]:
    """Put each file and then its manifest (the device's "I am complete"), in arrival order;
    returns the data keys."""
    ordered = sorted(files, key=lambda f: (f.arrives_at, f.key))
    if progress:
        from tqdm import tqdm

        ordered = tqdm(ordered, desc="uploaded", unit="file")
    for f in ordered:
        for key in (f.key, f.manifest_key):
            lesson_.lake.s3.put_object(Bucket=lesson_.lake.bucket, Key=key, Body=lesson_.read(key))
    return [f.key for f in files]


def restart(lesson_: LakeLesson, files: list[FileRecord], put=upload) -> list[str]:
    """The lesson's prefixes back to `files` alone in incoming/, as first uploaded (by `put`):
    what an earlier run moved to quarantine/ or committed to the table is gone, so a run after
    a fix starts where the first run started, and its check sees that run's work only. The
    queue is drained too: its events were of the uploads deleted (and the local server's every
    upload walks the messages waiting, so a queue nobody reads slows every restart). Returns the
    data keys."""
    empty(lesson_.lake)
    drain(lesson_.lake.sqs, lesson_.queue_url)
    return put(lesson_, files)


def receive(lesson_: LakeLesson) -> list[str]:
    """The bodies of every message waiting in the queue, each deleted once read (an SQS
    consumer's loop; a message not deleted comes back after its visibility time-out)."""
    return keys.receive_all(lesson_.lake.sqs, lesson_.queue_url, wait_s=1)


def drop_messages(lake: Lake, queue_url: str, count: int, timeout: float = 20) -> int:
    """Receive and delete `count` messages of the queue without handling them (a lesson's lost
    messages: S3 sends its notifications a moment after the upload); how many were dropped."""
    sqs = lake.sqs
    dropped = []

    def enough() -> bool:
        got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10,
                                  WaitTimeSeconds=1).get("Messages", [])
        for message in got:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            dropped.append(message["MessageId"])
        return len(dropped) >= count

    if not wait_for(enough, timeout, 0):
        raise TimeoutError(f"waited {timeout:.0f} s for {count} message(s) in {queue_url}, "
                           f"got {len(dropped)}: are the bucket's notifications set up?")
    return len(dropped)


# ---------------------------------------------------------------- events a check sends

def event(*records: tuple[str, str]) -> str:
    """An S3 event message with one record per (eventName, key), the key encoded as S3 does."""
    return json.dumps({"Records": [
        {"eventVersion": "2.1", "eventSource": "aws:s3", "eventName": name,
         "s3": {"bucket": {"name": BUCKET},
                "object": {"key": urllib.parse.quote_plus(key, safe=""), "size": 1}}}
        for name, key in records]})


def tricky_events() -> dict[str, str]:
    """Messages a consumer meets sooner or later, by what makes them tricky."""
    odd = "incoming/store=2/device=s2-meter-1/2015-06-01/1200 (resent).jsonl"
    plus = "incoming/store=1/device=s1-fridge-1/2015-06-01/1215+v2.csv"
    return {
        "a key with a space": event(("ObjectCreated:Put", odd)),
        "a key with a plus sign": event(("ObjectCreated:Put", plus)),
        "two records in one message": event(
            ("ObjectCreated:Put", "incoming/store=1/device=s1-meter-1/2015-06-01/1200.jsonl"),
            ("ObjectCreated:CompleteMultipartUpload",
             "incoming/store=1/device=s1-meter-1/2015-06-01/1200.jsonl.manifest.json")),
        "a deletion": event(("ObjectRemoved:Delete", plus)),
        "S3's test event": json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent",
                                       "Bucket": BUCKET}),
    }


# ---------------------------------------------------------------- what S3 holds

def listing(lake: Lake, prefix: str) -> list[str]:
    pages = lake.s3.get_paginator("list_objects_v2").paginate(Bucket=lake.bucket, Prefix=prefix)
    return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


def placement(lesson_: LakeLesson) -> list[dict]:
    """Where each of the answer key's files is now: its rows in the table (by source_key), its
    objects in incoming/ and quarantine/, the reason its errors report gives."""
    from workbook.lake import reconcile, table

    lake = lesson_.lake
    rows = reconcile.rows_by_file(table.open_table(lake.table_uri(), lake.storage_options))
    incoming, quarantined = set(listing(lake, lake.incoming)), set(listing(lake, lake.quarantine))
    placed = []
    for f in lesson_.answer_key.files:
        where = quarantine_key(f.key, lake.incoming, lake.quarantine)
        reason = None
        if where + REPORT_SUFFIX in quarantined:
            report = json.loads(lake.s3.get_object(Bucket=lake.bucket,
                                                   Key=where + REPORT_SUFFIX)["Body"].read())
            reason = report.get("reason") if isinstance(report, dict) else None
        placed.append({"key": f.key, "rows": rows.get(f.key, 0),
                       "in_incoming": sorted({f.key, f.manifest_key} & incoming),
                       "in_quarantine": sorted({where, where + MANIFEST_SUFFIX,
                                                where + REPORT_SUFFIX} & quarantined),
                       "reason": reason})
    return placed


def table_state(uri: str, storage_options: dict, files: list[tuple[str, str]]) -> dict:
    """What a check reads of a Delta table: its version, rows per source_key, and which of
    `files` ((key, etag) pairs) it records as app transactions."""
    from workbook.lake import reconcile, table

    found = table.open_table(uri, storage_options)
    if found is None:
        return {"version": None, "rows": {}, "recorded": []}
    return {"version": found.version(), "rows": reconcile.rows_by_file(found),
            "recorded": [list(f) for f in files
                         if found.transaction_version(table.app_id(*f)) is not None]}


# ---------------------------------------------------------------- damage a check must see

def retype_column(lake: Lake, column: str) -> None:
    """Rewrite the readings table with `column` as text, as a writer outside the pipeline might
    (a schema change nobody announced): the rows and the log's record of committed files stay,
    so a re-run of an hour adds nothing and only a schema check sees it."""
    import pyarrow as pa
    from deltalake import write_deltalake

    from workbook.lake import table

    found = table.open_table(lake.table_uri(), lake.storage_options)
    data = found.to_pyarrow_table()
    data = data.set_column(data.schema.get_field_index(column), column,
                           data[column].cast(pa.string()))
    write_deltalake(found, data, mode="overwrite", schema_mode="overwrite",
                    partition_by=table.PARTITIONS)


def duplicate_rows(lake: Lake, key: str) -> int:
    """Append the rows of file `key` to the table again, outside the pipeline (no record of a
    commit): a double ingestion. How many rows."""
    from deltalake import write_deltalake

    from workbook.lake import table

    found = table.open_table(lake.table_uri(), lake.storage_options)
    data = found.to_pyarrow_table(filters=[("source_key", "=", key)])
    write_deltalake(found, data, mode="append", partition_by=table.PARTITIONS)
    return data.num_rows


def delete_rows(lake: Lake, key: str) -> int:
    """Delete the rows of file `key` from the table, its record of the commit kept: a file
    lost. How many rows."""
    from workbook.lake import table

    found = table.open_table(lake.table_uri(), lake.storage_options)
    return int(found.delete(f"source_key = '{key}'")["num_deleted_rows"])


# ---------------------------------------------------------------- a move, step by step

class Recorder:
    """An S3 client that records the calls that change the bucket (put, copy, delete) and passes
    everything to the real one, so a check can replay a move step by step."""

    def __init__(self, client):
        self._client = client
        self.calls: list[list[str]] = []

    def put_object(self, **kwargs):
        self.calls.append(["put", kwargs["Key"]])
        return self._client.put_object(**kwargs)

    def copy_object(self, **kwargs):
        source = kwargs["CopySource"]
        source = source["Key"] if isinstance(source, dict) else str(source).split("/", 1)[1]
        self.calls.append(["copy", source, kwargs["Key"]])
        return self._client.copy_object(**kwargs)

    def delete_object(self, **kwargs):
        self.calls.append(["delete", kwargs["Key"]])
        return self._client.delete_object(**kwargs)

    def __getattr__(self, name):
        return getattr(self._client, name)


def unsafe_step(calls: list[list[str]], key: str) -> str | None:
    """Replays a move of the file `key` (its calls, as Recorder noted them) and says what a
    crash right after some step would lose, or None if no stopping point loses anything. At
    every point the file must be whole in incoming/ (data and manifest), or whole in quarantine/
    (data, manifest and report)."""
    manifest = key + MANIFEST_SUFFIX
    target, target_manifest, report = (quarantine_key(key), quarantine_key(manifest),
                                       report_key(key))
    held = {key, manifest}
    for number, call in enumerate(calls, start=1):
        if call[0] == "put":
            held.add(call[1])
        elif call[0] == "copy":
            if call[1] in held:
                held.add(call[2])
        else:
            held.discard(call[1])
        whole_in, whole_out = {key, manifest} <= held, {target, target_manifest, report} <= held
        if whole_out and key in held and manifest not in held:
            return (f"step {number} deleted the manifest while its data file was still in "
                    f"incoming/: a crash there leaves a data file that nothing lists again "
                    f"(delete the manifest last)")
        if not (whole_in or whole_out):
            missing = ", ".join(sorted({target, target_manifest, report} - held))
            return (f"step {number} ({call[0]} {call[-1]}) deleted from incoming/ before "
                    f"{missing} existed: a crash right after it loses the file (copy both "
                    f"files and write the report first, delete last)")
    return None


def expected_placement(answer_key: AnswerKey) -> dict[str, dict]:
    """Where a correct pipeline puts each file: its valid rows in the table, or in quarantine/
    with the answer key's reason."""
    return {f.key: {"rows": f.valid_rows, "quarantine": f.disposition == "quarantine",
                    "reason": f.reason} for f in answer_key.files}


def scratch_table(lesson_: LakeLesson, name: str) -> str:
    """The URI of a table `name` under tables/, emptied first (for a check or a demo)."""
    lake = lesson_.lake
    found = [{"Key": key} for key in listing(lake, f"{s3_service.TABLES}{name}/")]
    for start in range(0, len(found), 1000):
        lake.s3.delete_objects(Bucket=lake.bucket, Delete={"Objects": found[start:start + 1000]})
    return lake.table_uri(name)


def with_faults(lesson_: LakeLesson) -> tuple[str, bytes, bytes]:
    """A good fridge file made bad twice, in two columns (one value `ERR`, one out of range),
    with a manifest that matches its bytes: only row validation can find the two faults."""
    f = next(f for f in lesson_.files() if f.kind == "fridge" and not f.faults)
    lines = lesson_.read(f.key).decode().splitlines()
    header = lines[0].split(",")
    first, second = lines[3].split(","), lines[9].split(",")
    first[header.index("temperature_c")] = "ERR"
    second[header.index("door_open_s")] = "255"
    lines[3], lines[9] = ",".join(first), ",".join(second)
    return (f.key, *_with_manifest(lesson_, f, "\n".join(lines) + "\n"))


def resent(lesson_: LakeLesson) -> tuple[str, bytes, bytes]:
    """A good file whose device sent two of its readings twice (the same lines again)."""
    f = next(f for f in lesson_.files() if f.format == "csv" and not f.faults)
    lines = lesson_.read(f.key).decode().splitlines()
    lines = lines[:5] + [lines[4]] + lines[5:8] + [lines[7]] + lines[8:]
    return (f.key, *_with_manifest(lesson_, f, "\n".join(lines) + "\n"))


def _with_manifest(lesson_: LakeLesson, f: FileRecord, text: str) -> tuple[bytes, bytes]:
    body = text.encode()
    manifest = json.loads(lesson_.read(f.manifest_key))
    manifest |= {"rows": text.count("\n") - 1, "sha256": hashlib.sha256(body).hexdigest()}
    return body, json.dumps(manifest).encode()


def limit_reservations() -> None:
    """Keep the kernel's reserved address space smaller. The grader limits a learner's kernel's
    address space (prlimit --as), which counts what is reserved, not what is used, and
    allocators reserve far more than a lesson uses: glibc gives threads malloc arenas of 64 MB
    each (up to 8 per core), capped at 2 here (measured: 500 MB less after a pool of 8 upload
    threads); mimalloc (bundled by pyarrow and by deltalake) reserves 1 GiB at its first
    allocation, 64 MiB with this setting. Measured in lesson 04: 1.8 GB after its ingestion
    flow without this, 0.8 GB with it. mimalloc reads the setting when it starts, so call this
    before pandas (which loads pyarrow) and deltalake are imported: first thing in a setup
    cell (setup calls it too, for lessons that import pandas after it)."""
    os.environ.setdefault("MIMALLOC_ARENA_RESERVE", "64MiB")  # read at its first allocation
    if sys.platform.startswith("linux"):
        # not glibc (no libc.so.6, no mallopt): its allocator reserves otherwise
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6").mallopt(M_ARENA_MAX, 2)
