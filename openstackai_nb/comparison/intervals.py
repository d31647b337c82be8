"""Confidence intervals, a permutation test and pass@k, without scipy (numpy only, imported inside).

The numeric core of `summarize` and `paired` (stats.py) and of the progress view's running
mean ± CI: plain numbers and numpy arrays in, floats out; no DataFrame here.

- `t_quantile(p, df)`: Student's t inverse CDF. The CDF is the regularized incomplete beta
  function (Lentz's continued fraction, as in Numerical Recipes §6.4); the quantile solves it by
  Newton's method inside a bisection bracket, starting from a Cornish-Fisher guess. Exact forms
  for df 1 and 2; the normal quantile (`statistics.NormalDist`) past df 10^7. Agrees with
  `scipy.stats.t.ppf` to about 1e-12 relative (tests/comparison/test_stats.py checks df 1..1000).
- `t_interval(values)`: mean ± t * stderr; `RunningMean` keeps the same statistic one value at a
  time (Welford) for a view that updates while runs finish.
- `bootstrap_interval(values)`: the seeded percentile bootstrap of the mean.
- `sign_flip_p_value(diffs)`: the paired sign-flip permutation test of a mean difference.
- `pass_at_k(n, c, k)`: the unbiased pass@k estimator of Chen et al. (2021).

Every random draw comes from ``numpy.random.Generator(PCG64(seed))``, so a seed gives the same
numbers on every machine and numpy version that keeps PCG64's stream (numpy's policy).
"""

from __future__ import annotations

import functools
import math
import statistics
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = [
    "RunningMean",
    "bootstrap_interval",
    "pass_at_k",
    "pass_at_k_mean",
    "sign_flip_p_value",
    "t_interval",
    "t_quantile",
]

EXACT_MAX_N = 16
"""`sign_flip_p_value` enumerates all 2**n sign vectors up to this many differences."""

_LOG_GAMMA_HALF = 0.5 * math.log(math.pi)
_CHUNK_ELEMENTS = 1 << 21  # resampling draws this many values per block: bounded memory, same stream


# -- Student's t ----------------------------------------------------------------------------------


def _beta_cf(a: float, b: float, x: float) -> float:
    """The continued fraction of the incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = 1.0
    d = 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 20_000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        step = d * c
        h *= step
        if abs(step - 1.0) < 4e-16:
            break
    return h


def _log_gamma_half_step(x: float) -> float:
    """lgamma(x + 1/2) - lgamma(x) for x >= 20, without subtracting two large numbers (Stirling's series)."""

    def series(z: float) -> float:
        z2 = z * z
        return (1.0 / 12.0 - (1.0 / 360.0 - (1.0 / 1260.0 - 1.0 / (1680.0 * z2)) / z2) / z2) / z

    return x * math.log1p(0.5 / x) + 0.5 * math.log(x) - 0.5 + series(x + 0.5) - series(x)


def _log_inverse_beta(a: float, b: float) -> float:
    """lgamma(a + b) - lgamma(a) - lgamma(b), precise when one of them is 1/2 (Student's t) and the other large."""
    if b == 0.5 and a >= 20.0:
        return _log_gamma_half_step(a) - _LOG_GAMMA_HALF
    if a == 0.5 and b >= 20.0:
        return _log_gamma_half_step(b) - _LOG_GAMMA_HALF
    return math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)


def _log_of(x: float, y: float) -> float:
    """log(x) given y = 1 - x: log1p(-y) when x is close to 1."""
    return math.log1p(-y) if y < 0.5 else math.log(x)


def _beta_inc(a: float, b: float, x: float, y: float) -> float:
    """The regularized incomplete beta I_x(a, b), given x and y = 1 - x (each computed precisely)."""
    if x <= 0.0:
        return 0.0
    if y <= 0.0:
        return 1.0
    log_front = _log_inverse_beta(a, b) + a * _log_of(x, y) + b * _log_of(y, x)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _beta_cf(a, b, x) / a
    return 1.0 - math.exp(log_front) * _beta_cf(b, a, y) / b


def _t_upper_tail(t: float, df: float) -> float:
    """P(T > t) for t >= 0."""
    t2 = t * t
    return 0.5 * _beta_inc(df / 2.0, 0.5, df / (df + t2), t2 / (df + t2))


def _t_central(t: float, df: float) -> float:
    """P(0 < T < t) for t >= 0: precise where the upper tail is close to 1/2."""
    t2 = t * t
    return 0.5 * _beta_inc(0.5, df / 2.0, t2 / (df + t2), df / (df + t2))


def _t_density(t: float, df: float) -> float:
    half = df / 2.0
    step = _log_gamma_half_step(half) if half >= 20.0 else math.lgamma(half + 0.5) - math.lgamma(half)
    log_norm = step - 0.5 * math.log(df * math.pi)
    return math.exp(log_norm - (df + 1.0) / 2.0 * math.log1p(t * t / df))


