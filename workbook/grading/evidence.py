"""What crosses from the learner's kernel to the checker: values as data, never as objects.

`export` runs in the learner's kernel after a check's evidence: it writes the named values to a
folder as JSON (plain values, with tags for tuples, sets, paths, dates, time spans and the
workbook's own dataclasses) and Parquet (tables). `load` runs in the checker: it reads them back,
within size limits, without following links, and never unpickles or imports anything the
learner named. A value that is not data (a function, a connection) arrives as `Opaque`, one the
learner never defined as `Missing`; either fails the verdict that uses it with a message.
"""

import base64
import dataclasses
import datetime as dt
import decimal
import io
import json
import os
import sys
import types
from pathlib import Path, PurePath

from workbook.checks import CheckFailed

INDEX = "index.json"
MAX_JSON_BYTES = 16 * 1024**2
MAX_TABLE_BYTES = 64 * 1024**2
MAX_DEPTH = 40
MAX_ITEMS = 1_000_000


class NotData(ValueError):
    """A value the codec does not carry (it crosses as Opaque)."""


class _Placeholder:
    """Fails every use with `_message()`, comparisons included: a verdict never mistakes it for
    a value."""

    def _message(self) -> str:
        raise NotImplementedError

    def _fail(self, *args, **kwargs):
        raise CheckFailed(self._message())

    __call__ = __iter__ = __len__ = __bool__ = __getitem__ = __contains__ = _fail
    __lt__ = __le__ = __gt__ = __ge__ = __add__ = __sub__ = __float__ = __int__ = _fail

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        self._fail()

    def __eq__(self, other):
        self._fail()

    __hash__ = object.__hash__


class Missing(_Placeholder):
    def __init__(self, name: str):
        self.name = name

    def _message(self) -> str:
        return (f"`{self.name}` was never defined in your notebook: did the cell that defines "
                f"it raise an error, or was it renamed?")

    def __repr__(self) -> str:
        return f"<{self.name}: never defined>"


class Opaque(_Placeholder):
    def __init__(self, name: str, kind: str, text: str):
        self.name, self.kind, self.text = name, kind, text

    def _message(self) -> str:
        return (f"`{self.name}` is a {self.kind} ({self.text[:80]}), not a value the check can "
                f"read")

    def __repr__(self) -> str:
        return f"<{self.kind}: {self.text[:80]}>"


# --- encoding (in the learner's kernel) ---------------------------------------------------

def encode(value, tables: list[bytes], depth: int = 0):
    """`value` as JSON-ready data, its tables appended to `tables` as Parquet; raises NotData
    for anything else."""
    if depth > MAX_DEPTH:
        raise NotData("nested too deeply")
    if value is None or isinstance(value, bool | int | float | str):
        return value if type(value) in (bool, int, float, str, type(None)) else _plain(value)
    if isinstance(value, list | tuple | set | frozenset):
        if len(value) > MAX_ITEMS:
            raise NotData(f"{len(value)} items")
        items = [encode(v, tables, depth + 1) for v in value]
        tag = {list: None, tuple: "tuple"}.get(type(value), "set")
        return items if tag is None else {"__type__": tag, "items": items}
    if isinstance(value, dict):
        return {"__type__": "dict", "items": [[encode(k, tables, depth + 1),
                                               encode(v, tables, depth + 1)]
                                              for k, v in value.items()]}
    if (table := _table(value)) is not None:
        tables.append(table[0])
        return {"__type__": "table", "index": len(tables) - 1, "series": table[1]}
    return _special(value, tables, depth)


def _plain(value):
    """A subclass of a plain type (a str enum, numpy's bool) as the plain type."""
    for kind in (bool, int, float, str):
        if isinstance(value, kind):
            return kind(value)
    raise NotData(type(value).__name__)


def _special(value, tables: list[bytes], depth: int):
    if isinstance(value, PurePath):
        return {"__type__": "path", "value": str(value)}
    if isinstance(value, dt.datetime):
        return {"__type__": "datetime", "value": value.isoformat()}
    if isinstance(value, dt.date):
        return {"__type__": "date", "value": value.isoformat()}
    if isinstance(value, dt.timedelta):
        return {"__type__": "timedelta", "value": value.total_seconds()}
    if isinstance(value, decimal.Decimal):
        return {"__type__": "decimal", "value": str(value)}
    if isinstance(value, bytes):
        return {"__type__": "bytes", "value": base64.b64encode(value[:MAX_ITEMS]).decode()}
    numpy = sys.modules.get("numpy")
    if numpy is not None and isinstance(value, numpy.generic):
        return encode(value.item(), tables, depth)
    if numpy is not None and isinstance(value, numpy.ndarray):
        return {"__type__": "array", "items": encode(value.tolist(), tables, depth + 1)}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: encode(getattr(value, f.name), tables, depth + 1)
                  for f in dataclasses.fields(value)}
        return {"__type__": "dataclass", "class": f"{type(value).__module__}."
                f"{type(value).__qualname__}", "fields": fields}
    raise NotData(type(value).__name__)


