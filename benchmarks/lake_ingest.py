"""The lake's ingestion, as the bench drives it: upload a batch, ingest it (the timed process),
and read back what the bucket ended with. Runs in the prefect environment's Python (deltalake,
pandera); the bench starts each step as a process of its own.

    python -m benchmarks.lake_ingest upload --endpoint URL --bucket B --source DIR
    python -m benchmarks.lake_ingest run --endpoint URL --bucket B --out FILE [--per-file]
    python -m benchmarks.lake_ingest state --endpoint URL --bucket B --out FILE
    python -m benchmarks.lake_ingest dagster --endpoint URL --bucket B --out FILE

`upload` makes the bucket and puts every file of the generator's folder, then its manifest, in
arrival order (as the devices do). `run` lists the bucket's new keys and calls
`workbook.lake.ingest.ingest(keys, lake, one_commit=...)` once, on a table that does not exist
yet, and writes what the report says and how long the call took (JSON). `dagster` (in the
dagster environment) does the same through the Dagster track's readings asset, as its lessons
write it: one run per hour of files, each one commit (or, `--one-run`, the hours' range in one
run, as a single-run backfill). `state` writes what the
bucket holds afterwards: rows per source file, a digest of the table's content, the quarantine
with each file's reason, what is left in incoming/ (JSON), for the agreement check.
"""

import argparse
import hashlib
import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from workbook.sensors import read_answer_key

UPLOADERS = 8


def lake_of(args):
    from workbook.lake import Lake

    return Lake(args.bucket, args.endpoint)


def upload(args) -> dict:
    lake = lake_of(args)
    lake.s3.create_bucket(Bucket=lake.bucket)
    files = read_answer_key(args.source).in_arrival_order()

    def put(f) -> None:
        for key in (f.key, f.manifest_key):  # the manifest last, as a device uploads
            lake.s3.put_object(Bucket=lake.bucket, Key=key, Body=(args.source / key).read_bytes())

    with ThreadPoolExecutor(UPLOADERS) as pool:
        list(pool.map(put, files))
    return {"files": len(files)}


def run(args) -> dict:
    from workbook.lake.ingest import ingest
    from workbook.lake.keys import list_new_keys

    lake = lake_of(args)
    start = time.perf_counter()
    keys, _ = list_new_keys(lake.s3, lake.bucket, prefix=lake.incoming)
    report = ingest(keys, lake, one_commit=not args.per_file)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "files": len(keys), "ingested": len(report.ingested),
            "quarantined": len(report.quarantined), "skipped": len(report.skipped),
            "rows": report.rows, "commits": report.commits, "conflicts": report.conflicts,
            "version": report.version}


def dagster(args) -> dict:
    """The bucket's new files through the Dagster track's code location (its lessons' files,
    workbook.lesson_files): the hourly readings asset materialized for each hour the files
    cover, one run after another (or all of them in one run), in an ephemeral instance; timed
    around those runs."""
    import sys
    import tempfile

    import dagster as dg

    from workbook import course, dagster_lesson, lesson_files
    from workbook.lake.keys import list_new_keys

    folder = Path(tempfile.mkdtemp(prefix="bench-dagster-"))
    lesson_files.write(lesson_files.files(course.lesson_keys(dagster_lesson.TRACK)), folder)
    sys.path.insert(0, str(folder))
    import lake_assets
    import resources

    lake = lake_of(args)
    here = resources.LakeResource(bucket=args.bucket, endpoint_url=args.endpoint)
    instance = dg.DagsterInstance.ephemeral()
    start = time.perf_counter()
    keys, _ = list_new_keys(lake.s3, lake.bucket, prefix=lake.incoming)
    hours = sorted({dagster_lesson.hour_key(key) for key in keys})
    # A run per hour, or, with --one-run, the hours' range in one run (as a single-run
    # backfill runs it: the asset reads its partition time window, which spans the range).
    planned = [{"partition_key": hour} for hour in hours] if not args.one_run else [{"tags": {
        "dagster/asset_partition_range_start": hours[0],
        "dagster/asset_partition_range_end": hours[-1]}}]
    runs = [dagster_lesson.outcome(dg.materialize(
        [lake_assets.readings], instance=instance, resources={"lake": here},
        run_config=dagster_lesson.quiet(), **run), "readings") for run in planned]
    seconds = time.perf_counter() - start
    failed = [run["error"] for run in runs if not run["success"]]
    if failed:
        raise RuntimeError(f"{len(failed)} of {len(runs)} runs failed, e.g. {failed[0]}")
    meta = [run["metadata"][0] for run in runs]  # a ranged run: each hour gets the same
    return {"seconds": seconds, "files": len(keys), "runs": len(runs),
            "quarantined": sum(m["quarantined"][1] for m in meta),
            "rows": sum(m["rows_added"][1] for m in meta), "commits": len(runs)}


def content_digest(frame) -> str:
    """The table's rows, whatever their order or the order of its columns, as one digest;
    `ingested_at` (the time of the run) left out."""
    import pandas as pd

    frame = frame.drop(columns=["ingested_at"]).sort_index(axis=1)
    frame = frame.sort_values(["source_key", "device_id", "timestamp"], ignore_index=True)
    hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes()
    return hashlib.sha256(hashed).hexdigest()


def state(args) -> dict:
    from workbook.lake import table
    from workbook.lake.quarantine import REPORT_SUFFIX

    lake = lake_of(args)
    found = table.open_table(lake.table_uri(), lake.storage_options)
    frame = found.to_pandas() if found is not None else None
    rows = ({} if frame is None else
            {str(k): int(v) for k, v in frame["source_key"].value_counts().sort_index().items()})

    def listing(prefix: str) -> list[str]:
        pages = lake.s3.get_paginator("list_objects_v2").paginate(Bucket=lake.bucket,
                                                                  Prefix=prefix)
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))

    quarantined = {}
    for key in listing(lake.quarantine):
        if key.endswith(REPORT_SUFFIX):
            body = lake.s3.get_object(Bucket=lake.bucket, Key=key)["Body"].read()
            source = lake.incoming + key.removeprefix(lake.quarantine).removesuffix(REPORT_SUFFIX)
            quarantined[source] = json.loads(body)["reason"]
    return {"rows": rows, "total_rows": sum(rows.values()),
            "digest": None if frame is None else content_digest(frame),
            "version": None if found is None else found.version(),
            "quarantined": quarantined, "incoming": listing(lake.incoming)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=["upload", "run", "state", "dagster"])
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--source", type=Path, help="upload: the generator's folder")
    parser.add_argument("--out", type=Path, help="run, state: where the JSON goes")
    parser.add_argument("--per-file", action="store_true",
                        help="run: one commit per file (the naive baseline)")
    parser.add_argument("--one-run", action="store_true",
                        help="dagster: every hour in one run, not a run per hour")
    args = parser.parse_args(argv)
    result = {"upload": upload, "run": run, "state": state, "dagster": dagster}[args.step](args)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1, sort_keys=True), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
