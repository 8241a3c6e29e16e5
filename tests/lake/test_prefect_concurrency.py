"""The concurrency limits of the Prefect track hold, measured (issue 11: "the concurrency limits
are never exceeded"): flows of many concurrent tasks (ThreadPoolTaskRunner, `.map`) read and
commit the sample's files on the real S3 service, against a real Prefect server; each task
records when its body ran, and the peak in flight must stay within the limit, and exceed it
when the limit is not there (so each test can fail).

Each test uses a tag or a limit name of its own, so it meets no other limit of the shared
server. Runs in the prefect environment: `python -m workbook pytest prefect
tests/lake/test_prefect_concurrency.py`.
"""

import uuid
from types import SimpleNamespace

import pytest
from conftest import upload

from workbook import in_flight as flight
from workbook import prefect_concurrency as pc
from workbook.lake import table

WORKERS = 8  # threads of the flows' task runner
LIMIT = 3  # the tag limit tried


@pytest.fixture(scope="module")
def flows(prefect_api):
    """The flows tried: reads tagged with a tag given per run, commits under a global limit
    named per run (Prefect imported only now, once the API URL is set)."""
    pc.quiet_console()
    from prefect import flow, tags, task
    from prefect.concurrency.sync import concurrency
    from prefect.task_runners import ThreadPoolTaskRunner

    @task(retries=0)
    def read(bucket, endpoint, keys):
        return pc.timed_read(bucket, endpoint, keys)

    @flow(task_runner=ThreadPoolTaskRunner(max_workers=WORKERS), retries=0)
    def read_all(bucket, endpoint, groups, tag):
        """The tag comes from the caller: the task runs created inside carry it."""
        pc.lake_at(bucket, endpoint)
        with tags(tag):
            return read.map(bucket, endpoint, groups).result()

    @task(retries=0)
    def commit(bucket, endpoint, keys, limit_name):
        batch = pc.checked_files(bucket, endpoint, keys)
        with concurrency(limit_name, occupy=1):
            return pc.timed_commit(bucket, endpoint, batch)

    @flow(task_runner=ThreadPoolTaskRunner(max_workers=WORKERS), retries=0)
    def commit_all(bucket, endpoint, batches, limit_name):
        pc.lake_at(bucket, endpoint)
        return commit.map(bucket, endpoint, batches, limit_name).result()

    return SimpleNamespace(read_all=read_all, commit_all=commit_all)


@pytest.fixture
def client(prefect_api):
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as found:
        yield found


def groups_of(keys: list[str], size: int) -> list[list[str]]:
    return [keys[i:i + size] for i in range(0, len(keys), size)]


def test_the_tag_limit_holds_and_reads_overlap_without_it(uploaded, answer_key, flows, client):
    tag = f"s3-read-{uuid.uuid4().hex[:8]}"
    groups = groups_of([f.key for f in answer_key.files][:96], 4)  # 24 tasks
    without = flows.read_all(uploaded.bucket, uploaded.endpoint_url, groups, tag)
    client.create_concurrency_limit(tag=tag, concurrency_limit=LIMIT)
    try:
        pc.forget_missing_tag_limits()  # this process ran `tag` with no limit just now
        assert pc.limits()[pc.TAG_PREFIX + tag] == LIMIT
        limited = flows.read_all(uploaded.bucket, uploaded.endpoint_url, groups, tag)
    finally:
        client.delete_concurrency_limit_by_tag(tag)
    assert {t for r in limited for t in r["tags"]} == {tag}
    peak_without = flight.peak_in_flight(flight.intervals_of(without))
    peak_limited = flight.peak_in_flight(flight.intervals_of(limited))
    assert peak_without > LIMIT, f"without a limit only {peak_without} reads overlapped"
    assert peak_limited <= LIMIT, f"{peak_limited} reads in flight with a limit of {LIMIT}"
    assert sum(r["good"] for r in limited) == sum(r["good"] for r in without) > 0


