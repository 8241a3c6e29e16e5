"""What every dataset generator shares (numpy and the standard library only, so a generator
that needs no pandas starts fast)."""


import numpy as np


def seeded_rng(seed: int, *keys: int) -> np.random.Generator:
    """A generator of its own for one piece of a dataset (a day, a device, a file): a piece
    then comes out the same whether it is generated alone or as part of a range."""
    return np.random.default_rng([seed, *keys])
