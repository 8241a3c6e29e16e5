"""Writing files that readers may be reading: generated datasets, service state, stored mail."""

import uuid
from pathlib import Path


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write `path` so that a reader sees it whole or not at all (a temporary file beside it,
    named uniquely so concurrent writers do not share one, then renamed over it); text is
    written as UTF-8."""
    tmp = path.with_name(f"{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        tmp.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