def test_one_writer_at_a_time_under_the_global_limit(s3_endpoint, answer_key, flows, client,
                                                      lake):
    """Four writers given the same files: without the limit their commits overlap and race
    (the losers' commits fail and are retried); with a one-slot limit, one commit at a time
    and none lost. The table holds each file's rows once either way."""
    good = [f for f in answer_key.files if f.disposition == "accept"][:12]
    keys = upload(lake, good)
    expected = {f.key: f.valid_rows for f in good}
    name = f"delta-writer-{uuid.uuid4().hex[:8]}"
    runs = {}
    for label in ("without", "limited"):
        if label == "limited":
            client.upsert_global_concurrency_limit_by_name(name, 1)
        for item in lake.s3.list_objects_v2(Bucket=lake.bucket,
                                            Prefix="tables/").get("Contents", []):
            lake.s3.delete_object(Bucket=lake.bucket, Key=item["Key"])
        runs[label] = flows.commit_all(lake.bucket, lake.endpoint_url, [keys] * 4, name)
        found = table.open_table(lake.table_uri(), lake.storage_options)
        rows = found.to_pandas(columns=["source_key"])["source_key"].value_counts().to_dict()
        assert rows == expected, label
    client.delete_global_concurrency_limit_by_name(name)
    peak_without = flight.peak_in_flight(flight.intervals_of(runs["without"]))
    assert peak_without > 1, "without a limit the commits did not even overlap"
    assert flight.peak_in_flight(flight.intervals_of(runs["limited"])) == 1
    assert sum(r["conflicts"] for r in runs["limited"]) == 0
    assert [r["files"] for r in runs["limited"]].count(len(good)) == 1  # one writer did it all


def test_a_missing_global_limit_is_no_limit_unless_strict(prefect_api):
    from prefect.concurrency._asyncio import ConcurrencySlotAcquisitionError
    from prefect.concurrency.sync import concurrency

    name = f"nowhere-{uuid.uuid4().hex[:8]}"
    with concurrency(name, occupy=1):  # runs at once: nothing to wait for
        pass
    with pytest.raises(ConcurrencySlotAcquisitionError), concurrency(name, occupy=1, strict=True):
        pass


@pytest.mark.parametrize(("intervals", "peak"), [
    ([], 0), ([(0, 1), (1, 2), (2, 3)], 1), ([(0, 2), (1, 3), (2.5, 4)], 2),
    ([(0, 10), (1, 2), (3, 4), (5, 6)], 2), ([(0, 1), (0, 1), (0, 1.5)], 3),
])
def test_the_peak_in_flight(intervals, peak):
    assert flight.peak_in_flight(intervals) == peak
    times, counts = flight.in_flight(intervals)
    assert max(counts) == peak and counts[-1] == 0 and times == sorted(times)


def test_the_peak_hints_name_the_two_wrong_answers():
    assert flight.peak_hint([(0, 1), (1, 2), (2, 3)], 2) == flight.TOUCHING
    assert flight.peak_hint([(0, 1), (2, 3)], 0) == flight.OVERLAPPING  # tasks overlapping another
    assert flight.peak_hint([(0, 2), (1, 3), (2.5, 4)], 3) == flight.OVERLAPPING  # all the tasks
    assert flight.peak_hint([(0, 2), (1, 3), (2.5, 4)], 7) == flight.SWEEP


def test_the_overhead_measure(prefect_api):
    cost = pc.overhead(tasks=10, flows=1)
    assert 0 < cost["direct_call_s"] < cost["task_run_mapped_s"]
    assert cost["direct_call_s"] < cost["task_run_sequential_s"] < cost["flow_run_s"]


def test_a_limit_is_made_from_none_so_an_earlier_try_does_not_count(client):
    """What a check measures of the learner's function that creates a limit: an earlier try's
    limit is deleted first, so a function that creates nothing is seen to create nothing."""
    name = f"delta-writer-{uuid.uuid4().hex[:8]}"
    try:
        made = pc.made_from_none(lambda: client.upsert_global_concurrency_limit_by_name(name, 2),
                                 name)
        assert made == ("returned", 2)
        assert pc.made_from_none(lambda: None, name) == ("returned", None)
        assert pc.made_from_none(lambda: 1 / 0, name) == ("raised ZeroDivisionError", None)
    finally:
        pc.remove_limits(name)
