"""The capstone's pipeline, one day of the retailer's sales into its report, as the steps every
style wraps: extract (the stores' export, read and typed), extract_online (the web shop's, the
exercise's new source), transform (cleaned, summarised per category), load (the report written
atomically). They are the beginner level's functions (workbook.sales), reused, not copied.

Each step records when it ran in SPANS (epoch seconds, in this process): a style's run then says
how long the work took and how long the orchestrator took around it. With FLAKY_VARIABLE set to
a file's path, load fails while that file is absent, once (a warehouse that drops a
connection): the styles' retries are then seen at work.
"""

import datetime as dt
import functools
import os
import time
from pathlib import Path

import pandas as pd

from workbook import datasets, sales

SPANS: list[dict] = []  # {"step", "start", "end", "ok"}, in the order the steps ran
FLAKY_VARIABLE = "STYLES_FLAKY_LOAD"
ONLINE_PREFIX = "online_"  # the web shop's export: online_YYYY-MM-DD.csv beside the stores'


def timed(step):
    """Record each call of `step` in SPANS, failed calls too."""
    @functools.wraps(step)
    def recorded(*args, **kwargs):
        span = {"step": step.__name__, "start": time.time(), "ok": False}
        try:
            result = step(*args, **kwargs)
            span["ok"] = True
            return result
        finally:
            span["end"] = time.time()
            SPANS.append(span)
    return recorded


def online_filename(day: dt.date) -> str:
    return ONLINE_PREFIX + datasets.sales_filename(day)


@timed
def extract(data: str, day: str) -> pd.DataFrame:
    """Read the stores' sales export of `day` (YYYY-MM-DD) from folder `data`, typed."""
    return sales.read_sales(Path(data) / datasets.sales_filename(dt.date.fromisoformat(day)))[0]


@timed
def extract_online(data: str, day: str) -> pd.DataFrame:
    """Read the web shop's orders of `day`, in the same format as the stores' export."""
    return sales.read_sales(Path(data) / online_filename(dt.date.fromisoformat(day)))[0]


@timed
def transform(*frames: pd.DataFrame) -> pd.DataFrame:
    """Clean the day's sales of every source given, and summarise them per category."""
    return sales.category_summary(sales.clean_sales(pd.concat(frames, ignore_index=True)))


@timed
def load(summary: pd.DataFrame, out: str, day: str) -> str:
    """Write the report of `day` into folder `out`, atomically; return its path.

    Fails once while the file named by FLAKY_VARIABLE is absent (and makes it)."""
    flaky = os.environ.get(FLAKY_VARIABLE)
    if flaky and not Path(flaky).exists():
        Path(flaky).touch()
        raise ConnectionError("the warehouse dropped the connection (once: a retry succeeds)")
    return str(sales.write_report(summary, Path(out), dt.date.fromisoformat(day)))
