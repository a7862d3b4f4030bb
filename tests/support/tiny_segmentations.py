"""Small hand-made condensation results: pixels merged in row-major blocks that double in size,
numbered by their first pixel as condensation numbers clusters."""

from types import SimpleNamespace

import numpy as np

from cuts_ext.condensation.driver import levels_from_counts


def block_result(spatial_shape, block_sizes=(1, 2, 2, 4, 4, 8, 8, 8)):
    """A CondensationResult look-alike: iteration k joins runs of block_sizes[k] pixels.

    Returns:
        an object with hierarchy int32 [T, N], levels and cluster_counts.
    """
    n = int(np.prod(spatial_shape))
    hierarchy = np.stack([np.arange(n) // size for size in block_sizes]).astype(np.int32)
    counts = [int(labels.max()) + 1 for labels in hierarchy]
    return SimpleNamespace(hierarchy=hierarchy, cluster_counts=counts,
                           levels=levels_from_counts(counts, n))
