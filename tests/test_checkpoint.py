"""`make checkpoint` never destroys a learner's work: what it changes is backed up and named,
and a failed checkpoint leaves the workspace as it was."""

import subprocess
from pathlib import Path

import pytest

from workbook import checkpoint, lesson_files, paths, runner

RELIABILITY = "notebooks/02_intermediate/04_reliability.ipynb"  # it requires 03_the_dag
MINE = "# my own DAG, half done\nfrom airflow.sdk import dag\n"


def solution_dags() -> dict[str, str]:
    """The files lesson 03's solution writes into the dags folder."""
    return {f"dags/{name}": text
            for name, text in lesson_files.files(["02_intermediate/03_the_dag"]).items()}


def fake_run(writes: dict[str, str], fail: bool = False):
    """A stand-in for running a solution: writes `writes` into the workspace (as the real
    solutions do), then fails if asked."""
    def run_notebook(notebook, params, output, timeout=runner.CELL_TIMEOUT_S):
        workspace = Path(params["workspace"])
        for name, text in writes.items():
            (workspace / name).parent.mkdir(parents=True, exist_ok=True)
            (workspace / name).write_text(text)
        (workspace / "airflow_home").mkdir(exist_ok=True)
        (workspace / "airflow_home" / "airflow.db").write_bytes(b"state")  # not the learner's
        if fail:
            raise runner.RunError("cell 7 (execution count 5) failed: RuntimeError: boom")
        return output
    return run_notebook


@pytest.fixture
def learner(tmp_path) -> Path:
    """A learner's workspace: their own store_weather.py, notes, and an untouched file."""
    workspace = tmp_path / "workspace"
    dags = solution_dags()
    (workspace / "dags").mkdir(parents=True)
    (workspace / "dags" / "store_weather.py").write_text(MINE)
    untouched = next(name for name in dags if not name.endswith("store_weather.py"))
    (workspace / untouched).write_text(dags[untouched])  # already the solution's version
    (workspace / "notes.md").write_text("what I learned\n")
    return workspace


def test_the_solution_files_are_the_ones_the_fixture_uses():
    assert {"dags/store_weather.py", "dags/northwind_warehouse.py"} <= set(solution_dags())


def test_a_changed_dag_file_survives_in_a_backup_and_is_named(learner, monkeypatch, capsys):
    dags = solution_dags()
    monkeypatch.setattr(runner, "run_notebook", fake_run(dags))
    assert checkpoint.main(RELIABILITY, str(learner)) == 0
    out = capsys.readouterr().out
    backups = list((learner / checkpoint.BACKUPS).iterdir())
    assert len(backups) == 1
    kept = sorted(str(p.relative_to(backups[0])) for p in backups[0].rglob("*") if p.is_file())
    assert kept == ["dags/store_weather.py"]  # only what changed; not Airflow's state
    assert (backups[0] / "dags" / "store_weather.py").read_text() == MINE
    assert (learner / "dags" / "store_weather.py").read_text() == dags["dags/store_weather.py"]
    assert f"your versions are in {backups[0]}" in out
    assert "\n  dags/store_weather.py\n" in out and "1 of your files" in out
    assert (learner / "notes.md").read_text() == "what I learned\n"


def test_two_checkpoints_keep_two_backups(learner, monkeypatch, capsys):
    monkeypatch.setattr(runner, "run_notebook", fake_run(solution_dags()))
    assert checkpoint.main(RELIABILITY, str(learner)) == 0
    (learner / "dags" / "store_weather.py").write_text(MINE + "# second try\n")
    assert checkpoint.main(RELIABILITY, str(learner)) == 0
    backups = sorted((learner / checkpoint.BACKUPS).iterdir())
    assert [(b / "dags" / "store_weather.py").read_text() for b in backups] == [
        MINE, MINE + "# second try\n"]


def test_nothing_changed_leaves_no_backup(learner, monkeypatch, capsys):
    mine = {"dags/store_weather.py": MINE}
    monkeypatch.setattr(runner, "run_notebook", fake_run(mine))
    assert checkpoint.main(RELIABILITY, str(learner)) == 0
    assert not (learner / checkpoint.BACKUPS).exists()
    assert "your files" not in capsys.readouterr().out


def test_a_failed_checkpoint_leaves_the_workspace_as_it_was(learner, monkeypatch, capsys):
    before = checkpoint.work_files(learner)
    monkeypatch.setattr(runner, "run_notebook", fake_run(
        {**solution_dags(), "dags/helpers/new.py": "x = 1\n"}, fail=True))
    assert checkpoint.main(RELIABILITY, str(learner)) == 1
    assert checkpoint.work_files(learner) == before
    assert (learner / "dags" / "store_weather.py").read_text() == MINE
    assert not (learner / "dags" / "helpers").exists()
    assert not (learner / checkpoint.BACKUPS).exists()
    err = capsys.readouterr().err
    assert "RuntimeError: boom" in err and "is as it was" in err


@pytest.mark.slow
def test_make_checkpoint_backs_up_the_learners_script(tmp_path):
    """For real: `make checkpoint NB=... WORKSPACE=...` runs lesson 03's solution into the
    given workspace; the learner's own sales_report.py is kept and named."""
    workspace = tmp_path / "mine"
    workspace.mkdir()
    own = "print('my own report, not finished')\n"
    (workspace / "sales_report.py").write_text(own)
    result = subprocess.run(
        ["make", "--no-print-directory", "checkpoint",
         "NB=notebooks/01_beginner/04_scheduling_with_cron.ipynb", f"WORKSPACE={workspace}"],
        cwd=paths.ROOT, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert f"{workspace}: ready for 04_scheduling_with_cron" in result.stdout
    assert "\n  sales_report.py\n" in result.stdout
    [backup] = (workspace / checkpoint.BACKUPS).iterdir()
    assert (backup / "sales_report.py").read_text() == own
    assert [p.name for p in backup.iterdir()] == ["sales_report.py"]
    assert "def main(" in (workspace / "sales_report.py").read_text()  # the solution's now
