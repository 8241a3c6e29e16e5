"""Every input file ends up exactly once, in the table or in quarantine: after a run, a re-run,
a run killed with SIGKILL between its Parquet files and its commit, a batch of only bad files,
and two runs started at the same time (real processes)."""

import json
import os
import signal
import subprocess
import sys

import pytest
from conftest import upload
from deltalake import DeltaTable
from oracle import assert_exactly_once, listing, table_rows
from proxy import HoldingProxy

from workbook import paths
from workbook.lake import table
from workbook.lake.ingest import ingest
from workbook.lake.keys import list_new_keys
from workbook.waiting import wait_for


def run_ingest(endpoint: str, bucket: str, *options: str) -> subprocess.Popen:
    """`python -m workbook.lake.ingest` in its own process, as a second worker would run."""
    return subprocess.Popen([sys.executable, "-m", "workbook.lake.ingest", "--endpoint",
                             endpoint, "--bucket", bucket, *options], cwd=paths.ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finished(proc: subprocess.Popen) -> dict:
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    return json.loads(out.splitlines()[-1])


def test_a_run_and_a_rerun(uploaded, answer_key):
    keys, _ = list_new_keys(uploaded.s3, uploaded.bucket)
    first = ingest(keys, uploaded)
    assert first.commits == 1, "one commit for the whole batch"
    assert sorted(first.quarantined.items()) == sorted(
        (f.key, f.reason) for f in answer_key.files if f.disposition == "quarantine")
    assert_exactly_once(uploaded, answer_key.files)
    again = ingest(keys, uploaded)
    assert (again.commits, again.rows, again.quarantined) == (0, 0, {})
    assert set(again.skipped.values()) == {"committed", "quarantined"}
    version = table.open_table(uploaded.table_uri(), uploaded.storage_options).version()
    assert version == first.version, "a re-run must not commit"
    assert_exactly_once(uploaded, answer_key.files)


def test_the_oracle_catches_a_pipeline_that_forgets_what_it_committed(
        uploaded, answer_key, monkeypatch):
    """Exactly-once broken on purpose (the re-run skips the committed-files check): the
    invariant check must fail, or it proves nothing above."""
    keys, _ = list_new_keys(uploaded.s3, uploaded.bucket)
    ingest(keys, uploaded)
    monkeypatch.setattr(table, "committed", lambda snapshot, files: set())
    ingest(keys, uploaded)
    with pytest.raises(AssertionError, match="rows in the table, expected"):
        assert_exactly_once(uploaded, answer_key.files)


def test_a_batch_of_only_bad_files(lake, answer_key):
    bad = [f for f in answer_key.files if f.disposition == "quarantine"]
    keys = upload(lake, bad)
    report = ingest(keys, lake)
    assert (report.commits, len(report.quarantined)) == (0, len(bad))
    assert table.open_table(lake.table_uri(), lake.storage_options) is None
    assert_exactly_once(lake, bad)
    assert ingest(keys, lake).quarantined == {}  # re-run: nothing moves twice
    assert_exactly_once(lake, bad)


def test_a_run_killed_between_its_parquet_files_and_its_commit(lake, answer_key):
    files = answer_key.in_arrival_order()
    first, rest = files[:100], files[100:]
    committed_version = ingest(upload(lake, first), lake).version
    upload(lake, rest)
    proxy = HoldingProxy(int(lake.endpoint_url.rsplit(":", 1)[1]))
    try:
        proc = run_ingest(proxy.url, lake.bucket)
        assert wait_for(lambda: proxy.held or proc.poll() is not None, 120), "no commit came"
        assert proxy.held == 1, proc.communicate()[1]
        os.kill(proc.pid, signal.SIGKILL)  # the Parquet files are written, the commit is not
        proc.wait(timeout=30)
        proxy.drop()
    finally:
        proxy.close()
    before = DeltaTable(lake.table_uri(), storage_options=lake.storage_options)
    assert before.version() == committed_version, "the killed run's commit must not have landed"
    parquet = [k for k in listing(lake, "tables/readings/") if k.endswith(".parquet")]
    assert len(parquet) > len(before.file_uris()), "the killed run wrote no Parquet file"
    rerun = ingest([f.key for f in files], lake)
    assert rerun.commits == 1
    assert_exactly_once(lake, files)
    orphans = table.vacuum(lake.table_uri(), lake.storage_options, retention_hours=0)
    assert orphans, "vacuum should delete the killed run's uncommitted files"
    assert_exactly_once(lake, files)


@pytest.mark.parametrize("table_exists", [False, True], ids=["new-table", "existing-table"])
def test_two_runs_at_the_same_time(lake, answer_key, table_exists):
    """Two processes, their commits held by the proxy until both are ready and then sent
    together: both validated the same files from the same snapshot, and one must lose."""
    files = answer_key.in_arrival_order()
    if table_exists:
        ingest(upload(lake, files[:40]), lake)
    upload(lake, files[40:] if table_exists else files)
    proxy = HoldingProxy(int(lake.endpoint_url.rsplit(":", 1)[1]))
    try:
        procs = [run_ingest(proxy.url, lake.bucket) for _ in range(2)]
        assert wait_for(lambda: proxy.held == 2 or any(p.poll() is not None for p in procs),
                        180), "the two runs did not both reach their commit"
        assert proxy.held == 2, [p.communicate()[1][-2000:] for p in procs]
        proxy.release()
        reports = [finished(p) for p in procs]
    finally:
        proxy.close()
    assert sorted(r["commits"] for r in reports) == [0, 1], reports
    assert sum(r["conflicts"] for r in reports) >= 1, reports
    assert_exactly_once(lake, files)
    assert sum(table_rows(lake).values()) == sum(f.valid_rows for f in files)
