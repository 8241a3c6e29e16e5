"""Each store's hourly report from the readings table: the interview question's unit of work,
"one run per store, and re-run only the stores that failed". Orchestrator-free: an asset
partitioned by hour and store (the Dagster track), or a mapped task, runs `hour_report` for
one store and hour and writes what it returns with `write`.

An hour is reported only when it is complete: every device the store had that day must have
readings in it. A store whose uplink was down has files that arrive hours late; a report
computed without them looks like a quiet hour, so the partition fails instead (and succeeds
when it is re-run after the files arrived).
"""

import datetime as dt
import json

import pandas as pd

from workbook.lake.keys import partition_path
from workbook.services.s3 import REPORTS

COLUMNS = ["device_id", "kind", "timestamp", "temperature_c"]


class IncompleteHour(RuntimeError):
    """Some of a store's devices have no readings in the hour: their files have not arrived."""


def missing(day_devices: set[str], hour_devices: set[str]) -> list[str]:
    """The devices a store had that day with no readings in the hour, sorted."""
    return sorted(set(day_devices) - set(hour_devices))


def store_day(table_uri: str, storage_options: dict, store_id: int,
              day: dt.date) -> pd.DataFrame:
    """A store's readings of one day (its table partition alone is read), in time order."""
    import pyarrow as pa
    import pyarrow.compute as pc
    from deltalake import DeltaTable

    dataset = DeltaTable(table_uri, storage_options=storage_options).to_pyarrow_dataset()
    where = (pc.field("store_id") == store_id) & (pc.field("date") == pa.scalar(day, pa.date32()))
    rows = dataset.to_table(columns=COLUMNS, filter=where).to_pandas()
    return rows.sort_values(["device_id", "timestamp"], ignore_index=True)


def hour_report(table_uri: str, storage_options: dict, store_id: int, start: dt.datetime,
                end: dt.datetime) -> pd.DataFrame:
    """Per device of the store: its readings in [start, end), first and last, and the highest
    cabinet temperature. Raises IncompleteHour naming the devices with no reading in it."""
    day = store_day(table_uri, storage_options, store_id, start.date())
    hour = day[(day["timestamp"] >= start) & (day["timestamp"] < end)]
    absent = missing(set(day["device_id"]), set(hour["device_id"]))
    if day.empty or absent:
        raise IncompleteHour(f"store {store_id} has no readings from "
                             f"{', '.join(absent) or 'any device'} between {start:%H:%M} and "
                             f"{end:%H:%M} on {start:%Y-%m-%d}: their files have not arrived")
    report = hour.groupby(["device_id", "kind"], sort=True).agg(
        readings=("timestamp", "size"), first=("timestamp", "min"), last=("timestamp", "max"),
        max_temperature_c=("temperature_c", "max"))
    return report.reset_index()


def report_key(asset: str, partition: str) -> str:
    """reports/store_report/2015-06-01-14:00/2.json (a multi-dimensional key's "|" as "/")."""
    return f"{REPORTS}{asset}/{partition_path(partition)}.json"


def write(lake, asset: str, partition: str, report: pd.DataFrame) -> str:
    """Put a partition's report in the bucket, replacing an earlier one (a re-run writes the
    same object again: nothing to undo); returns its key."""
    key = report_key(asset, partition)
    body = report.to_json(orient="records", date_format="iso", indent=1)
    lake.s3.put_object(Bucket=lake.bucket, Key=key, Body=body.encode(),
                       ContentType="application/json")
    return key


def read(lake, asset: str, partition: str) -> list[dict] | None:
    """A partition's report as written, or None when there is none."""
    try:
        body = lake.s3.get_object(Bucket=lake.bucket, Key=report_key(asset, partition))["Body"]
    except lake.s3.exceptions.NoSuchKey:
        return None
    return json.loads(body.read())
