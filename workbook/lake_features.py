"""The advanced level's ML feature job: per-cabinet features from the readings table, an
anomaly model trained on them, and its scores written to the features table.

Input: a pandas frame shaped like the readings Delta table (one row per reading; `device_id`,
`store_id`, `kind`, `timestamp` in UTC, every kind's reading columns, `ingested_at`...), so every
step is testable without S3. Output: one row per cabinet and minute with its features, the
model's score and whether its 15-minute window is flagged, written to a Delta table partitioned
by date. Plain functions, one idea each, that a learner writes in a notebook; orchestrator-free
(a Prefect flow or a Dagster asset only calls them). Runs on pandas 2 and 3.
"""

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from workbook import sensors
from workbook.services.s3 import REPORTS

TEMPERATURE = "temperature_c"
CABINET_COLUMNS = ("device_id", "store_id", "kind", "timestamp", TEMPERATURE, "door_open_s",
                   "power_w")
SHORT, LONG = 15, 60  # rolling windows, in minutes: a file's window, and an hour
MIN_READINGS = {SHORT: 5, LONG: 20}  # fewer readings than this in a window: no statistic
MAD_TO_STD = 1.4826  # a normal distribution's standard deviation is 1.4826 times its MAD
# What the model sees: each feature relative to the device's own normal, so that fridges
# (0-5 °C) and freezers (-25 to -15 °C) share one model.
MODEL_FEATURES = ("temp_z_15", "temp_z_60", "minutes_above_60", "door_open_min_15",
                  "power_ratio_60")
WINDOW = f"{SHORT}min"  # the model's verdict is given per device and 15-minute window
RANDOM_STATE = 0
# On generated data (four seeds and store layouts), normal windows scored at most 3.9 to 4.9
# MADs above the median window, and every incident had a window 7 to 9.4 MADs above it.
THRESHOLD_MADS = 6
FEATURES_TABLE = "tables/features"


# ---------------------------------------------------------------- which readings, and how far off

def normal_ranges() -> dict[str, tuple[float, float]]:
    """The kinds whose temperature has a declared normal range (fridge, freezer), with that
    range. Read from the sensors' declaration, so the threshold lives in one place."""
    return {name: reading.normal for name, kind in sensors.KINDS.items()
            for reading in kind.readings if reading.name == TEMPERATURE and reading.normal}


def cabinet_minutes(readings: pd.DataFrame) -> pd.DataFrame:
    """One row per cabinet and minute, in time order, with a missing minute as an empty row.

    A reading a minute is what the probes send, so a regular minute grid makes "minutes above"
    a count of rows and a rolling window a fixed number of rows, and it shows a gap (a
    quarantined file, a device offline) as missing readings instead of hiding it. (Time-based
    windows, `rolling("15min")` on the readings themselves, give the same statistics; the grid
    makes the gaps visible.) Late or re-sent rows land on their own minute: the last one
    ingested wins."""
    ranges = normal_ranges()
    rows = readings.loc[readings["kind"].isin(list(ranges)), list(CABINET_COLUMNS)
                        + (["ingested_at"] if "ingested_at" in readings else [])].copy()
    rows["timestamp"] = pd.to_datetime(rows["timestamp"], utc=True).dt.floor("min")
    order = ["device_id", "timestamp"] + (["ingested_at"] if "ingested_at" in rows else [])
    rows = (rows.sort_values(order, kind="stable")
            .drop_duplicates(["device_id", "timestamp"], keep="last")
            .drop(columns=["ingested_at"], errors="ignore"))
    grids = []
    for device_id, device in rows.groupby("device_id", sort=True):
        minutes = pd.date_range(device["timestamp"].iloc[0], device["timestamp"].iloc[-1],
                                freq="min", name="timestamp")
        grid = device.set_index("timestamp").reindex(minutes).reset_index()
        grid["device_id"] = device_id
        grid["store_id"] = device["store_id"].iloc[0]
        grid["kind"] = device["kind"].iloc[0]
        grids.append(grid)
    columns = list(CABINET_COLUMNS)
    if not grids:
        return pd.DataFrame(columns=columns)
    return pd.concat(grids, ignore_index=True)[columns]


