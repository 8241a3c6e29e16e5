"""The Dagster track's readings asset, written from its lessons' solutions, keeps every file
exactly once when Dagster runs it: after a re-run, after a run killed with SIGKILL between its
Parquet files and its commit, after a partition of only bad files, and with two runs of one
partition started at the same time; and the readings' pool (delta-writer) lets one commit at a
time. Each run is `dagster asset materialize` in a process group
of its own, on a DAGSTER_HOME of the module's, as a deployment's run worker runs it; the lake's
address reaches the resource's EnvVars through the process's environment."""

import os
import signal
import subprocess
from pathlib import Path

import pytest
from conftest import upload
from oracle import assert_exactly_once, listing, total_versions
from proxy import HoldingProxy

from workbook import course, dagster_home, dagster_lesson, lesson_files
from workbook.lake import keys, table
from workbook.waiting import wait_for

TRACK = "03_advanced/dagster"
FIRST, SECOND = "2015-06-01-12:00", "2015-06-01-13:00"  # hours of the committed sample
POOL = "delta-writer"  # the readings asset's pool (lesson 05)


@pytest.fixture(scope="module")
def defs(tmp_path_factory) -> Path:
    """The track's code location as a learner who solved every lesson has it."""
    folder = tmp_path_factory.mktemp("defs")
    lesson_files.write(lesson_files.files(course.lesson_keys(TRACK)), folder)
    return folder


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    return dagster_home.prepare(tmp_path_factory.mktemp("dagster_home"))


def hour(answer_key, partition: str, disposition: str | None = None) -> list:
    """The sample's files of an hourly partition (of one disposition, if given)."""
    return [f for f in answer_key.in_arrival_order()
            if f"{keys.window_start(f.key):%Y-%m-%d-%H}:00" == partition
            and disposition in (None, f.disposition)]


def materialize(defs: Path, home: Path, endpoint: str, bucket: str,
                partition: str) -> subprocess.Popen:
    """One readings partition through Dagster's CLI, in a process group of its own (the run's
    step may run in a child process)."""
    env = {**os.environ, **dagster_home.environ(home), "LAKE_BUCKET": bucket,
           "LAKE_ENDPOINT": endpoint, "LAKE_QUEUE_URL": ""}  # no queue: these runs read none
    return subprocess.Popen([str(dagster_home.dagster_cli()), "asset", "materialize", "-f",
                             "definitions.py", "--select", "readings", "--partition", partition],
                            cwd=defs, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)


def succeeded(proc: subprocess.Popen) -> None:
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]


def rows_added(home: Path, run_ids: set[str] | None = None) -> list[int]:
    """`rows_added` of each readings materialization the module's instance holds, sorted."""
    import dagster as dg

    with dg.DagsterInstance.from_config(str(home)) as instance:
        found = instance.fetch_materializations(dg.AssetKey("readings"), limit=100).records
    return sorted(r.asset_materialization.metadata["rows_added"].value for r in found
                  if run_ids is None or r.run_id in run_ids)


def run_ids(home: Path) -> set[str]:
    import dagster as dg

    with dg.DagsterInstance.from_config(str(home)) as instance:
        return {r.dagster_run.run_id for r in instance.get_run_records()}


def set_pool(home: Path, limit: int) -> None:
    """The readings' pool limited to `limit` in the module's instance."""
    import dagster as dg

    with dg.DagsterInstance.from_config(str(home)) as instance:
        instance.event_log_storage.set_concurrency_slots(POOL, limit)


def end_killed_runs(home: Path, killed: set[str]) -> None:
    """What the daemon's run monitoring does for a run whose worker died: the run marked failed,
    then the pool slots it held freed (dagster.yaml: free_slots_after_run_end_seconds). The
    CLI runs here have no daemon."""
    import dagster as dg

    with dg.DagsterInstance.from_config(str(home)) as instance:
        for run_id in killed:
            instance.report_run_failed(instance.get_run_by_id(run_id))
            instance.event_log_storage.free_concurrency_slots_for_run(run_id)


@pytest.fixture(autouse=True)
def one_writer(home):
    """Every test starts with the pool as lesson 05 sets it: one writer."""
    set_pool(home, 1)


def test_a_rerun_of_a_partition_adds_nothing(defs, home, lake, answer_key):
    files = hour(answer_key, FIRST)
    upload(lake, files)
    succeeded(materialize(defs, home, lake.endpoint_url, lake.bucket, FIRST))
    version = total_versions(lake)
    before = run_ids(home)
    succeeded(materialize(defs, home, lake.endpoint_url, lake.bucket, FIRST))
    assert total_versions(lake) == version, "the re-run committed again"
    assert rows_added(home, run_ids(home) - before) == [0]
    assert_exactly_once(lake, files)


def test_a_partition_of_only_bad_files(defs, home, lake, answer_key):
    bad = hour(answer_key, FIRST, "quarantine")
    assert bad, "the sample's first hour has bad files"
    upload(lake, bad)
    for _ in range(2):  # the re-run finds nothing to move
        succeeded(materialize(defs, home, lake.endpoint_url, lake.bucket, FIRST))
        assert table.open_table(lake.table_uri(), lake.storage_options) is None
        assert_exactly_once(lake, bad)


