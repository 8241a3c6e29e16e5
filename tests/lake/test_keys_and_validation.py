"""Which files are new (a watermark, an S3 event) and whether each is good, against the answer
key; schema evolution, compaction and vacuum on the real table."""

import datetime as dt
import hashlib
import json

import pytest
from conftest import SAMPLE, upload
from oracle import assert_exactly_once

from workbook.lake import table
from workbook.lake.ingest import ingest
from workbook.lake.keys import EventError, list_new_keys, parse_event, window_start
from workbook.lake.validate import (
    BAD_MANIFEST,
    CONFLICTING_DUPLICATE,
    NOT_PARSEABLE,
    OUT_OF_RANGE,
    UNSUPPORTED,
    prevalidate,
    validate_batch,
    validate_file,
)
from workbook.services.s3 import BUCKET
from workbook.waiting import wait_for


def read(f):
    return (SAMPLE / f.key).read_bytes(), (SAMPLE / f.manifest_key).read_bytes()


def test_every_sample_file_gets_the_answer_keys_disposition_reason_and_rows(answer_key):
    for f in answer_key.files:
        checked = validate_file(f.key, *read(f))
        assert checked.reason == f.reason, (f.key, checked.errors)
        assert (0 if checked.rows is None else len(checked.rows)) == f.valid_rows, f.key


def conflicting_duplicate(answer_key) -> tuple[str, bytes, bytes]:
    """A good CSV file with a reading added at its first reading's time, another value (its
    manifest made to match): rejected by the timestamp's uniqueness alone."""
    f = next(f for f in answer_key.files if f.reason is None and f.key.endswith(".csv"))
    body, manifest = read(f)
    first = body.splitlines()[1].split(b",")
    body += b",".join([first[0], *(b"1" for _ in first[1:])]) + b"\n"
    fixed = json.loads(manifest) | {"rows": json.loads(manifest)["rows"] + 1,
                                    "sha256": hashlib.sha256(body).hexdigest()}
    return f.key, body, json.dumps(fixed).encode()


def test_a_batch_gets_the_verdicts_each_file_gets_alone(answer_key):
    """validate_batch (one pandera call per kind and column set) against validate_file, file by
    file: the same reasons, errors, duplicates and typed rows, bad files among good ones; the
    sample's files and each of them twice (two files that repeat each other's timestamps are
    fine: uniqueness holds within a file)."""
    import pandas as pd

    files = [(f.key, *read(f)) for f in answer_key.files]
    files.append(conflicting_duplicate(answer_key))
    alone = [validate_file(*f) for f in files]
    batch = [prevalidate(*f) for f in files + files]
    validate_batch(batch)
    assert {c.reason for c in alone} > {None, CONFLICTING_DUPLICATE}  # good and bad files
    for one, together in zip(alone + alone, batch, strict=True):
        assert (together.reasons, together.errors, together.duplicates_dropped) == \
            (one.reasons, one.errors, one.duplicates_dropped), one.key
        assert together.raw is None and (one.rows is None) == (together.rows is None), one.key
        if one.rows is not None:
            pd.testing.assert_frame_equal(together.rows, one.rows)


def test_pandera_reports_every_bad_value_not_the_first(answer_key):
    f = next(f for f in answer_key.files if f.reason == OUT_OF_RANGE
             and len(f.detail[OUT_OF_RANGE]["rows"]) > 1)
    checked = validate_file(f.key, *read(f))
    found = sorted(e["row"] for e in checked.errors if e["reason"] == OUT_OF_RANGE)
    assert found == f.detail[OUT_OF_RANGE]["rows"]


def test_a_bad_manifest_names_its_fields_and_other_formats_are_named(answer_key):
    f = answer_key.files[0]
    body, manifest = read(f)
    broken = json.loads(manifest) | {"rows": -1, "sha256": "nope"}
    checked = validate_file(f.key, body, json.dumps(broken).encode())
    assert checked.reason == BAD_MANIFEST
    assert {e["field"] for e in checked.errors[0]["errors"]} == {"rows", "sha256"}
    assert validate_file(f.key + ".parquet", body, manifest).reason == UNSUPPORTED
    garbage = b"\x89PNG\r\n\x1a\n\x00\xff\n"
    assert validate_file(f.key, garbage, manifest).reasons[-1] == NOT_PARSEABLE


def test_a_files_window_is_read_from_its_key(answer_key):
    for f in answer_key.files:
        assert window_start(f.key) == window_start(f.manifest_key) == \
            dt.datetime.fromisoformat(f.window_start)
    with pytest.raises(ValueError, match="not a sensor file's key"):
        window_start("incoming/notes.txt")


def test_rows_between_count_what_a_time_window_of_the_table_holds(uploaded, answer_key):
    assert table.rows_between(None, dt.datetime(2015, 6, 1, tzinfo=dt.UTC),
                              dt.datetime(2015, 7, 1, tzinfo=dt.UTC)) == 0
    ingest(list_new_keys(uploaded.s3, uploaded.bucket)[0], uploaded)
    found = table.open_table(uploaded.table_uri(), uploaded.storage_options)
    hours = sorted({window_start(f.key).replace(minute=0) for f in answer_key.files})
    for hour in hours:
        end = hour + dt.timedelta(hours=1)
        assert table.rows_between(found, hour, end) == sum(
            f.valid_rows for f in answer_key.files if hour <= window_start(f.key) < end)


