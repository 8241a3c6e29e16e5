"""The sensor files: deterministic, the committed sample is the documented command's output, and
every fault and incident the answer key names is really in the bytes (found here by an
independent reading of the files, not by asking the generator)."""

import datetime as dt
import hashlib
import json
import shlex
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from workbook import cli, paths, sensors

SAMPLE = paths.SENSORS_SAMPLE
KEY = sensors.read_answer_key(SAMPLE)
CONTENT = {f.name for f in sensors.FAULTS if f.stage == "content"}
BENIGN = {"late", "out_of_order", "schema_evolution", "duplicate_readings"}


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "workbook", "datasets", "sensors", *args],
                          capture_output=True, text=True, cwd=paths.ROOT)


def documented_command() -> list[str]:
    """The sensors command in datasets/README.md, as its arguments after `sensors`."""
    text = (paths.DATASETS / "README.md").read_text(encoding="utf-8")
    block = next(b for b in text.split("```") if b.startswith("bash\n") and "sensors" in b)
    words = shlex.split(block.replace("\\\n", " "))
    return words[words.index("sensors") + 1:]


def tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def parse(record, body: bytes) -> tuple[list[str], list[dict], bool]:
    """Columns, the rows that parse (values as text or JSON values), and whether all did."""
    lines = body.decode("utf-8").split("\n")
    complete = body.endswith(b"\n") or not body
    lines = [line for line in lines if line]
    rows, ok = [], complete
    if record.format == "csv":
        columns = lines[0].split(",") if lines else []
        for line in lines[1:]:
            values = line.split(",")
            if len(values) == len(columns):
                rows.append(dict(zip(columns, values, strict=True)))
            else:
                ok = False
        return columns, rows, ok
    columns = []
    for line in lines:
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            ok = False
            continue
        rows.append(row)
        columns = columns or list(row)
    return columns, rows, ok


def number(value):
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def detect(record, body: bytes, manifest: dict) -> set[str]:
    """The content faults visible in a file and its manifest, found from the bytes alone."""
    kind = sensors.KINDS[record.kind]
    found = set()
    if hashlib.sha256(body).hexdigest() != manifest["sha256"]:
        found.add("checksum_mismatch")
    if not body:
        return found | {"empty_file"}
    columns, rows, parsed = parse(record, body)
    if not parsed:
        found.add("truncated_file")
    expected = ["timestamp"] + [r.name for r in sensors.reading_columns(kind, manifest["firmware"])]
    if columns != expected:
        found.add("missing_column")
    complete = body.count(b"\n") - (record.format == "csv")
    if complete != manifest["rows"]:
        found.add("row_count_mismatch")
    for row in rows:
        for name, value in row.items():
            if name == "timestamp":
                continue
            declared = sensors.reading(record.kind, name)
            if number(value) is None:
                found.add("wrong_type")
            elif not declared.low <= number(value) <= declared.high:
                found.add("out_of_range")
    stamps = [row.get("timestamp") for row in rows]
    if len(set(stamps)) < len(stamps):
        found.add("duplicate_readings")
    return found


def load(folder: Path, record):
    body = (folder / record.key).read_bytes()
    return body, json.loads((folder / record.manifest_key).read_text(encoding="utf-8"))


def test_the_committed_sample_is_what_the_documented_command_writes(tmp_path):
    args = documented_command()
    assert args[args.index("--out") + 1] == "datasets/sample/sensors"
    args[args.index("--out") + 1] = str(tmp_path)
    result = run_cli(*args)
    assert result.returncode == 0, result.stderr
    assert tree(tmp_path) == tree(SAMPLE)


def test_the_sample_stays_small():
    size = sum(len(data) for data in tree(SAMPLE).values())
    assert size < 400_000, f"the committed sample grew to {size} bytes"


def test_a_window_is_the_same_alone_or_in_a_range_and_only_for_its_seed(tmp_path):
    start = dt.datetime(2015, 6, 1, 22, 0)  # the range crosses midnight (a new device-day)
    key = sensors.generate_sensors(tmp_path / "range", start, hours=4, seed=9, stores=1)
    again = sensors.generate_sensors(tmp_path / "again", start, hours=4, seed=9, stores=1)
    assert tree(tmp_path / "range") == tree(tmp_path / "again") and key == again
    sensors.device_day.cache_clear()  # nothing remembered from the range
    device = sensors.Device(1, "fridge", 1)
    window = sensors.minute_of(dt.datetime(2015, 6, 2, 1, 15))
    alone = sensors.generate_file(9, device, window)
    in_range = next(r for r in key.files if r.key == alone.record.key)
    assert alone.record == in_range
    assert alone.body == (tmp_path / "range" / in_range.key).read_bytes()
    assert alone.manifest == (tmp_path / "range" / in_range.manifest_key).read_bytes()
    assert sensors.generate_file(10, device, window).body != alone.body


