"""A notebook run through `workbook run` with non-default parameters gives the right totals,
computed here independently (csv module, no pandas, no workbook.sales)."""

import csv
import subprocess
import sys
from pathlib import Path

import kernel_probe
import nbformat
import pytest
from oracles import independent_totals

from workbook import kernel_ipc, paths

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


def test_run_starts_the_kernel_over_ipc_quietly(tmp_path):
    """No "Kernel is running over TCP without encryption" on every run, and no TCP port for
    Jupyter's channels (another user of a workshop machine could reach one); the sockets stay
    out of the notebook's folder."""
    notebook = tmp_path / "transport.ipynb"
    probe = nbformat.v4.new_code_cell(kernel_probe.TRANSPORT_AND_PORTS)
    nb = nbformat.v4.new_notebook(cells=[probe], metadata={
        "kernelspec": {"name": "workbook-beginner", "display_name": "beginner",
                       "language": "python"},
        "language_info": {"name": "python"}})
    nbformat.write(nb, notebook)
    out = tmp_path / "out" / "ran.ipynb"
    result = subprocess.run(
        [sys.executable, "-m", "workbook", "run", str(notebook), "--output", str(out)],
        cwd=paths.ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "without encryption" not in result.stderr, result.stderr
    [output] = nbformat.read(out, as_version=4).cells[0].outputs
    assert output["text"] == kernel_probe.EXPECTED
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "transport.ipynb"]


def test_a_runtime_folder_too_deep_for_unix_sockets_keeps_tcp():
    """A socket path longer than sun_path would stop every kernel from starting: keep TCP."""
    deep = Path("/", "checkout" * 10, "runtime")
    assert (kernel_ipc.lab_options(deep), kernel_ipc.run_config(deep)) == ([], {})
    assert kernel_ipc.lab_options(Path("/tmp/runtime")) == ["--KernelManager.transport=ipc"]


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


BAD_VALUES = {  # KEY=VALUE -> (notebook, what the one line must say)
    "run_date=2015-13-45": ("00_orientation", "run_date must be a date in YYYY-MM-DD format"),
    "run_date=June 5": ("00_orientation", "run_date must be a date in YYYY-MM-DD format"),
    "seed=[": ("00_orientation", "seed must be an integer"),
    "seed=abc": ("00_orientation", "seed must be an integer"),
    "seed=1.5": ("00_orientation", "seed must be an integer"),
    "days=true": ("00_orientation", "days must be an integer"),
    "install_cron=abc": ("04_scheduling_with_cron", "install_cron must be true or false"),
}


@pytest.mark.parametrize("pair", BAD_VALUES)
def test_a_bad_value_is_one_line_naming_the_parameter_and_its_format(pair, tmp_path):
    """Refused before any kernel starts: exit 1, one line on stderr, no executed notebook."""
    notebook, says = BAD_VALUES[pair]
    out = tmp_path / "o.ipynb"
    result = subprocess.run(
        [sys.executable, "-m", "workbook", "run", f"solutions/01_beginner/{notebook}.ipynb",
         pair, f"workspace={tmp_path}", "--output", str(out)],
        cwd=paths.ROOT, capture_output=True, text=True)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"workbook run: {says}, not {pair.partition('=')[2]!r}"], result.stderr
    assert not out.exists()


def test_good_values_keep_their_type():
    from workbook import runner

    known = {"run_date": {"default": '"2015-06-03"'}, "seed": {"default": "2015"},
             "install_cron": {"default": "False"}, "workspace": {"default": "None"},
             "ratio": {"default": "0.5"}, "label": {"default": '"north"'}}
    assert runner.parse_params(
        ["run_date=2015-06-09", "seed=7", "install_cron=true", "workspace=null", "ratio=1",
         "label=123"], known) == {"run_date": "2015-06-09", "seed": 7, "install_cron": True,
                                  "workspace": None, "ratio": 1, "label": "123"}
    assert runner.parse_params(["workspace=/tmp/w", "ratio=0.25"], known) == {
        "workspace": "/tmp/w", "ratio": 0.25}
    with pytest.raises(runner.RunError, match="^ratio must be a number, not 'x'$"):
        runner.parse_params(["ratio=x"], known)
