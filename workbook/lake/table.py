"""The Delta table of readings on S3, written so that a file's rows land exactly once.

One row per reading, partitioned by `date` (the reading's UTC day) and `store_id`; one column
per reading of every device kind (a fridge row has null `entered`), `source_key` and
`source_etag` naming the file it came from, and `ingested_at`.

Exactly once, and why this way. Each batch is ONE Delta commit that carries, besides its rows,
an application transaction (Delta's `txn` action, delta-rs's `Transaction(app_id, version)`)
per file: app id `<key>@<etag>`. Before writing, the ingester asks the table which of its files
already have one (`committed`) and leaves those out. That alone is a check-then-act race, and
what closes it is how delta-rs commits on S3:

- The commit is the put of `_delta_log/<version>.json` with `If-None-Match: *` (S3's conditional
  put, PutMode::Create in object_store; moto's server honours it too). Of two writers racing
  for version N, exactly one creates the file; the other gets 412 Precondition Failed. No lock
  service (DynamoDB) is needed. Without conditional put, delta-rs refuses to write to S3 at all
  ("PutMode::Create when conditional put is disabled not yet implemented").
- The loser does not give up blindly: it re-reads the versions it missed and runs its conflict
  checker. A plain append conflicts with nothing, so it would be re-based and committed as N+1:
  the same file twice, which is why de-duplicating by a read before the write is not enough.
  But when the winning commit holds a `txn` for an app id that the loser's commit also carries,
  the checker raises CommitFailedError ("Concurrent transaction failed"): the loser's rows are
  never committed. The ingester then re-reads the table, drops the files now committed and
  retries with the rest (`ingest.write_batch`).
- The rows and the txn actions are in the same commit file, so they become visible together or
  not at all. A run killed mid-write leaves only Parquet files that no commit references
  (`vacuum` deletes them later); the re-run finds no txn for those files and writes them again.

The alternatives considered: MERGE `when_not_matched_insert_all` on (source_key, source_etag,
device_id, timestamp) also dedups, but it joins each batch against the table's partitions
(slow, and it is the conflict checker's read-predicate tracking, not the join, that would stop a
concurrent duplicate); a separate ledger table would be a second commit, and a crash between the
two commits breaks exactly-once. The txn actions cost one small JSON line per file and are kept
in the table's state (checkpoints too); set `delta.setTransactionRetentionDuration` only if a
file can never be re-delivered after that long.

Schema evolution, an explicit choice: the table starts with the columns of the firmware the
devices shipped with; when firmware 2.0.0 first sends `humidity_pct`, the write uses
schema_mode="merge", which adds the column to the table's schema in the same commit (older rows
read it as null). The alternative, declaring every future column up front, would hide the
change; "overwrite" would rewrite the table. Merge never drops or retypes a column: a type
change would fail the write, which is what we want.
"""

import datetime as dt

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import CommitProperties, DeltaTable, Transaction, write_deltalake
from deltalake.exceptions import CommitFailedError, TableNotFoundError

from workbook.sensors import KINDS

PARTITIONS = ["date", "store_id"]
TYPES = {"float": pa.float64(), "int": pa.int64()}
UTC_US = pa.timestamp("us", tz="UTC")
# A checkpoint (the table's state in one Parquet file) every 10 commits, not Delta's default
# 100: each run opens the table, and an open reads every commit since the last checkpoint, one
# request each; with the lessons' commit per file or per hour, that was most of S3's requests.
CHECKPOINTS = {"delta.checkpointInterval": "10"}


def reading_fields(optional: bool = True) -> list[pa.Field]:
    """One nullable column per reading of every kind, in KINDS order, each once; with the
    optional (newer firmware) columns unless `optional` is False."""
    seen = {}
    for kind in KINDS.values():
        for reading in kind.readings + (kind.upgrade_adds if optional else ()):
            seen.setdefault(reading.name, pa.field(reading.name, TYPES[reading.dtype]))
    return list(seen.values())


