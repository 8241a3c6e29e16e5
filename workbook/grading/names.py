"""Which names a cell reads and which it defines, read from its source (never run).

The grader uses it to know what a verdict needs from the learner's kernel: the names the
verdict reads that the checker does not define itself (in the parameters, the setup cells and
the verdicts before it). Only those cross the boundary, as data.
"""

import ast
import builtins

from IPython.core.inputtransformer2 import TransformerManager

BUILTINS = frozenset([*dir(builtins), "get_ipython"])  # IPython adds get_ipython to builtins


def parse(source: str) -> ast.Module:
    """The cell as Python (IPython's magics and shell escapes turned into calls first)."""
    return ast.parse(TransformerManager().transform_cell(source))


def read(source: str) -> set[str]:
    """Names the cell loads (globals it may read), builtins excluded."""
    return {node.id for node in ast.walk(parse(source))
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)} - BUILTINS


def defined(source: str) -> set[str]:
    """Names the cell binds anywhere: assignments, imports, functions, classes, loop targets."""
    names = set()
    for node in ast.walk(parse(source)):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            names.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
    return names


def needed(verdict: str, known: set[str]) -> list[str]:
    """What a verdict reads that neither it nor the checker (`known`) defines, sorted."""
    return sorted(read(verdict) - defined(verdict) - known)