def baseline(device: pd.DataFrame) -> dict[str, float]:
    """A device's own normal: the median temperature, its spread (MAD scaled to a standard
    deviation) and its median hourly power draw. Medians, because the incidents we look for are
    in the very data the baseline is measured on, and a median ignores them while they last
    less than half the time; a mean and a standard deviation would be dragged towards them."""
    temperature = device[TEMPERATURE].dropna()
    median = float(temperature.median())
    spread = float((temperature - median).abs().median()) * MAD_TO_STD
    power = device["power_w"].rolling(LONG, min_periods=MIN_READINGS[LONG]).mean()
    power = power[device[TEMPERATURE].notna()]  # measured at the minutes read, like the rest
    return {"temp_median": median, "temp_scale": spread if spread > 0 else np.nan,
            "power_median": float(power.median())}


def device_features(device: pd.DataFrame, high: float) -> pd.DataFrame:
    """The features of one cabinet, on its minute grid (`cabinet_minutes`, one device).

    Windows trail (they end at the minute they describe), so a minute's features use only
    what was known by then, as a live job would. Rolling statistics skip missing minutes, and
    need a few readings in the window (MIN_READINGS) before they say anything."""
    out = device.copy()
    temp, base = out[TEMPERATURE], baseline(out)
    for minutes in (SHORT, LONG):
        window = temp.rolling(minutes, min_periods=MIN_READINGS[minutes])
        out[f"temp_mean_{minutes}"] = window.mean()
        out[f"temp_std_{minutes}"] = window.std()
        out[f"temp_z_{minutes}"] = (out[f"temp_mean_{minutes}"] - base["temp_median"]) / (
            base["temp_scale"])
    above = (temp > high).astype(float).where(temp.notna())  # a missing minute is not counted
    out["minutes_above_60"] = above.rolling(LONG, min_periods=MIN_READINGS[LONG]).sum()
    out["door_open_min_15"] = (out["door_open_s"] / 60).rolling(
        SHORT, min_periods=MIN_READINGS[SHORT]).sum()
    out["power_ratio_60"] = out["power_w"].rolling(
        LONG, min_periods=MIN_READINGS[LONG]).mean() / base["power_median"]
    return out


def compute_features(readings: pd.DataFrame) -> pd.DataFrame:
    """Features for every fridge and freezer in a readings frame, computed device by device in
    time order; minutes without a reading are left out of the result."""
    ranges = normal_ranges()
    minutes = cabinet_minutes(readings)
    parts = [device_features(device, ranges[device["kind"].iloc[0]][1])
             for _, device in minutes.groupby("device_id", sort=True)]
    if not parts:
        return minutes
    features = pd.concat(parts, ignore_index=True)
    features = features[features[TEMPERATURE].notna()].reset_index(drop=True)
    features["date"] = features["timestamp"].dt.date
    return features


# ---------------------------------------------------------------- the model and its threshold

@dataclass
class AnomalyModel:
    """A trained isolation forest, the features it reads, and the score above which a
    15-minute window is flagged."""

    forest: object  # sklearn.ensemble.IsolationForest
    features: tuple[str, ...]
    threshold: float


def scorable(features: pd.DataFrame, columns: Iterable[str] = MODEL_FEATURES) -> pd.Series:
    """The rows whose every model feature is known (a window just after a gap is not)."""
    return features[list(columns)].notna().all(axis=1)


def threshold_rule(scores: pd.Series) -> float:
    """Flag a window whose score is far above the usual: more than THRESHOLD_MADS robust
    standard deviations (MADs) above the median window score. Isolation-forest scores of
    normal windows sit close together; an incident's minutes are isolated in few splits and
    score far above them. A rule on the spread, unlike a fixed share of windows, flags nothing
    on a day without incidents."""
    median = float(scores.median())
    spread = float((scores - median).abs().median()) * MAD_TO_STD
    return median + THRESHOLD_MADS * spread


def train_model(features: pd.DataFrame, random_state: int = RANDOM_STATE) -> AnomalyModel:
    """Fit an isolation forest on the device-minutes (no labels needed: it learns what is
    common, and an incident is rare) and set the threshold from its own window scores."""
    from sklearn.ensemble import IsolationForest

    rows = features.loc[scorable(features), list(MODEL_FEATURES)]
    forest = IsolationForest(random_state=random_state)
    forest.fit(rows.to_numpy())
    model = AnomalyModel(forest, MODEL_FEATURES, threshold=np.nan)
    windows = window_scores(score_minutes(model, features))
    model.threshold = threshold_rule(windows["score"])
    return model


def score_minutes(model: AnomalyModel, features: pd.DataFrame) -> pd.DataFrame:
    """Add each device-minute's anomaly score: higher is more unusual (the negated
    `score_samples`, between 0 and 1); missing where a feature is missing."""
    out = features.copy()
    known = scorable(out, model.features)
    out["score"] = np.nan
    if known.any():
        out.loc[known, "score"] = -model.forest.score_samples(
            out.loc[known, list(model.features)].to_numpy())
    return out


