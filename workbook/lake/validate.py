"""Is a sensor file good? Its manifest with Pydantic, its bytes by checksum and row count, its
rows with pandera. Every problem found is reported, each under a named reason; the first reason
is the file's quarantine reason.

The checks run from the cheapest to the dearest, and stop only when there is nothing left to
check (an empty file, a cut-off last line, bytes that are not CSV or JSON lines). pandera runs
with lazy=True, so a file with three bad values reports all three, not the first. Its schemas
are built from workbook.sensors.KINDS, the generator's own declaration of each column's type
and valid range, so the two cannot drift. Exact duplicate readings (a device resending a line)
are dropped before validation; two readings with one timestamp and different values are not a
resend, and the file is rejected.

Firmware 2.0.0 of the ColdSense probes appends `humidity_pct`: the schema has it as an optional
column (required=False), so files with and without it are both valid; table.py says how the
table takes the new column.
"""

import csv
import datetime as dt
import functools
import hashlib
import io
import json
from dataclasses import dataclass, field
from typing import Literal

import pandas as pd
import pandera.pandas as pa
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator

from workbook.sensors import KINDS, WINDOW

# The reasons a file is quarantined; the generator's fault names where it has one.
EMPTY, TRUNCATED, UNSUPPORTED, NOT_PARSEABLE = ("empty_file", "truncated_file",
                                                "unsupported_format", "not_parseable")
BAD_MANIFEST, MANIFEST_MISMATCH = "bad_manifest", "manifest_mismatch"
CHECKSUM, ROW_COUNT = "checksum_mismatch", "row_count_mismatch"
MISSING_COLUMN, WRONG_TYPE, OUT_OF_RANGE = "missing_column", "wrong_type", "out_of_range"
UNEXPECTED_COLUMN, CONFLICTING_DUPLICATE = "unexpected_column", "conflicting_duplicate"
FORMATS = ("csv", "jsonl")


class Manifest(BaseModel):
    """What the device says about its file. Unknown fields are refused (a typo in a field name
    would otherwise pass silently)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    device_id: str = Field(pattern=r"^s\d+-[a-z]+-\d+$")
    store_id: int = Field(gt=0)
    kind: Literal[tuple(KINDS)]
    firmware: str = Field(pattern=r"^\d+\.\d+\.\d+$")
    format: Literal[FORMATS]
    window_start: AwareDatetime
    window_end: AwareDatetime
    rows: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")

    @model_validator(mode="after")
    def consistent(self) -> "Manifest":
        if self.window_end - self.window_start != dt.timedelta(minutes=WINDOW):
            raise ValueError(f"the window must last {WINDOW} minutes")
        if self.format != KINDS[self.kind].format:
            raise ValueError(f"a {self.kind} writes {KINDS[self.kind].format}, not {self.format}")
        if not self.device_id.startswith(f"s{self.store_id}-{self.kind}-"):
            raise ValueError(f"device {self.device_id} is not a {self.kind} of store "
                             f"{self.store_id}")
        return self


@dataclass
class Checked:
    """A file after validation: its clean rows (None if it is bad), and every problem found."""

    key: str
    etag: str
    manifest: Manifest | None
    rows: pd.DataFrame | None = None
    raw: pd.DataFrame | None = None  # parsed rows awaiting the schema (prevalidate)
    reasons: list[str] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)  # one per problem, pandera's cases included
    duplicates_dropped: int = 0

    @property
    def ok(self) -> bool:
        return not self.reasons

    @property
    def reason(self) -> str | None:
        return self.reasons[0] if self.reasons else None

    def fail(self, reason: str, **detail) -> None:
        if reason not in self.reasons:
            self.reasons.append(reason)
        self.errors.append({"reason": reason, **detail})


def parse_manifest(raw: bytes) -> Manifest:
    """The manifest, or pydantic's ValidationError naming each bad field."""
    return Manifest.model_validate_json(raw)


