"""What every dataset generator shares (numpy and the standard library only, so a generator
that needs no pandas starts fast)."""

from pathlib import Path

import numpy as np


def seeded_rng(seed: int, *keys: int) -> np.random.Generator:
    """A generator of its own for one piece of a dataset (a day, a device, a file): a piece
    then comes out the same whether it is generated alone or as part of a range."""
    return np.random.default_rng([seed, *keys])


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write through a temporary file, so a reader never sees a half-written file."""
    tmp = path.with_name(path.name + ".tmp")
    if isinstance(data, str):
        data = data.encode("utf-8")
    tmp.write_bytes(data)
    tmp.replace(path)
