"""A notebook run through `workbook run` with non-default parameters gives the right totals,
computed here independently (csv module, no pandas, no workbook.sales)."""

import csv
import subprocess
import sys
from collections import defaultdict
from datetime import datetime

import pytest

from workbook import paths

PARAMS = {"run_date": "2015-06-09", "seed": 7, "rows_per_day": 300, "days": 10}
FIELDS = 9
REQUIRED = (1, 5, 6, 7, 8)  # timestamp, quantity, unit_price, discount, payment_type


def independent_totals(path):
    """Net revenue per category, following the data dictionary's rules line by line."""
    rows, categories = [], {}
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        next(reader)
        for fields in reader:
            if len(fields) != FIELDS or any(fields[i] == "" for i in REQUIRED):
                continue
            try:
                datetime.strptime(fields[1], "%Y-%m-%d %H:%M:%S")
            except ValueError:
                continue
            order, product, category = fields[0], fields[3].strip(), fields[4].strip().title()
            rows.append((order, product, category, int(fields[5]), float(fields[6]),
                         float(fields[7])))
            if category:
                categories.setdefault(product, category)
    seen, totals = set(), defaultdict(float)
    for order, product, category, quantity, price, discount in rows:
        if order in seen:
            continue
        seen.add(order)
        category = category or categories.get(product, "Unknown")
        totals[category] += quantity * price * (1 - discount)
    return {c: round(v, 2) for c, v in totals.items()}


@pytest.mark.slow
def test_load_lesson_with_other_date_and_seed(tmp_path):
    pairs = [f"{k}={v}" for k, v in PARAMS.items()] + [f"workspace={tmp_path}"]
    out = tmp_path / "run.ipynb"
    result = subprocess.run(
        [sys.executable, "-m", "workbook", "run", "solutions/01_beginner/02_load.ipynb", *pairs,
         "--output", str(out)], cwd=paths.ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    data = next((tmp_path / "data").glob("sales-seed7-rows300-*"))
    expected = independent_totals(data / f"sales_{PARAMS['run_date']}.csv")
    report = tmp_path / "reports-lesson02" / f"sales_report_{PARAMS['run_date']}.csv"
    with open(report, encoding="utf-8") as f:
        got = {row["category"]: float(row["net_revenue"]) for row in csv.DictReader(f)}
    assert got.keys() == expected.keys()
    for category, value in expected.items():
        assert got[category] == pytest.approx(value, abs=0.005), category


def test_unknown_parameter_is_refused_with_the_known_ones():
    result = subprocess.run(
        [sys.executable, "-m", "workbook", "run", "solutions/01_beginner/00_orientation.ipynb",
         "colour=blue"], cwd=paths.ROOT, capture_output=True, text=True)
    assert result.returncode == 1
    assert "unknown parameter 'colour'" in result.stderr and "run_date" in result.stderr


def test_failing_cell_is_named_and_exit_is_nonzero(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "workbook", "run", "notebooks/01_beginner/00_orientation.ipynb",
         f"workspace={tmp_path}", "--output", str(tmp_path / "o.ipynb")],
        cwd=paths.ROOT, capture_output=True, text=True)
    assert result.returncode == 1
    assert "NotImplementedError" in result.stderr and "cell" in result.stderr


def test_not_a_notebook_exits_2(tmp_path):
    result = subprocess.run([sys.executable, "-m", "workbook", "run", str(tmp_path / "x.txt")],
                            cwd=paths.ROOT, capture_output=True, text=True)
    assert result.returncode == 2 and "is not a notebook file" in result.stderr
