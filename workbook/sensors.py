"""Deterministic generator of the store sensors' 15-minute files, faults and incidents included.

Every store has fridge and freezer probes, a footfall counter and a power meter; each device
uploads one file per 15-minute window, with a manifest, under an S3-like key. A device-day is
simulated from its own seed and a file's faults from the file's own seed, so a window comes out
byte-identical whether it is generated alone or within a range. The generator returns, and
writes beside the files, an answer key (every injected fault per file, every incident, every
firmware upgrade), so the pipeline's tests assert against it instead of re-deriving it.
Orchestrator-free, numpy and the standard library only (it runs on pandas 2 and 3 alike).
"""

import argparse
import dataclasses
import datetime as dt
import functools
import hashlib
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from workbook.files import write_atomic
from workbook.generators import seeded_rng
from workbook.retail import CITY_TIMEZONES, CLOSES_AT, OPENS_AT, STORES

WINDOW = 15  # minutes per file; one reading per minute
DAY = 24 * 60
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
ANSWER_KEY = "_answer_key.json"
PREFIX = "incoming"
MANIFEST_SUFFIX = ".manifest.json"
# The committed sample (datasets/sample/sensors) is exactly this call's output. The seed is the
# first from 2015 whose sample shows every fault kind, both incident kinds and an upgrade.
SAMPLE = {"start": "2015-06-01T12:00", "hours": 6, "stores": 2, "fridges": 2, "freezers": 1,
          "seed": 2041}


# ---------------------------------------------------------------- what the devices measure

@dataclass(frozen=True)
class Reading:
    """A reading column. A value outside [low, high] is a sensor fault (the file is rejected);
    `normal` is the operating range, outside which a valid reading is an incident."""

    name: str
    dtype: str  # "float" or "int"
    unit: str
    low: float
    high: float
    meaning: str
    glitches: tuple  # what a faulty sensor really sends; all outside [low, high]
    normal: tuple[float, float] | None = None


@dataclass(frozen=True)
class DeviceKind:
    """A kind of device: its model, file format, firmware and the columns it writes."""

    name: str
    model: str
    format: str  # "csv" or "jsonl"
    firmware: str
    readings: tuple[Reading, ...]
    meaning: str
    upgrade: str | None = None  # a newer firmware, rolled out from FIRMWARE_RELEASE
    upgrade_adds: tuple[Reading, ...] = ()  # the optional columns it appends


DOOR = Reading("door_open_s", "int", "s", 0, 60, "seconds the door stood open in the minute",
               (255, -1))
POWER_W = Reading("power_w", "float", "W", 0, 2000,
                  "cabinet draw: compressor running about 150 W (fridge) or 260 W (freezer), "
                  "idle about 6 W", (-1.0, 6553.5))
HUMIDITY = Reading("humidity_pct", "float", "%", 0, 100,
                   "relative humidity in the cabinet (firmware 2.0.0 and later only)",
                   (-1.0, 255.0))
KINDS = {
    "fridge": DeviceKind(
        "fridge", "ColdSense T2", "csv", "1.4.2",
        (Reading("temperature_c", "float", "°C", -40, 60, "air temperature in the cabinet",
                 (-127.0, 85.0), normal=(0.0, 5.0)), DOOR, POWER_W),
        "chilled display cabinet (dairy, drinks); food-safe at 5 °C or below",
        upgrade="2.0.0", upgrade_adds=(HUMIDITY,)),
    "freezer": DeviceKind(
        "freezer", "ColdSense T2", "csv", "1.4.2",
        (Reading("temperature_c", "float", "°C", -40, 60, "air temperature in the cabinet",
                 (-127.0, 85.0), normal=(-25.0, -15.0)), DOOR, POWER_W),
        "frozen-food cabinet", upgrade="2.0.0", upgrade_adds=(HUMIDITY,)),
    "footfall": DeviceKind(
        "footfall", "FlowCount 3", "jsonl", "3.1.0",
        (Reading("entered", "int", "people", 0, 300, "people who came in during the minute",
                 (65535, -1)),
         Reading("exited", "int", "people", 0, 300, "people who went out during the minute",
                 (65535, -1))),
        "people counter over the entrance"),
    "meter": DeviceKind(
        "meter", "GridTap M", "jsonl", "5.0.1",
        (Reading("power_kw", "float", "kW", 0, 500, "the store's total electrical draw",
                 (-1.0, 6553.5)),
         Reading("voltage_v", "float", "V", 180, 280, "supply voltage (nominal 240 V)",
                 (0.0, 655.35))),
        "the store's main power meter"),
}
KIND_NUMBER = {name: i for i, name in enumerate(KINDS, start=1)}  # part of every seed
# Each use of randomness draws from its own stream, so changing one leaves the others alone.
SIGNAL, INCIDENTS, FILE, FIRMWARE = 1, 2, 3, 4
# Firmware 2.0.0 of the ColdSense probes was released then; each probe takes it at its own
# 15-minute boundary within ROLLOUT_HOURS (later data is all 2.0.0, earlier all 1.4.2).
FIRMWARE_RELEASE = dt.datetime(2015, 6, 1, 13, 0, tzinfo=dt.UTC)
ROLLOUT_HOURS = 24


