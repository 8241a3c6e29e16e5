"""The sales generator: deterministic, reproduces the committed sample, and as messy as promised."""

import datetime as dt
import subprocess
import sys
from decimal import Decimal

import pandas as pd
import pytest

from workbook import datasets, paths, sales

DAY = dt.date(2015, 6, 2)


def test_committed_sample_is_exactly_the_generator_output(tmp_path):
    start = dt.date.fromisoformat(datasets.SAMPLE["start"])
    written = datasets.generate_sales(tmp_path, start, datasets.SAMPLE["days"],
                                      datasets.SAMPLE["rows_per_day"], datasets.SAMPLE["seed"])
    committed = sorted(paths.SALES_SAMPLE.glob("sales_*.csv"))
    assert [p.name for p in written] == [p.name for p in committed]
    for new, old in zip(written, committed, strict=True):
        assert new.read_bytes() == old.read_bytes(), new.name


def test_a_day_is_the_same_alone_or_in_a_range():
    assert datasets.generate_day(DAY, 200, seed=3) == datasets.generate_day(DAY, 200, seed=3)
    assert datasets.generate_day(DAY, 200, seed=3) != datasets.generate_day(DAY, 200, seed=4)


def test_the_mess_is_there():
    text = datasets.generate_day(DAY, 5000, seed=11)
    df = datasets.read_text_frame(text)
    lines = text.splitlines()
    assert lines[0] == ",".join(datasets.COLUMNS)
    assert df["order_id"].duplicated().sum() > 10, "duplicated lines"
    assert (pd.to_numeric(df["quantity"], errors="coerce") < 0).sum() > 50, "returns"
    assert (df["category"] == "").sum() > 20, "missing categories"
    assert df["category"].str.islower().sum() > 20, "lower-case categories"
    assert (df["store"] != df["store"].str.strip()).sum() > 20, "stray whitespace"
    malformed = [line for line in lines[1:] if line.count(",") != len(datasets.COLUMNS) - 1]
    assert 5 <= len(malformed) <= 60, "an occasional malformed line"


def test_clean_option_has_no_mess():
    text = datasets.generate_day(DAY, 2000, seed=11, mess=False)
    df = datasets.read_text_frame(text)
    assert df["order_id"].is_unique and (df["category"] != "").all()
    assert all(line.count(",") == 8 for line in text.splitlines())


def test_reference_pipeline_handles_the_mess(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text(datasets.generate_day(DAY, 3000, seed=5), encoding="utf-8")
    df, bad = sales.read_sales(path)
    assert len(df) + bad == sales.count_data_lines(path) and bad > 0
    clean = sales.clean_sales(df)
    assert clean["order_id"].is_unique
    assert set(clean["category"]) <= {c.title() for c in
                                      ("Books", "Clothing", "Electronics", "Grocery", "Home",
                                       "Sports", "Toys", "Unknown")}
    summary = sales.category_summary(clean)
    assert summary["net_revenue"].sum() == pytest.approx(clean["revenue"].sum(), abs=0.05)


def test_cli_rejects_bad_arguments(tmp_path):
    result = subprocess.run([sys.executable, "-m", "workbook", "datasets", "sales", "--days",
                             "0", "--out", str(tmp_path)], capture_output=True, text=True)
    assert result.returncode == 2 and "at least 1" in result.stderr and not result.stdout
    assert not list(tmp_path.iterdir())


def test_cli_writes_the_files(tmp_path):
    result = subprocess.run([sys.executable, "-m", "workbook", "datasets", "sales", "--days",
                             "3", "--rows-per-day", "50", "--out", str(tmp_path)],
                            capture_output=True, text=True)
    assert result.returncode == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "sales_2015-06-01.csv", "sales_2015-06-02.csv", "sales_2015-06-03.csv"]


def test_exact_revenue_adds_the_lines_up_without_float_noise():
    clean = sales.clean_sales(sales.read_sales(paths.SALES_SAMPLE / "sales_2015-06-03.csv")[0])
    by_hand = {}
    for row in clean.itertuples():
        line = row.quantity * Decimal(str(row.unit_price)) * (1 - Decimal(str(row.discount)))
        by_hand[row.category] = by_hand.get(row.category, 0) + line
    exact = sales.exact_revenue(clean)
    assert exact.to_dict() == by_hand
    assert exact["Home"] == Decimal("2376.585")  # the half cent lesson 02 shows
