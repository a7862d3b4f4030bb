"""How long a condensation may run: the iteration by which every point must have merged.

After iteration 0, eps grows by `scale` each iteration. Once eps is so large that every affinity
exp(-(d / eps)^decay) of two points at distance d <= the points' diameter is within u of 1, the
rows of P differ by at most about 2u, so one diffusion brings any two points within
4 u r of each other (r: the points' largest distance from their mean) and the merge joins them
all as soon as that is below the merge threshold. That fixes an eps by which the run must have
ended, and so a number of iterations; `condense` stops there when max_iterations is None, and
refuses (before iterating) settings under which that number passes MAX_ITERATIONS, e.g. a scale
so close to 1 that eps would grow for billions of iterations.
"""

from __future__ import annotations

import math
from typing import Any, Optional


#: The most iterations a run without max_iterations may need before it is refused.
MAX_ITERATIONS = 10_000
# Iterations granted beyond the bound, for the rounding of the diffused points.
_MARGIN = 5


def point_radius(points: Any) -> float:
    """The largest distance of a row of `points` (float64 [N, C], numpy or torch on any
    device) from their mean."""
    if points.shape[0] == 0:
        return 0.0
    return math.sqrt(float(((points - points.mean(axis=0)) ** 2).sum(axis=1).max()))


def iteration_limit(eps: float, scale: float, radius: float, decay: float, threshold: float,
                    max_iterations: Optional[int]) -> int:
    """The iteration count at which `condense` stops: `max_iterations` when given, else the
    bound above (at least 1).

    Args:
        eps: the bandwidth set after iteration 0.
        scale: its growth per iteration (> 1).
        radius: `point_radius` of the prepared points.
        decay: the kernel's exponent.
        threshold: the merge threshold.
        max_iterations: the caller's limit, or None.

    Raises:
        ValueError: max_iterations is None and the bound exceeds MAX_ITERATIONS; the message
            gives the smallest scale that would keep within it.
    """
    if max_iterations is not None:
        return max_iterations
    if radius == 0 or not threshold > 0:
        return 1 + _MARGIN
    # log of the eps at which every affinity is within u = threshold / (4 r) of 1.
    closeness = max(threshold / (4 * radius), 1e-300)
    log_final = math.log(2 * radius) - math.log(closeness) / decay
    log_start = math.log(eps) if eps > 0 else -math.inf
    growth = max(0.0, log_final - log_start)
    needed = growth / math.log(scale)
    if not needed <= MAX_ITERATIONS:
        smallest = math.exp(growth / MAX_ITERATIONS) if math.isfinite(growth) else math.inf
        raise ValueError(
            f"condensation cannot finish within {MAX_ITERATIONS:,} iterations with "
            f"scale={scale!r} and decay={decay!r}: eps would have to grow from {eps:.3g} "
            f"(after iteration 0) by a factor e^{growth:.3g} before the points must merge, "
            f"about {needed:.3g} iterations; use scale >= {smallest:.6g}, a larger "
            f"granularity or decay, or give max_iterations")
    return 1 + math.ceil(needed) + _MARGIN