def reading_columns(kind: DeviceKind, firmware: str) -> tuple[Reading, ...]:
    """The reading columns a file of this firmware has, in file order (after `timestamp`)."""
    return kind.readings + (kind.upgrade_adds if firmware == kind.upgrade else ())


def reading(kind: str, column: str) -> Reading:
    """A kind's reading by column name, whichever firmware writes it (for validation)."""
    return next(r for r in KINDS[kind].readings + KINDS[kind].upgrade_adds if r.name == column)


# ---------------------------------------------------------------- the faults, as data

@dataclass(frozen=True)
class Fault:
    """A fault kind: how often a file has it, what a correct pipeline does, how it shows."""

    name: str
    rate: float  # per file; content faults exclude each other, and so do arrival faults
    stage: str  # "content", "arrival" or "firmware"
    disposition: str  # "quarantine" or "accept"
    detect: str


FAULTS = (
    Fault("missing_column", 0.015, "content", "quarantine",
          "a required column is absent from the header (CSV) or from every line (JSON lines)"),
    Fault("wrong_type", 0.02, "content", "quarantine",
          "1-3 values of one column are the text `ERR`"),
    Fault("out_of_range", 0.02, "content", "quarantine",
          "1-3 values of one column are a glitch value outside the valid range"),
    Fault("duplicate_readings", 0.03, "content", "accept",
          "1-3 readings are sent twice in a row (same timestamp, same values): keep one"),
    Fault("empty_file", 0.01, "content", "quarantine",
          "0 bytes; its manifest says 0 rows, with the checksum of nothing"),
    Fault("truncated_file", 0.015, "content", "quarantine",
          "cut inside a line: no final newline and the last line does not parse; the manifest "
          "matches the bytes and counts the complete lines"),
    Fault("checksum_mismatch", 0.01, "content", "quarantine",
          "one value differs slightly from what the device hashed: the file parses and "
          "validates, only the sha256 disagrees"),
    Fault("row_count_mismatch", 0.01, "content", "quarantine",
          "1-2 readings were lost after counting: the manifest's `rows` is larger than the "
          "file's (its sha256 matches)"),
    Fault("late", 0.015, "arrival", "accept",
          "arrives 1-6 hours after its window ended (the device was offline)"),
    Fault("out_of_order", 0.03, "arrival", "accept",
          "arrives 19-29 minutes after its window ended, after the device's next file"),
    Fault("schema_evolution", 0.0, "firmware", "accept",
          "written by firmware 2.0.0, which appends the optional `humidity_pct` column"),
)
FAULT = {f.name: f for f in FAULTS}
ERROR_TOKEN = "ERR"
ON_TIME_DELAY_S = (20, 180)
DELAY_S = {"late": (3600, 6 * 3600), "out_of_order": (19 * 60, 29 * 60)}


# ---------------------------------------------------------------- devices and time

@dataclass(frozen=True)
class Device:
    store_id: int
    kind: str
    number: int

    @property
    def device_id(self) -> str:
        return f"s{self.store_id}-{self.kind}-{self.number}"

    @property
    def seed_keys(self) -> tuple[int, int, int]:
        return (self.store_id, KIND_NUMBER[self.kind], self.number)


