"""Scores from how the checker's verdicts ended, never from anything the learner's kernel said.

A check passes when the checker ran its verdict on the learner's evidence and the verdict
raised nothing. The learner's kernel only decides whether an exercise was attempted and, when
the learner's own code failed, what to tell them about it.
"""

import re
from dataclasses import asdict, dataclass

from workbook import markers
from workbook.grading.assemble import Check, Plan


@dataclass
class ExerciseResult:
    exercise: str
    points: float
    max_points: float
    status: str  # passed | partial (some checks passed) | failed | not attempted | not graded
    feedback: str

    def as_dict(self) -> dict:
        return asdict(self)


def describe(reply: dict | None) -> str | None:
    """`Name: message` of a reply that ended in an error; a failed check says only its hint."""
    if not reply or reply.get("status") != "error":
        return None
    name, message = reply.get("ename") or "Error", str(reply.get("evalue") or "").strip()
    return message if name in ("CheckFailed", "CellTimeout") and message else \
        f"{name}: {message}".strip(": ")


def check_outcome(check: Check, status: dict) -> tuple[bool, str]:
    """Passed or not, and why, for one check."""
    learner, checker = status["replies"]["learner"], status["replies"]["checker"]
    if check.evidence_id and (error := describe(learner.get(check.evidence_id))):
        return False, f"your code failed while the check ran it: {error}"
    if check.export_id not in learner:
        died = status.get("learner_died_at")
        return False, ("check not run: your kernel died earlier (os._exit, a crash or a "
                       f"limit, in cell {died})" if died else "check not run: time limit reached")
    if check.cell_id not in checker:
        return False, "check not run: the checker stopped before it"
    if error := describe(checker.get(check.load_id)):
        return False, f"the grader could not read what your code produced: {error}"
    if error := describe(checker[check.cell_id]):
        return False, error
    return True, "passed"


NO_ANSWER = "no answer yet: replace raise NotImplementedError()"


def by_exercise(plan: Plan) -> dict[str, list[Check]]:
    grouped: dict[str, list[Check]] = {}
    for check in plan.checks:
        grouped.setdefault(check.exercise, []).append(check)
    return grouped


def unanswered(plan: Plan) -> list[ExerciseResult]:
    """Every exercise not attempted (a submission with no answer is not run)."""
    return [ExerciseResult(exercise, 0, sum(c.points for c in checks), "not attempted",
                           NO_ANSWER) for exercise, checks in by_exercise(plan).items()]


def score(plan: Plan, status: dict) -> list[ExerciseResult]:
    learner = status["replies"]["learner"]
    results: dict[str, ExerciseResult] = {}
    for exercise, checks in by_exercise(plan).items():
        max_points = sum(c.points for c in checks)
        answer_error = describe(learner.get(plan.answers.get(exercise, "")))
        if not plan.attempted.get(exercise, True) or (answer_error or "").startswith(
                "NotImplementedError"):
            results[exercise] = ExerciseResult(exercise, 0, max_points, "not attempted",
                                               NO_ANSWER)
            continue
        outcomes = [check_outcome(c, status) for c in checks]
        if all(ok for ok, _ in outcomes):
            results[exercise] = ExerciseResult(exercise, max_points, max_points, "passed",
                                               "passed")
            continue
        # Each check earns its own points: an exercise checked once on its own and once in a
        # run that needs later exercises keeps the first check's points.
        points = sum(c.points for c, (ok, _) in zip(checks, outcomes, strict=True) if ok)
        feedback = next(why for ok, why in outcomes if not ok)
        if answer_error:
            feedback = f"your answer cell failed: {answer_error}. Then: {feedback}"
        kind = "partial" if points else "failed"
        if needs := earlier_failure(plan, exercise, feedback, results):
            kind, feedback = ("partial" if points else "not graded"), needs
        results[exercise] = ExerciseResult(exercise, points, max_points, kind, feedback[:1000])
    return list(results.values())


UNDEFINED = re.compile(r"NameError: name '(\w+)' is not defined|`(\w+)` was never defined")
STATES = {"not attempted": "is not answered yet", "failed": "failed", "partial": "did not pass"}


def earlier_failure(plan: Plan, exercise: str, feedback: str,
                    done: dict[str, ExerciseResult]) -> str | None:
    """"not graded: needs X" when this exercise failed on a name that only an earlier exercise,
    which did not pass, was to define: its own answer may be right, but it cannot be judged
    until X works. The names come from the source's answers, never from the submission."""
    for match in UNDEFINED.finditer(feedback):
        name = match[1] or match[2]
        for provider in plan.providers.get(name, []):
            earlier = done.get(provider)
            if provider == exercise or not earlier or earlier.status == "passed":
                continue
            if earlier.status == "not graded":  # point at the exercise to fix: the root
                return earlier.feedback
            return (f"not graded: needs {provider}, which {STATES[earlier.status]} (`{name}` "
                    f"comes from it). Fix {provider} first.")
    return None


def setup_error(plan: Plan, status: dict) -> str | None:
    """Why a kernel could not set up (the grader's problem, not the learner's), if so: the
    checker's set-up cells, and the lesson's own set-up cells in the learner's kernel (copied
    from the source and run before any answer, so no answer can make them fail; without this,
    each exercise would be reported as the learner's error)."""
    sides = (("checker", plan.checker.cells[:plan.checker_setup]),
             ("learner", [cell for cell in plan.learner.cells if markers.role(cell) == "setup"]))
    for side, cells in sides:
        replies = status["replies"][side]
        for cell in cells:
            if error := describe(replies.get(cell.id)):
                return f"the {side}'s set-up failed in cell {cell.id}: {error[:300]}"
    return None