def test_the_answer_key_round_trips_and_lists_every_file():
    assert sensors.AnswerKey.from_json(KEY.to_json()) == KEY
    on_disk = {p.relative_to(SAMPLE).as_posix() for p in (SAMPLE / "incoming").rglob("*")
               if p.is_file()}
    assert on_disk == {r.key for r in KEY.files} | {r.manifest_key for r in KEY.files}
    assert len(KEY.files) == 2 * (2 + 1 + 1 + 1) * 6 * 4  # stores x devices x hours x windows
    arrivals = [r.arrives_at for r in KEY.in_arrival_order()]
    assert arrivals == sorted(arrivals)


@pytest.mark.parametrize("fault", [f.name for f in sensors.FAULTS])
def test_every_fault_kind_is_in_the_sample(fault):
    assert any(fault in r.faults for r in KEY.files)


def test_each_file_shows_exactly_the_content_faults_the_key_names():
    for record in KEY.files:
        body, manifest = load(SAMPLE, record)
        named = set(record.faults) & CONTENT
        assert detect(record, body, manifest) == named, record.key
        assert manifest["firmware"] == record.firmware
        assert manifest["rows"] == record.manifest_rows
        quarantine = {f for f in named if sensors.FAULT[f].disposition == "quarantine"}
        assert record.disposition == ("quarantine" if quarantine else "accept")
        assert record.reason == (quarantine.pop() if quarantine else None)


def test_the_fault_details_point_at_the_faulty_values():
    for record in KEY.files:
        body, _ = load(SAMPLE, record)
        columns, rows, _ = parse(record, body)
        if "out_of_range" in record.faults:
            detail = record.detail["out_of_range"]
            declared = sensors.reading(record.kind, detail["column"])
            for i in detail["rows"]:
                value = number(rows[i][detail["column"]])
                assert not declared.low <= value <= declared.high
        if "missing_column" in record.faults:
            assert record.detail["missing_column"]["column"] not in columns
            assert record.detail["missing_column"]["column"] != "humidity_pct"  # not optional
        if "truncated_file" in record.faults:
            assert not body.endswith(b"\n")
            assert len(rows) == record.file_rows
            last = body.decode("utf-8").rsplit("\n", 1)[1]
            if record.format == "csv":
                assert last.count(",") < len(columns) - 1, "a field is missing"
            else:
                with pytest.raises(json.JSONDecodeError):
                    json.loads(last)


def test_arrival_faults_arrive_late_or_after_the_next_file():
    by_device = defaultdict(list)
    for record in KEY.files:
        by_device[record.device_id].append(record)
    for records in by_device.values():
        records.sort(key=lambda r: r.window_start)
        for record, following in zip(records, records[1:], strict=False):
            overtaken = record.arrives_at > following.arrives_at
            assert overtaken == bool({"late", "out_of_order"} & set(record.faults)), record.key
    for record in KEY.files:
        delay = (dt.datetime.fromisoformat(record.arrives_at)
                 - dt.datetime.fromisoformat(record.window_end))
        assert (delay >= dt.timedelta(hours=1)) == ("late" in record.faults), record.key
        assert delay > dt.timedelta(0)


def test_the_new_firmware_adds_the_optional_column_and_only_it():
    upgraded = {u["device_id"]: u for u in KEY.firmware_upgrades}
    assert upgraded, "the sample shows a firmware upgrade"
    for record in KEY.files:
        kind = sensors.KINDS[record.kind]
        new = record.device_id in upgraded and record.window_start >= upgraded[
            record.device_id]["at"]
        assert record.firmware == (kind.upgrade if new else kind.firmware), record.key
        assert ("schema_evolution" in record.faults) == new
        if new and "missing_column" not in record.faults and record.manifest_rows:
            columns, _, _ = parse(record, load(SAMPLE, record)[0])
            old = ["timestamp"] + [r.name for r in kind.readings]
            assert columns == old + ["humidity_pct"], record.key


