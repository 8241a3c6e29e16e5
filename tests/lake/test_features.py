"""The ML feature job (workbook.lake_features) on real generated sensor files and real Delta
tables: features checked against an independent computation, the anomaly model against the
generator's answer key, the features table's idempotent re-run, and one run through S3."""

import datetime as dt
import hashlib
import io
import statistics
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbook import lake_features as lf
from workbook import sensors

# The sample's settings (seed 2041, 2 stores, 2 fridges and a freezer each) over two whole
# days: enough minutes to train on, and both kinds of incident (the fixture checks it).
START, HOURS, SEED = dt.datetime(2015, 6, 1), 48, sensors.SAMPLE["seed"]
# An incident's features stay raised after its excursion ends: the trailing hour-long
# windows still hold its readings, and the cabinet is still cooling back. A flagged window
# counts as right when it overlaps [cause or excursion start, excursion end + this).
RECOVERY = pd.Timedelta(minutes=lf.LONG)
# "Most flagged windows fall within an incident or its recovery": at least 4 in 5.
MIN_PRECISION = 0.8


# ---------------------------------------------------------------- test data

def readings_frame(folder: Path, key: sensors.AnswerKey) -> pd.DataFrame:
    """The readings table's rows for a generated range, as the ingestion writes them: the files
    the key accepts (quarantined ones are skipped), repeated readings dropped, every kind's
    columns side by side, the file's key, ETag and arrival as lineage."""
    columns = list(dict.fromkeys(r.name for kind in sensors.KINDS.values()
                                 for r in kind.readings + kind.upgrade_adds))
    groups: dict[str, dict[str, list]] = {}
    for record in key.files:
        if record.disposition != "accept":
            continue
        body = (folder / record.key).read_bytes()
        lines = body.decode("utf-8").splitlines()
        header = lines[0] if record.format == "csv" else "jsonl"
        data = lines[1:] if record.format == "csv" else lines
        group = groups.setdefault(header, {"lines": [], "lineage": []})
        group["lines"] += data
        group["lineage"] += [(record.device_id, record.store_id, record.kind, record.firmware,
                              record.key, hashlib.md5(body).hexdigest(), record.arrives_at)
                             ] * len(data)
    parts = []
    for header, group in groups.items():
        text = "\n".join(group["lines"]) + "\n"
        rows = (pd.read_json(io.StringIO(text), lines=True, dtype=False) if header == "jsonl"
                else pd.read_csv(io.StringIO(header + "\n" + text)))
        lineage = pd.DataFrame(group["lineage"], columns=[
            "device_id", "store_id", "kind", "firmware", "source_key", "source_etag",
            "ingested_at"])
        parts.append(pd.concat([rows, lineage], axis=1))
    frame = pd.concat(parts, ignore_index=True).drop_duplicates(["device_id", "timestamp"])
    for name in ("timestamp", "ingested_at"):
        frame[name] = pd.to_datetime(frame[name], utc=True).astype("datetime64[us, UTC]")
    frame["date"] = frame["timestamp"].dt.date
    for name in columns:
        if name not in frame:
            frame[name] = np.nan
    return frame[["device_id", "store_id", "kind", "firmware", "timestamp", "date", *columns,
                  "source_key", "source_etag", "ingested_at"]].reset_index(drop=True)


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sensors")
    key = sensors.generate_sensors(folder, START, HOURS, SEED)
    assert {i.kind for i in key.incidents} == {"door_left_open", "compressor_failure"}
    return key, readings_frame(folder, key)


@pytest.fixture(scope="module")
def readings(generated):
    return generated[1]


@pytest.fixture(scope="module")
def features(readings):
    return lf.compute_features(readings)


@pytest.fixture(scope="module")
def model(features):
    return lf.train_model(features)


@pytest.fixture(scope="module")
def scored(model, features):
    return lf.flag(model, features)


def incidents(key: sensors.AnswerKey) -> pd.DataFrame:
    frame = pd.DataFrame([vars(i) for i in key.incidents])
    for name in ("start", "end", "cause_start", "cause_end"):
        frame[name] = pd.to_datetime(frame[name], utc=True)
    return frame


# ---------------------------------------------------------------- features, by hand

