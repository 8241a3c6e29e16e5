"""Plausible wrong answers, kept as tests: each must fail its own exercise with a hint that
names the mistake (issue 10's standard for every lesson).

A mistake is the solution's answer cell with one fragment replaced, so it stays in step with
the solution: when the fragment is gone from the solution, `submission` says so instead of
grading a stale case. The grader shows the check's own message, so its feedback is what the
learner reads under the check cell in JupyterLab.
"""

from dataclasses import dataclass

from workbook import markers
from workbook.grading import samples


@dataclass(frozen=True)
class Mistake:
    name: str  # a learner name in the roster: unique, short
    lesson: str  # a course lesson key
    cell: str  # the id of the answer cell the mistake is made in
    right: str  # a fragment of the solution's answer ...
    wrong: str  # ... and what the mistaken learner writes instead
    hint: str  # words the failed check's message must contain

    def exercise(self) -> str:
        solution, _ = samples.lesson(self.lesson)
        return next(markers.exercise(c) for c in solution.cells if c.id == self.cell)

    def submission(self):
        """The lesson answered correctly, except for this mistake."""
        solution, student = samples.lesson(self.lesson)
        answers = samples.answers(solution)
        if self.right not in answers.get(self.cell, ""):
            raise ValueError(f"mistake {self.name}: the solution's cell {self.cell} no longer "
                             f"contains {self.right!r}; update tests/mistakes.py")
        answers[self.cell] = answers[self.cell].replace(self.right, self.wrong)
        return samples.submission(student, answers)


MISTAKES = (
    Mistake("read-without-keep-default-na", "01_beginner/01_extract_transform",
            "read-day-solution", right=" keep_default_na=False,", wrong="",
            hint="keep_default_na=False"),
    Mistake("no-delete-before-insert", "01_beginner/02_load", "load-day-solution",
            right='conn.execute("DELETE FROM sales WHERE sale_date = ?", (day.isoformat(),))\n',
            wrong="", hint="delete the day's rows before inserting them again"),
    Mistake("sum-without-round", "01_beginner/02_load", "revenue-sql-solution",
            right="ROUND(SUM(revenue), 2) AS", wrong="SUM(revenue) AS",
            hint="not a whole number of cents: round the sum"),
    Mistake("sum-of-rounded-lines", "01_beginner/02_load", "revenue-sql-solution",
            right="ROUND(SUM(revenue), 2) AS", wrong="SUM(ROUND(revenue, 2)) AS",
            hint="rounding each line first"),
    Mistake("bad-input-logged-as-warning", "01_beginner/03_notebook_to_script",
            "script-main-solution", right='log.error("bad input: %s", err)',
            wrong='log.warning("bad input: %s", err)',
            hint="your script logged `WARNING sales_report: bad input: sales_2015-06-06.csv"),
    Mistake("bad-input-printed", "01_beginner/03_notebook_to_script", "script-main-solution",
            right='log.error("bad input: %s", err)', wrong='print(f"bad input: {err}")',
            hint="your script logged nothing about the bad input"),
    Mistake("cron-every-minute-of-hour-8", "01_beginner/04_scheduling_with_cron",
            "schedule-solution", right='"0 8 * * *"', wrong='"* 8 * * *"',
            hint="'*' in the minute field means every minute"),
    Mistake("request-without-timeout", "02_intermediate/02_sources", "weather-call-solution",
            right=", timeout=(3.05, 10))", wrong=")", hint="timeout="),
    Mistake("no-raise-for-status", "02_intermediate/02_sources", "weather-call-solution",
            right="    response.raise_for_status()\n", wrong="", hint="raise_for_status()"),
    Mistake("warehouse-load-without-delete", "02_intermediate/03_the_dag",
            "idempotent-load-solution",
            right='            con.execute(f"DELETE FROM {TABLE} WHERE sale_date = ?", [day])\n',
            wrong="", hint="delete the day's rows before inserting"),
    Mistake("psycopg2-error-class", "02_intermediate/04_reliability", "fail-fast-solution",
            right='"psycopg.errors.UndefinedColumn"', wrong='"psycopg2.errors.UndefinedColumn"',
            hint="psycopg 3"),
    Mistake("python-loop-over-xcomarg", "02_intermediate/05_dynamic_mapping", "expand-solution",
            right="    load(enrich.expand(store=stores))\n",
            wrong="    load([enrich(store) for store in stores])\n", hint=".expand("),
)
