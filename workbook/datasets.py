"""Deterministic generator of the retailer's daily sales exports, mess included.

Each day is generated from its own seed (derived from the run's seed and the date), so a
single day comes out the same whether it is generated alone or as part of a range. The mess
mirrors real exports: duplicated lines, returns as negative quantities, missing or
inconsistently cased categories, stray whitespace and an occasional malformed line.
"""

import argparse
import datetime as dt
import io
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from workbook import paths
from workbook.files import write_atomic
from workbook.generators import seeded_rng
from workbook.retail import CLOSES_AT, OPENS_AT, PAYMENT_TYPES, PRODUCTS, STORES

COLUMNS = (
    "order_id", "timestamp", "store", "product", "category",
    "quantity", "unit_price", "discount", "payment_type",
)
# The committed sample (datasets/sample/sales) is exactly this call's output.
SAMPLE = {"start": "2015-06-01", "days": 14, "rows_per_day": 400, "seed": 2015}

# Rates of each kind of mess, per order line.
DUPLICATE_RATE = 0.01
RETURN_RATE = 0.03
MISSING_CATEGORY_RATE = 0.02
MISCASED_RATE = 0.05
WHITESPACE_RATE = 0.03
MALFORMED_RATE = 0.005


def sales_filename(day: dt.date) -> str:
    return f"sales_{day.isoformat()}.csv"


def day_rng(seed: int, day: dt.date) -> np.random.Generator:
    return seeded_rng(seed, day.toordinal())


def clean_day(day: dt.date, rows: int, rng: np.random.Generator) -> pd.DataFrame:
    """One day's order lines as the point-of-sale system recorded them (no mess yet)."""
    product = rng.integers(0, len(PRODUCTS), rows)
    seconds = np.sort(rng.integers(OPENS_AT * 3600, CLOSES_AT * 3600, rows))
    quantity = rng.integers(1, 6, rows)
    discount = rng.choice([0.0, 0.0, 0.0, 0.05, 0.1, 0.15, 0.2], rows)
    start = pd.Timestamp(day)
    return pd.DataFrame(
        {
            "order_id": [f"{day:%Y%m%d}-{i:07d}" for i in range(1, rows + 1)],
            "timestamp": (start + pd.to_timedelta(seconds, unit="s")).strftime(
                "%Y-%m-%d %H:%M:%S"
            ),
            "store": np.array([s.name for s in STORES])[rng.integers(0, len(STORES), rows)],
            "product": np.array([p.name for p in PRODUCTS])[product],
            "category": np.array([p.category for p in PRODUCTS])[product],
            "quantity": quantity,
            "unit_price": np.array([p.unit_price for p in PRODUCTS])[product],
            "discount": discount,
            "payment_type": np.array(PAYMENT_TYPES)[rng.integers(0, len(PAYMENT_TYPES), rows)],
        }
    )


def add_mess(df: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Returns, category problems, whitespace, then duplicated lines (as exports repeat them)."""
    df = df.copy()
    n = len(df)
    returns = rng.random(n) < RETURN_RATE
    df.loc[returns, "quantity"] = -df.loc[returns, "quantity"]
    lower = rng.random(n) < MISCASED_RATE / 2
    upper = (rng.random(n) < MISCASED_RATE / 2) & ~lower
    df.loc[lower, "category"] = df.loc[lower, "category"].str.lower()
    df.loc[upper, "category"] = df.loc[upper, "category"].str.upper()
    df.loc[rng.random(n) < MISSING_CATEGORY_RATE, "category"] = ""
    for column in ("store", "product", "category"):
        padded = rng.random(n) < WHITESPACE_RATE
        df.loc[padded, column] = " " + df.loc[padded, column] + "  "
    duplicated = df[rng.random(n) < DUPLICATE_RATE]
    df = pd.concat([df, duplicated]).sort_index(kind="stable")
    return df.reset_index(drop=True)


def to_csv_text(df: pd.DataFrame, rng: np.random.Generator, malformed: bool) -> str:
    """CSV text; with `malformed`, a few lines are cut short or gain an unquoted comma."""
    text = df.to_csv(index=False, lineterminator="\n", float_format="%.2f")
    if not malformed:
        return text
    lines = text.split("\n")
    body = np.arange(1, len(lines) - 1)  # skip the header and the final empty string
    for i in body[rng.random(len(body)) < MALFORMED_RATE]:
        line = lines[i]
        if rng.random() < 0.5:
            lines[i] = line[: len(line) // 2]  # an export cut mid-line
        else:
            lines[i] = line.replace(",", ", extra,", 1)  # a stray comma: one field too many
    return "\n".join(lines)


def generate_day(day: dt.date, rows: int, seed: int, mess: bool = True) -> str:
    rng = day_rng(seed, day)
    df = clean_day(day, rows, rng)
    if mess:
        df = add_mess(df, rng)
    return to_csv_text(df, rng, malformed=mess)


def generate_sales(
    out: Path, start: dt.date, days: int, rows_per_day: int, seed: int, mess: bool = True,
    progress: bool = False,
) -> list[Path]:
    """Write one sales_YYYY-MM-DD.csv per day into `out`; returns the paths."""
    if days < 1 or rows_per_day < 1:
        raise ValueError("days and rows_per_day must be at least 1")
    out.mkdir(parents=True, exist_ok=True)
    dates = [start + dt.timedelta(days=i) for i in range(days)]
    if progress:
        from tqdm import tqdm

        dates = tqdm(dates, desc="generating days", unit="day")
    written = []
    for day in dates:
        path = out / sales_filename(day)
        write_atomic(path, generate_day(day, rows_per_day, seed, mess))
        written.append(path)
    return written


def sales_dir(seed: int, rows_per_day: int, workspace: Path, start: str = SAMPLE["start"],
              days: int = SAMPLE["days"]) -> Path:
    """The folder of sales files for these settings: the committed sample when they match it,
    else a folder under the workspace, generated on first use."""
    if (seed, rows_per_day, start, days) == (
        SAMPLE["seed"], SAMPLE["rows_per_day"], SAMPLE["start"], SAMPLE["days"]
    ):
        return paths.SALES_SAMPLE
    out = Path(workspace) / "data" / f"sales-seed{seed}-rows{rows_per_day}-{start}-{days}d"
    first = dt.date.fromisoformat(start)
    expected = [out / sales_filename(first + dt.timedelta(days=i)) for i in range(days)]
    if not all(p.exists() for p in expected):
        generate_sales(out, first, days, rows_per_day, seed)
    return out


def read_text_frame(text: str) -> pd.DataFrame:
    """Parse generated CSV text leniently (used by tests to look at what was generated)."""
    return pd.read_csv(io.StringIO(text), dtype=str, on_bad_lines="skip", keep_default_na=False)


def main(args: argparse.Namespace) -> int:
    try:
        start = dt.date.fromisoformat(args.start)
        written = generate_sales(
            Path(args.out), start, args.days, args.rows_per_day, args.seed,
            mess=not args.clean, progress=True,
        )
    except ValueError as err:
        print(f"workbook datasets: {err}", file=sys.stderr)
        return 2
    print(f"wrote {len(written)} files to {args.out}")
    return 0
