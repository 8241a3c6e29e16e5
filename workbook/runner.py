"""`workbook run`: execute a notebook with papermill in its own kernel, with parameters."""

import ast
import datetime as dt
import re
import sys
from pathlib import Path

from workbook import kernel_ipc, paths


class RunError(RuntimeError):
    """The run could not start (bad path, unknown parameter) or a cell failed."""


ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
# What each kind of parameter takes, as the one-line error says it.
EXPECTED = {"date": "a date in YYYY-MM-DD format", "bool": "true or false",
            "int": "an integer", "float": "a number", "str": "a text", None: "a YAML value"}


def kind_of(default: str) -> str | None:
    """What a parameter takes, judged by its default in the notebook's parameters cell (the
    source text papermill reports): 'date' for a YYYY-MM-DD string, else the default's type;
    None when the default is None or no literal (any YAML value then)."""
    try:
        value = ast.literal_eval(default)
    except (ValueError, SyntaxError, TypeError):
        return None
    if isinstance(value, str) and ISO_DAY.fullmatch(value):
        return "date"
    return {bool: "bool", int: "int", float: "float", str: "str"}.get(type(value))


def parse_value(key: str, text: str, kind: str | None):
    """One parameter's value from its text, or RunError in one line naming the parameter and
    what it takes (never YAML's or the notebook's traceback)."""
    import yaml

    if kind == "date":
        try:
            if ISO_DAY.fullmatch(text):
                dt.date.fromisoformat(text)
                return text  # dates stay text: a notebook cannot receive a date object
        except ValueError:
            pass
    elif kind == "str":
        return text
    else:
        try:
            value = yaml.safe_load(text)
        except (yaml.YAMLError, ValueError):  # ValueError: a date-like text that is no date
            pass
        else:
            if isinstance(value, dt.date):
                value = text
            if kind is None:
                return value
            numeric = isinstance(value, int | float) and not isinstance(value, bool)
            if {"bool": isinstance(value, bool), "int": numeric and isinstance(value, int),
                    "float": numeric}[kind]:
                return value
    raise RunError(f"{key} must be {EXPECTED[kind]}, not {text!r}")


def parse_params(pairs: list[str], known: dict) -> dict:
    """KEY=VALUE pairs with YAML values (`seed=7`, `data_dir=null`), each checked against what
    its default in the notebook takes; an unknown key or a bad value is a RunError."""
    params = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise RunError(f"parameter {pair!r} is not KEY=VALUE")
        if key not in known:
            raise RunError(f"unknown parameter {key!r}; this notebook takes: {', '.join(known)}")
        params[key] = parse_value(key, value, kind_of(known[key].get("default", "None")))
    return params


CELL_TIMEOUT_S = 600  # a lesson's slowest cell (an Airflow run) takes about a minute here


def default_output(notebook: Path) -> Path:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return paths.RUNS / f"{notebook.stem}-{stamp}.ipynb"


def run_notebook(notebook: Path, params: dict, output: Path,
                 timeout: int = CELL_TIMEOUT_S) -> Path:
    """Execute `notebook` in the kernel its metadata names; raises RunError on a failed cell."""
    import papermill as pm
    from traitlets.config import Config

    output.parent.mkdir(parents=True, exist_ok=True)
    paths.JUPYTER_RUNTIME.mkdir(parents=True, exist_ok=True)
    try:
        pm.execute_notebook(
            str(notebook), str(output), parameters=params, cwd=str(notebook.parent),
            execution_timeout=timeout, progress_bar=False, log_output=False,
            config=Config(kernel_ipc.run_config(paths.JUPYTER_RUNTIME)),
        )
    except pm.PapermillExecutionError as err:
        raise RunError(
            f"cell {err.cell_index} (execution count {err.exec_count}) failed: "
            f"{err.ename}: {err.evalue}\nthe executed notebook is {output}"
        ) from err
    return output


def main(notebook: str, pairs: list[str], output: str | None, timeout: int) -> int:
    import papermill as pm

    paths.apply_jupyter_environ()
    path = Path(notebook)
    if not path.is_file() or path.suffix != ".ipynb":
        print(f"workbook run: {notebook} is not a notebook file", file=sys.stderr)
        return 2
    try:
        known = pm.inspect_notebook(str(path))
        params = parse_params(pairs, known)
        out = run_notebook(path, params, Path(output) if output else default_output(path),
                           timeout)
    except RunError as err:
        print(f"workbook run: {err}", file=sys.stderr)
        return 1
    print(f"ran {notebook} -> {out}")
    return 0
