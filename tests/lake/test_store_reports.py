"""A store's hourly report and the dead letters of partitioned work (workbook.store_reports,
workbook.lake.deadletter), on the real S3 service and a real Delta table, with the answer key
as the oracle: a complete hour is reported per device, an hour with a device's files missing
fails naming it, and a partition's dead letter is one record, counted and cleared."""

import datetime as dt

import pytest
from conftest import upload

from workbook import store_reports
from workbook.lake import deadletter, keys
from workbook.lake.ingest import ingest


def hour_of(f) -> dt.datetime:
    return keys.window_start(f.key).replace(minute=0)


def ingested(lake, files) -> None:
    upload(lake, files)
    ingest([f.key for f in files], lake)


def report_of(lake, store: int, hour: dt.datetime):
    return store_reports.hour_report(lake.table_uri(), lake.storage_options, store, hour,
                                     hour + dt.timedelta(hours=1))


@pytest.fixture
def first_hour(answer_key):
    """Store 1's files of the sample's first hour, and that hour."""
    hour = min(hour_of(f) for f in answer_key.files)
    return [f for f in answer_key.files if f.store_id == 1 and hour_of(f) == hour], hour


def test_a_complete_hour_is_reported_per_device(lake, first_hour):
    files, hour = first_hour
    ingested(lake, files)
    report = report_of(lake, 1, hour)
    expected = {}
    for f in files:
        expected[f.device_id] = expected.get(f.device_id, 0) + f.valid_rows
    assert dict(zip(report["device_id"], report["readings"], strict=True)) == {
        device: rows for device, rows in expected.items() if rows}
    assert (report["first"] >= hour).all() and (report["last"] < hour + dt.timedelta(hours=1)).all()


def test_an_hour_without_a_devices_files_fails_naming_it(lake, answer_key, first_hour):
    files, hour = first_hour
    device = sorted({f.device_id for f in files if f.valid_rows})[0]
    next_hour = [f for f in answer_key.files if f.store_id == 1
                 and hour_of(f) == hour + dt.timedelta(hours=1) and f.device_id != device]
    ingested(lake, files + next_hour)
    with pytest.raises(store_reports.IncompleteHour, match=f"from {device} between"):
        report_of(lake, 1, hour + dt.timedelta(hours=1))


def test_a_store_with_no_readings_that_day_fails(lake, first_hour):
    files, hour = first_hour
    ingested(lake, files)
    with pytest.raises(store_reports.IncompleteHour, match="no readings from any device"):
        report_of(lake, 2, hour)


def test_a_report_written_again_replaces_itself(lake, first_hour):
    files, hour = first_hour
    ingested(lake, files)
    report = report_of(lake, 1, hour)
    partition = f"{hour:%Y-%m-%d-%H:%M}|1"
    for _ in range(2):
        key = store_reports.write(lake, "store_report", partition, report)
    assert key == f"reports/store_report/{hour:%Y-%m-%d-%H:%M}/1.json"
    listed = lake.s3.list_objects_v2(Bucket=lake.bucket, Prefix="reports/")["Contents"]
    assert [item["Key"] for item in listed] == [key]
    read = store_reports.read(lake, "store_report", partition)
    assert [row["device_id"] for row in read] == list(report["device_id"])
    assert store_reports.read(lake, "store_report", "2015-06-01-00:00|9") is None


def test_a_partition_that_fails_twice_has_one_record_counting_both(lake):
    partition = "2015-06-01-14:00|2"
    first = deadletter.record(lake, "store_report", partition, ValueError("late"), "run-1")
    second = deadletter.record(lake, "store_report", partition, ValueError("still late"),
                               "run-2")
    assert (first["attempts"], second["attempts"]) == (1, 2)
    letters = deadletter.read_all(lake, "store_report")
    assert letters == [second]
    assert letters[0]["error"] == "ValueError: still late" and letters[0]["run_id"] == "run-2"
    listed = lake.s3.list_objects_v2(Bucket=lake.bucket, Prefix="deadletter/")["Contents"]
    assert [item["Key"] for item in listed] == ["deadletter/store_report/2015-06-01-14:00/2.json"]


def test_a_cleared_record_is_gone_and_others_stay(lake):
    for partition in ("2015-06-01-13:00|2", "2015-06-01-14:00|1"):
        deadletter.record(lake, "store_report", partition, RuntimeError("x"), "run")
    deadletter.clear(lake, "store_report", "2015-06-01-13:00|2")
    deadletter.clear(lake, "store_report", "2015-06-01-13:00|2")  # none left: no error
    assert deadletter.read(lake, "store_report", "2015-06-01-13:00|2") is None
    assert [letter["partition"] for letter in deadletter.read_all(lake, "store_report")] == [
        "2015-06-01-14:00|1"]
    assert deadletter.read_all(lake, "another_asset") == []


@pytest.mark.parametrize("asset, partition", [("", "p"), ("store_report", ""), ("a/b", "p")])
def test_a_dead_letter_needs_an_asset_and_a_partition(lake, asset, partition):
    with pytest.raises(ValueError, match="a dead letter needs"):
        deadletter.record(lake, asset, partition, RuntimeError("x"), "run")
    assert "Contents" not in lake.s3.list_objects_v2(Bucket=lake.bucket, Prefix="deadletter/")