def table_schema(optional: bool = True) -> pa.Schema:
    return pa.schema([
        pa.field("device_id", pa.string(), nullable=False),
        pa.field("store_id", pa.int64(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("firmware", pa.string(), nullable=False),
        pa.field("timestamp", UTC_US, nullable=False),
        pa.field("date", pa.date32(), nullable=False),
        *reading_fields(optional),
        pa.field("source_key", pa.string(), nullable=False),
        pa.field("source_etag", pa.string(), nullable=False),
        pa.field("ingested_at", UTC_US, nullable=False),
    ])


def expected_schema(found: pa.Schema) -> pa.Schema:
    """The schema this module writes, for a table whose schema is `found`: with the newer
    firmware's columns when it has any of them (schema evolution adds them together)."""
    optional = {f.name for f in reading_fields()} - {f.name for f in reading_fields(False)}
    return table_schema(optional=bool(optional & set(found.names)))


def arrow_schema(table: DeltaTable) -> pa.Schema:
    """The table's columns and types as pyarrow reads them (partition columns included)."""
    return table.to_pyarrow_dataset().schema


def to_arrow(files: list, ingested_at: dt.datetime) -> pa.Table:
    """The rows of validated files (validate.Checked, all good) in the table's layout. The
    optional columns are there only if some file has them (see schema evolution above)."""
    optional = {r.name for kind in KINDS.values() for r in kind.upgrade_adds}
    schema = table_schema(optional=any(optional & set(f.rows.columns) for f in files))
    columns = {name: [] for name in schema.names}
    for f in files:
        n, m = len(f.rows), f.manifest
        fixed = {"device_id": m.device_id, "store_id": m.store_id, "kind": m.kind,
                 "firmware": m.firmware, "source_key": f.key, "source_etag": f.etag,
                 "ingested_at": ingested_at}
        stamps = pa.array(f.rows["timestamp"], UTC_US)
        for fld in schema:
            if fld.name in fixed:
                array = pa.array([fixed[fld.name]] * n, fld.type)
            elif fld.name in ("timestamp", "date"):
                array = stamps if fld.name == "timestamp" else stamps.cast(pa.date32())
            elif fld.name in f.rows.columns:
                array = pa.array(f.rows[fld.name], fld.type)
            else:  # another kind's reading
                array = pa.nulls(n, fld.type)
            columns[fld.name].append(array)
    return pa.table({name: pa.chunked_array(chunks, schema.field(name).type)
                     for name, chunks in columns.items()}, schema=schema)


def app_id(key: str, etag: str) -> str:
    """The Delta application-transaction id that records a file as ingested."""
    return f"{key}@{etag}"


def open_table(uri: str, storage_options: dict) -> DeltaTable | None:
    """The table at its latest version, or None if nothing was ever committed there."""
    try:
        return DeltaTable(uri, storage_options=storage_options)
    except TableNotFoundError:
        return None


def create(uri: str, storage_options: dict) -> DeltaTable:
    """The table, created empty first if it does not exist. Data is only ever appended to an
    existing table, for a reason found the hard way: two writers that both start from "no
    table" have no snapshot to check conflicts against, and delta-rs commits the second
    creation as the next version with its rows, the same files twice (the test of two runs on
    a new table caught it). Of two concurrent creations here, one commits version 0 and the
    other fails or adds an empty version: no rows either way."""
    if (found := open_table(uri, storage_options)) is not None:
        return found
    try:
        DeltaTable.create(uri, table_schema(optional=False), mode="ignore",
                          partition_by=PARTITIONS, storage_options=storage_options,
                          configuration=CHECKPOINTS)
    except (CommitFailedError, OSError) as err:
        if open_table(uri, storage_options) is None:
            raise err
    return DeltaTable(uri, storage_options=storage_options)


def committed(table: DeltaTable | None, files: list[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which (key, etag) pairs the table already holds, read from its txn actions."""
    if table is None:
        return set()
    return {f for f in files if table.transaction_version(app_id(*f)) is not None}


def append(data: pa.Table, files: list[tuple[str, str]], table: DeltaTable) -> int:
    """Append `data` and record `files` as (key, etag) pairs in one commit; returns the new
    version. `table` must be the snapshot `committed` was asked (see `create`): the conflict
    check covers the commits made after it, so a file committed by someone else
    after that read fails this commit with deltalake.exceptions.CommitFailedError instead of
    landing twice. Loading a fresh snapshot here would reopen the race."""
    properties = CommitProperties(
        app_transactions=[Transaction(app_id(*f), 1) for f in files],
        custom_metadata={"workbook.files": str(len(files))})
    write_deltalake(table, data, mode="append", partition_by=PARTITIONS, schema_mode="merge",
                    commit_properties=properties)
    return table.version()  # write_deltalake moved `table` to the commit it made


def newest_reading(table: DeltaTable | None) -> dt.datetime | None:
    """The newest reading's timestamp in the table (None if it holds none), read from the
    per-file max statistics in the log: no data file is opened, so a run can afford it each time
    (the freshness metric). The table's, not the batch's: a late file must not move it back."""
    if table is None:
        return None
    actions = pa.table(table.get_add_actions(flatten=True))
    if actions.num_rows == 0 or "max.timestamp" not in actions.column_names:
        return None
    return pc.max(actions["max.timestamp"]).as_py()


def rows_between(table: DeltaTable | None, start: dt.datetime, end: dt.datetime) -> int:
    """How many readings have a timestamp in [start, end) (0 without a table): what a time
    partition of the table holds, whichever runs wrote it."""
    if table is None:
        return 0
    moment = pc.field("timestamp")
    where = (moment >= pa.scalar(start, UTC_US)) & (moment < pa.scalar(end, UTC_US))
    return table.to_pyarrow_dataset().count_rows(filter=where)


def compact(uri: str, storage_options: dict) -> dict:
    """Rewrite each partition's small files into few large ones (a batch per 15 minutes makes
    many small files); the old files stay until `vacuum`. Returns delta-rs's metrics."""
    return DeltaTable(uri, storage_options=storage_options).optimize.compact()


def vacuum(uri: str, storage_options: dict, retention_hours: int = 168,
           dry_run: bool = False) -> list[str]:
    """Delete the files no version younger than `retention_hours` needs: those compaction
    replaced, and those a killed writer left behind with no commit naming them (full=True: the
    default "lite" vacuum only looks at files the log once referenced, and would keep them).
    Below the default 7 days a concurrent writer's not-yet-committed files or a long reader's
    snapshot could lose their files: 0 is for a table nobody else is using (tests, a lesson).
    Returns the deleted (or, with dry_run, deletable) files."""
    table = DeltaTable(uri, storage_options=storage_options)
    return table.vacuum(retention_hours=retention_hours, dry_run=dry_run, full=True,
                        enforce_retention_duration=retention_hours >= 168)
