"""Least squares for figures against N: the fitted line, its R², and the noise of its
slope (half its 95% interval). Pure arithmetic on numbers; what is fitted, and what a
figure means, is the analysis layer's (``analysis/slopes.py``).
"""

import math
import statistics
from dataclasses import dataclass

MIN_DISTINCT_N = 3  # a line through fewer distinct N says nothing about its slope


@dataclass(frozen=True)
class LineFit:
    slope: float
    intercept: float
    r2: float
    points: int


def fit_line(xs, ys) -> LineFit:
    """Least-squares line through (x, y); needs ``MIN_DISTINCT_N`` distinct x."""
    xs, ys = [float(x) for x in xs], [float(y) for y in ys]
    if len(xs) != len(ys):
        raise ValueError("xs and ys must have the same length")
    if len(set(xs)) < MIN_DISTINCT_N:
        raise ValueError(f"a fit needs at least {MIN_DISTINCT_N} distinct N, got {sorted(set(xs))}")
    slope, intercept = statistics.linear_regression(xs, ys)
    if len(set(ys)) == 1:
        r2 = math.nan  # a flat line explains nothing and leaves nothing unexplained
    else:
        r2 = statistics.correlation(xs, ys) ** 2
    return LineFit(slope, intercept, r2, len(xs))


# 97.5% quantiles of Student's t by degrees of freedom (the normal 1.96 beyond 30)
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201,
         2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074,
         2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)


def t975(degrees: int) -> float:
    return _T975[degrees - 1] if 1 <= degrees <= len(_T975) else 1.96


def slope_noise(xs, ys) -> float:
    """Half the 95% interval of a fitted slope (Student's t times its standard error):
    a per-waiter figure closer to zero than this cannot be told from zero (``nan`` with
    fewer than three points)."""
    xs, ys = [float(x) for x in xs], [float(y) for y in ys]
    if len(xs) < 3 or len(set(xs)) < 2:
        return math.nan
    fit = fit_line(xs, ys) if len(set(xs)) >= MIN_DISTINCT_N else None
    if fit is None:
        return math.nan
    mean_x = statistics.fmean(xs)
    spread = sum((x - mean_x) ** 2 for x in xs)
    residual = sum((y - (fit.intercept + fit.slope * x)) ** 2 for x, y in zip(xs, ys))
    return t975(len(xs) - 2) * math.sqrt(residual / (len(xs) - 2) / spread)