def accepted_readings(device_id: str) -> dict[str, dict]:
    """Every reading of a device in the files a correct pipeline accepts, by timestamp."""
    readings = {}
    for record in KEY.files:
        if record.device_id == device_id and record.disposition == "accept":
            _, rows, _ = parse(record, load(SAMPLE, record)[0])
            readings.update({row["timestamp"]: row for row in rows})
    return readings


def minutes(start: str, end: str) -> list[str]:
    first, last = (sensors.minute_of(dt.datetime.fromisoformat(t)) for t in (start, end))
    return [sensors.iso(m * 60) for m in range(first, last)]


def test_clean_files_pass_the_declared_ranges_and_cover_their_window():
    incident_minutes = {(i.device_id, t) for i in KEY.incidents for t in minutes(i.start, i.end)}
    clean = [r for r in KEY.files if set(r.faults) <= BENIGN]
    assert len(clean) > 0.8 * len(KEY.files)
    for record in clean:
        body, manifest = load(SAMPLE, record)
        _, rows, parsed = parse(record, body)
        assert parsed and len({row["timestamp"] for row in rows}) == record.valid_rows == 15
        assert sorted({row["timestamp"] for row in rows}) == minutes(record.window_start,
                                                                     record.window_end)
        for row in rows:
            for name, value in row.items():
                if name == "timestamp":
                    continue
                declared = sensors.reading(record.kind, name)
                assert declared.low <= number(value) <= declared.high, (record.key, name)
                if declared.dtype == "int":
                    assert float(number(value)).is_integer(), (record.key, name)
                if declared.normal and (record.device_id, row["timestamp"]) not in (
                        incident_minutes):
                    low, high = declared.normal
                    assert low <= number(value) <= high, (record.key, row["timestamp"])


def test_the_incidents_are_in_the_temperatures():
    assert {i.kind for i in KEY.incidents} == {"door_left_open", "compressor_failure"}
    for incident in KEY.incidents:
        high = sensors.reading("fridge", "temperature_c").normal[1]
        readings = accepted_readings(incident.device_id)
        during = [float(readings[t]["temperature_c"]) for t in minutes(incident.start,
                                                                       incident.end)
                  if t in readings]
        assert len(during) >= 10 and during[0] > high and during[-1] > high, incident
        assert sum(t > high for t in during) >= 0.9 * len(during), incident
        assert max(during) <= incident.peak_c
        edges = [sensors.iso(sensors.minute_of(dt.datetime.fromisoformat(incident.start)) * 60
                             - 60), incident.end]
        assert all(float(readings[t]["temperature_c"]) <= high for t in edges if t in readings)
        cause = [readings[t] for t in minutes(incident.cause_start, incident.cause_end)
                 if t in readings]
        if incident.kind == "door_left_open":
            assert cause and all(int(r["door_open_s"]) == 60 for r in cause), incident
        else:
            assert cause and all(float(r["power_w"]) < 20 for r in cause), incident


def test_the_data_dictionary_is_the_module_s_tables():
    readme = (paths.DATASETS / "README.md").read_text(encoding="utf-8")
    for table in sensors.dictionary_tables():
        assert table in readme


def test_help_names_the_key_layout():
    result = run_cli("--help")
    assert result.returncode == 0 and "manifest.json" in result.stdout


def test_a_bad_argument_exits_2_with_one_line_and_writes_nothing(tmp_path):
    result = run_cli("--stores", "0", "--out", str(tmp_path / "out"))
    assert result.returncode == 2 and not result.stdout
    assert result.stderr == "workbook datasets: stores must be between 1 and 6\n"
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("args", "message"), [
    (["--stores", "7"], "stores must be between 1 and 6"),
    (["--days", "0"], "at least 1 hour"),
    (["--hours", "-3"], "at least 1 hour"),
    (["--start", "2015-06-01T12:07"], "15-minute boundary"),
    (["--start", "June 1st"], "Invalid isoformat string"),
    (["--start", "2015-06-01T12:00+02:00"], "read as UTC"),
    (["--fridges", "-1"], "0 or more"),
])
def test_each_bad_value_is_named(tmp_path, capsys, args, message):
    assert cli.main(["datasets", "sensors", *args, "--out", str(tmp_path / "out")]) == 2
    out, err = capsys.readouterr()
    assert not out and err.count("\n") == 1 and message in err, err
    assert not (tmp_path / "out").exists()