def store_devices(stores: int, fridges: int, freezers: int) -> list[Device]:
    """The devices of the first `stores` stores: fridges, freezers, a counter, a meter each."""
    counts = {"fridge": fridges, "freezer": freezers, "footfall": 1, "meter": 1}
    return [Device(store.store_id, kind, n) for store in STORES[:stores]
            for kind, count in counts.items() for n in range(1, count + 1)]


def minute_of(when: dt.datetime) -> int:
    """Minutes since 1970-01-01 UTC: the generator's clock (a naive time is UTC)."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return int((when - EPOCH).total_seconds() // 60)


def iso(seconds: int) -> str:
    return (EPOCH + dt.timedelta(seconds=int(seconds))).strftime("%Y-%m-%dT%H:%M:%SZ")


def local_clock(store_id: int, day: int) -> np.ndarray:
    """For each minute of a UTC day, the minute of the day on the store's own clock."""
    store = next(s for s in STORES if s.store_id == store_id)
    tz = ZoneInfo(CITY_TIMEZONES[store.city])
    start = EPOCH + dt.timedelta(days=day)
    offsets = [(start + dt.timedelta(hours=h)).astimezone(tz).utcoffset() // dt.timedelta(
        minutes=1) for h in range(24)]
    return (np.arange(DAY) + np.repeat(offsets, 60)) % DAY


def is_open(local: np.ndarray) -> np.ndarray:
    return (local >= OPENS_AT * 60) & (local < CLOSES_AT * 60)


# ---------------------------------------------------------------- a device-day of readings

@dataclass(frozen=True)
class Cabinet:
    """A refrigerated cabinet's thermal model, per minute: heat leaks in (faster through an
    open door), the compressor removes a fixed amount while it runs, a thermostat switches it."""

    band: tuple[float, float]  # thermostat: on above the top, off below the bottom
    leak: float  # fraction of (ambient - inside) gained per minute, door closed
    cooling: float  # °C removed per minute while the compressor runs
    running_w: float
    idle_w: float
    humidity: float
    door_rate: float  # chance per open-hours minute that a customer opens the door


CABINETS = {
    "fridge": Cabinet((2.2, 3.8), 1 / 200, 0.3, 150.0, 6.0, 65.0, 0.2),
    "freezer": Cabinet((-21.0, -17.0), 1 / 300, 0.6, 260.0, 8.0, 45.0, 0.08),
}
AMBIENT_C = 20.0
DOOR_LEAK = 1 / 40  # extra fraction per minute with the door wide open
# Incidents, per fridge and UTC day; each is over, recovery included, before midnight UTC.
INCIDENT_RATES = {"door_left_open": 0.35, "compressor_failure": 0.15}
DOOR_LEFT_OPEN_MINUTES = (25, 51)
COMPRESSOR_DOWN_MINUTES = (90, 241)
RECOVERY_MINUTES = 180  # after its cause ends, an incident's temperatures are back by then


@dataclass(frozen=True)
class Incident:
    """A real event in a fridge. [start, end) is the excursion: from the first to the last
    reading above the normal range (the readings between are above it but for a noisy one or
    two near the edges); [cause_start, cause_end) is when the door stood open or the
    compressor was down."""

    device_id: str
    store_id: int
    kind: str
    start: str
    end: str
    cause_start: str
    cause_end: str
    peak_c: float


@dataclass(frozen=True)
class DaySignal:
    columns: dict  # column name -> 1440 values (Python floats and ints, rounded)
    incidents: tuple[Incident, ...] = ()


