"""The daily report as a beginner first writes it: the baseline the reference path is timed against.

Deliberately naive but correct in spirit: the pure-Python CSV parser with every type guessed,
row-by-row `apply` for cleaning and revenue, and `to_sql` for the load. It makes the same
decisions as the reference (skip broken lines, fill a missing category from its product,
deduplicate after cleaning), so both reports agree and only the speed differs.
"""

import sqlite3
from pathlib import Path

import pandas as pd

from benchmarks import day_args

REQUIRED = ["timestamp", "quantity", "unit_price", "discount", "payment_type"]


def parse_args(argv=None):
    parser = day_args.parser(__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, help="also load every line into this SQLite file")
    return parser.parse_args(argv)


def clean_text(row, category_of):
    """Trimmed store and product, title-cased category (from the product when missing)."""
    product = row["product"].strip()
    category = row["category"]
    if isinstance(category, str) and category.strip():
        category = category.strip().title()
    else:
        category = category_of.get(product, "Unknown")
    return row["store"].strip(), product, category


def revenue(row):
    """One line's revenue, computed a row at a time (the vectorised form is the lesson)."""
    return row["quantity"] * row["unit_price"] * (1 - row["discount"])


def clean(df):
    """Complete lines only, text fixed row by row, first copy of each order, with revenue."""
    df["timestamp"] = pd.to_datetime(df["timestamp"], errors="coerce")
    df = df.dropna(subset=REQUIRED).copy()
    categories = df["category"].str.strip().str.title()
    known = categories.notna() & (categories != "")
    category_of = dict(zip(df.loc[known, "product"].str.strip(), categories[known], strict=True))
    cleaned = df.apply(clean_text, axis=1, args=(category_of,))
    df[["store", "product", "category"]] = cleaned.tolist()
    df = df.drop_duplicates("order_id")
    df["revenue"] = df.apply(revenue, axis=1)
    return df


def summarise(df):
    """Per category, the reference report's columns (returns count apart and subtract)."""
    df = df.assign(units_sold=df["quantity"].clip(lower=0),
                   units_returned=(-df["quantity"]).clip(lower=0))
    summary = df.groupby("category").agg(
        orders=("order_id", "count"), units_sold=("units_sold", "sum"),
        units_returned=("units_returned", "sum"), net_revenue=("revenue", "sum"),
    )
    summary = summary.astype({"units_sold": int, "units_returned": int})
    return summary.round(2).sort_values("net_revenue", ascending=False)


def main(argv=None):
    args = parse_args(argv)
    path = args.data_dir / f"sales_{args.date.isoformat()}.csv"
    df = clean(pd.read_csv(path, engine="python", on_bad_lines="skip"))
    summary = summarise(df)
    if args.db:
        df["sale_date"] = args.date.isoformat()
        with sqlite3.connect(args.db) as conn:
            df.to_sql("sales", conn, if_exists="append", index=False)
            summary.assign(sale_date=args.date.isoformat()).to_sql(
                "category_daily", conn, if_exists="append")
        conn.close()
    args.report_dir.mkdir(parents=True, exist_ok=True)
    summary.to_csv(args.report_dir / f"sales_report_{args.date.isoformat()}.csv")


if __name__ == "__main__":
    main()
