"""The invariant, checked against the answer key: every input file is exactly once either in
the table (all its valid rows, each once) or in quarantine/ (with its report and the reason the
answer key gives), and never in both."""

import json

from deltalake import DeltaTable

from workbook.lake import Lake, table
from workbook.lake.quarantine import REPORT_SUFFIX, quarantine_key
from workbook.sensors import MANIFEST_SUFFIX


def listing(lake: Lake, prefix: str) -> list[str]:
    pages = lake.s3.get_paginator("list_objects_v2").paginate(Bucket=lake.bucket, Prefix=prefix)
    return [item["Key"] for page in pages for item in page.get("Contents", [])]


def table_rows(lake: Lake) -> dict[str, int]:
    """Rows per source_key in the table ({} if there is no table)."""
    found = table.open_table(lake.table_uri(), lake.storage_options)
    if found is None:
        return {}
    counts = found.to_pandas(columns=["source_key"])["source_key"].value_counts()
    return {str(k): int(v) for k, v in counts.items()}


def assert_exactly_once(lake: Lake, files) -> None:
    """`files`: the answer key's records of the files that were given to the pipeline."""
    rows = table_rows(lake)
    quarantined = listing(lake, lake.quarantine)
    reports = {k.removesuffix(REPORT_SUFFIX) for k in quarantined if k.endswith(REPORT_SUFFIX)}
    incoming = set(listing(lake, lake.incoming))
    for f in files:
        where = quarantine_key(f.key)
        if f.disposition == "accept":
            assert rows.get(f.key) == f.valid_rows, (
                f"{f.key}: {rows.get(f.key, 0)} rows in the table, expected {f.valid_rows}")
            assert where not in reports, f"{f.key} is in the table and in quarantine"
        else:
            assert f.key not in rows, f"{f.key} ({f.reason}) has rows in the table"
            assert where in reports, f"{f.key} ({f.reason}) is not in quarantine"
            report = json.loads(lake.s3.get_object(
                Bucket=lake.bucket, Key=where + REPORT_SUFFIX)["Body"].read())
            assert report["reason"] == f.reason, f"{f.key}: quarantined as {report['reason']}"
            assert {where, where + MANIFEST_SUFFIX} <= set(quarantined), f"{f.key}: not moved"
            assert not {f.key, f.manifest_key} & incoming, f"{f.key}: still in incoming/"
    expected = {f.key for f in files}
    assert set(rows) <= expected, f"rows from unknown files: {set(rows) - expected}"


def total_versions(lake: Lake) -> int:
    return DeltaTable(lake.table_uri(), storage_options=lake.storage_options).version()
