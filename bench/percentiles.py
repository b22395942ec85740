"""The one definition of a percentile for every benchmark here.

Linear interpolation between the two nearest ranks (numpy's default, the same as
`statistics.quantiles(..., method="inclusive")`): the p50 is the median (of 12 samples,
the mean of the 6th and 7th), the p0 the smallest sample and the p100 the largest.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float:
    """The `q`th percentile (0-100) of `values`."""
    if not values:
        raise ValueError("a percentile of no samples")
    if not 0 <= q <= 100:
        raise ValueError(f"a percentile is between 0 and 100, got {q}")
    ordered = sorted(values)
    position = q / 100 * (len(ordered) - 1)
    below = math.floor(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)