def tiny_fridge() -> pd.DataFrame:
    """90 minutes of one fridge, hand-built: a steady sawtooth around 3 °C, a door left open
    for 10 minutes that warms it past the normal range, and a 7-minute gap (a lost file)."""
    minutes = [m for m in range(90) if not 40 <= m < 47]
    temp = {m: 2.5 + (m % 4) * 0.4 for m in minutes}
    for m in range(55, 70):
        temp[m] = 3.0 + (m - 54) * 0.45 if m < 65 else 7.5 - (m - 64) * 0.5
    door = {m: 60 if 55 <= m < 65 else (12 if m % 17 == 0 else 0) for m in minutes}
    power = {m: 150.0 if (m // 6) % 2 or 55 <= m < 65 else 6.0 for m in minutes}
    start = pd.Timestamp("2015-06-01T12:00", tz="UTC")
    return pd.DataFrame({
        "device_id": "s1-fridge-1", "store_id": 1, "kind": "fridge",
        "timestamp": [start + pd.Timedelta(minutes=m) for m in minutes],
        "temperature_c": [temp[m] for m in minutes],
        "door_open_s": [door[m] for m in minutes],
        "power_w": [power[m] for m in minutes]})


def trailing(frame: pd.DataFrame, at: pd.Timestamp, minutes: int, column: str) -> list:
    """The readings of `column` in the window (at - minutes, at]: the definition, by hand."""
    inside = (frame["timestamp"] > at - pd.Timedelta(minutes=minutes)) & (
        frame["timestamp"] <= at)
    return frame.loc[inside, column].tolist()


def test_features_match_a_computation_by_hand():
    frame = tiny_fridge()
    high = sensors.reading("fridge", "temperature_c").normal[1]
    features = lf.compute_features(frame)
    assert len(features) == len(frame)  # one row per reading: the gap adds none
    temps = frame["temperature_c"].tolist()
    median = statistics.median(temps)
    scale = statistics.median(abs(t - median) for t in temps) * 1.4826
    hourly_power = []
    for at in frame["timestamp"]:
        window = trailing(frame, at, 60, "power_w")
        hourly_power.append(statistics.fmean(window) if len(window) >= 20 else None)
    power_median = statistics.median(p for p in hourly_power if p is not None)
    for row, power in zip(features.itertuples(), hourly_power, strict=True):
        short = trailing(frame, row.timestamp, 15, "temperature_c")
        long = trailing(frame, row.timestamp, 60, "temperature_c")
        if len(short) >= 5:
            assert row.temp_mean_15 == pytest.approx(statistics.fmean(short))
            assert row.temp_std_15 == pytest.approx(statistics.stdev(short))
            assert row.temp_z_15 == pytest.approx((statistics.fmean(short) - median) / scale)
            assert row.door_open_min_15 == pytest.approx(
                sum(trailing(frame, row.timestamp, 15, "door_open_s")) / 60)
        else:
            assert np.isnan(row.temp_mean_15) and np.isnan(row.temp_z_15)
        if len(long) >= 20:
            assert row.temp_z_60 == pytest.approx((statistics.fmean(long) - median) / scale)
            assert row.minutes_above_60 == sum(t > high for t in long)
            assert row.power_ratio_60 == pytest.approx(power / power_median)
        else:
            assert np.isnan(row.minutes_above_60) and np.isnan(row.power_ratio_60)
    # the door incident shows: 10 minutes at 60 s, and minutes above the range are counted
    assert features["door_open_min_15"].max() == pytest.approx(10 + 12 / 60)
    assert features["minutes_above_60"].max() == sum(t > high for t in temps) > 0


def test_the_normal_range_comes_from_the_sensors_declaration():
    assert lf.normal_ranges() == {
        name: sensors.reading(name, "temperature_c").normal for name in ("fridge", "freezer")}


def test_gaps_late_and_out_of_order_rows_give_the_same_features(readings):
    rng = np.random.default_rng(0)
    sample = readings[readings["date"] == dt.date(2015, 6, 1)]
    kept = sample.drop(index=rng.choice(sample.index, len(sample) // 10, replace=False))
    expected = lf.compute_features(kept.sort_values(["device_id", "timestamp"]))
    # the same rows shuffled, plus some of them re-sent and ingested again later
    again = kept.sample(200, random_state=1).assign(
        ingested_at=lambda f: f["ingested_at"] + pd.Timedelta(hours=3))
    messy = pd.concat([kept, again]).sample(frac=1, random_state=2)
    pd.testing.assert_frame_equal(lf.compute_features(messy), expected)


def test_the_last_ingested_reading_of_a_minute_wins():
    frame = tiny_fridge().assign(ingested_at=pd.Timestamp("2015-06-01T14:00", tz="UTC"))
    fixed = frame.iloc[[30]].assign(temperature_c=4.2,
                                    ingested_at=pd.Timestamp("2015-06-01T15:00", tz="UTC"))
    features = lf.compute_features(pd.concat([fixed, frame]))
    assert len(features) == len(frame)
    assert features.loc[30, "temperature_c"] == 4.2


# ---------------------------------------------------------------- the model, against the key

def test_the_model_finds_every_incident_and_little_else(generated, model, scored):
    key, _ = generated
    truth = incidents(key)
    windows = lf.window_scores(scored)
    flagged = windows[windows["score"] > model.threshold]
    ends = flagged["window_start"] + pd.Timedelta(lf.WINDOW)

    def overlaps(start, stop, device):
        return (flagged["device_id"] == device) & (flagged["window_start"] < stop) & (
            ends > start)

    missed = [f"{i.device_id} {i.kind} at {i.start}" for i in truth.itertuples()
              if not overlaps(i.start, i.end, i.device_id).any()]
    explained = np.zeros(len(flagged), dtype=bool)
    for i in truth.itertuples():
        explained |= overlaps(min(i.start, i.cause_start), i.end + RECOVERY, i.device_id).to_numpy()
    precision = explained.mean()
    print(f"\n{len(truth)} incidents, {len(flagged)} of {len(windows)} windows flagged "
          f"(threshold {model.threshold:.3f}); recall {1 - len(missed) / len(truth):.2f}, "
          f"precision {precision:.2f}")
    assert not missed, f"incidents with no flagged window inside: {missed}"
    assert precision >= MIN_PRECISION, flagged[~explained].to_string()


def test_no_freezer_window_is_flagged(model, features):
    """Freezers have no incidents in the generator: none of their windows may be flagged."""
    freezers = lf.flag(model, features[features["kind"] == "freezer"])
    assert len(freezers) > 0
    assert not freezers["flagged"].any()


def test_a_model_trained_on_quiet_cabinets_flags_nothing(generated, features):
    """The threshold follows the scores' spread, not a share of windows to flag: trained and
    applied where the key has no incident, it flags no window at all."""
    key, _ = generated
    quiet = features[~features["device_id"].isin({i.device_id for i in key.incidents})]
    assert quiet["device_id"].nunique() >= 4
    assert not lf.flag(lf.train_model(quiet), quiet)["flagged"].any()


def test_the_top_windows_are_the_highest_window_scores(scored):
    top = lf.top_windows(scored, n=3)
    windows = lf.window_scores(scored)
    assert list(top["score"]) == sorted(windows["score"], reverse=True)[:3]
    assert set(top.columns) == {"device_id", "window_start", "score"}


def test_same_readings_give_the_same_scores(readings, scored):
    features = lf.compute_features(readings.sample(frac=1, random_state=3))
    pd.testing.assert_frame_equal(lf.flag(lf.train_model(features), features), scored)


# ---------------------------------------------------------------- Delta tables

def test_rewriting_the_features_leaves_one_copy_per_key(scored, tmp_path):
    from deltalake import DeltaTable

    table = str(tmp_path / "features")
    assert lf.write_features(scored, table) == ["2015-06-01", "2015-06-02"]
    lf.write_features(scored, table)
    first_day = scored[scored["date"] == dt.date(2015, 6, 1)]
    lf.write_features(first_day, table)  # a re-run of one day leaves the other alone
    stored = DeltaTable(table).to_pandas()
    assert len(stored) == len(scored)
    assert not stored.duplicated(["device_id", "timestamp"]).any()
    pd.testing.assert_frame_equal(  # read back in the order the reports show it
        lf.read_features(table)[list(scored.columns)],
        scored.sort_values(["device_id", "timestamp"], ignore_index=True), check_dtype=False)
    assert stored.groupby("date").size().to_dict() == scored.groupby("date").size().to_dict()
    assert DeltaTable(table).metadata().partition_columns == ["date"]


def test_features_read_from_a_readings_table_match_the_frame(readings, tmp_path):
    from deltalake import write_deltalake

    table = str(tmp_path / "readings")
    write_deltalake(table, readings, partition_by=["date", "store_id"])
    read = lf.read_readings(table, dates=["2015-06-02"])
    assert set(read["kind"]) == {"fridge", "freezer"}
    expected = lf.compute_features(readings[readings["date"] == dt.date(2015, 6, 2)])
    pd.testing.assert_frame_equal(lf.compute_features(read), expected, check_dtype=False)


@pytest.mark.slow
def test_the_job_runs_against_the_lake_on_s3(readings, tmp_path):
    """Readings on the local S3 server in, features on it out, as the notebooks run it."""
    from deltalake import DeltaTable, write_deltalake

    from workbook import services
    from workbook.services import s3

    with services.running("s3") as endpoint:
        options = s3.environment(endpoint.url)
        lake = f"s3://{s3.BUCKET}/{s3.TABLES}"
        day = readings[readings["date"] == dt.date(2015, 6, 1)]
        write_deltalake(lake + "readings", day, partition_by=["date", "store_id"],
                        storage_options=options)
        features = lf.compute_features(lf.read_readings(lake + "readings", options))
        scored = lf.flag(lf.train_model(features), features)
        for _ in range(2):
            lf.write_features(scored, lake + "features", options)
        stored = DeltaTable(lake + "features", storage_options=options).to_pandas()
    assert len(stored) == len(scored) > 0
    assert stored["flagged"].sum() == scored["flagged"].sum()
