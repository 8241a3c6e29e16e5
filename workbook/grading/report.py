"""Grading results as files: JSON, Markdown and JUnit XML per notebook; a class gradebook."""

import csv
import html
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from workbook.grading.grade import GradeResult

SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def stem(result: GradeResult) -> Path:
    """grades/<learner>/<notebook name>: where one result's files go."""
    name = (result.notebook or Path(result.submission).stem).replace("/", "__")
    return Path(SAFE.sub("_", result.learner)) / SAFE.sub("_", name)


def markdown(result: GradeResult) -> str:
    lines = [f"# {result.notebook or Path(result.submission).name}: {result.learner}", "",
             f"**Score: {result.score:g} / {result.max_score:g}**"
             f" (graded in {result.duration_s:.1f} s)", ""]
    if result.exercises:
        lines += ["| exercise | points | status | feedback |", "| --- | --- | --- | --- |"]
        for e in result.exercises:
            feedback = e["feedback"].replace("|", "\\|").replace("\n", " ")
            mark = {"passed": "✅", "partial": "🟡", "failed": "❌"}.get(e["status"], "⬜")
            lines.append(f"| {e['exercise']} | {e['points']:g} / {e['max_points']:g} | "
                         f"{mark} {e['status']} | {feedback} |")
        lines.append("")
    for title, items in (("Errors", result.errors), ("Notes", result.notes),
                         ("Sandbox warnings", result.warnings)):
        if items:
            lines += [f"## {title}", "", *[f"- {item}" for item in items], ""]
    if result.parameters:
        params = ", ".join(f"`{k}={v}`" for k, v in result.parameters.items())
        lines += [f"Graded with parameters {params}.", ""]
    return "\n".join(lines)


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


def feedback_html(result: GradeResult) -> str:
    """The learner's feedback as a page the gradebook links to (a browser shows it as is)."""
    rows = "".join(
        f"<tr class='{e['status'].replace(' ', '-')}'><td>{html.escape(e['exercise'])}</td>"
        f"<td>{e['points']:g} / {e['max_points']:g}</td><td>{html.escape(e['status'])}</td>"
        f"<td>{html.escape(e['feedback'])}</td></tr>" for e in result.exercises)
    lists = "".join(
        f"<h2>{title}</h2><ul>{''.join(f'<li>{html.escape(i)}</li>' for i in items)}</ul>"
        for title, items in (("Errors", result.errors), ("Notes", result.notes),
                             ("Sandbox warnings", result.warnings)) if items)
    title = html.escape(f"{result.notebook or Path(result.submission).name}: {result.learner}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title>"
            f"<style>{STYLE}</style></head><body><h1>{title}</h1>"
            f"<p><b>Score: {result.score:g} / {result.max_score:g}</b></p>"
            f"<table><tr><th>exercise</th><th>points</th><th>status</th><th>feedback</th></tr>"
            f"{rows}</table>{lists}</body></html>\n")


def write_result(result: GradeResult, out: Path) -> Path:
    base = out / stem(result)
    base.parent.mkdir(parents=True, exist_ok=True)
    base.with_suffix(".json").write_text(json.dumps(result.as_dict(), indent=1) + "\n")
    base.with_suffix(".md").write_text(markdown(result))
    base.with_suffix(".html").write_text(feedback_html(result), encoding="utf-8")
    base.with_suffix(".xml").write_text(junit(result))
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


def write_gradebook(results: list[GradeResult], out: Path) -> tuple[Path, Path]:
    header, rows = gradebook_rows(results)
    csv_path = out / "gradebook.csv"
    with open(csv_path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    html_path = out / "gradebook.html"
    html_path.write_text(gradebook_html(header, rows, results), encoding="utf-8")
    return csv_path, html_path


STYLE = """body{font-family:system-ui,sans-serif;margin:2em}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}
td:first-child,td:last-child{text-align:left}
th{background:#f3f3f3;font-size:0.85em}.full,.passed{background:#e6f4ea}
.zero,.failed{background:#fce8e6}.not-attempted{background:#f1f3f4}
.partial{background:#fef7e0}"""


def gradebook_html(header: list[str], rows: list[list], results: list[GradeResult]) -> str:
    links: dict[str, list[str]] = {}
    for r in results:
        target = stem(r).with_suffix(".html").as_posix()
        links.setdefault(r.learner, []).append(
            f'<a href="{html.escape(target)}">{html.escape(r.notebook or "submission")}</a>')
    head = "".join(f"<th>{html.escape(h)}</th>" for h in [*header, "feedback"])
    body = []
    for row in rows:
        learner, score, max_score = row[0], row[-3], row[-2]
        css = ("full" if float(max_score) and score == max_score
               else "zero" if float(score) == 0 else "")
        cells = "".join(f"<td>{html.escape(str(v))}</td>" for v in row)
        body.append(f'<tr class="{css}">{cells}<td>{" ".join(links.get(learner, []))}</td></tr>')
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>Gradebook</title>"
            f"<style>{STYLE}</style></head><body><h1>Gradebook</h1>"
            f"<p>{len(rows)} learner(s), {len(results)} notebook(s) graded.</p>"
            f"<table><tr>{head}</tr>{''.join(body)}</table></body></html>\n")