@functools.cache
def reading_schema(kind: str) -> pa.DataFrameSchema:
    """The pandera schema of a kind's rows, from its declaration in sensors.KINDS. Values are
    coerced from text (CSV) or JSON numbers; `ERR` fails the coercion (wrong_type) and a glitch
    value the range check (out_of_range). strict: a column nobody declared is an error."""
    declared = KINDS[kind]
    columns = {"timestamp": pa.Column("datetime64[us, UTC]", coerce=True, unique=True)}
    for reading in declared.readings + declared.upgrade_adds:
        columns[reading.name] = pa.Column(
            "float64" if reading.dtype == "float" else "int64",
            pa.Check.in_range(reading.low, reading.high), coerce=True,
            required=reading not in declared.upgrade_adds)
    return pa.DataFrameSchema(columns, strict=True, name=kind)


def parse_rows(body: bytes, fmt: str) -> pd.DataFrame:
    """The file's readings as a frame of raw values (text for CSV), with no type guessing:
    typing is pandera's job. Raises ValueError naming the first line that does not parse."""
    text = body.decode("utf-8")
    if fmt == "csv":
        lines = list(csv.reader(io.StringIO(text)))
        header, rows = lines[0], lines[1:]
        for number, row in enumerate(rows, start=2):
            if len(row) != len(header):
                raise ValueError(f"line {number} has {len(row)} fields, the header "
                                 f"{len(header)}")
        return pd.DataFrame(rows, columns=header, dtype=object)
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        record = json.loads(line)
        if not isinstance(record, dict):
            raise ValueError(f"line {number} is not a JSON object")
        records.append(record)
    return pd.DataFrame.from_records(records)


def data_lines(body: bytes, fmt: str) -> int:
    return body.count(b"\n") - (fmt == "csv")


def classify(cases: pd.DataFrame) -> list[tuple[str, dict]]:
    """pandera's failure cases, each under our reason for it."""
    found = []
    for case in cases.to_dict("records"):
        check = str(case["check"])
        if check == "column_in_dataframe":
            reason = MISSING_COLUMN
        elif check == "column_in_schema":
            reason = UNEXPECTED_COLUMN
        elif check.startswith(("coerce_dtype", "dtype")):
            reason = WRONG_TYPE
        elif check == "field_uniqueness":
            reason = CONFLICTING_DUPLICATE
        elif case["index"] is None and "TypeError" in str(case["failure_case"]):
            continue  # a range check that could not run on a column that failed to coerce
        else:
            reason = OUT_OF_RANGE
        found.append((reason, {"column": None if pd.isna(case["column"]) else case["column"],
                               "check": check, "row": case["index"],
                               "value": str(case["failure_case"])}))
    return found


PRECEDENCE = (EMPTY, TRUNCATED, UNSUPPORTED, NOT_PARSEABLE, BAD_MANIFEST, MANIFEST_MISMATCH,
              CHECKSUM, MISSING_COLUMN, UNEXPECTED_COLUMN, WRONG_TYPE, OUT_OF_RANGE,
              CONFLICTING_DUPLICATE, ROW_COUNT)


def validate_file(key: str, body: bytes, manifest: bytes, etag: str = "") -> Checked:
    """Check one file against its manifest; `Checked.rows` holds its typed, de-duplicated
    readings when it is good."""
    checked = prevalidate(key, body, manifest, etag)
    if checked.raw is not None:
        validate_rows(checked)
    return checked


