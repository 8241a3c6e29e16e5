"""The notebook the grader runs: the source's cells and tests, the learner's answers.

Never trusting the submission: every cell but the learner's answer cells comes from the source,
matched by cell id, so a moved, edited, duplicated or deleted check cell is put back as it
should be. Each check cell is preceded by a guard cell that restores what learner code may have
patched, and ends by printing a secret nonce: a check passes only when its cell printed its own
nonce last and raised nothing.
"""

import ast
import copy
import secrets
from dataclasses import dataclass, field

import nbformat
from papermill.parameterize import parameterize_notebook

from workbook import markers

PASS_MARK = "WORKBOOK-CHECK-PASSED"
GRADER_TAG = "workbook-grader"

# Runs before any learner code: what the guard restores later.
PRELUDE = """\
import builtins as _wb_builtins_module, importlib as _wb_importlib, pkgutil as _wb_pkgutil
import sys as _wb_sys, types as _wb_types, workbook as _wb_package
_wb_ip = get_ipython()
for _wb_info in _wb_pkgutil.walk_packages(_wb_package.__path__, "workbook.", lambda _: None):
    if not _wb_info.name.startswith(("workbook.grading", "workbook.__main__")):
        try:
            _wb_importlib.import_module(_wb_info.name)
        except Exception:
            pass  # a module this kernel's environment cannot import: not one the lesson uses
_wb_modules = {n: (m, dict(vars(m))) for n, m in list(_wb_sys.modules.items())
               if n.split(".")[0] == "workbook"}
_wb_classes = [v for _, d in _wb_modules.values() for v in d.values()
               if isinstance(v, type) and v.__module__.split(".")[0] == "workbook"]
_wb_snapshot = {
    "builtins": dict(_wb_builtins_module.__dict__),
    "transformers": [(o, a, list(getattr(o, a))) for o, a in (
        (_wb_ip.input_transformer_manager, "cleanup_transforms"),
        (_wb_ip.input_transformer_manager, "line_transforms"),
        (_wb_ip, "input_transformers_post"), (_wb_ip, "ast_transformers"))],
    "events": {e: list(c) for e, c in _wb_ip.events.callbacks.items()},
    "hooks": (_wb_sys.displayhook, _wb_sys.excepthook, type(_wb_ip).run_cell),
    "modules": _wb_modules,
    "classes": [(c, dict(vars(c))) for c in _wb_classes],
    "functions": [(f, f.__code__, f.__defaults__, f.__kwdefaults__)
                  for d in [*(d for _, d in _wb_modules.values()), *map(vars, _wb_classes)]
                  for f in d.values() if isinstance(f, _wb_types.FunctionType)],
}
"""

GUARD = """\
import importlib as _wb_importlib, sys as _wb_sys
_wb_sys.settrace(None)
_wb_sys.setprofile(None)
_wb_builtins_module.__dict__.update(_wb_snapshot["builtins"])
for _wb_owner, _wb_name, _wb_value in _wb_snapshot["transformers"]:
    setattr(_wb_owner, _wb_name, list(_wb_value))
for _wb_name, _wb_value in _wb_snapshot["events"].items():
    _wb_ip.events.callbacks[_wb_name] = list(_wb_value)
_wb_sys.displayhook, _wb_sys.excepthook, _wb_run_cell = _wb_snapshot["hooks"]
if type(_wb_ip).run_cell is not _wb_run_cell or "run_cell" in vars(_wb_ip):
    raise RuntimeError("the notebook replaced IPython's run_cell: grading refused")
for _wb_name, (_wb_module, _wb_dict) in _wb_snapshot["modules"].items():
    _wb_sys.modules[_wb_name] = _wb_module
    _wb_module.__dict__.clear()
    _wb_module.__dict__.update(_wb_dict)
for _wb_class, _wb_dict in _wb_snapshot["classes"]:
    for _wb_name in set(vars(_wb_class)) - set(_wb_dict):
        delattr(_wb_class, _wb_name)
    for _wb_name, _wb_value in _wb_dict.items():
        if _wb_name not in ("__dict__", "__weakref__") and \\
                vars(_wb_class).get(_wb_name) is not _wb_value:
            setattr(_wb_class, _wb_name, _wb_value)
for _wb_function, _wb_code, _wb_defaults, _wb_kwdefaults in _wb_snapshot["functions"]:
    _wb_function.__code__, _wb_function.__defaults__ = _wb_code, _wb_defaults
    _wb_function.__kwdefaults__ = _wb_kwdefaults
for _wb_name in sorted(n for n in list(_wb_sys.modules) if n.split(".")[0] == "workbook"
                       and n not in _wb_snapshot["modules"]):
    _wb_importlib.reload(_wb_sys.modules[_wb_name])
"""


