"""Which files to process: the new ones since a watermark (a sweep), or those an S3 event names.

A file is ready when both its data and its manifest are in the bucket; the device uploads the
manifest last, so the manifest is the file's "I am complete" signal and everything here is
driven by manifests.

Why the watermark is LastModified, not StartAfter: ListObjectsV2's StartAfter skips keys that
sort before a key, and our keys sort by store, device and window, not by arrival. A late file
(a device offline for hours) or another store's file arrives with a key that sorts before the
watermark key and would never be seen. LastModified is the arrival time, which is what
"new" means, but S3 gives it to the second and stamps it when the upload starts, so a slow
upload can land after a quicker one listed with a later time. We therefore list the prefix and
keep what arrived at or after `since - lag`: the lag re-lists a few files, which is harmless
because ingestion is idempotent (the table and the quarantine know what they hold). The
watermark only saves work; exactly-once never depends on it. (A bucket holding years of files
is listed by date prefix or, better, followed through its events: see `parse_event`.)
"""

import datetime as dt
import json
from urllib.parse import unquote_plus

from workbook.sensors import MANIFEST_SUFFIX
from workbook.services.s3 import INCOMING

LAG = dt.timedelta(minutes=5)


def data_key(key: str) -> str:
    """The data file's key, given its key or its manifest's."""
    return key.removesuffix(MANIFEST_SUFFIX)


def manifest_key(key: str) -> str:
    return data_key(key) + MANIFEST_SUFFIX


def window_start(key: str) -> dt.datetime:
    """The start (UTC) of the 15-minute window a file holds, read from its key (a data or a
    manifest key): incoming/store=1/device=s1-fridge-1/2015-06-01/1215.csv -> 12:15 that day.
    The key, not the upload time: a late file still belongs to the window it measured."""
    *_, day, name = data_key(key).split("/")
    try:
        return dt.datetime.strptime(f"{day} {name[:4]}", "%Y-%m-%d %H%M").replace(tzinfo=dt.UTC)
    except ValueError:
        raise ValueError(f"{key!r} is not a sensor file's key (…/YYYY-MM-DD/HHMM.csv)") from None


def list_new_keys(s3, bucket: str, since: dt.datetime | None = None, prefix: str = INCOMING,
                  lag: dt.timedelta = LAG) -> tuple[list[str], dt.datetime | None]:
    """The data keys whose manifest arrived at or after `since - lag` (all when `since` is
    None) and whose data file is there too, oldest arrival first; and the new watermark (the
    latest manifest arrival seen, or `since` when nothing is new)."""
    arrived = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        arrived |= {item["Key"]: item["LastModified"] for item in page.get("Contents", [])}
    manifests = [(when, data_key(key)) for key, when in arrived.items()
                 if key.endswith(MANIFEST_SUFFIX) and data_key(key) in arrived]
    new = sorted((when, key) for when, key in manifests if since is None or when >= since - lag)
    watermark = max([since] * (since is not None) + [when for when, _ in new], default=None)
    return [key for _, key in new], watermark


class EventError(ValueError):
    """An SQS message that is not an S3 event notification we can read."""


def parse_event(body: str | bytes | dict) -> list[str]:
    """The object keys, URL-decoded, of the ObjectCreated records of an S3 event message (an
    SQS message's body). S3's test event (sent when notifications are set up) gives []. S3
    encodes keys like a URL query (`store%3D1`, a space as `+`), hence unquote_plus."""
    if isinstance(body, (str, bytes)):
        try:
            body = json.loads(body)
        except ValueError as err:
            raise EventError(f"the message is not JSON ({err}): {str(body)[:80]!r}") from None
    if not isinstance(body, dict):
        raise EventError(f"the message is JSON but not an object: {type(body).__name__}")
    if body.get("Event") == "s3:TestEvent":
        return []
    records = body.get("Records")
    if not isinstance(records, list):
        raise EventError("the message has no 'Records' list (keys: "
                         f"{', '.join(map(str, body)) or 'none'}): not an S3 event")
    keys = []
    for i, record in enumerate(records):
        name = record.get("eventName") if isinstance(record, dict) else None
        if not isinstance(name, str):
            raise EventError(f"record {i} has no eventName")
        if not name.startswith("ObjectCreated:"):
            continue  # a deletion or a restore: nothing new to ingest
        key = (record.get("s3") or {}).get("object", {}).get("key")
        if not isinstance(key, str) or not key:
            raise EventError(f"record {i} ({name}) has no s3.object.key")
        keys.append(unquote_plus(key))
    return keys


def announced(body: str | bytes | dict) -> list[str]:
    """The data keys of the files an S3 event message says are complete: those whose manifest
    (the device uploads it last) was created."""
    return [data_key(k) for k in parse_event(body) if k.endswith(MANIFEST_SUFFIX)]


def receive_all(sqs, queue_url: str, wait_s: int = 0) -> list[str]:
    """The bodies of every message waiting in the queue, each batch deleted once read (an SQS
    consumer's loop: a message left in the queue comes back after its visibility time-out, for
    ever). `wait_s`: how long each receive waits for a message to arrive."""
    bodies = []
    while got := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10,
                                     WaitTimeSeconds=wait_s).get("Messages", []):
        bodies += [message["Body"] for message in got]
        sqs.delete_message_batch(QueueUrl=queue_url, Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)])
    return bodies


def receive_announced(sqs, queue_url: str) -> tuple[list[str], int]:
    """Every message waiting in the bucket's event queue, read as announced keys and deleted
    once read (a listing since a watermark catches what a lost message said): the keys, once
    each in arrival order, and how many messages were no S3 event (deleted too)."""
    found, unreadable = {}, 0
    for body in receive_all(sqs, queue_url):
        try:
            found |= dict.fromkeys(announced(body))
        except EventError:
            unreadable += 1
    return list(found), unreadable


def partition_path(partition: str) -> str:
    """An orchestrator's partition key as a path under a prefix: a multi-dimensional key's
    "|" (Dagster's separator) becomes "/", so that S3 lists one dimension at a time:
    "2015-06-01-14:00|2" -> "2015-06-01-14:00/2"."""
    return partition.replace("|", "/")
