"""A bad file moved out of incoming/ into quarantine/, with an errors report beside it.

S3 has no move: a move is copies and deletes, and a process can be killed between any two of
them. The order makes every stopping point safe:

    1. copy the data file, then its manifest, to quarantine/   (incoming/ still has both)
    2. write the errors report                                  (the quarantine is complete)
    3. delete the data file from incoming/, then its manifest   (the manifest goes last)

Killed before 2, the file is still in incoming/ and the next run quarantines it again (the
copies overwrite themselves with the same bytes). Killed during 3, the report exists: the next
run sees it (`is_quarantined`) and finishes the deletes. The manifest is deleted last because
manifests are what the listing and the events follow: a data file left without one would never
be looked at again. Nothing is lost at any point, and a file ends up once in quarantine/ (its
key there is its key in incoming/ with the prefix swapped), however often this runs.
"""

import contextlib
import json

from workbook.lake.keys import manifest_key
from workbook.services.s3 import INCOMING, QUARANTINE

REPORT_SUFFIX = ".errors.json"


def quarantine_key(key: str, incoming: str = INCOMING, quarantine: str = QUARANTINE) -> str:
    """Where a file of incoming/ goes: the same key under quarantine/."""
    return quarantine + key.removeprefix(incoming)


def report_key(key: str, incoming: str = INCOMING, quarantine: str = QUARANTINE) -> str:
    return quarantine_key(key, incoming, quarantine) + REPORT_SUFFIX


def exists(s3, bucket: str, key: str) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except s3.exceptions.ClientError as err:
        if err.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
            return False
        raise
    return True


def is_quarantined(s3, bucket: str, key: str, incoming: str = INCOMING,
                   quarantine: str = QUARANTINE) -> bool:
    """Whether the file's quarantine is complete (its report is written)."""
    return exists(s3, bucket, report_key(key, incoming, quarantine))


def quarantined_keys(s3, bucket: str, incoming: str = INCOMING,
                     quarantine: str = QUARANTINE) -> set[str]:
    """The incoming/ keys of every file whose quarantine is complete (one listing)."""
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=quarantine)
    return {incoming + item["Key"].removeprefix(quarantine).removesuffix(REPORT_SUFFIX)
            for page in pages for item in page.get("Contents", [])
            if item["Key"].endswith(REPORT_SUFFIX)}


def quarantine(s3, bucket: str, key: str, report: dict, incoming: str = INCOMING,
               quarantine: str = QUARANTINE) -> str:
    """Move the data file `key` and its manifest to quarantine/ with `report` as JSON beside
    them; returns the report's key. Safe to re-run at any point (see the module docstring)."""
    for source in (key, manifest_key(key)):
        target = quarantine_key(source, incoming, quarantine)
        # NoSuchKey: another run got to step 3 first, and its copy is already there
        with contextlib.suppress(s3.exceptions.NoSuchKey):
            s3.copy_object(Bucket=bucket, Key=target,
                           CopySource={"Bucket": bucket, "Key": source})
    target = report_key(key, incoming, quarantine)
    s3.put_object(Bucket=bucket, Key=target, ContentType="application/json",
                  Body=json.dumps(report, indent=1, default=str).encode("utf-8"))
    finish(s3, bucket, key)
    return target


def finish(s3, bucket: str, key: str) -> None:
    """Step 3: delete the data file, then its manifest, from incoming/ (deleting a key that
    is not there is no error in S3)."""
    s3.delete_object(Bucket=bucket, Key=key)
    s3.delete_object(Bucket=bucket, Key=manifest_key(key))
