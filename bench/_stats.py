"""Figures the benchmark scripts share.

``percentile`` is the product's own (``assistant eval --answers`` reports with it), so a
benchmark's p50 and the product's are computed alike."""

from __future__ import annotations

from assistant.app.evaluate import percentile

__all__ = ["percentile"]
