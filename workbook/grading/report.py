"""Grading results as files: JSON, Markdown, HTML and JUnit XML per notebook; a class gradebook.

Markdown and HTML render one model (`feedback`), so they say the same things. Everything a
learner's files can influence (their folder's name, hints quoting their values, notes) is
escaped for the format it goes into, and file names made from it are sanitised.
"""

import csv
import hashlib
import html
import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from workbook.grading.grade import GradeResult

UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]|~])")  # what formats inline text (HTML is escaped)
MARKS = {"passed": "✅", "partial": "🟡", "failed": "❌", "not graded": "⏭"}


def safe_name(text: str) -> str:
    """A file name made from untrusted text: letters, digits, '-' and '_' only; a short hash
    keeps two names that sanitise alike apart."""
    clean = UNSAFE.sub("_", text).strip("_")[:60]
    if clean == text:
        return clean
    return f"{clean or 'x'}-{hashlib.sha256(text.encode()).hexdigest()[:8]}"


def stem(result: GradeResult) -> Path:
    """grades/<learner>/<notebook name>: where one result's files go."""
    name = result.notebook.replace("/", "__") if result.notebook else Path(result.submission).stem
    return Path(safe_name(result.learner)) / safe_name(name)


@dataclass(frozen=True)
class Feedback:
    """What every human-readable format shows, as plain (unescaped) text."""

    title: str
    score: str
    rows: list[tuple[str, str, str, str]]  # exercise, points, status, feedback
    lists: list[tuple[str, list[str]]]  # (heading, items)
    footer: str


def feedback(result: GradeResult) -> Feedback:
    rows = [(e["exercise"], f"{e['points']:g} / {e['max_points']:g}",
             f"{MARKS.get(e['status'], '⬜')} {e['status']}", e["feedback"])
            for e in result.exercises]
    lists = [(title, items) for title, items in (
        ("Errors", result.errors), ("Notes", result.notes), ("Sandbox warnings", result.warnings))
        if items]
    params = ", ".join(f"{k}={v}" for k, v in result.parameters.items())
    footer = (f"Graded in {result.duration_s:.1f} s" +
              (f" with the parameters {params}." if params else "."))
    score = f"{result.score:g} / {result.max_score:g}" if result.graded else "not graded"
    return Feedback(f"{result.notebook or Path(result.submission).name}: {result.learner}",
                    score, rows, lists, footer)


def md(text: str) -> str:
    """Learner text for Markdown: no HTML, no formatting, one line."""
    flat = " ".join(str(text).split())
    return MARKDOWN_SPECIAL.sub(r"\\\1", html.escape(flat, quote=False))


def markdown(result: GradeResult) -> str:
    view = feedback(result)
    lines = [f"# {md(view.title)}", "", f"**Score: {view.score}**", ""]
    if view.rows:
        lines += ["| exercise | points | status | feedback |", "| --- | --- | --- | --- |"]
        lines += [f"| {' | '.join(md(cell) for cell in row)} |" for row in view.rows]
        lines.append("")
    for heading, items in view.lists:
        lines += [f"## {heading}", "", *[f"- {md(item)}" for item in items], ""]
    lines += [md(view.footer), ""]
    return "\n".join(lines)


STYLE = """body{font-family:system-ui,sans-serif;margin:2em}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}
td:first-child,td:last-child{text-align:left}
th{background:#f3f3f3;font-size:0.85em}.full,.passed{background:#e6f4ea}
.zero,.failed{background:#fce8e6}.not-attempted,.not-graded{background:#f1f3f4}
.partial{background:#fef7e0}"""


def page(title: str, body: str) -> str:
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
            f"</title><style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>{body}"
            f"</body></html>\n")


def feedback_html(result: GradeResult) -> str:
    """The learner's feedback as a page the gradebook links to."""
    view = feedback(result)
    rows = "".join(
        f"<tr class='{html.escape(e['status'].replace(' ', '-'))}'>"
        + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>"
        for e, row in zip(result.exercises, view.rows, strict=True))
    lists = "".join(f"<h2>{html.escape(heading)}</h2><ul>"
                    + "".join(f"<li>{html.escape(item)}</li>" for item in items) + "</ul>"
                    for heading, items in view.lists)
    table = ("<table><tr><th>exercise</th><th>points</th><th>status</th><th>feedback</th></tr>"
             f"{rows}</table>") if rows else ""
    return page(view.title, f"<p><b>Score: {html.escape(view.score)}</b></p>{table}{lists}"
                            f"<p>{html.escape(view.footer)}</p>")


