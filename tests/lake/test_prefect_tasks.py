"""The helpers of the Prefect track's first lesson (workbook.prefect_tasks), against the real S3
service: the proxy that makes S3 answer 503 SlowDown, the real errors a check judges a retry
condition with, and the bookkeeping a check reads of task runs. No Prefect server is needed."""

import datetime as dt

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from workbook import prefect_tasks
from workbook.lake import Lake


@pytest.fixture
def stored(lake: Lake) -> tuple[Lake, str]:
    key = "incoming/store=1/device=s1-fridge-1/2015-06-01/1200.csv"
    lake.s3.put_object(Bucket=lake.bucket, Key=key, Body=b"a,b\n1,2\n")
    return lake, key


def test_the_proxy_refuses_the_chosen_reads_and_passes_the_rest(stored):
    lake, key = stored
    lake.s3.put_object(Bucket=lake.bucket, Key="incoming/other.csv", Body=b"x\n")
    with prefect_tasks.FlakyS3(lake.endpoint_url, [key], failures=2) as proxy:
        client = prefect_tasks._client(proxy.url)
        codes = []
        for _ in range(3):
            try:
                client.get_object(Bucket=lake.bucket, Key=key)
                codes.append("ok")
            except ClientError as err:
                codes.append(err.response["Error"]["Code"])
        other = client.get_object(Bucket=lake.bucket, Key="incoming/other.csv")["Body"].read()
    assert codes == ["SlowDown", "SlowDown", "ok"]
    assert proxy.failed == [key, key]
    assert other == b"x\n"


def test_a_block_client_with_two_tries_gives_up_after_two_refusals(stored):
    lake, key = stored
    with prefect_tasks.FlakyS3(lake.endpoint_url, [key], failures=2) as proxy:
        block = prefect_tasks.bucket_block(lake.bucket, proxy.url, prefect_tasks.TWO_TRIES)
        through = prefect_tasks.lake_of(block)
        with pytest.raises(ClientError, match="SlowDown"):
            through.s3.get_object(Bucket=lake.bucket, Key=key)
        assert through.s3.get_object(Bucket=lake.bucket, Key=key)["Body"].read() == b"a,b\n1,2\n"
    assert (through.bucket, through.endpoint_url) == (lake.bucket, proxy.url)
    assert proxy.failed == [key, key]


def test_the_errors_a_check_uses_are_the_real_ones(lake):
    slow = prefect_tasks.slow_down_error(lake)
    assert isinstance(slow, ClientError) and slow.response["Error"]["Code"] == "SlowDown"
    assert isinstance(prefect_tasks.connection_error(), EndpointConnectionError)
    missing = prefect_tasks.no_such_bucket_error(lake)
    assert missing.response["Error"]["Code"] == "NoSuchBucket"
    assert lake.s3.list_objects_v2(Bucket=lake.bucket).get("Contents", []) == []  # probe gone


def test_a_retry_decision_is_the_functions_answer_or_what_went_wrong():
    def only_key_errors(task, task_run, state) -> bool:
        try:
            state.result()
        except KeyError:
            return True
        except Exception:  # noqa: BLE001
            return False
        return False

    assert prefect_tasks.retry_decision(only_key_errors, KeyError("x")) is True
    assert prefect_tasks.retry_decision(only_key_errors, ValueError("x")) is False
    assert prefect_tasks.retry_decision(lambda *a: "yes", KeyError("x")).startswith("returned")
    assert prefect_tasks.retry_decision(lambda *a: 1 / 0, KeyError("x")).startswith(
        "raised ZeroDivisionError")


def test_most_at_once_counts_overlapping_runs():
    t = dt.datetime(2015, 6, 1, tzinfo=dt.UTC)

    def run(a, b):
        return {"start": t + dt.timedelta(seconds=a), "end": t + dt.timedelta(seconds=b)}

    assert prefect_tasks.most_at_once([run(0, 1), run(1, 2), run(2, 3)]) == 1
    assert prefect_tasks.most_at_once([run(0, 3), run(1, 2), run(1.5, 4), run(5, 6)]) == 3
    assert prefect_tasks.most_at_once([]) == 0
