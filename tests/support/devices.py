"""The devices and dtypes that the kernel tests run over, defined once.

The CPU is the reference: every test of an accelerator runs the same call on the CPU and
compares. Each accelerator case carries the `cuda` marker, so conftest skips it (with the
reason) where no GPU can run it, and fails the run instead under CUTS_EXPECT_GPU=1.
"""

import numpy as np
import pytest

FLOAT_DTYPES = (np.float32, np.float64)

# The devices compared with the CPU, as torch device strings.
ACCELERATORS = (pytest.param("cuda", marks=pytest.mark.cuda, id="cuda"),)
