"""Ingest a batch of sensor files: validate each, write the good ones' rows in ONE Delta commit,
quarantine the bad ones. Every file ends up exactly once in the table or in quarantine/.

One commit per batch, not per file: a Delta commit is a new log entry, and a table read replays
the log, so a commit per 15-minute file makes both the writes and every later read slower (and
many small Parquet files). The batch's files are recorded in that same commit (table.py), so
a re-run, a crash or a concurrent run never adds a file twice.

A file goes through these states, each decided from what S3 and the table hold, never from
memory, so any run can pick up where a killed one stopped:

    pending       its manifest is not there yet (the device uploads it last): left for later
    quarantined   its errors report is in quarantine/: finish the move if a run was killed in it
    committed     the table has its key and ETag (a txn action): nothing to do
    new           validated now: its rows go into this batch's commit, or it is quarantined

`python -m workbook.lake.ingest --endpoint URL [--bucket lake] [--table URI]` ingests every
ready file of incoming/ (the tests start two at once to check the concurrent case);
`--pushgateway URL [--run-id ID]` pushes the run's metrics (lake.metrics).
"""

import argparse
import datetime as dt
import json
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from deltalake.exceptions import CommitFailedError

from workbook.lake import Lake, LakeError, quarantine, table
from workbook.lake import metrics as lake_metrics
from workbook.lake.keys import data_key, list_new_keys, manifest_key
from workbook.lake.validate import Checked, prevalidate, validate_batch

COMMIT_ATTEMPTS = 5
READERS = 8  # threads reading S3 (boto3's clients are thread-safe)


@dataclass
class Report:
    """What a run did with each file it was given."""

    ingested: list[str] = field(default_factory=list)  # committed by this run
    quarantined: dict[str, str] = field(default_factory=dict)  # key -> reason
    skipped: dict[str, str] = field(default_factory=dict)  # key -> why (pending, committed...)
    rows: int = 0
    version: int | None = None  # the table's version after this run's commit
    commits: int = 0
    conflicts: int = 0  # commits lost to a concurrent run and retried
    uploaded_at: dict[str, dt.datetime] = field(default_factory=dict)  # key -> S3 LastModified
    latency_s: dict[str, float] = field(default_factory=dict)  # key -> upload to its commit

    def seen(self) -> int:
        """How many files the run was given: each ends in exactly one of the three."""
        return len(self.ingested) + len(self.quarantined) + len(self.skipped)


def fetch(lake: Lake, key: str) -> tuple[bytes, str, dt.datetime] | None:
    """An object's bytes, ETag (unquoted) and upload time, or None if it is not there."""
    try:
        got = lake.s3.get_object(Bucket=lake.bucket, Key=key)
    except lake.s3.exceptions.NoSuchKey:
        return None
    return got["Body"].read(), got["ETag"].strip('"'), got["LastModified"]


def check(lake: Lake, key: str, snapshot, quarantined: set[str],
          report: Report) -> Checked | None:
    """The file prevalidated (its rows left for validate_batch), or None when there is nothing
    to do with it (noted in `report`).
    `quarantined`: the keys whose errors report was in quarantine/ when the run started."""
    if key in quarantined:
        quarantine.finish(lake.s3, lake.bucket, key)  # a killed run may have left copies
        report.skipped[key] = "quarantined"
        return None
    manifest = fetch(lake, manifest_key(key))
    data = fetch(lake, key) if manifest else None
    if manifest is None or data is None:
        report.skipped[key] = "pending"  # or moved away by a concurrent run just now
        return None
    body, etag, report.uploaded_at[key] = data
    if table.committed(snapshot, [(key, etag)]):
        report.skipped[key] = "committed"
        return None
    return prevalidate(key, body, manifest[0], etag)


def settle(lake: Lake, key: str, snapshot, quarantined: set[str],
           report: Report) -> Checked | None:
    """check(), then a file found bad already moved to quarantine/ at once, in the same
    thread: its S3 round trips overlap the other files' reads."""
    checked = check(lake, key, snapshot, quarantined, report)
    if checked is not None and checked.raw is None and not checked.ok:
        move_to_quarantine(lake, checked)
    return checked


def move_to_quarantine(lake: Lake, checked: Checked) -> None:
    quarantine.quarantine(lake.s3, lake.bucket, checked.key, errors_report(checked),
                          lake.incoming, lake.quarantine)


def errors_report(checked: Checked) -> dict:
    return {"key": checked.key, "etag": checked.etag, "reason": checked.reason,
            "reasons": checked.reasons, "errors": checked.errors,
            "manifest": checked.manifest.model_dump(mode="json") if checked.manifest else None,
            "quarantined_at": dt.datetime.now(dt.UTC).isoformat()}


