"""nbgrader-style markers in solution notebooks, and the workbook metadata on cells.

A solution cell carries `### BEGIN SOLUTION` ... `### END SOLUTION`; a check cell may carry
`### BEGIN HIDDEN TESTS` ... `### END HIDDEN TESTS`, and one `### VERDICT` line: above it, the
evidence (code that runs the learner's work and keeps what it produced), below it the verdict,
which reads only values and files, so the grader can run it apart from the learner's code.
Cells are identified by their id and `metadata.workbook` = {"exercise": name, "role":
"solution" | "check", "points": n}, or {"role": "setup"} for a cell the grader's checker runs
too (imports, parameters resolved, expected values: nothing that runs the learner's work).
"""

import re
from dataclasses import dataclass

MARKER = re.compile(r"^(?P<indent>\s*)### (?P<kind>BEGIN|END) (?P<name>[A-Z ]+?)\s*$")
LOOKS_LIKE_MARKER = re.compile(r"#+\s*(BEGIN|END)\s+(SOLUTION|HIDDEN)|^\s*#[#\s]*VERDICT\b",
                               re.IGNORECASE)
VERDICT = "### VERDICT"
ROLES = ("solution", "check", "setup")
KNOWN = {"SOLUTION": "solution", "HIDDEN TESTS": "check"}  # marker -> role it may appear in
CODE_STUB = ("# YOUR CODE HERE", "raise NotImplementedError()")
MARKDOWN_STUB = ("YOUR ANSWER HERE",)


class MarkerError(ValueError):
    """A marker is unknown, unbalanced, nested or in a cell whose role does not allow it."""


@dataclass(frozen=True)
class Block:
    name: str  # "SOLUTION" or "HIDDEN TESTS"
    start: int  # line index of BEGIN
    end: int  # line index of END
    indent: str


def find_blocks(source: str, where: str) -> list[Block]:
    """Marker blocks of a cell's source; raises MarkerError naming `where` on any problem."""
    blocks, open_block = [], None
    for number, line in enumerate(source.splitlines()):
        match = MARKER.match(line)
        if line == VERDICT:
            continue
        if not match:
            if LOOKS_LIKE_MARKER.search(line):
                raise MarkerError(f"{where}: malformed marker on line {number + 1}: {line!r}")
            continue
        kind, name = match["kind"], match["name"]
        if name not in KNOWN:
            raise MarkerError(f"{where}: unknown marker '### {kind} {name}' on line {number + 1}")
        if kind == "BEGIN":
            if open_block:
                raise MarkerError(f"{where}: '### BEGIN {name}' on line {number + 1} inside "
                                  f"an open '### BEGIN {open_block[0]}'")
            open_block = (name, number, match["indent"])
        else:
            if not open_block or open_block[0] != name:
                raise MarkerError(f"{where}: '### END {name}' on line {number + 1} without "
                                  f"a matching BEGIN")
            blocks.append(Block(name, open_block[1], number, open_block[2]))
            open_block = None
    if open_block:
        raise MarkerError(f"{where}: '### BEGIN {open_block[0]}' on line {open_block[1] + 1} "
                          f"is never closed")
    return blocks


def role(cell) -> str | None:
    return cell.get("metadata", {}).get("workbook", {}).get("role")


def exercise(cell) -> str | None:
    return cell.get("metadata", {}).get("workbook", {}).get("exercise")


def strip_cell(cell, where: str) -> str:
    """The student version of a cell's source."""
    source = cell["source"]
    blocks = find_blocks(source, where)
    for block in blocks:
        if role(cell) != KNOWN[block.name]:
            raise MarkerError(f"{where}: '### BEGIN {block.name}' needs cell metadata "
                              f"workbook.role = '{KNOWN[block.name]}' (found {role(cell)!r})")
    if VERDICT in source.splitlines():
        if role(cell) != "check":
            raise MarkerError(f"{where}: '{VERDICT}' belongs in a check cell "
                              f"(workbook.role = 'check', found {role(cell)!r})")
        split_check(source, where)
    lines = source.splitlines()
    stub = CODE_STUB if cell["cell_type"] == "code" else MARKDOWN_STUB
    for block in reversed(blocks):
        replacement = [block.indent + s for s in stub] if block.name == "SOLUTION" else []
        lines[block.start : block.end + 1] = replacement
    stripped = "\n".join(lines)
    if VERDICT in lines:
        evidence, verdict = split_check(stripped, where)
        if not evidence.strip():  # only hidden tests ran the learner's code: all verdict now
            return verdict
    return stripped


def split_check(source: str, where: str) -> tuple[str, str]:
    """(evidence, verdict) of a check cell's source: the parts above and below its `### VERDICT`
    line; a cell without one is all verdict."""
    lines = source.splitlines()
    at = [number for number, line in enumerate(lines) if line == VERDICT]
    if not at:
        return "", source
    if len(at) > 1:
        raise MarkerError(f"{where}: more than one '{VERDICT}' line")
    inside = [b for b in find_blocks(source, where) if b.start < at[0] < b.end]
    if inside:
        raise MarkerError(f"{where}: '{VERDICT}' on line {at[0] + 1} inside a hidden-tests block")
    return "\n".join(lines[:at[0]]), "\n".join(lines[at[0] + 1:])
