"""A notebook run through `workbook run` with non-default parameters gives the right totals,
computed here independently (csv module, no pandas, no workbook.sales)."""

import csv
import subprocess
import sys

import pytest
from oracles import independent_totals

from workbook import paths

PARAMS = {"run_date": "2015-06-09", "seed": 7, "rows_per_day": 300, "days": 10}


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
