"""Reference implementation of the beginner pipeline: read, clean, summarise, load, report.

Check cells compare a learner's answers with these functions, later lessons use them as the
checkpoint of earlier ones (so a learner who fell behind can go on), and benchmarks time them.
They give exactly what the lessons' plain pandas steps give (tests/test_sales_reader.py), with
shortcuts where a million lines make those steps slow.
"""

import datetime as dt
import decimal
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from pyarrow import csv as pa_csv

from workbook.datasets import COLUMNS

# Explicit dtypes: nothing is guessed, and numbers stay nullable so a line cut short shows as
# missing values instead of failing the whole read.
DTYPES = {
    "order_id": "string",
    "timestamp": "string",
    "store": "string",
    "product": "string",
    "category": "string",
    "quantity": "Int64",
    "unit_price": "Float64",
    "discount": "Float64",
    "payment_type": "string",
}
REQUIRED = ("timestamp", "quantity", "unit_price", "discount", "payment_type")
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"
TEXT_COLUMNS = ("store", "product", "category")
UNKNOWN_CATEGORY = "Unknown"
# Prices are whole cents and discounts whole percents, so a line's revenue is a whole number of
# hundredths of a cent: an integer holds it exactly, a float does not (7.565 is 7.56499999...).
REVENUE_UNITS_PER_DOLLAR = 10_000
# DTYPES as pyarrow types, so the parser converts each field once instead of inferring a type
# that pandas would then cast; and back to exactly those pandas dtypes.
ARROW_TYPES = {"string": pa.large_string(), "Int64": pa.int64(), "Float64": pa.float64()}
PANDAS_TYPES = {pa.large_string(): pd.StringDtype(), pa.int64(): pd.Int64Dtype(),
                pa.float64(): pd.Float64Dtype()}


def count_data_lines(path: Path) -> int:
    """Lines after the header (a final line without newline counts too)."""
    data = Path(path).read_bytes()
    lines = data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)
    return max(lines - 1, 0)


def parse_csv(path: Path) -> tuple[pa.Table, int]:
    """The export as an Arrow table of DTYPES' types, and how many lines had the wrong number
    of fields (skipped, but counted rather than lost). Blank lines are kept as empty rows, so
    they count as incomplete, as pandas' `on_bad_lines="skip"` plus a line count did."""
    rejected = []

    def skip(row: pa_csv.InvalidRow) -> str:
        rejected.append(row)
        return "skip"

    convert = pa_csv.ConvertOptions(
        column_types={c: ARROW_TYPES[DTYPES[c]] for c in COLUMNS}, null_values=[""],
        strings_can_be_null=True)
    parse = pa_csv.ParseOptions(invalid_row_handler=skip, ignore_empty_lines=False)
    try:
        table = pa_csv.read_csv(path, parse_options=parse, convert_options=convert)
    except pa.ArrowInvalid as err:  # reported as pandas' read_csv(engine="pyarrow") does
        if "Empty CSV file" in str(err):
            raise pd.errors.EmptyDataError("No columns to parse from file") from err
        raise pd.errors.ParserError(err) from err
    return table, len(rejected)


def parse_timestamps(text: pa.ChunkedArray) -> pd.arrays.DatetimeArray:
    """`pd.to_datetime` (unparseable -> NaT) run once per distinct string: a day's export
    repeats each second many times, so this parses some 20x fewer strings, with the same result."""
    codes, distinct = pd.factorize(text.to_pandas(types_mapper=PANDAS_TYPES.get))
    parsed = pd.to_datetime(distinct, format=TIMESTAMP_FORMAT, errors="coerce")
    return parsed.array.take(codes, allow_fill=True)