def prevalidate(key: str, body: bytes, manifest: bytes, etag: str = "") -> Checked:
    """Every check but the rows' schema: the manifest, the key, the bytes, the parse. When the
    rows are all that is left to check, `Checked.raw` holds them, parsed and de-duplicated, for
    validate_rows or validate_batch; else the file's problems are final."""
    fmt = key.rsplit(".", 1)[-1]
    try:
        parsed = parse_manifest(manifest)
    except ValidationError as err:
        checked = Checked(key, etag, None)
        checked.fail(BAD_MANIFEST, errors=[{"field": ".".join(map(str, e["loc"])),
                                            "message": e["msg"]} for e in err.errors()])
        return checked
    checked = Checked(key, etag, parsed)
    if fmt not in FORMATS:
        checked.fail(UNSUPPORTED, detail=f"the key ends in .{fmt}, not .csv or .jsonl")
        return checked
    if fmt != parsed.format or f"/device={parsed.device_id}/" not in key:
        checked.fail(MANIFEST_MISMATCH, detail=f"the key {key} does not match the manifest's "
                     f"device {parsed.device_id} and format {parsed.format}")
    if not body:
        checked.fail(EMPTY, detail="the file has 0 bytes")
        return checked
    if not body.endswith(b"\n"):
        checked.fail(TRUNCATED, detail="the last line has no newline: the upload was cut")
        return checked
    if hashlib.sha256(body).hexdigest() != parsed.sha256:
        checked.fail(CHECKSUM, detail="the sha256 of the bytes differs from the manifest's",
                     expected=parsed.sha256, actual=hashlib.sha256(body).hexdigest())
    if data_lines(body, fmt) != parsed.rows:
        checked.fail(ROW_COUNT, detail=f"{data_lines(body, fmt)} rows, the manifest says "
                     f"{parsed.rows}", expected=parsed.rows, actual=data_lines(body, fmt))
    try:
        raw = parse_rows(body, fmt)
    except (ValueError, UnicodeDecodeError) as err:
        checked.fail(NOT_PARSEABLE, detail=f"not {fmt}: {err}")
        return checked
    checked.raw = raw.drop_duplicates(ignore_index=True)
    checked.duplicates_dropped = len(raw) - len(checked.raw)
    return checked


def settle_rows(checked: Checked, rows: pd.DataFrame | None) -> None:
    """The file's verdict once its rows are checked: its reasons in precedence order, and its
    typed rows kept only if it has none."""
    checked.raw = None
    checked.reasons.sort(key=PRECEDENCE.index)
    checked.rows = None if checked.reasons else rows


def validate_rows(checked: Checked) -> None:
    """The rows' schema for one prevalidated file (pandera, lazily: every problem)."""
    try:
        rows = reading_schema(checked.manifest.kind).validate(checked.raw, lazy=True)
    except pa.errors.SchemaErrors as err:
        for reason, detail in classify(err.failure_cases):
            checked.fail(reason, **detail)
        rows = None
    settle_rows(checked, rows)


@functools.cache
def batch_schema(kind: str) -> pa.DataFrameSchema:
    """A kind's schema for many files' rows at once: all but the timestamp's uniqueness, which
    holds within a file, not across files."""
    schema = reading_schema(kind)
    return schema.update_column("timestamp", unique=False)


def validate_batch(files: list[Checked]) -> None:
    """validate_rows for many prevalidated files, with the same verdicts: one pandera call per
    kind and column set instead of one per file (pandera's cost is mostly per call, and a
    file holds a few dozen rows). A file whose rows fail in the batch, or whose timestamps
    repeat, is validated alone, so that its problems are reported as validate_rows reports
    them."""
    groups: dict[tuple, list[Checked]] = {}
    for checked in files:
        if checked.raw is not None:
            groups.setdefault((checked.manifest.kind, tuple(checked.raw.columns)),
                              []).append(checked)
    for (kind, _), group in groups.items():
        passed = _passing(kind, group)
        for checked in group:
            if id(checked) in passed and not passed[id(checked)]["timestamp"].duplicated().any():
                settle_rows(checked, passed[id(checked)])
            else:
                validate_rows(checked)


def _passing(kind: str, group: list[Checked]) -> dict[int, pd.DataFrame]:
    """The typed rows of the files of `group` (one kind, one column set) whose rows pass the
    batch schema together, by id(Checked): the files owning a failing row are left out and the
    rest tried again (only a clean pass counts); when no row owns a failure (a missing column)
    they are all left out."""
    while group:
        frame = pd.concat([checked.raw for checked in group], ignore_index=True)
        owners = [i for i, checked in enumerate(group) for _ in range(len(checked.raw))]
        try:
            typed = batch_schema(kind).validate(frame, lazy=True)
        except pa.errors.SchemaErrors as err:
            rows = err.failure_cases["index"].dropna()
            if rows.empty:
                return {}
            failing = {owners[int(row)] for row in rows}
            group = [checked for i, checked in enumerate(group) if i not in failing]
            continue
        found, start = {}, 0
        for checked in group:
            end = start + len(checked.raw)
            found[id(checked)] = typed.iloc[start:end].reset_index(drop=True)
            start = end
        return found
    return {}