def test_new_keys_wait_for_the_manifest_and_follow_the_watermark(lake, answer_key):
    first, second = answer_key.in_arrival_order()[:3], answer_key.in_arrival_order()[3:5]
    upload(lake, first)
    lake.s3.put_object(Bucket=lake.bucket, Key=second[0].key, Body=b"no manifest yet")
    keys, watermark = list_new_keys(lake.s3, lake.bucket)
    assert sorted(keys) == sorted(f.key for f in first)  # same second: ordered by key
    assert list_new_keys(lake.s3, lake.bucket, since=watermark.replace(year=3000))[0] == []
    upload(lake, second)
    keys, newer = list_new_keys(lake.s3, lake.bucket, since=watermark)
    assert {f.key for f in second} <= set(keys) and newer >= watermark


def test_an_upload_is_announced_and_its_event_parsed(s3_endpoint, lake):
    """The service's own bucket notifies its queue; the key comes back URL-decoded."""
    key = f"incoming/store=1/device=s1-fridge-1/{lake.bucket} x+y.csv"
    lake.s3.put_object(Bucket=BUCKET, Key=key, Body=b"x\n")
    sqs = __import__("workbook.services.s3", fromlist=["clients"]).clients(s3_endpoint.url)[1]
    found = []

    def announced() -> bool:
        got = sqs.receive_message(QueueUrl=s3_endpoint.data["queue_url"],
                                  MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for message in got.get("Messages", []):
            found.extend(parse_event(message["Body"]))
        return key in found

    assert wait_for(announced, 30), found


@pytest.mark.parametrize(("body", "message"), [
    ("not json", "not JSON"), ("[1]", "not an object"), ('{"Foo": 1}', "no 'Records' list"),
    ('{"Records": [{"s3": {}}]}', "record 0 has no eventName"),
    ('{"Records": [{"eventName": "ObjectCreated:Put", "s3": {}}]}', "no s3.object.key")])
def test_a_malformed_event_says_what_is_wrong(body, message):
    with pytest.raises(EventError, match=message):
        parse_event(body)


def test_s3s_test_event_and_deletions_give_no_keys():
    assert parse_event('{"Event": "s3:TestEvent", "Bucket": "lake"}') == []
    assert parse_event({"Records": [{"eventName": "ObjectRemoved:Delete"}]}) == []


def test_newer_firmware_adds_its_column_by_schema_evolution(lake, answer_key):
    good = [f for f in answer_key.in_arrival_order() if f.disposition == "accept"]
    old = [f for f in good if f.firmware == "1.4.2"][:20]
    new = [f for f in good if f.firmware == "2.0.0"][:5]
    ingest(upload(lake, old), lake)
    before = table.open_table(lake.table_uri(), lake.storage_options)
    assert "humidity_pct" not in before.schema().to_arrow().names
    ingest(upload(lake, new), lake)
    after = table.open_table(lake.table_uri(), lake.storage_options).to_pandas()
    assert after.loc[after.firmware == "2.0.0", "humidity_pct"].notna().all()
    assert after.loc[after.firmware == "1.4.2", "humidity_pct"].isna().all()
    assert_exactly_once(lake, old + new)


def test_compaction_and_vacuum_keep_every_row(lake, answer_key):
    files = [f for f in answer_key.in_arrival_order() if f.disposition == "accept"][:30]
    for i in range(0, 30, 10):
        ingest(upload(lake, files[i:i + 10]), lake)
    uri, options = lake.table_uri(), lake.storage_options
    before = len(table.open_table(uri, options).file_uris())
    metrics = table.compact(uri, options)
    assert metrics["numFilesRemoved"] == before > metrics["numFilesAdded"]
    assert len(table.vacuum(uri, options, retention_hours=0)) == before
    assert_exactly_once(lake, files)


def test_the_queue_is_read_as_complete_files_once_each(s3_endpoint, lake):
    """receive_announced: a manifest's event announces its file (a data file's alone does
    not), a file announced twice comes once, a message that is no S3 event is counted and
    deleted with the others, and the queue is left empty."""
    from workbook.lake.keys import receive_announced
    from workbook.lake_lesson import event
    from workbook.services.s3 import clients

    sqs = clients(s3_endpoint.url)[1]
    queue_url = sqs.create_queue(QueueName=f"{lake.bucket}-events")["QueueUrl"]
    done, pending = "incoming/store=1/device=s1-fridge-1/2015-06-01/1200.csv", \
        "incoming/store=1/device=s1-fridge-1/2015-06-01/1215.csv"
    for body in (event(("ObjectCreated:Put", done), ("ObjectCreated:Put", pending)),
                 event(("ObjectCreated:Put", done + ".manifest.json")), "not an event",
                 event(("ObjectCreated:Put", done + ".manifest.json"))):
        sqs.send_message(QueueUrl=queue_url, MessageBody=body)
    assert receive_announced(sqs, queue_url) == ([done], 1)
    assert receive_announced(sqs, queue_url) == ([], 0)