def test_a_run_killed_between_its_parquet_files_and_its_commit(defs, home, lake, answer_key):
    first, second = hour(answer_key, FIRST), hour(answer_key, SECOND)
    upload(lake, first)
    succeeded(materialize(defs, home, lake.endpoint_url, lake.bucket, FIRST))
    committed = total_versions(lake)
    upload(lake, second)
    proxy = HoldingProxy(int(lake.endpoint_url.rsplit(":", 1)[1]))
    before = run_ids(home)
    try:
        proc = materialize(defs, home, proxy.url, lake.bucket, SECOND)
        assert wait_for(lambda: proxy.held or proc.poll() is not None, 240), "no commit came"
        assert proxy.held == 1, proc.communicate()[1][-3000:]
        os.killpg(proc.pid, signal.SIGKILL)  # the run and its step: Parquet written, no commit
        proc.wait(timeout=30)
        proxy.drop()
    finally:
        proxy.close()
    end_killed_runs(home, run_ids(home) - before)  # else its slot of the pool stays taken
    assert total_versions(lake) == committed, "the killed run's commit must not have landed"
    parquet = [k for k in listing(lake, "tables/readings/") if k.endswith(".parquet")]
    before = table.open_table(lake.table_uri(), lake.storage_options)
    assert len(parquet) > len(before.file_uris()), "the killed run wrote no Parquet file"
    succeeded(materialize(defs, home, lake.endpoint_url, lake.bucket, SECOND))
    assert_exactly_once(lake, first + second)
    assert table.vacuum(lake.table_uri(), lake.storage_options, retention_hours=0), (
        "vacuum should delete the killed run's uncommitted files")
    assert_exactly_once(lake, first + second)


def test_two_runs_of_one_partition_at_the_same_time(defs, home, lake, answer_key):
    """Both runs' commits held by the proxy until both are ready, then sent together: both
    read the same snapshot and validated the same files, and one must add nothing. The pool
    lets two commit at once here: exactly-once must not depend on it."""
    set_pool(home, 2)
    earlier, files = hour(answer_key, SECOND), hour(answer_key, FIRST)
    upload(lake, earlier)
    succeeded(materialize(defs, home, lake.endpoint_url, lake.bucket, SECOND))
    upload(lake, files)
    before = run_ids(home)
    proxy = HoldingProxy(int(lake.endpoint_url.rsplit(":", 1)[1]))
    try:
        procs = [materialize(defs, home, proxy.url, lake.bucket, FIRST) for _ in range(2)]
        assert wait_for(lambda: proxy.held == 2 or any(p.poll() is not None for p in procs),
                        300), "the two runs did not both reach their commit"
        assert proxy.held == 2, [p.communicate()[1][-2000:] for p in procs]
        proxy.release()
        for proc in procs:
            succeeded(proc)
    finally:
        proxy.close()
    assert rows_added(home, run_ids(home) - before) == [0, sum(f.valid_rows for f in files)]
    assert_exactly_once(lake, earlier + files)


def test_runs_started_together_commit_one_at_a_time_in_the_pool(defs, home, lake,
                                                              answer_key):
    """Two hours' runs started at once: with the pool's one slot, their readings steps never
    run at the same time (from each run's events), but for Dagster's race for the last slot
    (both given it in the same instant, lesson 05), and both hours are in the table once."""
    import dagster as dg

    files = hour(answer_key, FIRST) + hour(answer_key, SECOND)
    upload(lake, files)
    before = run_ids(home)
    for proc in [materialize(defs, home, lake.endpoint_url, lake.bucket, key)
                 for key in (FIRST, SECOND)]:
        succeeded(proc)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        spans = sorted(dagster_lesson.step_spans(instance, sorted(run_ids(home) - before),
                                                 "readings"))
    assert len(spans) == 2, spans
    raced, overrun = dagster_lesson.pool_overruns(spans, 1)
    assert not overrun, f"a readings step started well into the other's commit: {spans}"
    assert raced or spans[0][1] <= spans[1][0], spans
    assert_exactly_once(lake, files)


@pytest.mark.parametrize(("spans", "limit", "counts"), [
    ([(0, 1), (1, 2), (2, 3)], 1, (0, 0)),  # each took its turn
    ([(0, 5), (0.01, 5)], 1, (1, 0)),  # given the last slot together
    ([(0, 5), (3, 6)], 1, (0, 1)),  # started 3 s into the other's commit
    ([(0, 5), (0.01, 5), (3, 6)], 2, (0, 1)),
    ([(0, 5), (0.01, 5), (4, 6)], 1, (1, 1)),
])
def test_a_step_over_the_pools_limit_is_the_race_only_when_it_started_with_another(
        spans, limit, counts):
    assert dagster_lesson.pool_overruns(spans, limit) == counts


@pytest.mark.parametrize("where, said", [
    ("no-bucket", "LakeError: bucket 'no-such-bucket' does not exist"),
    ("no-server", "LakeError: cannot reach S3 at http://127.0.0.1:9"),
], ids=["no-bucket", "no-server"])
def test_a_run_on_a_lake_that_is_not_there_fails_naming_it(defs, home, lake, answer_key,
                                                           where, said):
    """The run fails (the CLI exits non-zero) and says which, after its retries; the lesson's
    files stay where they are."""
    files = hour(answer_key, FIRST)
    upload(lake, files)
    endpoint, bucket = ((lake.endpoint_url, "no-such-bucket") if where == "no-bucket"
                        else ("http://127.0.0.1:9", lake.bucket))
    proc = materialize(defs, home, endpoint, bucket, FIRST)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode != 0 and said in err, err[-3000:]
    assert table.open_table(lake.table_uri(), lake.storage_options) is None
    assert set(listing(lake, lake.incoming)) == {k for f in files for k in (f.key, f.manifest_key)}
