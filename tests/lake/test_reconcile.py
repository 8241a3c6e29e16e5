"""The readings table reconciled with its files (workbook.lake.reconcile) and the damage the
Dagster track's checks must see (lake_lesson.retype_column, duplicate_rows, delete_rows), on the
real S3 service and a real Delta table, with the answer key as the oracle."""

import pyarrow as pa
import pytest
from conftest import upload

from workbook import lake_lesson
from workbook.lake import reconcile, table
from workbook.lake.ingest import ingest


@pytest.fixture
def ingested(lake, answer_key):
    """The sample's first hour ingested: its files, and the table."""
    hour = min(f.window_start[:13] for f in answer_key.files)
    files = [f for f in answer_key.files if f.window_start[:13] == hour]
    upload(lake, files)
    ingest([f.key for f in files], lake)
    return files


def found(lake):
    return table.open_table(lake.table_uri(), lake.storage_options)


def test_each_committed_file_holds_its_readings_and_no_other_file_any(lake, ingested):
    good = {f.key: f.valid_rows for f in ingested if f.disposition != "quarantine"}
    assert reconcile.committed_rows(lake, found(lake)) == good
    assert reconcile.rows_by_file(found(lake)) == {key: rows for key, rows in good.items()
                                                   if rows}
    assert any(f.disposition == "quarantine" for f in ingested), "the sample has a bad file"


def test_a_double_ingestion_and_a_loss_are_seen_file_by_file(lake, ingested):
    doubled, lost = [f for f in ingested if f.valid_rows][:2]
    assert lake_lesson.duplicate_rows(lake, doubled.key) == doubled.valid_rows
    assert lake_lesson.delete_rows(lake, lost.key) == lost.valid_rows
    rows = reconcile.rows_by_file(found(lake))
    assert rows[doubled.key] == 2 * doubled.valid_rows and lost.key not in rows
    # the log still records both as committed: the reference does not move with the damage
    committed = reconcile.committed_rows(lake, found(lake))
    assert (committed[doubled.key], committed[lost.key]) == (doubled.valid_rows,
                                                             lost.valid_rows)


def test_a_retyped_column_keeps_the_rows_and_the_commits_and_changes_the_schema(lake,
                                                                                 ingested):
    before = found(lake)
    schema = table.arrow_schema(before)
    assert schema.field("temperature_c").type == table.expected_schema(schema).field(
        "temperature_c").type == pa.float64()
    committed = reconcile.committed_rows(lake, before)
    lake_lesson.retype_column(lake, "temperature_c")
    after = found(lake)
    assert table.arrow_schema(after).field("temperature_c").type == pa.string()
    assert reconcile.committed_rows(lake, after) == committed
    assert ingest([f.key for f in ingested], lake).rows == 0  # a re-run adds nothing