@functools.lru_cache(maxsize=4096)
def t_quantile(p: float, df: float) -> float:
    """Student's t inverse CDF: the t with P(T <= t) = p, for `df` degrees of freedom.

    Args:
        p: a probability, 0 < p < 1 (0.975 for a two-sided 95% interval).
        df: degrees of freedom, > 0 (n - 1 for the mean of n values).

    Returns:
        The quantile (negative for p < 0.5).

    Raises:
        ValueError: p outside (0, 1) or df <= 0.

    Example:
        >>> round(t_quantile(0.975, 10), 6)
        2.228139
    """
    if not 0.0 < p < 1.0 or math.isnan(p):
        raise ValueError(f"t_quantile: p must be between 0 and 1 (exclusive), got {p!r}")
    if not df > 0.0:
        raise ValueError(f"t_quantile: df must be > 0, got {df!r}")
    if p == 0.5:
        return 0.0
    sign = 1.0 if p > 0.5 else -1.0
    q = 1.0 - p if p > 0.5 else p  # the upper tail to reach, < 0.5
    if df == 1.0:
        return sign / math.tan(math.pi * q)
    if df == 2.0:
        return sign * (1.0 - 2.0 * q) / math.sqrt(2.0 * q * (1.0 - q))
    z = -statistics.NormalDist().inv_cdf(q)  # q, not 1 - q: exact in the far tail
    guess = _cornish_fisher(z, df)
    if df > 1e5:  # the expansion's error is below 1e-15 here
        return sign * guess
    return sign * _solve(abs(p - 0.5), q, df, max(guess, 1e-300))


