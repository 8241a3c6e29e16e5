"""Captured logs, read like a task log: what a run printed or logged, and its errors."""

import contextlib
import io
import re


@contextlib.contextmanager
def captured():
    """Everything printed or logged inside the block, in a StringIO."""
    log = io.StringIO()
    with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        yield log


def errors(log: str) -> list[str]:
    """The last line of each traceback in a captured log: the exception and its message (ports
    masked, as they change every start)."""
    found, lines = [], log.splitlines()
    for index, line in enumerate(lines):
        if line.startswith("Traceback (most recent call last)"):
            tail = next((candidate for candidate in lines[index + 1:]
                         if candidate and not candidate.startswith((" ", "Traceback"))), "")
            found.append(re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:<port>", tail))
    return found
