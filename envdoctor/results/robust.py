"""Outliers among peers by the modified z-score, which rests on the median and the median absolute deviation (MAD)
rather than on the mean and standard deviation, so that the outlier being sought cannot hide itself by inflating
the spread.

Iglewicz, B. and Hoaglin, D. C. (1993), "How to Detect and Handle Outliers", ASQC Basic References in Quality
Control, vol. 16: M_i = 0.6745 (x_i - median) / MAD, and an observation with |M_i| > 3.5 is a potential outlier.
0.6745 is the 0.75 quantile of the standard normal distribution, which makes MAD / 0.6745 estimate the standard
deviation of normally distributed data."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Optional

NORMAL_Q3 = 0.6745
OUTLIER_Z = 3.5
MIN_PEERS = 3  # below this the median is one of two values, and "unlike the others" means nothing


@dataclass(frozen=True)
class Spread:
    """Peers' values judged together: their median and MAD, each value's modified z-score, or why none was given."""

    median: float
    mad: float
    scores: tuple[Optional[float], ...]  # in the order of the values; all None when not judged
    not_judged: Optional[str]  # why no value was judged (too few peers, MAD 0); None when they were

    def outliers(self) -> list[int]:
        """The indices of the values whose |z| exceeds OUTLIER_Z."""
        return [i for i, z in enumerate(self.scores) if z is not None and abs(z) > OUTLIER_Z]


def spread(values: Sequence[float]) -> Spread:
    """The modified z-score of each value against all of them (itself included, as Iglewicz and Hoaglin do).

    Fewer than MIN_PEERS values, or a MAD of 0 (at least half the values equal the median, so the spread of the
    others cannot be scaled), judge nothing and say why: never an outlier without a scale to measure it by."""
    if not values:
        raise ValueError("no values")
    median = statistics.median(values)
    mad = statistics.median(abs(v - median) for v in values)
    unscored = (None,) * len(values)
    if len(values) < MIN_PEERS:
        return Spread(median, mad, unscored, f"too few peers to judge ({len(values)}; at least {MIN_PEERS} needed)")
    if mad == 0:
        return Spread(median, mad, unscored, "the median absolute deviation is 0 (at least half the peers give the "
                                             "same value), so there is no spread to measure a difference by")
    return Spread(median, mad, tuple(NORMAL_Q3 * (v - median) / mad for v in values), None)
