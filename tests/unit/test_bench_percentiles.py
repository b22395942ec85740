"""The benchmarks' one percentile (bench/percentiles.py): the median for p50 and the
same interpolation as `statistics.quantiles(method="inclusive")` everywhere."""

from __future__ import annotations

import importlib.util
import random
import statistics
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


def load_percentile() -> Callable[[Sequence[float], float], float]:
    spec = importlib.util.spec_from_file_location("percentiles", BENCH / "percentiles.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    found: Callable[[Sequence[float], float], float] = module.percentile
    return found


percentile = load_percentile()


def test_the_p50_of_an_even_count_is_the_mean_of_the_middle_two() -> None:
    samples = [0.31, 0.29, 0.24, 1.4, 0.27, 0.30, 0.23, 0.36, 0.45, 1.4, 0.25, 1.4]
    assert percentile(samples, 50) == pytest.approx(statistics.median(samples))
    assert percentile(samples, 50) == pytest.approx((0.30 + 0.31) / 2)


def test_the_ends_are_the_smallest_and_largest_samples() -> None:
    assert percentile([3.0, 1.0, 2.0], 0) == 1.0
    assert percentile([3.0, 1.0, 2.0], 100) == 3.0
    assert percentile([7.0], 95) == 7.0


@pytest.mark.parametrize("count", [2, 3, 12, 101, 1000])
def test_every_percentile_matches_the_inclusive_quantiles(count: int) -> None:
    rng = random.Random(count)
    samples = [rng.expovariate(1.0) for _ in range(count)]
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    for q in range(1, 100):
        assert percentile(samples, q) == pytest.approx(cuts[q - 1])


def test_no_samples_or_a_percentile_outside_0_to_100_is_an_error() -> None:
    with pytest.raises(ValueError, match="no samples"):
        percentile([], 50)
    with pytest.raises(ValueError, match="between 0 and 100"):
        percentile([1.0], 101)
