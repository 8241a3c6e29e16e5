"""Scores from what the kernel produced (the executed notebook), never from what it wrote."""

import re
from dataclasses import asdict, dataclass

from workbook.grading.assemble import PASS_MARK, Assembly

ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass
class ExerciseResult:
    exercise: str
    points: float
    max_points: float
    status: str  # passed | partial (some of its checks passed) | failed | not attempted
    feedback: str

    def as_dict(self) -> dict:
        return asdict(self)


def error_of(cell) -> str | None:
    """`Name: message` of the cell's error output, if it raised."""
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            return ANSI.sub("", f"{output.get('ename')}: {output.get('evalue')}").strip()
    return None


def printed_last(cell) -> str:
    """The cell's last line of standard output."""
    text = "".join(o.get("text", "") for o in cell.get("outputs", [])
                   if o.get("output_type") == "stream" and o.get("name") == "stdout")
    lines = text.strip().splitlines()
    return lines[-1] if lines else ""


def check_outcome(cells: dict, check, died_at: str | None) -> tuple[bool, str]:
    """Passed or not, and why, for one check cell."""
    cell = cells.get(check.cell_id)
    if cell is None or cell.get("execution_count") is None:
        reason = f"the kernel died earlier ({died_at})" if died_at else "it did not run"
        return False, f"check not run: {reason}"
    if guard_error := error_of(cells[check.guard_id]):
        return False, (f"the check could not run: the grader's guard before it failed "
                       f"({guard_error}); the notebook broke or tampered with the kernel")
    if error := error_of(cell):
        return False, error
    if printed_last(cell) != f"{PASS_MARK} {check.nonce}":
        return False, "the check did not finish normally (its output was tampered with)"
    return True, "passed"


def first_dead_cell(executed) -> str | None:
    """The cell that was running when the kernel died: the last one with an execution count."""
    ran = [c for c in executed.cells if c.get("execution_count") is not None]
    return f"cell {ran[-1].id}" if ran else None


def score(assembly: Assembly, executed, kernel_died: bool) -> list[ExerciseResult]:
    cells = {c.id: c for c in executed.cells}
    died_at = first_dead_cell(executed) if kernel_died else None
    by_exercise: dict[str, list] = {}
    for check in assembly.checks:
        by_exercise.setdefault(check.exercise, []).append(check)
    results = []
    for exercise, checks in by_exercise.items():
        max_points = sum(c.points for c in checks)
        outcomes = [check_outcome(cells, c, died_at) for c in checks]
        answer = cells.get(assembly.answers.get(exercise, ""))
        not_implemented = answer is not None and (error_of(answer) or "").startswith(
            "NotImplementedError")
        if not assembly.attempted.get(exercise, True) or not_implemented:
            results.append(ExerciseResult(exercise, 0, max_points, "not attempted",
                                          "no answer yet: replace raise NotImplementedError()"))
        elif all(ok for ok, _ in outcomes):
            results.append(ExerciseResult(exercise, max_points, max_points, "passed", "passed"))
        else:
            # Each check cell earns its own points: an exercise checked once on its own and
            # once in a run that needs later exercises keeps the first check's points.
            points = sum(c.points for c, (ok, _) in zip(checks, outcomes, strict=True) if ok)
            feedback = next(why for ok, why in outcomes if not ok)
            answer_error = error_of(answer) if answer is not None else None
            if answer_error:
                feedback = f"your answer cell raised {answer_error}; then: {feedback}"
            results.append(ExerciseResult(exercise, points, max_points,
                                          "partial" if points else "failed", feedback[:1000]))
    return results
