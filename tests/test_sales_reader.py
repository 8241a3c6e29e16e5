"""The reference pipeline's fast paths (pyarrow's parser with declared types, timestamps parsed
once per distinct value, ordered ids compared with their neighbour) give exactly what the plain
pandas steps the lessons teach give, on messy days and on the inputs that take the slow paths."""

import datetime as dt

import pandas as pd
import pytest

from workbook import datasets, paths, sales

DAY = dt.date(2015, 6, 2)
HEADER = ",".join(datasets.COLUMNS)
LINE = "20150602-{:07d},2015-06-02 {},Seattle Downtown,Desk Lamp,{},2,27.40,0.00,cash"


def plain_read(path):
    """The lesson's reader: pandas' read_csv, to_datetime on every line, a line count."""
    df = pd.read_csv(path, engine="pyarrow", dtype=sales.DTYPES, on_bad_lines="skip",
                     keep_default_na=False, na_values=[""], encoding="utf-8")
    df["timestamp"] = pd.to_datetime(df["timestamp"], format=sales.TIMESTAMP_FORMAT,
                                     errors="coerce")
    complete = df[list(sales.REQUIRED)].notna().all(axis=1)
    skipped = sales.count_data_lines(path) - len(df)
    return df[complete].reset_index(drop=True), skipped + int((~complete).sum())


def plain_clean(df):
    """clean_sales with pandas' own duplicated() and boolean indexing."""
    df = df.copy()
    for column in sales.TEXT_COLUMNS:
        df[column] = df[column].str.strip()
    df["category"] = df["category"].str.title().replace("", pd.NA)
    known = df.dropna(subset=["category"]).groupby("product")["category"].first()
    df["category"] = df["category"].fillna(df["product"].map(known)).fillna("Unknown")
    df = df[~df["order_id"].duplicated()].reset_index(drop=True)
    df["revenue"] = df["quantity"] * df["unit_price"] * (1 - df["discount"])
    return df


def messy_day() -> str:
    return datasets.generate_day(DAY, 3000, seed=5)


def shuffled_day() -> str:
    """Out of id order: deduplication has to hash."""
    header, *lines = messy_day().splitlines()
    return "\n".join([header, *sorted(lines, key=lambda line: line[::-1])]) + "\n"


def odd_lines() -> str:
    """Blank lines, dates that do not exist or are padded, missing required values and ids."""
    lines = [LINE.format(1, "08:00:00", "Home"), "", LINE.format(2, "08:00:01", " home "),
             LINE.format(3, "08:00:02", "").replace("2015-06-02", "2015-02-30"),
             LINE.format(4, "08:00:03", "Home").replace(",2015", ", 2015"),
             LINE.format(5, "08:00:04", "").replace(",cash", ","),
             LINE.format(6, "08:00:05", "").replace("20150602-0000006", ""),
             LINE.format(7, "08:00:06", "").replace("20150602-0000007", ""),
             LINE.format(2, "08:00:01", "Home"), LINE.format(8, "25:00:00", "Home"), ""]
    return "\n".join([HEADER, *lines]) + "\n"


@pytest.mark.parametrize("text", [messy_day(), shuffled_day(), odd_lines(), HEADER + "\n"],
                         ids=["messy", "shuffled", "odd lines", "header only"])
def test_the_reader_and_cleaning_give_what_plain_pandas_gives(tmp_path, text):
    path = tmp_path / "sales.csv"
    path.write_text(text, encoding="utf-8")
    (df, bad), (expected, expected_bad) = sales.read_sales(path), plain_read(path)
    pd.testing.assert_frame_equal(df, expected, check_exact=True)
    assert bad == expected_bad
    pd.testing.assert_frame_equal(sales.clean_sales(df), plain_clean(expected), check_exact=True)


@pytest.mark.parametrize("ids", [["a", "a", "b", "c", "c", "c"], ["b", "a", "b", "a"],
                                 ["a", None, "a", None], ["a"], []])
def test_repeated_is_duplicated(ids):
    series = pd.Series(ids, dtype="string")
    assert sales.repeated(series).tolist() == series.duplicated().tolist()


def test_rows_is_boolean_indexing_with_a_fresh_index():
    df, _ = sales.read_sales(paths.SALES_SAMPLE / "sales_2015-06-03.csv")
    keep = df.index.to_numpy() % 3 != 0
    expected = df[keep].reset_index(drop=True)
    pd.testing.assert_frame_equal(sales.rows(df, keep), expected, check_exact=True)


def test_an_empty_file_is_reported_as_pandas_does(tmp_path):
    (tmp_path / "empty.csv").write_bytes(b"")
    with pytest.raises(pd.errors.EmptyDataError, match="No columns to parse"):
        sales.read_sales(tmp_path / "empty.csv")


def test_a_quoted_line_break_is_a_good_line_not_a_malformed_one(tmp_path):
    """The count is the lines the parser rejected; counting lines (as before) took the second
    half of such a field for a malformed line although its row was kept."""
    quoted = LINE.format(9, "08:00:00", "Home").replace("Desk Lamp", '"Desk\nLamp"')
    path = tmp_path / "sales.csv"
    path.write_text("\n".join([HEADER, LINE.format(1, "08:00:00", "Home"), quoted]) + "\n")
    df, bad = sales.read_sales(path)
    assert (len(df), bad) == (2, 0) and df["product"][1] == "Desk\nLamp"