def window_scores(scored: pd.DataFrame) -> pd.DataFrame:
    """One row per device and 15-minute window (a file's window), scored by its most unusual
    minute: an alert is raised per window, as the data arrives."""
    windows = scored.assign(window_start=scored["timestamp"].dt.floor(WINDOW))
    return (windows.groupby(["device_id", "window_start"], sort=True)["score"].max()
            .dropna().reset_index())


def flag(model: AnomalyModel, features: pd.DataFrame) -> pd.DataFrame:
    """Score every device-minute and mark the minutes of the windows above the threshold."""
    scored = score_minutes(model, features)
    windows = window_scores(scored)
    flagged = windows.loc[windows["score"] > model.threshold, ["device_id", "window_start"]]
    scored["window_start"] = scored["timestamp"].dt.floor(WINDOW)
    keys = pd.MultiIndex.from_frame(flagged)
    scored["flagged"] = pd.MultiIndex.from_frame(
        scored[["device_id", "window_start"]]).isin(keys)
    return scored


def top_windows(scored: pd.DataFrame, n: int = 5) -> pd.DataFrame:
    """The `n` highest-scoring 15-minute windows (device, window, score) of `flag`'s output,
    highest first: what a run's report shows."""
    windows = window_scores(scored)
    return windows.sort_values(["score", "device_id"], ascending=[False, True]).head(n)


# ---------------------------------------------------------------- Delta tables

def read_readings(table_uri: str, storage_options: dict | None = None,
                  dates: Iterable | None = None) -> pd.DataFrame:
    """The cabinet rows of the readings table, for some dates (all when None): only the
    columns and partitions the features need are read."""
    import pyarrow as pa
    import pyarrow.compute as pc
    from deltalake import DeltaTable

    dataset = DeltaTable(table_uri, storage_options=storage_options).to_pyarrow_dataset()
    columns = [c for c in (*CABINET_COLUMNS, "ingested_at") if c in dataset.schema.names]
    where = pc.field("kind").isin(list(normal_ranges()))
    if dates is not None:
        wanted = pa.array([str(d) for d in dates]).cast(dataset.schema.field("date").type)
        where = where & pc.field("date").isin(wanted)
    return dataset.to_table(columns=columns, filter=where).to_pandas()


def hour_features(table_uri: str, storage_options: dict | None, start: dt.datetime,
                  end: dt.datetime) -> pd.DataFrame:
    """The features of the cabinet minutes whose readings are in [start, end): an hourly
    partition's, computed from its own rows alone."""
    readings = read_readings(table_uri, storage_options, dates=[start.date()])
    return compute_features(readings[(readings["timestamp"] >= start)
                                     & (readings["timestamp"] < end)])


def write_hour(features: pd.DataFrame, lake, start: dt.datetime) -> str:
    """An hour's features as one Parquet object under reports/minute_features/, replaced when
    the hour is computed again; its key."""
    key = f"{REPORTS}minute_features/{start:%Y-%m-%d-%H}.parquet"
    lake.s3.put_object(Bucket=lake.bucket, Key=key, Body=features.to_parquet(index=False))
    return key


def read_features(table_uri: str, storage_options: dict | None = None) -> pd.DataFrame:
    """The features table (`write_features`' output), in device and time order."""
    from deltalake import DeltaTable

    found = DeltaTable(table_uri, storage_options=storage_options).to_pandas()
    return found.sort_values(["device_id", "timestamp"], ignore_index=True)


def write_features(scored: pd.DataFrame, table_uri: str,
                   storage_options: dict | None = None) -> list[str]:
    """Write the scored minutes to the features table, partitioned by date, replacing the dates
    they cover (a predicate overwrite): a re-run rewrites its days instead of adding a second
    copy, and leaves the other days alone. Returns the dates written."""
    from deltalake import DeltaTable, write_deltalake
    from deltalake.exceptions import TableNotFoundError

    dates = sorted({str(d) for d in scored["date"]})
    if not dates:
        return []
    try:
        DeltaTable(table_uri, storage_options=storage_options)
        predicate = "date IN ({})".format(", ".join(f"'{d}'" for d in dates))
    except TableNotFoundError:  # the first write creates the table
        predicate = None
    write_deltalake(table_uri, scored.reset_index(drop=True), mode="overwrite",
                    partition_by=["date"], predicate=predicate, storage_options=storage_options)
    return dates
