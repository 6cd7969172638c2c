"""Figures the benchmark scripts share."""

from __future__ import annotations

import statistics
from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) of ``values``, interpolated between the two nearest
    ranks (``statistics.quantiles``' inclusive method); nan when there are none."""
    if not values:
        return float("nan")
    if len(values) == 1:
        return float(values[0])
    if q <= 0 or q >= 100:
        return float(min(values) if q <= 0 else max(values))
    return statistics.quantiles(values, n=100, method="inclusive")[round(q) - 1]
