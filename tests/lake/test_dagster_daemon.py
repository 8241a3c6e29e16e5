"""Lesson 03's sensor with Dagster's own daemon ticking it (`dagster dev`, as a deployment runs
it), not build_sensor_context: the sample's first two hours, uploaded to a bucket whose events
go to a queue, become materialized hours with no call from the test. The first hour arrives in
two halves, so its late half runs the hour again. Every run succeeded, each for an hour
uploaded and with a run_key of its own, and every file is exactly once in the table or in
quarantine. (On a busy machine an hour's uploads can straddle a tick and run twice too.)
The webserver's first port is taken before it binds it, and it moves to another."""

import socket

import dagster as dg
from conftest import SAMPLE, upload
from oracle import assert_exactly_once

from workbook import dagster_daemon, dagster_home, dagster_ui
from workbook.services import base
from workbook.services import s3 as s3_service


def test_uploaded_files_become_materialized_hours_through_the_daemon(lake, answer_key,
                                                                    s3_endpoint, tmp_path,
                                                                    monkeypatch):
    queue_url = s3_service.provision(*s3_service.clients(s3_endpoint.url), lake.bucket,
                                     f"{lake.bucket}-events")
    (tmp_path / "defs").mkdir()
    folder = dagster_daemon.code_location(tmp_path / "defs", lake.bucket, s3_endpoint.url,
                                          queue_url)
    home = dagster_home.prepare(tmp_path / "home")
    hours = dagster_daemon.first_hours(answer_key, 2)
    assert SAMPLE == dagster_daemon.SAMPLE and len(hours) == 2

    (first, rest), (second, files) = hours.items()
    # The first port it is given is taken by the time the webserver binds it (as another
    # process's can be): it must move to another.
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    given = iter([taken.getsockname()[1]])
    real_free_port = base.free_port
    monkeypatch.setattr(base, "free_port", lambda: next(given, None) or real_free_port())
    half = len(rest) // 2
    with dagster_daemon.running(folder, home):  # the first hour comes in two halves
        dagster_daemon.latencies(home, lambda files: upload(lake, files), {first: rest[:half]})
        waited = dagster_daemon.latencies(home, lambda files: upload(lake, files),
                                          {first: rest[half:], second: files})

    taken.close()
    assert set(waited) == set(hours) and min(waited.values()) > 0
    assert (home / "ui.log").read_bytes().count(dagster_ui.PORT_TAKEN) == 1
    instance = dg.DagsterInstance.from_config(str(home))
    runs = instance.get_runs()
    assert {run.tags.get("dagster/partition") for run in runs} == set(hours)
    assert len({run.tags.get("dagster/run_key") for run in runs}) == len(runs)
    assert sum(run.tags.get("dagster/partition") == first for run in runs) >= 2, \
        "the first hour's second half did not start a run of its own"
    assert {run.status for run in runs} == {dg.DagsterRunStatus.SUCCESS}
    instance.dispose()
    assert_exactly_once(lake, [f for files in hours.values() for f in files])
