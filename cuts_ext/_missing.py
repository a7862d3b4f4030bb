"""What to tell a user whose environment lacks one of the package's declared dependencies.

`pip install cuts_ext` installs them all, so this happens only where they were left out
(`--no-deps`, a hand-made environment), and it is an installation problem, not a bug.
"""

from __future__ import annotations

from typing import Optional

# Import name -> what to pip install. PyTorch's line offers the CPU build because a bare
# `pip install torch` may pull a multi-GB CUDA one.
_INSTALL = {
    "torch": "torch (CPU only: pip install torch --index-url "
             "https://download.pytorch.org/whl/cpu)",
    "PIL": "pillow",
    "skimage": "scikit-image",
    "nibabel": "nibabel",
    "matplotlib": "matplotlib",
    "tqdm": "tqdm",
    "scipy": "scipy",
}


def missing_dependency(error: BaseException) -> Optional[str]:
    """One line naming the missing package and how to install it, when `error` is a
    ModuleNotFoundError for a declared dependency; else None."""
    if not isinstance(error, ModuleNotFoundError) or not error.name:
        return None
    package = error.name.split(".")[0]
    if package not in _INSTALL:
        return None
    return (f"this needs the Python package {package!r}, which is not installed here: "
            f"pip install {_INSTALL[package]}")