def _cornish_fisher(z: float, df: float) -> float:
    """The t of the normal quantile z by the Cornish-Fisher expansion (Abramowitz & Stegun 26.7.5)."""
    g1 = (z**3 + z) / 4.0
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96.0
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384.0
    g4 = (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160.0
    return z + g1 / df + g2 / df**2 + g3 / df**3 + g4 / df**4


def _solve(central: float, q: float, df: float, t: float) -> float:
    """The t > 0 with P(0 < T < t) = central (= 1/2 - q): Newton's method inside a bisection bracket.

    Near the centre the equation is written with P(0 < T < t), in the tails with P(T > t), so
    neither subtracts two numbers close to 1/2.
    """
    use_tail = q < 0.25
    lo, hi = 0.0, math.inf
    for _ in range(100):
        # f increases with t; f / density is Newton's step
        f = q - _t_upper_tail(t, df) if use_tail else _t_central(t, df) - central
        if f == 0.0:
            return t
        if f < 0.0:
            lo = t
        else:
            hi = t
        nxt = t - f / _t_density(t, df)
        if not lo < nxt < hi:
            nxt = (lo + hi) / 2.0 if math.isfinite(hi) else 2.0 * t
        if abs(nxt - t) <= 2e-16 * t or not lo < nxt < hi:
            return nxt
        t = nxt
    return t


def t_interval(values: npt.ArrayLike, confidence: float = 0.95) -> tuple[float, float, float, float, float]:
    """The mean of `values` with its Student-t confidence interval.

    Args:
        values: numbers (NaN not allowed: drop them first).
        confidence: the interval's coverage, 0 < confidence < 1.

    Returns:
        ``(mean, std, stderr, ci_low, ci_high)``; std uses n - 1. With one value std, stderr and
        the interval are NaN; with none everything is NaN.
    """
    import numpy as np

    x = np.asarray(values, dtype=np.float64)
    n = x.size
    if n == 0:
        return math.nan, math.nan, math.nan, math.nan, math.nan
    mean = float(x.mean())
    if n == 1:
        return mean, math.nan, math.nan, math.nan, math.nan
    std = float(x.std(ddof=1))
    stderr = std / math.sqrt(n)
    half = t_quantile(0.5 + confidence / 2.0, n - 1) * stderr
    return mean, std, stderr, mean - half, mean + half


class RunningMean:
    """A mean and its Student-t interval, updated one value at a time (Welford's algorithm).

    Example:
        >>> m = RunningMean()
        >>> for x in (0.5, 1.0, 0.75):
        ...     m.add(x)
        >>> m.n, m.mean
        (3, 0.75)
    """

    __slots__ = ("_m2", "mean", "n")

    def __init__(self) -> None:
        self.n = 0
        self.mean = math.nan
        self._m2 = 0.0

    def add(self, value: float) -> None:
        """Count one more value (NaN is ignored)."""
        if math.isnan(value):
            return
        self.n += 1
        if self.n == 1:
            self.mean = float(value)
            return
        delta = value - self.mean
        self.mean += delta / self.n
        self._m2 += delta * (value - self.mean)

    def half_width(self, confidence: float = 0.95) -> float:
        """Half the width of the interval (NaN below two values)."""
        if self.n < 2:
            return math.nan
        stderr = math.sqrt(self._m2 / (self.n - 1) / self.n)
        return t_quantile(0.5 + confidence / 2.0, self.n - 1) * stderr


# -- resampling -----------------------------------------------------------------------------------


def _generator(seed: int) -> np.random.Generator:
    import numpy as np

    return np.random.Generator(np.random.PCG64(seed))


def _resampled_means(x: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    import numpy as np

    rng = _generator(seed)
    n = x.size
    rows = max(1, _CHUNK_ELEMENTS // n)
    out = np.empty(n_boot, dtype=np.float64)
    for start in range(0, n_boot, rows):
        stop = min(n_boot, start + rows)
        idx = rng.integers(0, n, size=(stop - start, n))
        out[start:stop] = x[idx].mean(axis=1)
    return out


def bootstrap_interval(
    values: npt.ArrayLike, confidence: float = 0.95, *, n_boot: int = 10_000, seed: int = 0
) -> tuple[float, float]:
    """The percentile bootstrap interval of the mean of `values`, seeded.

    `n_boot` resamples of the values with replacement (numpy ``Generator(PCG64(seed))``); the
    interval is the (1 - confidence) / 2 and (1 + confidence) / 2 quantiles of their means.

    Args:
        values: numbers (NaN not allowed: drop them first).
        confidence: the interval's coverage, 0 < confidence < 1.
        n_boot: resamples, >= 1.
        seed: the generator's seed: the same seed gives the same interval.

    Returns:
        ``(ci_low, ci_high)``; NaN for fewer than two values.
    """
    import numpy as np

    x = np.asarray(values, dtype=np.float64)
    if x.size < 2:
        return math.nan, math.nan
    means = _resampled_means(x, n_boot, seed)
    alpha = 1.0 - confidence
    low, high = np.quantile(means, [alpha / 2.0, 1.0 - alpha / 2.0])
    return float(low), float(high)


def sign_flip_p_value(diffs: npt.ArrayLike, *, n_perm: int = 10_000, seed: int = 0) -> tuple[float, str]:
    """The two-sided p-value of the paired sign-flip permutation test of mean(diffs) = 0.

    Under the null hypothesis (no difference between the two sides) each paired difference is
    as likely to have either sign, so the observed |mean| is compared with the |mean| of the
    differences under sign flips. With at most `EXACT_MAX_N` differences every one of the 2**n
    sign vectors is enumerated (the exact p-value: the share of them at least as extreme, the
    observed one included); above, `n_perm` random sign vectors from ``Generator(PCG64(seed))``
    give ``(count + 1) / (n_perm + 1)`` (the observed one counted, so the p-value is never 0).

    Args:
        diffs: the per-case differences a - b (NaN not allowed).
        n_perm: random sign vectors when the test is not exact, >= 1.
        seed: the generator's seed.

    Returns:
        ``(p_value, how)``: how says "exact (2^n sign vectors)" or "n_perm random sign flips".
        NaN for no differences.
    """
    import numpy as np

    d = np.asarray(diffs, dtype=np.float64)
    n = d.size
    if n == 0:
        return math.nan, "no cases"
    observed = abs(float(d.mean()))
    tol = 1e-12 * max(1.0, float(np.abs(d).max()))  # flips that tie with the observed mean count as extreme
    if n <= EXACT_MAX_N:
        bits = (np.arange(2**n, dtype=np.int64)[:, None] >> np.arange(n, dtype=np.int64)) & 1
        means = np.abs(((1 - 2 * bits) * d).mean(axis=1))
        return float(np.mean(means >= observed - tol)), f"exact sign-flip test (all 2^{n} sign vectors)"
    rng = _generator(seed)
    rows = max(1, _CHUNK_ELEMENTS // n)
    count = 0
    for start in range(0, n_perm, rows):
        stop = min(n_perm, start + rows)
        signs = np.where(rng.random((stop - start, n)) < 0.5, -1.0, 1.0)
        count += int(np.count_nonzero(np.abs((signs * d).mean(axis=1)) >= observed - tol))
    return (count + 1) / (n_perm + 1), f"sign-flip test, {n_perm} random flips, p = (count + 1) / ({n_perm} + 1)"


# -- pass@k ---------------------------------------------------------------------------------------


def pass_at_k(n: int, c: int, k: int) -> float:
    """The unbiased pass@k estimate for one case: 1 - C(n - c, k) / C(n, k) (Chen et al., 2021).

    The chance that at least one of k runs drawn without replacement from the case's n scored
    runs, c of which passed, passes.

    Args:
        n: scored runs of the case.
        c: those that passed (0 <= c <= n).
        k: runs drawn, >= 1.

    Returns:
        The estimate, NaN when k > n (too few runs to say).

    Example:
        >>> pass_at_k(5, 2, 2)  # 1 - C(3, 2) / C(5, 2) = 1 - 3/10
        0.7
    """
    if k > n:
        return math.nan
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def pass_at_k_mean(counts: Sequence[tuple[int, int]], k: int) -> tuple[float, int]:
    """pass@k averaged over cases given as (n, c) pairs, skipping cases with fewer than k runs.

    Returns:
        ``(mean, skipped)``: the mean over the cases with n >= k (NaN if none) and how many were skipped.
    """
    values = [pass_at_k(n, c, k) for n, c in counts if n >= k]
    skipped = len(counts) - len(values)
    return (math.fsum(values) / len(values) if values else math.nan), skipped
