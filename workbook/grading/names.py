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


def _binds(node: ast.AST) -> set[str]:
    """The names one node binds: an assignment target, an import, a def, a loop target..."""
    if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
        return {node.id}
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return {node.name}
    if isinstance(node, ast.Import | ast.ImportFrom):
        return {(alias.asname or alias.name).split(".")[0] for alias in node.names}
    if isinstance(node, ast.ExceptHandler) and node.name:
        return {node.name}
    return set()


def defined(source: str) -> set[str]:
    """Names the cell binds anywhere: assignments, imports, functions, classes, loop targets."""
    return set().union(*map(_binds, ast.walk(parse(source))))


SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda, ast.ListComp,
          ast.SetComp, ast.DictComp, ast.GeneratorExp)


def bound(source: str) -> set[str]:
    """Names the cell binds at its top level: the globals it leaves for later cells (a def's
    name, but not the names bound inside its body)."""
    names, todo = set(), list(parse(source).body)
    while todo:
        node = todo.pop()
        names |= _binds(node)
        if not isinstance(node, SCOPES):
            todo.extend(ast.iter_child_nodes(node))
    return names


def needed(verdict: str, known: set[str]) -> list[str]:
    """What a verdict reads that neither it nor the checker (`known`) defines, sorted."""
    return sorted(read(verdict) - defined(verdict) - known)
