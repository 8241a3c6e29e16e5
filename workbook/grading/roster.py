"""Grade one notebook or a class (submissions/<learner>/<notebook>.ipynb), in parallel.

Every learner gets a row, whatever their files do: a failure is caught per learner and reported
in that learner's results, and a class's gradebook is always written. The exit code says whether
every submission could be graded (0), some could not (1, each says why), or the grader could
not run at all (2).
"""

import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from workbook import paths, services
from workbook.grading import grade, identify, report, sandbox

EXIT_ALL_GRADED, EXIT_SOME_UNGRADED, EXIT_CANNOT_RUN = 0, 1, 2


class RosterError(ValueError):
    """The grader cannot run (nothing to grade, no sources); exit non-zero."""


def find_submissions(path: Path) -> list[tuple[str, Path]]:
    """(learner, notebook) pairs: a single file, or <learner>/<notebook>.ipynb under a folder."""
    if path.is_file():
        return [(learner_of_file(path), path)]
    if not path.is_dir():
        raise RosterError(f"{path} does not exist")
    found = sorted(p for p in path.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
    if not found:
        raise RosterError(f"no notebooks under {path}")
    return [(p.relative_to(path).parts[0] if p.parent != path else p.stem, p) for p in found]


def learner_of_file(path: Path) -> str:
    """Who a single notebook belongs to: its folder's name, unless that is one of the course's
    own folders (a learner grading notebooks/<level>/<lesson>.ipynb is just "me")."""
    folder = path.resolve().parent
    own = folder.is_relative_to(paths.NOTEBOOKS) or folder.is_relative_to(paths.SOLUTIONS)
    return "me" if own or not folder.name else folder.name


def default_workers() -> int:
    return max(1, (os.cpu_count() or 1))


def grade_one(learner: str, path: Path, job: grade.Job, out: Path) -> grade.GradeResult:
    """One learner's notebook, graded and written; never raises."""
    result = grade.grade(path, learner, job)
    try:
        report.write_result(result, out)
    except Exception as err:  # a result that cannot be written still counts in the gradebook
        result.errors.append(f"its feedback files could not be written: {err}")
        result.graded = False
    return result


def grade_all(path: Path, out: Path, source_root: Path, workers: int,
              limits: sandbox.Limits) -> list[grade.GradeResult]:
    """Grade every submission; one learner's crash or hang never affects another's grade."""
    from tqdm import tqdm

    if not source_root.is_dir():
        raise RosterError(f"source notebooks not found at {source_root}")
    submissions = find_submissions(path)
    out.mkdir(parents=True, exist_ok=True)
    job = grade.Job(source_root, limits)
    services.prepare()
    results: list[grade.GradeResult] = []
    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(grade_one, learner, nb, job, out)
                       for learner, nb in submissions]
            results = [f.result() for f in tqdm(futures, desc="grading", unit="notebook",
                                                 file=sys.stderr)]
    finally:
        if path.is_dir():  # one notebook never replaces the class's gradebook beside it
            report.write_gradebook(results, out)
    return results


def where(results: list[grade.GradeResult], path: Path, out: Path) -> str:
    """Where to look: one notebook's feedback page, or the class's gradebook."""
    if path.is_dir():
        return f"results in {out}/ (gradebook.csv, gradebook.html, <learner>/*.html|md|json|xml)"
    page = (out / report.stem(results[0])).with_suffix(".html")
    return f"feedback in {page} (the same as .md, .json and JUnit .xml beside it)"


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
        return EXIT_CANNOT_RUN
    for r in results:
        status = f"{r.score:g}/{r.max_score:g}" if r.graded else "; ".join(r.errors)[:80]
        print(f"{r.learner:20} {r.notebook or Path(r.submission).name:40} {status}")
    ungraded = [r for r in results if not r.graded]
    print(where(results, Path(path), Path(out)))
    if ungraded:
        print(f"{len(ungraded)} of {len(results)} submission(s) could not be graded: "
              f"{', '.join(sorted({r.learner for r in ungraded}))}", file=sys.stderr)
        return EXIT_SOME_UNGRADED
    return EXIT_ALL_GRADED