def plan_incidents(seed: int, device: Device, day: int, open_: np.ndarray) -> dict:
    """When this fridge's door is left open and its compressor fails today (often never)."""
    rng = seeded_rng(seed, INCIDENTS, *device.seed_keys, day)
    eligible = np.flatnonzero(open_[: 21 * 60])  # door: in opening hours, over by 21:00 UTC
    draws = {
        "door_left_open": (rng.random(), int(rng.choice(eligible)) if len(eligible) else 0,
                           int(rng.integers(*DOOR_LEFT_OPEN_MINUTES))),
        "compressor_failure": (rng.random(), int(rng.integers(0, 17 * 60 + 1)),
                               int(rng.integers(*COMPRESSOR_DOWN_MINUTES))),
    }
    plan = {kind: (start, start + length) for kind, (u, start, length) in draws.items()
            if u < INCIDENT_RATES[kind] and (kind != "door_left_open" or len(eligible))}
    if len(plan) == 2:  # one incident at a time: the failure wins if they come close
        (d0, d1), (c0, c1) = plan["door_left_open"], plan["compressor_failure"]
        if d0 < c1 + 120 and c0 < d1 + 120:
            del plan["door_left_open"]
    return plan


def simulate_cabinet(kind: str, rng: np.random.Generator, open_: np.ndarray,
                     plan: dict) -> dict:
    """Minute-by-minute temperature, door, power and humidity of one cabinet for one day."""
    cab = CABINETS[kind]
    door = np.where(open_ & (rng.random(DAY) < cab.door_rate), rng.integers(3, 26, DAY), 0)
    down = np.zeros(DAY, dtype=bool)
    if "door_left_open" in plan:
        door[slice(*plan["door_left_open"])] = 60
    if "compressor_failure" in plan:
        down[slice(*plan["compressor_failure"])] = True
    temp, running = np.empty(DAY), np.zeros(DAY, dtype=bool)
    t, on = rng.uniform(*cab.band), False
    for m, (door_s, broken) in enumerate(zip(door.tolist(), down.tolist(), strict=True)):
        on = t > cab.band[1] or (on and t >= cab.band[0])
        runs = on and not broken
        t += (AMBIENT_C - t) * (cab.leak + DOOR_LEAK * door_s / 60) - (cab.cooling if runs else 0)
        temp[m], running[m] = t, runs
    humidity = np.empty(DAY)
    h = cab.humidity
    for m, door_s in enumerate(door.tolist()):
        h += (cab.humidity + 25 * door_s / 60 - h) / 10
        humidity[m] = h
    noise = np.clip(rng.normal(0, 0.05, DAY), -0.15, 0.15)
    power = np.where(running, cab.running_w + rng.normal(0, 2, DAY), cab.idle_w
                     + rng.normal(0, 0.3, DAY))
    return {"temperature_c": np.round(temp + noise, 2).tolist(), "door_open_s": door.tolist(),
            "power_w": np.round(power, 2).tolist(),
            "humidity_pct": np.round(humidity + rng.normal(0, 0.5, DAY), 2).tolist()}


def excursions(device: Device, day: int, temp: list, plan: dict) -> tuple[Incident, ...]:
    """Each planned incident as the span from its first to its last reading above the normal
    range (noise may dip a reading or two below it near the edges)."""
    high = KINDS[device.kind].readings[0].normal[1]
    found = []
    for kind, (c0, c1) in sorted(plan.items(), key=lambda item: item[1]):
        above = [m for m in range(c0, min(c1 + RECOVERY_MINUTES, DAY)) if temp[m] > high]
        if not above:
            continue  # a door left ajar on a cold night need not show
        at = (day * DAY) * 60
        found.append(Incident(device.device_id, device.store_id, kind, iso(at + above[0] * 60),
                              iso(at + (above[-1] + 1) * 60), iso(at + c0 * 60),
                              iso(at + c1 * 60), max(temp[m] for m in above)))
    return tuple(found)


def footfall(rng: np.random.Generator, local: np.ndarray, store_id: int) -> dict:
    """People in and out per minute: a lunch and an after-work peak, nobody when closed."""
    open_, local_hour = is_open(local), local / 60
    busy = 0.4 + 0.6 * np.exp(-((local_hour - 12.5) / 1.5) ** 2) + 0.7 * np.exp(
        -((local_hour - 17.5) / 1.5) ** 2)
    rate = np.where(open_, busy * (2.0 + store_id % 3), 0.0)
    return {"entered": rng.poisson(rate).tolist(),
            "exited": rng.poisson(np.roll(rate, 20)).tolist()}


