"""The two notebooks a grading run executes: the learner's, and the checker's.

Never trusting the submission: every cell but the learner's answer cells comes from the source,
matched by cell id, so a moved, edited, duplicated or deleted check cell is put back as it
should be.

- The learner's notebook: the lesson's cells with the learner's answers; at each check, the
  check's evidence (the code above its `### VERDICT`, which runs the learner's work) and an
  export of the values its verdict reads, as data. It ends at the last check of an answered
  exercise: nothing after it can earn a point.
- The checker's notebook: a guard, the parameters, the lesson's setup cells, and at each check
  the import of that evidence and the verdict (the code below `### VERDICT`).

The checker runs no learner code and takes from the learner only the names its verdict reads
and does not define itself: the parameters, the lesson's context and the expected values are
always its own, computed with the grading parameters.
"""

import copy
from dataclasses import dataclass, field

import nbformat

from workbook import markers
from workbook.grading import names

GRADER_TAG = "workbook-grader"
LEARNER_KERNEL, CHECKER_KERNEL = "wb-learner", "wb-checker"


@dataclass(frozen=True)
class Check:
    cell_id: str  # the source's check cell (also the id of its verdict in the checker)
    exercise: str
    points: float
    evidence_id: str | None  # the learner's cell running the evidence, if the check has one
    export_id: str
    load_id: str
    reads: tuple[str, ...]  # the names that cross from the learner's kernel


@dataclass
class Plan:
    learner: nbformat.NotebookNode
    checker: nbformat.NotebookNode
    checks: list[Check]
    answers: dict[str, str]  # exercise -> id of its answer cell
    attempted: dict[str, bool]
    checker_setup: int  # how many cells the checker runs before the first verdict
    providers: dict[str, list[str]]  # a global -> the exercises whose answers bind it, in order
    notes: list[str] = field(default_factory=list)

    def verdicts(self) -> dict[str, list[str]]:
        """The learner's export cell -> the checker's cells that judge it."""
        return {c.export_id: [c.load_id, c.cell_id] for c in self.checks}


def _code(source: str, cell_id: str, tag: str | None = None):
    cell = nbformat.v4.new_code_cell(source, id=cell_id)
    cell.metadata["tags"] = [tag] if tag else []
    return cell


def _copy(cell):
    """A source cell as it runs: its source, id and metadata (tags, workbook role)."""
    new = _code(cell.source, cell.id)
    new.metadata = copy.deepcopy(cell.metadata)
    return new


def index_submission(submission, source_ids: set[str]) -> tuple[dict, dict, dict]:
    """Submitted cells by id; learner-added code cells by the id of the cell they follow; and
    copies of exercise cells (a duplicated cell gets a new id but keeps the metadata)."""
    by_id, added, copies, previous = {}, {}, {}, None
    for cell in submission.cells:
        cell_id = cell.get("id")
        if "injected-parameters" in cell.get("metadata", {}).get("tags", []):
            continue
        if cell_id in source_ids:
            by_id.setdefault(cell_id, cell)
            previous = cell_id
        elif markers.role(cell):
            copies.setdefault((markers.role(cell), markers.exercise(cell)), []).append(cell)
        elif cell.get("cell_type") == "code":
            added.setdefault(previous, []).append(cell)
    return by_id, added, copies


def chosen_answer(cell, submitted, copies: list, notes: list[str]) -> str:
    """The learner's answer: their cell, or a copy of it they worked in instead."""
    stub = markers.strip_cell(cell, cell.id)
    original = submitted.get("source") if submitted is not None else None
    if isinstance(original, str) and original.strip() != stub.strip():
        return original
    worked = [c for c in copies if isinstance(c.get("source"), str)
              and c.source.strip() != stub.strip()]
    if worked:
        notes.append(f"the answer to {markers.exercise(cell)} was taken from a copy of its cell")
        return worked[0].source
    if submitted is None:
        notes.append(f"answer cell {cell.id} ({markers.exercise(cell)}) is missing: "
                     f"not attempted")
    return stub


def check_notes(cell, submitted, copies: list) -> list[str]:
    notes = []
    if submitted is None:
        notes.append(f"check cell {cell.id} was deleted: restored from the source")
    elif submitted.get("source") != markers.strip_cell(cell, cell.id):
        notes.append(f"check cell {cell.id} was edited: restored from the source")
    if copies:
        notes.append(f"a copy of check cell {cell.id} was ignored")
    return notes


def parameters_cell(parameters: dict):
    """The cell papermill injects (its tag, one assignment a line), written here: importing
    papermill (requests, pyarrow) would add half a second to every `workbook grade`. The
    parameters are the source's own (trusted) metadata: names, and values that are literals."""
    if bad := [name for name in parameters if not str(name).isidentifier()]:
        raise ValueError(f"grading parameters that are not Python names: {bad}")
    lines = ["# Parameters", *(f"{name} = {value!r}" for name, value in parameters.items())]
    return _code("\n".join(lines) + "\n", "injected-parameters", "injected-parameters")