@dataclass(frozen=True)
class CheckCell:
    cell_id: str
    exercise: str
    points: float
    nonce: str
    guard_id: str


@dataclass
class Assembly:
    notebook: nbformat.NotebookNode
    checks: list[CheckCell]
    answers: dict[str, str]  # exercise -> id of its answer cell
    attempted: dict[str, bool]
    notes: list[str] = field(default_factory=list)


def _code(source: str, cell_id: str, tag: str | None = None):
    cell = nbformat.v4.new_code_cell(source, id=cell_id)
    if tag:
        cell.metadata["tags"] = [tag]
    return cell


def setup_imports(source_nb) -> str:
    """The import statements of the source's own code cells: the guard re-runs them, so names
    like `checks` point at the real modules again even if learner code rebound them."""
    lines = []
    for cell in source_nb.cells:
        if cell.cell_type != "code" or markers.role(cell) or cell.source.lstrip().startswith("%"):
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        lines += [ast.unparse(node) for node in tree.body
                  if isinstance(node, ast.Import | ast.ImportFrom)]
    return "\n".join(dict.fromkeys(lines))


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
        elif cell.cell_type == "code":
            added.setdefault(previous, []).append(cell)
    return by_id, added, copies


def chosen_answer(cell, submitted, copies: list, notes: list[str]) -> str:
    """The learner's answer: their cell, or a copy of it they worked in instead."""
    stub = markers.strip_cell(cell, cell.id)
    original = submitted.source if submitted is not None else None
    if original is not None and original.strip() != stub.strip():
        return original
    worked = [c for c in copies if c.source.strip() != stub.strip()]
    if worked:
        notes.append(f"the answer to {markers.exercise(cell)} was taken from a copy of its cell")
        return worked[0].source
    if submitted is None:
        notes.append(f"answer cell {cell.id} ({markers.exercise(cell)}) is missing: "
                     f"not attempted")
    return stub


def assemble(source_nb, submission, parameters: dict) -> Assembly:
    notes: list[str] = []
    source_ids = {c.id for c in source_nb.cells}
    by_id, added, copies = index_submission(submission, source_ids)
    cells = [_code(PRELUDE, "wb-prelude", GRADER_TAG)]
    checks, answers, attempted = [], {}, {}
    guard = GUARD + setup_imports(source_nb) + "\n"
    for cell in source_nb.cells:
        role, exercise = markers.role(cell), markers.exercise(cell)
        submitted = by_id.get(cell.id)
        if role == "solution":
            answer = chosen_answer(cell, submitted, copies.get((role, exercise), []), notes)
            answers[exercise] = cell.id
            attempted[exercise] = answer.strip() != markers.strip_cell(cell, cell.id).strip()
            cells.append(_code(answer, cell.id))
        elif role == "check":
            if submitted is None:
                notes.append(f"check cell {cell.id} was deleted: restored from the source")
            elif submitted.source != markers.strip_cell(cell, cell.id):
                notes.append(f"check cell {cell.id} was edited: restored from the source")
            if copies.get((role, exercise)):
                notes.append(f"a copy of check cell {cell.id} was ignored")
            nonce = secrets.token_hex(16)
            guard_id = f"wb-guard-{cell.id}"
            cells.append(_code(guard, guard_id, GRADER_TAG))
            cells.append(_code(f"{cell.source}\nprint('{PASS_MARK} {nonce}')", cell.id))
            checks.append(CheckCell(cell.id, exercise,
                                    float(cell.metadata["workbook"].get("points", 0)),
                                    nonce, guard_id))
        elif cell.cell_type == "code":
            cells.append(_code(cell.source, cell.id))
            cells[-1].metadata = copy.deepcopy(cell.metadata)
        cells += [_code(extra.source, extra.id) for extra in added.get(cell.id, [])]
    for cell in cells:
        cell.metadata.setdefault("tags", [])  # papermill's parameterize expects the key
    nb = nbformat.v4.new_notebook(metadata=copy.deepcopy(source_nb.metadata), cells=cells)
    nb.metadata.setdefault("papermill", {})  # where parameterize records the parameters
    nb = parameterize_notebook(nb, parameters, report_mode=False)
    return Assembly(nb, checks, answers, attempted, notes)