def meter(rng: np.random.Generator, open_: np.ndarray, visitors: list) -> dict:
    """Store power: base load, lights and air conditioning while open, more with more people."""
    crowd = np.convolve(np.asarray(visitors, dtype=float), np.ones(10) / 10, mode="same")
    power = np.where(open_, 21.0, 7.5) + 0.35 * crowd + rng.normal(0, 0.3, DAY)
    voltage = 240 + np.clip(rng.normal(0, 1.2, DAY), -4, 4)
    return {"power_kw": np.round(power, 2).tolist(), "voltage_v": np.round(voltage, 2).tolist()}


@functools.lru_cache(maxsize=512)
def device_day(seed: int, device: Device, day: int) -> DaySignal:
    """All 1440 readings of a device for one UTC day (each file is a slice of it)."""
    rng = seeded_rng(seed, SIGNAL, *device.seed_keys, day)
    local = local_clock(device.store_id, day)
    open_ = is_open(local)
    if device.kind in CABINETS:
        plan = plan_incidents(seed, device, day, open_) if device.kind == "fridge" else {}
        columns = simulate_cabinet(device.kind, rng, open_, plan)
        return DaySignal(columns, excursions(device, day, columns["temperature_c"], plan))
    counter = Device(device.store_id, "footfall", 1)
    if device.kind == "footfall":
        return DaySignal(footfall(rng, local, device.store_id))
    return DaySignal(meter(rng, open_, device_day(seed, counter, day).columns["entered"]))


def firmware_at(seed: int, device: Device, minute: int) -> str:
    """The firmware a device runs at a minute: the upgrade, once its rollout time has come."""
    kind = KINDS[device.kind]
    return kind.upgrade if kind.upgrade and minute >= upgrade_minute(seed, device) else (
        kind.firmware)


