"""Dead letters of partitioned work: one record per partition that failed, kept in the lake's
bucket where anyone on call can list them, whatever runs the partitions.

An orchestrator keeps each partition's status too, but only for itself, and only the latest
run's: the record says what failed, the error, the run and how many times in a row, and it is
cleared when the partition succeeds. It is keyed by partition, not by run: a partition that
fails twice has one record whose `attempts` is 2, so the list is the set of partitions to
re-run, never a log that grows.

    deadletter/<asset>/<partition>.json   (a multi-dimensional key's "|" becomes "/")
"""

import datetime as dt
import json

from workbook.lake.keys import partition_path
from workbook.services.s3 import DEAD_LETTERS


def key(asset: str, partition: str) -> str:
    """The record's object key: deadletter/store_report/2015-06-01-14:00/2.json."""
    if not asset or not partition or "/" in asset:
        raise ValueError(f"a dead letter needs an asset name without '/' and a partition key, "
                         f"not {asset!r}, {partition!r}")
    return f"{DEAD_LETTERS}{asset}/{partition_path(partition)}.json"


def read(lake, asset: str, partition: str) -> dict | None:
    """A partition's record, or None when it has none."""
    try:
        body = lake.s3.get_object(Bucket=lake.bucket, Key=key(asset, partition))["Body"].read()
    except lake.s3.exceptions.NoSuchKey:
        return None
    return json.loads(body)


def record(lake, asset: str, partition: str, error: BaseException, run_id: str) -> dict:
    """Record that `partition` of `asset` failed with `error` in run `run_id`, one failure
    more than its record said; returns the record."""
    earlier = read(lake, asset, partition)
    letter = {"asset": asset, "partition": partition,
              "error": f"{type(error).__name__}: {error}", "run_id": run_id,
              "attempts": (earlier or {}).get("attempts", 0) + 1,
              "failed_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    lake.s3.put_object(Bucket=lake.bucket, Key=key(asset, partition),
                       Body=json.dumps(letter, indent=1).encode(),
                       ContentType="application/json")
    return letter


def clear(lake, asset: str, partition: str) -> None:
    """Delete a partition's record (it succeeded). One request, record or not: S3 deletes a key
    that is not there without an error, so a success costs no read first."""
    lake.s3.delete_object(Bucket=lake.bucket, Key=key(asset, partition))


def read_all(lake, asset: str) -> list[dict]:
    """Every record of `asset`, in partition order."""
    letters = []
    pages = lake.s3.get_paginator("list_objects_v2").paginate(
        Bucket=lake.bucket, Prefix=f"{DEAD_LETTERS}{asset}/")
    for item in (i for page in pages for i in page.get("Contents", [])):
        body = lake.s3.get_object(Bucket=lake.bucket, Key=item["Key"])["Body"].read()
        letters.append(json.loads(body))
    return sorted(letters, key=lambda letter: letter["partition"])