def notebook(source_nb, cells: list, kernel: str, parameters: dict):
    """The cells with the grading parameters injected after the `parameters` cell, as papermill
    does (at the top when there is none)."""
    tagged = [i for i, cell in enumerate(cells) if "parameters" in cell.metadata.get("tags", [])]
    at = tagged[0] + 1 if tagged else 0
    cells = [*cells[:at], parameters_cell(parameters), *cells[at:]]
    nb = nbformat.v4.new_notebook(metadata=copy.deepcopy(source_nb.metadata), cells=cells)
    nb.metadata["kernelspec"] = {"name": kernel, "display_name": kernel, "language": "python"}
    return nb


def evidence_cells(check: Check, evidence: str, folder: str) -> tuple[list, object]:
    """The learner's cells of a check (its evidence, the export) and the checker's (the load)."""
    module = "from workbook.grading import evidence as _wb_evidence\n"
    learner = [_code(evidence, check.evidence_id)] if check.evidence_id else []
    learner.append(_code(f"{module}_wb_evidence.export(globals(), {folder!r}, "
                         f"{list(check.reads)!r})", check.export_id, GRADER_TAG))
    load = _code(f"{module}_wb_evidence.load(globals(), {folder!r}, {list(check.reads)!r})",
                 check.load_id, GRADER_TAG)
    return learner, load


def up_to_the_last_answer(cells: list, checks: list[Check], attempted: dict[str, bool],
                          notes: list[str]) -> list:
    """The learner's cells up to the last check of an answered exercise. What follows earns
    nothing: the lesson's closing demonstrations, and on partial work every exercise after it,
    unanswered, which scores 0 unrun. It is often most of a partial submission's run."""
    exports = {check.export_id: check.exercise for check in checks
               if attempted.get(check.exercise)}
    last = max((i for i, cell in enumerate(cells) if cell.id in exports), default=len(cells))
    if {check.export_id for check in checks} & {cell.id for cell in cells[last + 1:]}:
        notes.append(f"the notebook ran up to the checks of {exports[cells[last].id]}: no "
                     f"exercise after it is answered")
    return cells[:last + 1]


def assemble(source_nb, submission, parameters: dict, evidence_root: str,
             learner_root: str) -> Plan:
    """The learner's and the checker's notebooks for `submission` of `source_nb`."""
    notes: list[str] = []
    by_id, added, copies = index_submission(submission, {c.id for c in source_nb.cells})
    guard = _code(f"from workbook.grading import checker as _wb_checker\n"
                  f"_wb_checker.guard({learner_root!r})", "wb-guard", GRADER_TAG)
    learner_cells, checker_cells, verdicts = [], [guard], []
    checks, answers, attempted, providers = [], {}, {}, {}
    trusted = [c for c in source_nb.cells if c.cell_type == "code" and (
        markers.role(c) == "setup" or "parameters" in c.metadata.get("tags", []))]
    known = set(parameters).union(*(names.defined(c.source) for c in trusted))
    trusted_ids = {c.id for c in trusted}
    for cell in source_nb.cells:
        role, exercise = markers.role(cell), markers.exercise(cell)
        submitted = by_id.get(cell.id)
        if cell.cell_type != "code":
            continue
        if cell.id in trusted_ids:
            learner_cells.append(_copy(cell))
            checker_cells.append(_copy(cell))
        elif role == "solution":
            answer = chosen_answer(cell, submitted, copies.get((role, exercise), []), notes)
            answers[exercise] = cell.id
            for name in names.bound(cell.source):  # the source's answer: what later cells use
                providers.setdefault(name, []).append(exercise)
            attempted[exercise] = answer.strip() != markers.strip_cell(cell, cell.id).strip()
            learner_cells.append(_code(answer, cell.id))
        elif role == "check":
            notes += check_notes(cell, submitted, copies.get((role, exercise), []))
            evidence, verdict = markers.split_check(cell.source, cell.id)
            check = Check(cell.id, exercise, float(cell.metadata["workbook"].get("points", 0)),
                          f"wb-evidence-{cell.id}" if evidence.strip() else None,
                          f"wb-export-{cell.id}", f"wb-load-{cell.id}",
                          tuple(names.needed(verdict, known)))
            learner, load = evidence_cells(check, evidence, f"{evidence_root}/{len(checks)}")
            learner_cells += learner
            verdicts += [load, _code(verdict, cell.id)]
            known |= names.defined(verdict)
            checks.append(check)
        else:
            learner_cells.append(_copy(cell))
        learner_cells += [_code(extra.source, f"wb-added-{len(learner_cells)}-{n}")
                          for n, extra in enumerate(added.get(cell.id, []))
                          if isinstance(extra.get("source"), str)]
    learner_cells = up_to_the_last_answer(learner_cells, checks, attempted, notes)
    setup = len(checker_cells) + 1  # and the injected parameters
    return Plan(notebook(source_nb, learner_cells, LEARNER_KERNEL, parameters),
                notebook(source_nb, checker_cells + verdicts, CHECKER_KERNEL, parameters),
                checks, answers, attempted, setup, providers, notes)
