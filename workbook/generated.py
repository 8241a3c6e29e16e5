"""Files the repository commits although code writes them (conda files, the compose seed SQL):
write them, or with `check` write nothing and say which are stale, so a test can fail when the
committed file and the code that renders it part ways. Standard library only."""

import sys
from pathlib import Path

from workbook import paths


def show(path: Path) -> str:
    return str(path.relative_to(paths.ROOT)) if path.is_relative_to(paths.ROOT) else str(path)


def sync(expected: dict[Path, str], command: str, check: bool = False) -> int:
    """Write each stale file (or, with check, name it and return 1); `command` regenerates."""
    stale = [p for p, text in expected.items() if not p.exists() or p.read_text() != text]
    for path in stale:
        if check:
            print(f"out of date: {show(path)}: run `{command}`", file=sys.stderr)
        else:
            path.write_text(expected[path])
            print(f"wrote {show(path)}")
    return 1 if check and stale else 0
