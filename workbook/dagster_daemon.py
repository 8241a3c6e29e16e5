"""The Dagster track's sensor run by Dagster's own daemon, as a deployment runs it: `dagster dev`
(webserver and daemon) on the lessons' code location through lesson 03 (the readings asset and
the sensor on the bucket's event queue), the sensor started with Dagster's CLI; then files
uploaded to the bucket become materialized hours with no call from here. Lesson 03 tests the
sensor evaluation by evaluation (`build_sensor_context`); this is the same sensor with the
daemon ticking it and launching the runs it asks for.

`python -m workbook.dagster_daemon latency` (dagster environment) prints, as JSON, each hour's
seconds from its last upload to its partition's materialization: the bench's
sensor-to-materialization latency. tests/lake/test_dagster_daemon.py checks the same path keeps
every file once.
"""

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from workbook import course, dagster_home, dagster_lesson, dagster_ui, lesson_files, paths
from workbook.waiting import wait_for

SENSOR = "new_files"
THROUGH = "03_sensors"  # the code location as the track's lessons leave it after this one
ASSET = "readings"
SAMPLE = paths.ROOT / "datasets" / "sample" / "sensors"  # two stores, six hours
HOURS = 3  # the sample's first hours, uploaded one after the other: a run each


def first_hours(answer_key, count: int = HOURS) -> dict[str, list]:
    """The answer key's files of its first `count` hours, by hourly partition key, each hour's
    in arrival order."""
    hours: dict[str, list] = {}
    for f in answer_key.in_arrival_order():
        hours.setdefault(dagster_lesson.hour_key(f.key), []).append(f)
    return {hour: hours[hour] for hour in sorted(hours)[:count]}


def code_location(folder: Path, bucket: str, endpoint: str, queue_url: str) -> Path:
    """The lessons' files through THROUGH in `folder`, with the lake's address in its .env
    (which `dagster dev` reads from its working folder)."""
    keys = course.lesson_keys(dagster_lesson.TRACK)
    lesson_files.write(lesson_files.files(keys[:keys.index(f"{dagster_lesson.TRACK}/{THROUGH}")
                                          + 1]), folder)
    (folder / dagster_lesson.ENV_FILE).write_text(
        f"{dagster_lesson.BUCKET_VARIABLE}={bucket}\n{dagster_lesson.ENDPOINT_VARIABLE}="
        f"{endpoint}\n{dagster_lesson.QUEUE_VARIABLE}={queue_url}\n"
        f"{dagster_lesson.PUSHGATEWAY_VARIABLE}=\n")
    return folder


@contextlib.contextmanager
def running(folder: Path, home: Path) -> Iterator[str]:
    """`dagster dev` on `folder`'s code location and the instance of `home`, its sensor
    started; yields the webserver's URL. Stopped as a whole at the end (Ctrl-C)."""
    started, url = dagster_ui.start_serving(folder, home)
    try:
        subprocess.run([str(dagster_home.dagster_cli()), "sensor", "start", SENSOR, "-f",
                        dagster_ui.DEFINITIONS], cwd=folder, check=True, capture_output=True,
                       env={**os.environ, **dagster_home.environ(home)}, timeout=180)
        yield url
    finally:
        dagster_ui.stop(started)


def materialized_at(instance, partition: str) -> float | None:
    """When the partition's latest materialization was recorded (epoch seconds), if ever."""
    import dagster as dg

    found = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(ASSET), asset_partitions=[partition]),
        limit=1).records
    return found[0].timestamp if found else None


def settled(instance, since: float) -> bool:
    """Everything uploaded before `since` has been acted on: a tick of the sensor that began
    after it asked for nothing new (so an earlier tick asked for every file), and no run is
    queued or in flight. An hour's uploads can straddle a tick on a busy machine: the sensor
    then asks twice for the hour (its run_key names the files), and waiting for the first
    materialization would leave the second run to the end of `dagster dev`."""
    import dagster as dg
    from dagster._core.scheduler.instigation import InstigatorType, TickStatus
    from dagster._core.storage.dagster_run import IN_PROGRESS_RUN_STATUSES

    states = [state for state in instance.all_instigator_state(
        instigator_type=InstigatorType.SENSOR) if state.instigator_name == SENSOR]
    quiet = any(instance.get_ticks(state.instigator_origin_id, state.selector_id, after=since,
                                   statuses=[TickStatus.SKIPPED]) for state in states)
    return quiet and not instance.get_runs_count(
        dg.RunsFilter(statuses=list(IN_PROGRESS_RUN_STATUSES)))


def latencies(home: Path, upload, hours: dict[str, list], timeout: float = 180
              ) -> dict[str, float]:
    """Each hour's files uploaded in turn (`upload(files)`), the pipeline left to settle, then
    the seconds from the hour's last upload to its partition's latest materialization, read
    from the instance the daemon writes."""
    import dagster as dg

    instance = dg.DagsterInstance.from_config(str(home))
    found = {}
    for partition, files in hours.items():
        upload(files)
        uploaded = time.time()
        # A tick can skip before the upload's events reach the queue: settled counts only once
        # the hour is materialized again after the upload.
        if not wait_for(lambda since=uploaded, p=partition: settled(instance, since) and
                        (materialized_at(instance, p) or 0) > since, timeout, 0.5):
            raise TimeoutError(f"{partition} was not materialized, its runs finished, "
                               f"{timeout:.0f} s after its upload: see {home / 'ui.log'}")
        found[partition] = round(materialized_at(instance, partition) - uploaded, 1)
    instance.dispose()
    return found


def measure_latency() -> dict:
    """The sample's first hours through the daemon, on the s3 service (a bucket and queue of
    its own): each hour's upload-to-materialization seconds. For the benchmark."""
    from workbook import services
    from workbook.lake import Lake
    from workbook.sensors import read_answer_key
    from workbook.services import s3 as s3_service

    endpoint = services.start("s3").url
    lake = Lake(f"daemon-{os.getpid()}", endpoint)
    queue_url = s3_service.provision(*s3_service.clients(endpoint), lake.bucket,
                                     f"{lake.bucket}-events")
    scratch = Path(tempfile.mkdtemp(prefix="dagster-daemon-"))
    (scratch / "defs").mkdir()
    folder = code_location(scratch / "defs", lake.bucket, endpoint, queue_url)
    home = dagster_home.prepare(scratch / "home")
    hours = first_hours(read_answer_key(SAMPLE))

    def upload(files) -> None:
        for f in files:  # the data, then its manifest, as a device uploads
            for key in (f.key, f.manifest_key):
                lake.s3.put_object(Bucket=lake.bucket, Key=key, Body=(SAMPLE / key).read_bytes())

    with running(folder, home):
        found = latencies(home, upload, hours)
    values = sorted(found.values())
    return {"hours": len(values), "latency_s": found, "median_s": values[len(values) // 2],
            "max_s": values[-1]}


if __name__ == "__main__":
    if sys.argv[1:] != ["latency"]:
        sys.exit("usage: python -m workbook.dagster_daemon latency")
    print(json.dumps(measure_latency()))