def write_batch(lake: Lake, good: list[Checked], report: Report,
                checked: int | None = None, snapshot=None) -> None:
    """Commit the good files' rows in one commit; when a concurrent run committed some of the
    same files first, re-read the table, drop those and try again with the rest. `checked`:
    the table version the files were already found uncommitted in (0 when there was no table:
    the version `table.create` makes holds no files). While the table is still at it, nothing
    can have committed them since, and the files are not looked up again: each lookup
    (`transaction_version`) reads the log from S3, one request per file. `snapshot`: the table
    as read then (a DeltaTable), written on as it is (its conflict check covers every commit
    made after it); None opens the table."""
    uri = lake.table_uri()
    for _ in range(COMMIT_ATTEMPTS):
        if snapshot is None:
            snapshot = table.create(uri, lake.storage_options)
        done = (set() if snapshot.version() == checked else
                table.committed(snapshot, [(f.key, f.etag) for f in good]))
        for f in good:
            if (f.key, f.etag) in done:
                report.skipped[f.key] = "committed"
        good = [f for f in good if (f.key, f.etag) not in done]
        if not good:
            return
        data = table.to_arrow(good, dt.datetime.now(dt.UTC))
        try:
            report.version = table.append(data, [(f.key, f.etag) for f in good], snapshot)
        except CommitFailedError:
            report.conflicts += 1
            checked = snapshot = None  # someone committed: read the table, look every file up
            continue
        committed_at = dt.datetime.now(dt.UTC)
        report.commits += 1
        report.rows += data.num_rows
        report.ingested += [f.key for f in good]
        report.latency_s |= {f.key: latency(report.uploaded_at[f.key], committed_at)
                             for f in good if f.key in report.uploaded_at}
        return
    raise RuntimeError(f"gave up committing after {COMMIT_ATTEMPTS} conflicts")


def latency(uploaded_at: dt.datetime, committed_at: dt.datetime) -> float:
    """Seconds from an upload to its commit; S3 keeps whole seconds, so never below 0."""
    return max(0.0, (committed_at - uploaded_at).total_seconds())


def ingest(keys: list[str], lake: Lake, one_commit: bool = True, metrics=None) -> Report:
    """Process the files `keys` (data or manifest keys): S3 reads and the checks of the bytes
    in a few threads, the rows' schema for all of them at once, the bad files' quarantines in
    the threads again, then one commit. `one_commit=False` is the naive baseline
    the benchmark compares with: one commit per file. `metrics`: a lake.metrics.LakeMetrics
    to record the run in (None: nothing is recorded, and the table is not read again)."""
    report = Report()
    lake.check()
    snapshot = table.open_table(lake.table_uri(), lake.storage_options)
    done = quarantine.quarantined_keys(lake.s3, lake.bucket, lake.incoming, lake.quarantine)
    unique = list(dict.fromkeys(data_key(k) for k in keys))
    with ThreadPoolExecutor(READERS) as pool:  # S3 calls wait on the network: overlap them
        results = list(pool.map(lambda key: settle(lake, key, snapshot, done, report), unique))
        pending = [checked for checked in results if checked is not None and
                   checked.raw is not None]
        validate_batch(pending)  # the rows' schema: CPU, so one call per kind, not per file
        list(pool.map(lambda checked: move_to_quarantine(lake, checked),
                      [checked for checked in pending if not checked.ok]))
    good = []
    for key, checked in zip(unique, results, strict=True):
        if checked is None:
            continue
        if checked.ok:
            good.append(checked)
        else:
            report.quarantined[key] = checked.reason
    looked_up_at = snapshot.version() if snapshot is not None else 0
    for batch in [good] if one_commit else [[f] for f in good]:
        if batch:  # on the snapshot the files were looked up in (each commit moves it on)
            write_batch(lake, batch, report, looked_up_at, snapshot)
    if metrics is not None:
        newest = table.newest_reading(table.open_table(lake.table_uri(), lake.storage_options))
        metrics.record(report, newest)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", help="the S3 endpoint URL (default: real AWS)")
    parser.add_argument("--bucket", default=Lake.bucket)
    parser.add_argument("--pushgateway", help="push this run's metrics there (lake.metrics)")
    parser.add_argument("--run-id", help="the run's metrics group (default: a new id)")
    args = parser.parse_args(argv)
    lake = Lake(args.bucket, args.endpoint)
    try:
        lake.check()
    except LakeError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    keys, _ = list_new_keys(lake.s3, lake.bucket, prefix=lake.incoming)
    recorded = lake_metrics.LakeMetrics() if args.pushgateway else None
    done = ingest(keys, lake, metrics=recorded)
    if recorded is not None:
        lake_metrics.push(recorded, args.pushgateway, args.run_id or lake_metrics.new_run_id())
    print(json.dumps({"ingested": len(done.ingested), "quarantined": len(done.quarantined),
                      "skipped": len(done.skipped), "rows": done.rows, "commits": done.commits,
                      "conflicts": done.conflicts, "version": done.version}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
