"""Friendly checks for the notebooks' check cells: a success line, or a specific hint.

A failed check raises CheckFailed (an AssertionError), so papermill, nbval and the grader all
see it. In a notebook, its output is the message alone, not a traceback through this module
(IPython ignores `__tracebackhide__`): the learner reads the hint where it belongs.
"""

import math
from decimal import ROUND_HALF_DOWN, ROUND_HALF_UP, Decimal

import pandas as pd

# One cent, plus float noise: SQLite and pandas may round a half cent differently.
CENT = 0.0101


class CheckFailed(AssertionError):
    """The learner's answer is not right yet; the message says what differs and hints why."""


def _show_the_hint(shell, etype, value, tb, tb_offset=None) -> list[str]:
    """IPython's handler for CheckFailed: the cell still fails (papermill and nbval stop, the
    error output names CheckFailed), and what it shows is the message."""
    shown = [f"\x1b[1;31m❌ {value}\x1b[0m"]
    shell._showtraceback(etype, value, shown)  # the kernel publishes it as the cell's error
    return shown


def _install_in_ipython() -> None:
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None and CheckFailed not in shell.custom_exceptions:
        shell.set_custom_exc((*shell.custom_exceptions, CheckFailed), _show_the_hint)


_install_in_ipython()


def ok(message: str) -> None:
    print(f"✅ {message}")


def expect(condition: bool, message: str) -> None:
    __tracebackhide__ = True
    if not condition:
        raise CheckFailed(message)


def expect_equal(actual, expected, what: str, hint: str = "") -> None:
    __tracebackhide__ = True
    expect(actual == expected, _message(f"{what} is {actual!r}, expected {expected!r}", hint))


def expect_close(actual: float, expected: float, what: str, hint: str = "",
                 tolerance: float = CENT) -> None:
    __tracebackhide__ = True
    close = isinstance(actual, int | float) and math.isclose(actual, expected, abs_tol=tolerance)
    expect(close, _message(f"{what} is {_fmt(actual)}, expected {_fmt(expected)}", hint))


def expect_frame(actual, expected: pd.DataFrame, what: str,
                 hints: dict[str, str] | None = None, tolerance: float = CENT) -> None:
    """Compare tables cell by cell and report the first difference by row label and column."""
    __tracebackhide__ = True
    hints = hints or {}
    expect(isinstance(actual, pd.DataFrame),
           f"{what} should be a pandas DataFrame, got {type(actual).__name__}")
    missing = [c for c in expected.columns if c not in actual.columns]
    expect(not missing, f"{what} lacks column(s) {missing}; it has {list(actual.columns)}")
    expect_equal(sorted(map(str, actual.index)), sorted(map(str, expected.index)),
                 f"the rows of {what} (its index)", hints.get("index", ""))
    for column in expected.columns:
        for label in expected.index:
            got, want = actual.at[label, column], expected.at[label, column]
            same = (math.isclose(float(got), float(want), abs_tol=tolerance)
                    if _is_number(want) and _is_number(got) else got == want)
            expect(bool(same), _message(
                f"{what}: {column} for {label!r} is {_fmt(got)}, expected {_fmt(want)}",
                hints.get(column, "")))


def roundings(exact: Decimal, places: int = 2) -> list[Decimal]:
    """The right roundings of an exact amount: the nearest, or either neighbour of a tie (rules
    differ there: SQLite's ROUND takes the half cent up, pandas rounds the float, which holds
    2376.585 as 2376.58499999...)."""
    step = Decimal(1).scaleb(-places)
    return sorted({exact.quantize(step, ROUND_HALF_DOWN), exact.quantize(step, ROUND_HALF_UP)})


def expect_rounded(actual: pd.Series, exact: pd.Series, what: str, unrounded: str = "",
                   wrong: str = "") -> None:
    """Each amount of `actual` is the `exact` total (a Decimal) of its label rounded to the
    cent; the first that is not whole cents gets the hint `unrounded`, a wrong one `wrong`."""
    __tracebackhide__ = True
    expect_equal(sorted(map(str, actual.index)), sorted(map(str, exact.index)),
                 f"the rows of {what} (its index)")
    for label, total in exact.items():
        got = actual[label]
        expect(_is_number(got), f"{what}: {label!r} is {got!r}, not a number")
        cents = Decimal(f"{float(got):.2f}")
        expect(math.isclose(float(got), float(cents), abs_tol=1e-9), _message(
            f"{what}: {label!r} is {float(got)!r}, not a whole number of cents", unrounded))
        right = roundings(total)
        expect(cents in right, _message(
            f"{what}: {label!r} is {_fmt(got)}, expected {' or '.join(map(_fmt, right))} "
            f"(the exact total is {total})", wrong))


def expect_logged(lines: list[str], level: str, words: str, what: str = "your script",
                  when: str = "", hint: str = "") -> None:
    """One of the log `lines` ('LEVEL name: message', no timestamp) is at `level` and contains
    `words`; if none is, the message quotes what was logged instead."""
    __tracebackhide__ = True
    if any(line.startswith(f"{level} ") and words in line for line in lines):
        return
    logged = "; ".join(f"`{line}`" for line in lines[:3]) if lines else f"nothing {when}"
    expect(False, _message(f"{what} logged {logged}; expected {words!r} at {level} level",
                           hint))


def _is_number(value) -> bool:
    return isinstance(value, int | float) or pd.api.types.is_number(value)


def _fmt(value) -> str:
    return f"{value:,.2f}" if _is_number(value) and not isinstance(value, bool) else repr(value)


def _message(problem: str, hint: str) -> str:
    return f"{problem}: {hint}" if hint else problem
