"""Grading time: one beginner submission, and a class of 30, against plain papermill runs of
the same notebooks one after another (no sandbox, no assembly, no scoring) as the baseline; and
where one grading spends its time, from the timings the grader records in each result."""

import json
import shutil
import statistics
import sys
from pathlib import Path

from benchmarks import measure
from workbook import course, paths, runner
from workbook.grading import samples

CLASS_SIZE = 30
ONE = "01_beginner/01_extract_transform"  # the level's main lesson


def class_roster(root: Path) -> list[Path]:
    """30 correct submissions: six learners, each handing in every beginner lesson."""
    keys = course.lesson_keys("01_beginner")
    written = []
    for i in range(CLASS_SIZE // len(keys)):
        written += [samples.write(samples.correct(key), root / f"learner-{i:02d}", key)
                    for key in keys]
    return written


def grade_command(target: Path, out: Path) -> list:
    return [sys.executable, "-m", "workbook", "grade", target, "--out", out]


def papermill_baseline(notebooks: list[Path], scratch: Path) -> float:
    """The same notebooks run by papermill one after another, in the learner's kernel, each
    learner's lessons in order in one workspace (lesson 04 runs the script 03 wrote)."""
    def run_all() -> None:
        for i, nb in enumerate(notebooks):
            runner.run_notebook(nb, {"workspace": str(scratch / nb.parent.name)},
                                scratch / f"out-{i}.ipynb")
    return measure.timed(run_all)


def breakdown(outs: list[Path], runs: tuple[measure.Run, ...]) -> dict:
    """Each step's median start and end (seconds since `grade()` began) and each kind of cell's
    median busy time, over the runs whose results are in `outs`; and the grader process's own
    share (Python, imports, writing the reports): its wall time less `grade()`'s."""
    results = [json.loads(next(out.rglob("*.json")).read_text()) for out in outs]
    median = statistics.median

    def common(kind: str) -> list[str]:
        return [name for name in results[0]["timings"][kind]
                if all(name in r["timings"][kind] for r in results)]

    spans = {name: (median(r["timings"]["spans"][name][0] for r in results),
                    median(r["timings"]["spans"][name][1] for r in results))
             for name in common("spans")}
    return {"spans": dict(sorted(spans.items(), key=lambda item: item[1])),
            "busy": {name: median(r["timings"]["busy"][name] for r in results)
                     for name in common("busy")},
            "process": median(run.seconds - r["duration_s"]
                              for run, r in zip(runs, results, strict=True)),
            "grade": median(r["duration_s"] for r in results)}


def grading_figures(data: Path, repeats: int) -> dict[str, object]:
    """Times and peak memory (the largest process of the grading) with their baselines."""
    root = data / "grading"
    shutil.rmtree(root, ignore_errors=True)
    one = samples.write(samples.correct(ONE), root / "one" / "learner", ONE)
    outs = [root / f"grades-one-{i}" for i in range(repeats)]
    one_runs = tuple(measure.run_process(grade_command(one, out), root / f"one-{i}.log",
                                         cwd=paths.ROOT) for i, out in enumerate(outs))
    print(f"  one submission: {measure.Figure(one_runs).seconds:.1f} s", flush=True)
    roster = class_roster(root / "class")
    whole = measure.run_process(grade_command(root / "class", root / "grades-class"),
                                root / "class.log", cwd=paths.ROOT)
    print(f"  class of {len(roster)}: {whole.seconds:.0f} s", flush=True)
    one_baseline = papermill_baseline([one], root / "baseline-one")
    class_baseline = papermill_baseline(roster, root / "baseline-class")
    return {"one": measure.Figure(one_runs), "class": measure.Figure((whole,)),
            "one_baseline": one_baseline, "class_baseline": class_baseline,
            "class_size": len(roster), "one_breakdown": breakdown(outs, one_runs)}