def junit(result: GradeResult) -> str:
    name = result.notebook or Path(result.submission).stem
    suite = ET.Element("testsuite", name=f"{result.learner}.{name}",
                       time=f"{result.duration_s:.2f}")
    failures = errors = 0
    for e in result.exercises:
        case = ET.SubElement(suite, "testcase", classname=name, name=e["exercise"])
        if e["status"] != "passed":
            failures += 1
            ET.SubElement(case, "failure", type=e["status"].replace(" ", "-"),
                          message=e["feedback"][:300]).text = e["feedback"]
    for error in result.errors:
        errors += 1
        case = ET.SubElement(suite, "testcase", classname=name, name="submission")
        ET.SubElement(case, "error", message=error[:300]).text = error
    suite.set("tests", str(len(result.exercises) + len(result.errors)))
    suite.set("failures", str(failures))
    suite.set("errors", str(errors))
    return ET.tostring(suite, encoding="unicode", xml_declaration=True)


def write_result(result: GradeResult, out: Path) -> Path:
    base = out / stem(result)
    base.parent.mkdir(parents=True, exist_ok=True)
    base.with_suffix(".json").write_text(json.dumps(result.as_dict(), indent=1) + "\n")
    base.with_suffix(".md").write_text(markdown(result), encoding="utf-8")
    base.with_suffix(".html").write_text(feedback_html(result), encoding="utf-8")
    base.with_suffix(".xml").write_text(junit(result), encoding="utf-8")
    return base


def columns(results: list[GradeResult]) -> list[tuple[str, str]]:
    """(notebook, exercise) pairs in first-seen order: the gradebook's columns."""
    seen = {}
    for r in results:
        for e in r.exercises:
            seen.setdefault((r.notebook, e["exercise"]), None)
    return list(seen)


def gradebook_rows(results: list[GradeResult]) -> tuple[list[str], list[list]]:
    cols = columns(results)
    header = ["learner", *[f"{nb}:{ex}" for nb, ex in cols], "score", "max_score", "errors"]
    by_learner: dict[str, list[GradeResult]] = {}
    for r in results:
        by_learner.setdefault(r.learner, []).append(r)
    rows = []
    for learner, mine in sorted(by_learner.items()):
        points = {(r.notebook, e["exercise"]): f"{e['points']:g}" for r in mine
                  for e in r.exercises}
        rows.append([learner, *[points.get(c, "") for c in cols],
                     f"{sum(r.score for r in mine):g}", f"{sum(r.max_score for r in mine):g}",
                     "; ".join(err for r in mine for err in r.errors)])
    return header, rows


def spreadsheet_safe(value) -> str:
    """A CSV cell a spreadsheet will not run as a formula."""
    text = str(value)
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def write_gradebook(results: list[GradeResult], out: Path) -> tuple[Path, Path]:
    header, rows = gradebook_rows(results)
    csv_path = out / "gradebook.csv"
    with open(csv_path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows([[spreadsheet_safe(v) for v in row] for row in rows])
    html_path = out / "gradebook.html"
    html_path.write_text(gradebook_html(rows, results), encoding="utf-8")
    return csv_path, html_path


def gradebook_head(results: list[GradeResult]) -> str:
    """Two header rows: each lesson once over its exercises (the CSV spells out both)."""
    lessons: dict[str, list[str]] = {}
    for notebook, exercise in columns(results):
        lessons.setdefault(notebook, []).append(exercise)
    side = "".join(f"<th rowspan='2'>{name}</th>"
                   for name in ("score", "max_score", "errors", "feedback"))
    top = "".join(f"<th colspan='{len(exercises)}'>{html.escape(notebook or 'submission')}</th>"
                  for notebook, exercises in lessons.items())
    below = "".join(f"<th>{html.escape(e)}</th>" for exercises in lessons.values()
                    for e in exercises)
    return f"<tr><th rowspan='2'>learner</th>{top}{side}</tr><tr>{below}</tr>"


def gradebook_html(rows: list[list], results: list[GradeResult]) -> str:
    links: dict[str, list[str]] = {}
    for r in results:
        target = stem(r).with_suffix(".html").as_posix()
        links.setdefault(r.learner, []).append(
            f'<a href="{html.escape(target)}">{html.escape(r.notebook or "submission")}</a>')
    body = []
    for row in rows:
        learner, score, max_score = row[0], row[-3], row[-2]
        css = ("full" if float(max_score) and score == max_score
               else "zero" if float(score) == 0 else "")
        cells = "".join(f"<td>{html.escape(str(v))}</td>" for v in row)
        body.append(f'<tr class="{css}">{cells}<td>{" ".join(links.get(learner, []))}</td></tr>')
    return page("Gradebook", f"<p>{len(rows)} learner(s), {len(results)} notebook(s) graded.</p>"
                             f"<table>{gradebook_head(results)}{''.join(body)}</table>")
