"""Which source notebook a submission belongs to: its metadata first, else its file name."""

from pathlib import Path

import nbformat

from workbook import paths


class SubmissionError(ValueError):
    """The submission cannot be graded (not a notebook, or no known source); says why."""


def read_submission(path: Path):
    try:
        return nbformat.read(path, as_version=4)
    except Exception as err:  # nbformat raises several types for bad JSON or schema
        raise SubmissionError(f"{path.name} is not a valid notebook: {err}") from None


def source_for(submission, path: Path, root: Path) -> Path:
    """The notebook under `root` (solutions/ or notebooks/) that `submission` answers."""
    key = submission.metadata.get("workbook", {}).get("notebook")
    if key:
        candidate = root / f"{key}.ipynb"
        if candidate.is_file():
            return candidate
    matches = sorted(p for p in root.rglob(f"{path.stem}.ipynb")
                     if ".ipynb_checkpoints" not in p.parts)
    if len(matches) == 1:
        return matches[0]
    known = ", ".join(sorted(p.stem for p in root.rglob("*.ipynb")))
    raise SubmissionError(f"{path.name} belongs to no known notebook (metadata workbook.notebook "
                          f"= {key!r}); known notebooks: {known}")


def notebook_key(source: Path, root: Path) -> str:
    return str(source.relative_to(root).with_suffix(""))


def default_source_root() -> Path:
    """solutions/ (with hidden tests) where readable, else the public notebooks/."""
    return paths.SOLUTIONS if paths.SOLUTIONS.is_dir() else paths.NOTEBOOKS