def upgrade_minute(seed: int, device: Device) -> int:
    rng = seeded_rng(seed, FIRMWARE, *device.seed_keys)
    return minute_of(FIRMWARE_RELEASE) + WINDOW * int(rng.integers(0, ROLLOUT_HOURS * 60 // WINDOW))


# ---------------------------------------------------------------- one file, faults included

@dataclass
class FileRecord:
    """The answer key's line for one uploaded file."""

    key: str
    device_id: str
    store_id: int
    kind: str
    format: str
    firmware: str
    window_start: str
    window_end: str
    arrives_at: str  # when the file and then its manifest land in the bucket
    manifest_rows: int  # what the manifest says
    file_rows: int  # complete data lines in the file
    valid_rows: int  # what a correct pipeline writes to the table (0 when quarantined)
    faults: list[str]
    disposition: str  # "accept" or "quarantine"
    reason: str | None  # the quarantine's fault, else None
    detail: dict = field(default_factory=dict)  # per fault: column, rows, values, delay...

    @property
    def manifest_key(self) -> str:
        return self.key + MANIFEST_SUFFIX


@dataclass(frozen=True)
class SensorFile:
    record: FileRecord
    body: bytes
    manifest: bytes


def file_key(device: Device, start: int) -> str:
    when = EPOCH + dt.timedelta(minutes=start)
    ext = KINDS[device.kind].format
    return (f"{PREFIX}/store={device.store_id}/device={device.device_id}/"
            f"{when:%Y-%m-%d}/{when:%H%M}.{ext}")


def render(fmt: str, columns: list[str], rows: list[list]) -> bytes:
    """CSV (floats with two decimals) or compact JSON lines; every line ends in a newline."""
    if fmt == "csv":
        lines = [",".join(columns)] + [",".join(
            f"{v:.2f}" if isinstance(v, float) else str(v) for v in row) for row in rows]
    else:
        lines = [json.dumps(dict(zip(columns, row, strict=True)), separators=(",", ":"))
                 for row in rows]
    return "".join(line + "\n" for line in lines).encode("utf-8")


def clean_rows(seed: int, device: Device, start: int, firmware: str) -> tuple[list, list]:
    """The window's columns and its readings as the sensor took them."""
    day, offset = divmod(start, DAY)
    signal = device_day(seed, device, day).columns
    readings = reading_columns(KINDS[device.kind], firmware)
    rows = [[iso((start + i) * 60)] + [signal[r.name][offset + i] for r in readings]
            for i in range(WINDOW)]
    return ["timestamp"] + [r.name for r in readings], rows


def pick(rng: np.random.Generator, options: list):
    return options[int(rng.integers(0, len(options)))]


def inject(fault: str, rng: np.random.Generator, kind: DeviceKind, columns: list,
           rows: list) -> tuple[list, list, dict]:
    """Apply a content fault that changes the readings (not the bytes); returns the detail."""
    names = [c for c in columns if c != "timestamp"]
    rows = [list(row) for row in rows]
    if fault == "missing_column":
        column = pick(rng, [r.name for r in kind.readings])  # never the optional column
        i = columns.index(column)
        return ([c for c in columns if c != column], [r[:i] + r[i + 1:] for r in rows],
                {"column": column})
    if fault == "duplicate_readings":
        chosen = sorted(rng.choice(len(rows), int(rng.integers(1, 4)), replace=False).tolist())
        doubled = []
        for i, row in enumerate(rows):
            doubled += [row, row] if i in chosen else [row]  # resent right after the original
        return columns, doubled, {"rows": chosen}
    column = pick(rng, names)
    chosen = sorted(rng.choice(len(rows), int(rng.integers(1, 4)), replace=False).tolist())
    i = columns.index(column)
    if fault == "wrong_type":
        values = [ERROR_TOKEN] * len(chosen)
    else:  # out_of_range
        values = [pick(rng, reading(kind.name, column).glitches) for _ in chosen]
    for row, value in zip(chosen, values, strict=True):
        rows[row][i] = value
    return columns, rows, {"column": column, "rows": chosen, "values": values}


def nudge(rng: np.random.Generator, kind: DeviceKind, columns: list, rows: list) -> dict:
    """Change one value by one step, staying in range: what a flipped bit in transit does."""
    column = pick(rng, [c for c in columns if c != "timestamp"])
    row, i, declared = int(rng.integers(0, len(rows))), columns.index(column), reading(
        kind.name, column)
    step = 0.01 if declared.dtype == "float" else 1
    old = rows[row][i]
    new = round(old + step, 2) if old + step <= declared.high else round(old - step, 2)
    rows[row][i] = new if declared.dtype == "float" else int(new)
    return {"column": column, "row": row, "hashed": old, "sent": rows[row][i]}


def truncate(rng: np.random.Generator, fmt: str, body: bytes) -> tuple[bytes, int]:
    """Cut the body inside a data line so the line cannot parse; returns it and the complete
    data lines left."""
    lines = body.decode("utf-8").split("\n")[:-1]
    head = 1 if fmt == "csv" else 0
    kept = int(rng.integers(2, len(lines) - head))  # complete data lines kept
    line = lines[head + kept]
    stop = line.rfind(",") if fmt == "csv" else len(line) - 1  # CSV: lose at least a field
    cut = int(rng.integers(1, stop))
    return ("\n".join(lines[: head + kept]) + "\n" + line[:cut]).encode("utf-8"), kept


def choose_fault(u: float, stage: str) -> str | None:
    for fault in FAULTS:
        if fault.stage == stage:
            if u < fault.rate:
                return fault.name
            u -= fault.rate
    return None


def generate_file(seed: int, device: Device, start: int) -> SensorFile:
    """One window's file, manifest and answer-key line; depends on nothing but its arguments."""
    if start % WINDOW:
        raise ValueError("a window starts on a 15-minute boundary")
    kind = KINDS[device.kind]
    firmware = firmware_at(seed, device, start)
    rng = seeded_rng(seed, FILE, *device.seed_keys, start)
    content, arrival = choose_fault(rng.random(), "content"), choose_fault(rng.random(), "arrival")
    delay = int(rng.integers(*DELAY_S.get(arrival, ON_TIME_DELAY_S)))
    columns, rows = clean_rows(seed, device, start, firmware)
    detail = {}
    if content in ("missing_column", "wrong_type", "out_of_range", "duplicate_readings"):
        columns, rows, detail[content] = inject(content, rng, kind, columns, rows)
    body = render(kind.format, columns, rows)
    manifest_rows = file_rows = len(rows)
    if content == "checksum_mismatch":
        hashed = body  # what the device hashed; one value changes on the way
        detail[content] = nudge(rng, kind, columns, rows)
        body = render(kind.format, columns, rows)
    else:
        if content == "empty_file":
            body, manifest_rows, file_rows = b"", 0, 0
        elif content == "truncated_file":
            body, file_rows = truncate(rng, kind.format, body)
            manifest_rows = file_rows
            detail[content] = {"complete_rows": file_rows}
        elif content == "row_count_mismatch":
            lost = sorted(rng.choice(len(rows), int(rng.integers(1, 3)), replace=False).tolist())
            rows = [row for i, row in enumerate(rows) if i not in lost]
            body, file_rows = render(kind.format, columns, rows), len(rows)
            detail[content] = {"lost_rows": lost}
        hashed = body
    if arrival:
        detail[arrival] = {"delay_s": delay}
    faults = [f for f in (content, arrival) if f]
    if firmware == kind.upgrade:
        faults.append("schema_evolution")
    reason = content if content and FAULT[content].disposition == "quarantine" else None
    valid = 0 if reason else (WINDOW if content == "duplicate_readings" else file_rows)
    end = start + WINDOW
    key = file_key(device, start)
    record = FileRecord(
        key, device.device_id, device.store_id, device.kind, kind.format,
        firmware, iso(start * 60), iso(end * 60), iso(end * 60 + delay), manifest_rows,
        file_rows, valid, faults, "quarantine" if reason else "accept", reason, detail)
    manifest = {"device_id": device.device_id, "store_id": device.store_id,
                "kind": device.kind, "firmware": firmware, "format": kind.format,
                "window_start": record.window_start, "window_end": record.window_end,
                "rows": manifest_rows, "sha256": hashlib.sha256(hashed).hexdigest()}
    return SensorFile(record, body, (json.dumps(manifest) + "\n").encode("utf-8"))


# ---------------------------------------------------------------- a range, and its answer key

@dataclass
class AnswerKey:
    """Everything the generator did to a range, for the pipeline's tests."""

    settings: dict
    devices: list[dict]
    firmware_upgrades: list[dict]
    incidents: list[Incident]
    files: list[FileRecord]

    def to_json(self) -> str:
        """Indented, but one line per list item: small, and diffs read line by line."""
        parts = []
        for name, value in dataclasses.asdict(self).items():
            if isinstance(value, list):
                items = ",\n".join("  " + json.dumps(item, ensure_ascii=False) for item in value)
                value = f"[\n{items}\n ]" if value else "[]"
            else:
                value = json.dumps(value, ensure_ascii=False)
            parts.append(f" {json.dumps(name)}: {value}")
        return "{\n" + ",\n".join(parts) + "\n}\n"

    @classmethod
    def from_json(cls, text: str) -> "AnswerKey":
        data = json.loads(text)
        return cls(data["settings"], data["devices"], data["firmware_upgrades"],
                   [Incident(**i) for i in data["incidents"]],
                   [FileRecord(**f) for f in data["files"]])

    def in_arrival_order(self) -> list[FileRecord]:
        """The files as the bucket receives them (an S3 loader uploads in this order)."""
        return sorted(self.files, key=lambda f: (f.arrives_at, f.key))


def read_answer_key(folder: Path) -> AnswerKey:
    return AnswerKey.from_json((Path(folder) / ANSWER_KEY).read_text(encoding="utf-8"))


def check_settings(start: dt.datetime, hours: int, stores: int, fridges: int,
                   freezers: int) -> None:
    """One clear ValueError per bad setting, before anything is written."""
    if minute_of(start) % WINDOW or start.second or start.microsecond:
        raise ValueError("start must be on a 15-minute boundary (e.g. 2015-06-01T12:15)")
    if hours < 1:
        raise ValueError("the range must be at least 1 hour (--hours) or 1 day (--days)")
    if not 1 <= stores <= len(STORES):
        raise ValueError(f"stores must be between 1 and {len(STORES)}")
    if fridges < 0 or freezers < 0:
        raise ValueError("fridges and freezers must be 0 or more")


def generate_sensors(out: Path, start: dt.datetime, hours: int, seed: int, stores: int = 2,
                     fridges: int = 2, freezers: int = 1) -> AnswerKey:
    """Write every device's files and manifests for [start, start + hours) under `out`, and the
    answer key as `out/_answer_key.json`; returns the answer key."""
    check_settings(start, hours, stores, fridges, freezers)
    first, last = minute_of(start), minute_of(start) + hours * 60
    devices = store_devices(stores, fridges, freezers)
    records, incidents = [], []
    for device in devices:  # device-major: each device-day is simulated once
        for minute in range(first, last, WINDOW):
            made = generate_file(seed, device, minute)
            path = Path(out) / made.record.key
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(path, made.body)
            write_atomic(path.with_name(path.name + MANIFEST_SUFFIX), made.manifest)
            records.append(made.record)
        for day in range(first // DAY, (last - 1) // DAY + 1):
            incidents += [i for i in device_day(seed, device, day).incidents
                          if i.start < iso(last * 60) and i.end > iso(first * 60)]
    key = AnswerKey(
        {"start": iso(first * 60), "end": iso(last * 60), "seed": seed, "stores": stores,
         "fridges": fridges, "freezers": freezers},
        [{"device_id": d.device_id, "store_id": d.store_id, "kind": d.kind,
          "model": KINDS[d.kind].model, "format": KINDS[d.kind].format} for d in devices],
        upgrades(seed, devices, first, last), incidents,
        sorted(records, key=lambda r: r.key))
    write_atomic(Path(out) / ANSWER_KEY, key.to_json())
    return key


def upgrades(seed: int, devices: list[Device], first: int, last: int) -> list[dict]:
    """The firmware upgrades that happen inside [first, last)."""
    found = []
    for device in devices:
        kind = KINDS[device.kind]
        if kind.upgrade and first <= (at := upgrade_minute(seed, device)) < last:
            found.append({"device_id": device.device_id, "from": kind.firmware,
                          "to": kind.upgrade, "at": iso(at * 60)})
    return found


# ---------------------------------------------------------------- the data dictionary

def dictionary_tables() -> tuple[str, str]:
    """The data dictionary's column and fault tables, from the data above (a test checks that
    datasets/README.md contains them, so the prose cannot drift from the code)."""
    lines = ["| device | column | type | unit | valid range | normal range | glitch values "
             "| meaning |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for kind in KINDS.values():
        for r in kind.readings + kind.upgrade_adds:
            normal = f"{r.normal[0]:g} to {r.normal[1]:g}" if r.normal else ""
            glitches = ", ".join(f"{g:g}" for g in r.glitches)
            lines.append(f"| `{kind.name}` | `{r.name}` | {r.dtype} | {r.unit} | {r.low:g} to "
                         f"{r.high:g} | {normal} | {glitches} | {r.meaning} |")
    faults = ["| fault | rate per file | stage | a correct pipeline | how it shows |",
              "| --- | --- | --- | --- | --- |"]
    for f in FAULTS:
        rate = f"{f.rate:.1%}" if f.rate else "after the upgrade"
        faults.append(f"| `{f.name}` | {rate} | {f.stage} | {f.disposition} | {f.detect} |")
    return "\n".join(lines) + "\n", "\n".join(faults) + "\n"


def main(args: argparse.Namespace) -> int:
    try:
        start = dt.datetime.fromisoformat(args.start)
        if start.utcoffset():
            raise ValueError("start is read as UTC: give it without an offset, or with Z")
        hours = args.hours if args.days is None else args.days * 24
        key = generate_sensors(Path(args.out), start.replace(tzinfo=None), hours, args.seed,
                               args.stores, args.fridges, args.freezers)
    except ValueError as err:
        print(f"workbook datasets: {err}", file=sys.stderr)
        return 2
    bad = sum(f.disposition == "quarantine" for f in key.files)
    print(f"wrote {len(key.files)} files with their manifests to {args.out} ({bad} to "
          f"quarantine, {len(key.incidents)} incidents); answer key: {ANSWER_KEY}")
    return 0