def _table(value) -> tuple[bytes, bool] | None:
    """A DataFrame (or a Series, as a one-column frame) as Parquet bytes and whether it was a
    Series; None for anything else. Columns Parquet cannot type (mixed objects) go as text."""
    pandas = sys.modules.get("pandas")
    if pandas is None or not isinstance(value, pandas.DataFrame | pandas.Series):
        return None
    is_series = isinstance(value, pandas.Series)
    frame = value.to_frame(name=value.name if value.name is not None else 0) if is_series \
        else value
    frame = frame.rename(columns=str)
    buffer = io.BytesIO()
    try:
        frame.to_parquet(buffer)
    except Exception:  # e.g. an object column of mixed types: compared as text
        buffer = io.BytesIO()
        mixed = [c for c in frame.columns if frame[c].dtype == object]
        frame.astype(dict.fromkeys(mixed, str)).to_parquet(buffer)
    if buffer.tell() > MAX_TABLE_BYTES:
        raise NotData(f"a table of {buffer.tell():,} bytes")
    return buffer.getvalue(), is_series


def entry(name: str, value, folder: Path) -> dict:
    """The index entry of one exported value (its tables written beside the index)."""
    try:
        tables: list[bytes] = []
        data = encode(value, tables)
        for number, table in enumerate(tables):
            (folder / f"{name}-{number}.parquet").write_bytes(table)
        return {"kind": "value", "value": data}
    except Exception as err:  # anything that is not data crosses as its description
        return {"kind": "opaque", "type": type(value).__name__, "text": str(err)[:300]}


def export(namespace: dict, folder: str, names: list[str]) -> None:
    """Write `names` from the learner's namespace to `folder` (run in the learner's kernel)."""
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    index = {name: (entry(name, namespace[name], target) if name in namespace
                    else {"kind": "missing"}) for name in names}
    (target / INDEX).write_text(json.dumps(index))


# --- decoding (in the checker) ---------------------------------------------------------------

def decode(data, table):
    """The value `data` encodes; `table(index)` reads one of its tables."""
    if isinstance(data, list):
        return [decode(v, table) for v in data]
    if not isinstance(data, dict):
        return data
    kind = data.get("__type__")
    if kind in ("tuple", "set"):
        items = [decode(v, table) for v in data["items"]]
        return tuple(items) if kind == "tuple" else set(items)
    if kind == "dict":
        return {_key(decode(k, table)): decode(v, table) for k, v in data["items"]}
    if kind == "table":
        frame = table(int(data["index"]))
        return frame.iloc[:, 0] if data.get("series") else frame
    if kind == "array":
        import numpy

        return numpy.array(decode(data["items"], table))
    if kind == "dataclass":
        return _dataclass(data["class"],
                          {k: decode(v, table) for k, v in data["fields"].items()})
    simple = {"path": Path, "datetime": dt.datetime.fromisoformat, "date": dt.date.fromisoformat,
              "timedelta": lambda s: dt.timedelta(seconds=s), "decimal": decimal.Decimal,
              "bytes": base64.b64decode}
    if kind in simple:
        return simple[kind](data["value"])
    raise NotData(f"unknown tag {str(kind)[:40]!r}")


def _key(key):
    return tuple(key) if isinstance(key, list) else key


def _dataclass(qualified: str, fields: dict):
    """A dataclass of the workbook package rebuilt from its fields (looked up among modules
    already imported: a name never imports code); any other class as a namespace."""
    module, _, name = qualified.rpartition(".")
    owner = sys.modules.get(module) if module.split(".")[0] == "workbook" else None
    cls = getattr(owner, name, None)
    if isinstance(cls, type) and dataclasses.is_dataclass(cls):
        return cls(**fields)
    return types.SimpleNamespace(**fields)


def read_capped(folder_fd: int, name: str, limit: int) -> bytes:
    """A regular file of the learner's evidence folder, never through a link, at most `limit`."""
    fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=folder_fd)
    try:
        info = os.fstat(fd)
        if not (info.st_mode & 0o170000 == 0o100000) or info.st_size > limit:
            raise NotData(f"{name} is not a regular file under {limit:,} bytes")
        with os.fdopen(os.dup(fd), "rb") as f:
            return f.read(limit + 1)[:limit]
    finally:
        os.close(fd)


def value_of(name: str, item: dict, folder_fd: int):
    kind = item.get("kind") if isinstance(item, dict) else None
    if kind == "value":
        def table(number: int):
            import pandas

            return pandas.read_parquet(io.BytesIO(read_capped(
                folder_fd, f"{name}-{number}.parquet", MAX_TABLE_BYTES)))

        return decode(item["value"], table)
    if kind == "opaque":
        return Opaque(name, str(item.get("type"))[:60], str(item.get("text"))[:300])
    return Missing(name)


LOADED = "_wb_evidence_names"  # the checker's names that came from the learner, not from itself


def load(namespace: dict, folder: str, names: list[str]) -> None:
    """Bind `names` in the checker's namespace from the learner's evidence (run in the checker).

    A name the checker defined itself keeps the checker's value: parameters, the lesson's
    context and expected values are never taken from the learner. A name an earlier check
    took from the learner is taken again (the learner's value may have changed since)."""
    taken = namespace.setdefault(LOADED, set())
    wanted = [name for name in names if name not in namespace or name in taken]
    if not wanted:
        return
    folder_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        index = json.loads(read_capped(folder_fd, INDEX, MAX_JSON_BYTES))
        if not isinstance(index, dict):
            raise NotData("the evidence index is not a mapping")
        for name in wanted:
            try:
                namespace[name] = value_of(name, index.get(name), folder_fd)
            except (NotData, ValueError, TypeError, KeyError, OSError) as err:
                namespace[name] = Opaque(name, "value the checker could not read", str(err))
            taken.add(name)
    finally:
        os.close(folder_fd)
