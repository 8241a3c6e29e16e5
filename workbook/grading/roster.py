"""Grade one notebook or a class (submissions/<learner>/<notebook>.ipynb), in parallel."""

import os
import queue
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from workbook import paths
from workbook.grading import grade, identify, report, sandbox


class RosterError(ValueError):
    """The grader cannot run (nothing to grade, no sources); exit non-zero."""


def find_submissions(path: Path) -> list[tuple[str, Path]]:
    """(learner, notebook) pairs: a single file, or <learner>/<notebook>.ipynb under a folder."""
    if path.is_file():
        return [(path.parent.name or "learner", path)]
    if not path.is_dir():
        raise RosterError(f"{path} does not exist")
    found = sorted(p for p in path.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
    if not found:
        raise RosterError(f"no notebooks under {path}")
    return [(p.relative_to(path).parts[0] if p.parent != path else p.stem, p) for p in found]


def hidden_folders(path: Path, out: Path) -> tuple[Path, ...]:
    """What the learner's code must not see: sources with hidden tests, the other submissions,
    the grades. Never the repository itself (the kernel imports the workbook from it)."""
    roster = path if path.is_dir() else path.parent
    candidates = {p.resolve() for p in (paths.SOLUTIONS, roster, out) if p.exists()}
    return tuple(sorted(p for p in candidates if not paths.ROOT.resolve().is_relative_to(p)))


def default_workers() -> int:
    return max(1, (os.cpu_count() or 1))


def grade_all(path: Path, out: Path, source_root: Path, workers: int,
              limits: sandbox.Limits) -> list[grade.GradeResult]:
    """Grade every submission; one learner's crash or hang never affects another's grade."""
    from tqdm import tqdm

    if not source_root.is_dir():
        raise RosterError(f"source notebooks not found at {source_root}")
    submissions = find_submissions(path)
    out.mkdir(parents=True, exist_ok=True)
    hidden = hidden_folders(path, out)
    slots: queue.Queue[int] = queue.Queue()
    for slot in range(workers):
        slots.put(slot)

    def one(item: tuple[str, Path]) -> grade.GradeResult:
        slot = slots.get()
        try:
            job = grade.Job(source_root, hidden, limits, slot)
            result = grade.grade(item[1], item[0], job)
        finally:
            slots.put(slot)
        report.write_result(result, out)
        return result

    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(tqdm(pool.map(one, submissions), total=len(submissions),
                            desc="grading", unit="notebook", file=sys.stderr))
    report.write_gradebook(results, out)
    return results


def main(path: str, out: str, source: str | None, workers: int | None,
         cell_timeout: int, total_timeout: int) -> int:
    paths.apply_jupyter_environ()
    source_root = Path(source) if source else identify.default_source_root()
    limits = sandbox.Limits(cell_timeout_s=cell_timeout, total_timeout_s=total_timeout)
    try:
        results = grade_all(Path(path), Path(out), source_root, workers or default_workers(),
                            limits)
    except RosterError as err:
        print(f"workbook grade: {err}", file=sys.stderr)
        return 2
    for r in results:
        status = f"{r.score:g}/{r.max_score:g}" if not r.errors else "; ".join(r.errors)[:80]
        print(f"{r.learner:20} {r.notebook or Path(r.submission).name:40} {status}")
    print(f"results in {out}/ (gradebook.csv, gradebook.html, <learner>/*.html|md|json|xml)")
    return 0