def read_sales(path: Path) -> tuple[pd.DataFrame, int]:
    """Good rows of a daily export and the number of malformed lines that were dropped.

    pyarrow's parser (multithreaded, with declared types) skips lines with too many or too few
    fields; a line missing a required value or whose timestamp does not parse is dropped too.
    The rows are filtered before they become pandas columns, so nothing is copied twice.
    """
    table, skipped = parse_csv(path)
    if table.column_names != list(COLUMNS):
        raise ValueError(f"unexpected columns {table.column_names}; expected {list(COLUMNS)}")
    timestamps = parse_timestamps(table["timestamp"])
    complete = ~timestamps.isna()
    for column in REQUIRED[1:]:
        complete &= table[column].is_valid().to_numpy(zero_copy_only=False)
    table = table.drop_columns("timestamp")
    if not complete.all():  # most days: every line that parsed is complete, nothing to copy
        table, timestamps = table.filter(complete), timestamps[complete]
    df = table.to_pandas(types_mapper=PANDAS_TYPES.get)
    df.insert(COLUMNS.index("timestamp"), "timestamp", timestamps)
    return df, skipped + int((~complete).sum())


def repeated(ids: pd.Series) -> np.ndarray:
    """`ids.duplicated()`: True where the value came earlier.

    Exports list orders by id, so a copy sits right after its original: when the ids are in
    order, comparing each with the one before gives the same answer as hashing a million
    strings, some 15x faster. Out of order or with missing ids, pandas hashes them.
    """
    values = ids.array
    before, after = values[:-1], values[1:]
    if len(ids) < 2 or ids.hasnans or not (after >= before).all():
        return ids.duplicated().to_numpy()
    return np.concatenate([[False], (after == before).to_numpy(dtype=bool)])


def rows(df: pd.DataFrame, keep: np.ndarray) -> pd.DataFrame:
    """`df[keep]` with a fresh index, column by column: an Arrow-backed column is filtered
    chunk by chunk, where indexing the frame would first join its chunks (twice the copying)."""
    return pd.DataFrame({name: column.array[keep] for name, column in df.items()})


def clean_sales(df: pd.DataFrame) -> pd.DataFrame:
    """Trimmed, consistently cased, deduplicated rows with a `revenue` column.

    Cleaning happens before deduplication, so copies that differ only in case or spaces go too.
    A missing category is taken from the same product's other rows, else "Unknown".
    """
    df = df.copy(deep=False)  # columns are replaced below, never changed in place
    for column in TEXT_COLUMNS:
        df[column] = df[column].str.strip()
    df["category"] = df["category"].str.title().replace("", pd.NA)
    # Grouping by a categorical product touches 18 groups, not a million strings.
    product = df["product"].astype("category")
    known = df["category"].groupby(product, observed=True).first()
    from_product = product.map(known).astype("string")
    df["category"] = df["category"].fillna(from_product).fillna(UNKNOWN_CATEGORY)
    df = rows(df, ~repeated(df["order_id"]))
    # Not rounded per line: rounding only the totals keeps rounding errors from adding up.
    df["revenue"] = df["quantity"] * df["unit_price"] * (1 - df["discount"])
    return df


def category_summary(df: pd.DataFrame) -> pd.DataFrame:
    """Per category: order lines, units sold, units returned and net revenue (returns subtract)."""
    quantity = df["quantity"]
    summary = (
        df.assign(
            sold=quantity.clip(lower=0), returned=(-quantity).clip(lower=0)
        )
        .groupby("category")
        .agg(
            orders=("order_id", "size"),
            units_sold=("sold", "sum"),
            units_returned=("returned", "sum"),
            net_revenue=("revenue", "sum"),
        )
    )
    summary["net_revenue"] = summary["net_revenue"].round(2)
    summary = summary.astype(
        {"orders": "int64", "units_sold": "int64", "units_returned": "int64",
         "net_revenue": "float64"}
    )
    return summary.sort_values(["net_revenue", "orders"], ascending=False)


def exact_revenue(df: pd.DataFrame, by: str = "category") -> pd.Series:
    """Net revenue per group as exact decimals, added up in whole hundredths of a cent.

    Float totals that should end in half a cent sit a hair below or above it, depending on the
    order of the additions, so their rounding to the cent differs between programs: checks
    compare with these instead."""
    units = (df["revenue"].astype("float64") * REVENUE_UNITS_PER_DOLLAR).round().astype("int64")
    totals = units.groupby(df[by]).sum()
    return totals.map(lambda total: decimal.Decimal(int(total)) / REVENUE_UNITS_PER_DOLLAR)


