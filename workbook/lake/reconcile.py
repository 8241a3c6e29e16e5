"""The readings table reconciled with the files it was made from, whatever ran the ingestion.

The table's log records each file it committed (an app transaction per key and ETag), and each
file says how many readings it has: its distinct rows (its manifest counts every line, and the
ingestion drops a line a device sent twice). So after any run, each committed file must hold
exactly that many rows in the table, and no other file any. A total alone proves little: a
file ingested twice and a file lost cancel out.
"""

from workbook.lake import Lake, keys, table, validate


def rows_by_file(found) -> dict[str, int]:
    """How many rows of the table (a DeltaTable, or None) each source file gave."""
    if found is None:
        return {}
    counts = found.to_pandas(columns=["source_key"])["source_key"].value_counts()
    return {str(key): int(count) for key, count in counts.items()}


def committed_rows(lake: Lake, found) -> dict[str, int]:
    """Each file of incoming/ that the table's log records as committed, with its distinct
    readings. A file still waiting (or quarantined: moved out of incoming/) is not."""
    if found is None:
        return {}
    pages = lake.s3.get_paginator("list_objects_v2").paginate(Bucket=lake.bucket,
                                                              Prefix=lake.incoming)
    etags = {item["Key"]: item["ETag"].strip('"')
             for page in pages for item in page.get("Contents", [])}
    files = [(key, etag) for key, etag in etags.items()
             if not key.endswith(keys.MANIFEST_SUFFIX) and keys.manifest_key(key) in etags]
    rows = {}
    for key, _ in sorted(table.committed(found, files)):
        body = lake.s3.get_object(Bucket=lake.bucket, Key=key)["Body"].read()
        rows[key] = len(validate.parse_rows(body, key.rsplit(".", 1)[-1]).drop_duplicates())
    return rows