SCHEMA = """
CREATE TABLE IF NOT EXISTS sales (
    order_id     TEXT PRIMARY KEY,
    sale_date    TEXT NOT NULL,
    ts           TEXT NOT NULL,
    store        TEXT NOT NULL,
    product      TEXT NOT NULL,
    category     TEXT NOT NULL,
    quantity     INTEGER NOT NULL CHECK (quantity <> 0),
    unit_price   REAL NOT NULL CHECK (unit_price >= 0),
    discount     REAL NOT NULL CHECK (discount BETWEEN 0 AND 1),
    payment_type TEXT NOT NULL,
    revenue      REAL NOT NULL
) WITHOUT ROWID;  -- the primary key is the table: one B-tree, not two (a third faster to fill)
CREATE INDEX IF NOT EXISTS sales_by_date ON sales (sale_date);
CREATE TABLE IF NOT EXISTS category_daily (
    sale_date      TEXT NOT NULL,
    category       TEXT NOT NULL,
    orders         INTEGER NOT NULL,
    units_sold     INTEGER NOT NULL,
    units_returned INTEGER NOT NULL,
    net_revenue    REAL NOT NULL,
    PRIMARY KEY (sale_date, category)
);
"""


SALES_COLUMNS = ("order_id", "sale_date", "ts", "store", "product", "category", "quantity",
                 "unit_price", "discount", "payment_type", "revenue")
INSERT_SALES = f"INSERT INTO sales VALUES ({', '.join('?' * len(SALES_COLUMNS))})"


def sales_rows(df: pd.DataFrame, day: dt.date, chunk: int = 100_000):
    """The rows of table `sales` as tuples, built a chunk at a time to bound memory."""
    for start in range(0, len(df), chunk):
        part = df.iloc[start : start + chunk]
        columns = {
            "sale_date": [day.isoformat()] * len(part),
            "ts": part["timestamp"].dt.strftime(TIMESTAMP_FORMAT).tolist(),
            "quantity": part["quantity"].astype("int64").tolist(),
        }
        for name in ("unit_price", "discount", "revenue"):
            columns[name] = part[name].astype("float64").tolist()
        for name in ("order_id", "store", "product", "category", "payment_type"):
            columns[name] = part[name].tolist()
        yield from zip(*(columns[name] for name in SALES_COLUMNS), strict=True)


def load_day(db_path: Path, day: dt.date, df: pd.DataFrame, summary: pd.DataFrame) -> None:
    """Replace one day's rows in SQLite in a single transaction: re-running a day is harmless."""
    summary_rows = [
        (day.isoformat(), category, *map(int, row[:3]), float(row[3]))
        for category, row in zip(summary.index, summary.itertuples(index=False), strict=True)
    ]
    conn = sqlite3.connect(db_path)
    try:
        with conn:  # one transaction: commit on success, roll back on any error
            conn.executescript(SCHEMA)
            conn.execute("DELETE FROM sales WHERE sale_date = ?", (day.isoformat(),))
            conn.execute("DELETE FROM category_daily WHERE sale_date = ?", (day.isoformat(),))
            conn.executemany(INSERT_SALES, sales_rows(df, day))
            conn.executemany("INSERT INTO category_daily VALUES (?, ?, ?, ?, ?, ?)", summary_rows)
    finally:
        conn.close()


def report_path(report_dir: Path, day: dt.date) -> Path:
    return Path(report_dir) / f"sales_report_{day.isoformat()}.csv"


def write_report(summary: pd.DataFrame, report_dir: Path, day: dt.date) -> Path:
    """Write the day's CSV report atomically (a temporary file renamed into place)."""
    path = report_path(report_dir, day)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    summary.to_csv(tmp, float_format="%.2f")
    tmp.replace(path)
    return path
