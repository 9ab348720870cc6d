"""Saturation: latency against load per instance, fitted with the Universal Scalability Law and with M/M/c.

**USL** (Gunther): throughput at concurrency ``N`` is ``X(N) = lam N / (1 + sigma (N - 1) + kappa N (N - 1))``.
By Little's law ``N = X R``, so at a given load ``x`` (requests/s per instance) the concurrency is the smaller
root of ``kappa x N^2 + (sigma x - kappa x - lam) N + x (1 - sigma) = 0`` and the latency is ``R(x) = N / x``.
We fit that latency form directly to the observed latency (in log space, with a soft-L1 loss so that a few
wild minutes do not steer it): fitted to the mean latency it is Little's law exactly; fitted to a percentile
(p50, p99) it is the USL-implied curve of that percentile, which is what an SLO threshold is compared with.
The maximum throughput per instance is ``X(N*)`` at ``N* = sqrt((1 - sigma) / kappa)``.

**M/M/c**: ``c`` identical servers per instance at rate ``mu`` each, plus a fixed part ``b`` (service and
downstream time that does not queue here): ``R(x) = b + C(c, x / mu) / (c mu - x)`` with Erlang C. ``b`` and
``mu`` are fitted for each ``c`` in ``1..max_servers`` and the best ``c`` is kept; its capacity is ``c mu``.

**Knee**: the load at which latency starts to grow faster than load, i.e. where the elasticity
``d ln R / d ln x`` reaches 1 (for M/M/1 that is 50 % utilisation). **Uncertainty**: parameter standard
errors from the ``curve_fit`` covariance, and 95 % bands for the curve, the knee and the maximum throughput
from 400 parameter draws of that covariance. **Range**: asking about a load beyond the observed maximum
issues a :class:`~slo_analysis.analysis.capacity.errors.CapacityWarning` and is recorded in ``warnings``.

Examples
--------
Latencies drawn from a USL service (``lam`` = 5/s, ``sigma`` = 0.05, ``kappa`` = 0.02, so at most 16.4/s)
with 1 % noise, observed up to 15/s; the fit recovers the parameters and the maximum throughput:

>>> import numpy as np
>>> x = np.linspace(1.0, 15.0, 40)
>>> y = 1000 * usl_latency(x, 5.0, 0.05, 0.02) * np.exp(np.random.default_rng(1).normal(0, 0.01, x.size))
>>> fit = fit_saturation(x, y)
>>> round(fit.usl.lam, 1), round(fit.usl.sigma, 2), round(fit.usl.kappa, 2), round(fit.usl.max_throughput, 1)
(5.0, 0.05, 0.02, 16.3)
>>> fit.usl.max_throughput > fit.knee_load > 10
True
>>> bool(fit.predict([12.0])["mmc_ms"][0] > 0), fit.warnings
(True, ())
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl
from scipy.optimize import OptimizeWarning, brentq, curve_fit, least_squares

from slo_analysis.analysis.capacity.errors import CapacityError, CapacityWarning
from slo_analysis.analysis.capacity.staffing import erlang_c_array

__all__ = [
    "UslFit",
    "MmcFit",
    "SaturationFit",
    "usl_latency",
    "mmc_latency",
    "fit_usl",
    "fit_mmc",
    "fit_saturation",
    "saturation_windows",
]

log = logging.getLogger(__name__)
_DRAWS = 400


# ----------------------------------------------------------------------------------------------- models
def usl_latency(x: np.ndarray, lam: float, sigma: float, kappa: float) -> np.ndarray:
    """USL latency (seconds) at load ``x`` (per second); beyond the maximum throughput it is the latency there."""
    x = np.asarray(x, dtype=np.float64)
    a = kappa * x
    b = sigma * x - kappa * x - lam
    c = x * (1.0 - sigma)
    disc = b * b - 4.0 * a * c
    with np.errstate(divide="ignore", invalid="ignore"):
        n = 2.0 * c / (-b + np.sqrt(np.clip(disc, 0.0, None)))  # the smaller root, stable form
        r = np.where(x > 0, n / x, (1.0 - sigma) / lam)
    # beyond the maximum throughput (no real root, or past the asymptote) no latency is sustainable
    return np.asarray(np.where((disc < 0) | (n <= 0) | ~np.isfinite(n), np.inf, r))


def mmc_latency(x: np.ndarray, base: float, mu: float, servers: int) -> np.ndarray:
    """M/M/c latency (seconds): ``base + C(c, x/mu) / (c mu - x)``; ``inf`` at or beyond ``c mu``."""
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        wait = erlang_c_array(servers, x / mu) / (servers * mu - x)
    return np.where(x < servers * mu, base + wait, np.inf)


def _knee(curve: np.ndarray, grid: np.ndarray) -> float:
    """First load on ``grid`` where d ln R / d ln x reaches 1 (``nan`` if never)."""
    ok = np.isfinite(curve) & (curve > 0)
    if ok.sum() < 3:
        return math.nan
    lr, lx = np.log(curve[ok]), np.log(grid[ok])
    el = np.gradient(lr, lx)
    idx = np.nonzero(el >= 1.0)[0]
    return float(grid[ok][idx[0]]) if idx.size else math.nan


# ---------------------------------------------------------------------------------------------- results
@dataclass(frozen=True)
class UslFit:
    """USL parameters (``lam`` per second, ``sigma`` contention, ``kappa`` coherency) with standard errors."""

    lam: float
    sigma: float
    kappa: float
    se: tuple[float, float, float]
    cov: np.ndarray = field(repr=False, compare=False)
    rmse_log: float  # residual RMS in log latency
    converged: bool = True

    @property
    def peak_concurrency(self) -> float:
        return math.sqrt((1.0 - self.sigma) / self.kappa) if self.kappa > 0 else math.inf

    @property
    def max_throughput(self) -> float:
        """Highest throughput per instance the USL allows (requests/s)."""
        if self.kappa > 0:
            n = self.peak_concurrency
            return self.lam * n / (1.0 + self.sigma * (n - 1.0) + self.kappa * n * (n - 1.0))
        return self.lam / self.sigma if self.sigma > 0 else math.inf

    def latency_ms(self, x: np.ndarray) -> np.ndarray:
        return 1000.0 * usl_latency(x, self.lam, self.sigma, self.kappa)


@dataclass(frozen=True)
class MmcFit:
    """M/M/c parameters: ``servers`` per instance at ``mu`` per second each, fixed part ``base_s``."""

    servers: int
    mu: float
    base_s: float
    se: tuple[float, float]  # of (base_s, mu)
    rmse_log: float

    @property
    def max_throughput(self) -> float:
        return self.servers * self.mu

    def latency_ms(self, x: np.ndarray) -> np.ndarray:
        return 1000.0 * mmc_latency(x, self.base_s, self.mu, self.servers)


@dataclass(frozen=True)
class SaturationFit:
    """Both fits of one latency column against load per instance, with the knee and its uncertainty."""

    latency: str  # what was fitted, e.g. "latency_p99_ms"
    usl: UslFit
    mmc: MmcFit
    knee_load: float  # USL knee, requests/s per instance
    knee_ci: tuple[float, float]
    max_throughput_ci: tuple[float, float]  # USL, 95 %
    mmc_knee_load: float
    observed_load: tuple[float, float]  # min, max of the fitted load
    n_points: int
    warnings: tuple[str, ...] = ()

    def _check_range(self, loads: np.ndarray) -> list[str]:
        hi = self.observed_load[1]
        beyond = loads[loads > hi * 1.0000001]
        if beyond.size:
            msg = (f"load {float(beyond.max()):.4g}/s per instance is beyond the observed range "
                   f"(max {hi:.4g}/s): the {self.latency} curve is extrapolated")
            warnings.warn(msg, CapacityWarning, stacklevel=3)
            return [msg]
        return []

    def predict(self, loads: Sequence[float] | np.ndarray) -> pl.DataFrame:
        """Latency (ms) predicted at ``loads``: ``load, usl_ms, usl_lo_ms, usl_hi_ms, mmc_ms, extrapolated``.

        The USL band is the 2.5-97.5 % range over parameter draws. Loads beyond the observed maximum are
        flagged ``extrapolated`` and raise a :class:`CapacityWarning`.
        """
        x = np.asarray(loads, dtype=np.float64)
        self._check_range(x)
        draws = _usl_draws(self.usl)
        curves = np.array([1000.0 * usl_latency(x, *p) for p in draws]) if len(draws) else np.empty((0, x.size))
        if len(curves):  # no interpolation between draws: an infinite latency (past saturation) stays infinite
            lo = np.nanpercentile(curves, 2.5, axis=0, method="lower")
            hi = np.nanpercentile(curves, 97.5, axis=0, method="higher")
        else:
            lo = hi = self.usl.latency_ms(x)
        return pl.DataFrame({"load": x, "usl_ms": self.usl.latency_ms(x), "usl_lo_ms": lo, "usl_hi_ms": hi,
                             "mmc_ms": self.mmc.latency_ms(x), "extrapolated": x > self.observed_load[1]})

    def load_at_latency(self, threshold_ms: float, *, model: str = "usl") -> float:
        """The highest load per instance whose predicted latency stays at or below ``threshold_ms``."""
        f = self.usl.latency_ms if model == "usl" else self.mmc.latency_ms
        top = (self.usl.max_throughput if model == "usl" else self.mmc.max_throughput) * (1 - 1e-9)
        if not math.isfinite(top):
            top = self.observed_load[1] * 100.0
        if float(f(np.array([1e-9]))[0]) > threshold_ms:
            return 0.0
        if float(f(np.array([top]))[0]) <= threshold_ms:
            return top
        return float(brentq(lambda v: float(f(np.array([v]))[0]) - threshold_ms, 1e-9, top, xtol=1e-9))

    def summary(self) -> dict[str, object]:
        """Headline figures as a plain dict."""
        return {
            "latency": self.latency, "n_points": self.n_points,
            "usl_lambda": self.usl.lam, "usl_sigma": self.usl.sigma, "usl_kappa": self.usl.kappa,
            "usl_se": self.usl.se, "usl_max_throughput": self.usl.max_throughput,
            "usl_max_throughput_ci": self.max_throughput_ci, "knee_load": self.knee_load, "knee_ci": self.knee_ci,
            "mmc_servers": self.mmc.servers, "mmc_mu": self.mmc.mu, "mmc_base_ms": 1000 * self.mmc.base_s,
            "mmc_max_throughput": self.mmc.max_throughput, "mmc_knee_load": self.mmc_knee_load,
            "observed_load": self.observed_load, "warnings": list(self.warnings),
        }


def _usl_draws(fit: UslFit, n: int = _DRAWS) -> np.ndarray:
    if not np.all(np.isfinite(fit.cov)):
        return np.empty((0, 3))
    rng = np.random.default_rng(0)
    p = rng.multivariate_normal([fit.lam, fit.sigma, fit.kappa], fit.cov, size=n, check_valid="ignore")
    p[:, 0] = np.clip(p[:, 0], 1e-9, None)
    p[:, 1] = np.clip(p[:, 1], 0.0, 0.999)
    p[:, 2] = np.clip(p[:, 2], 0.0, None)
    return p


# -------------------------------------------------------------------------------------------------- fits
def _xy(load: np.ndarray, latency_ms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(load, dtype=np.float64)
    y = np.asarray(latency_ms, dtype=np.float64) / 1000.0
    ok = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    if ok.sum() < 5:
        raise CapacityError(f"saturation fit: {int(ok.sum())} usable (load > 0, latency > 0) points, need >= 5")
    return x[ok], y[ok]


def fit_usl(load: np.ndarray, latency_ms: np.ndarray) -> UslFit:
    """Fit the USL latency form to ``latency_ms`` against ``load`` (per second per instance)."""
    x, y = _xy(load, latency_ms)
    lam0 = 1.0 / float(np.median(y[x <= np.quantile(x, 0.2)]))

    def f(xx: np.ndarray, lam: float, sigma: float, kappa: float) -> np.ndarray:
        r = usl_latency(xx, lam, sigma, kappa)
        return np.log(np.clip(np.where(np.isfinite(r), r, 1e3), 1e-12, 1e3))

    ly = np.log(y)
    scale_k = 1.0 / max(float(x.max()) * float(y.max()), 1e-9) ** 2  # kappa of order 1 / N_max^2
    # least_squares directly (not curve_fit): an unconverged fit still returns its best point, flagged
    res = least_squares(lambda p: f(x, *p) - ly, x0=[lam0, 0.01, scale_k], loss="soft_l1", f_scale=0.1,
                        bounds=([1e-9, 0.0, 0.0], [np.inf, 0.999, np.inf]), x_scale="jac", max_nfev=2000)
    p = res.x
    resid = ly - f(x, *p)
    dof = max(1, x.size - 3)
    try:  # the covariance curve_fit would report: (J'J)^-1 scaled by the residual variance
        jtj = res.jac.T @ res.jac
        cov = np.linalg.pinv(jtj) * float(np.sum(resid**2)) / dof
    except np.linalg.LinAlgError:
        cov = np.full((3, 3), np.inf)
    se = tuple(float(math.sqrt(v)) if v >= 0 and math.isfinite(v) else math.nan for v in np.diag(cov))
    if not res.success:
        log.info("USL fit did not converge (%s); keeping its best point", res.message)
    return UslFit(float(p[0]), float(p[1]), float(p[2]), (se[0], se[1], se[2]), np.asarray(cov),
                  float(np.sqrt(np.mean(resid**2))), bool(res.success))


def _binned(x: np.ndarray, y: np.ndarray, bins: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """Medians of ``x`` and ``y`` in equal-width load bins holding at least 3 points."""
    edges = np.linspace(float(x.min()), float(x.max()), bins + 1)
    idx = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, bins - 1)
    bx, by = [], []
    for i in range(bins):
        sel = idx == i
        if sel.sum() >= 3:
            bx.append(float(np.median(x[sel])))
            by.append(float(np.median(y[sel])))
    return np.asarray(bx), np.asarray(by)


def _fit_mmc_c(x: np.ndarray, y: np.ndarray, c: int, base0: float, max_nfev: int) -> MmcFit | None:
    def f(xx: np.ndarray, base: float, mu: float) -> np.ndarray:
        r = mmc_latency(xx, base, mu, c)
        return np.log(np.where(np.isfinite(r), r, 1e3))

    lo_mu = float(x.max()) / c * 1.0001
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OptimizeWarning)
            p, cov = curve_fit(f, x, np.log(y), p0=[base0 * 0.9, lo_mu * 1.5], loss="soft_l1", f_scale=0.1,
                               bounds=([1e-9, lo_mu], [np.inf, np.inf]), max_nfev=max_nfev)
    except (RuntimeError, ValueError) as exc:
        log.debug("M/M/%d fit failed: %s", c, exc)
        return None
    rmse = float(np.sqrt(np.mean((np.log(y) - f(x, *p)) ** 2)))
    se = tuple(float(math.sqrt(v)) if v >= 0 and math.isfinite(v) else math.nan for v in np.diag(cov))
    return MmcFit(c, float(p[1]), float(p[0]), (se[0], se[1]), rmse)


def fit_mmc(load: np.ndarray, latency_ms: np.ndarray, *, max_servers: int = 32) -> MmcFit:
    """Fit ``base + Erlang-C wait``: choose ``c`` in ``1..max_servers`` on load-binned medians, refit on all.

    ``c`` is searched coarse to fine (1, 2, 4, 8, ... then every count between the best one's neighbours),
    which finds the best count when the error is unimodal in ``c`` (as it is for these curves) in about
    a third of the fits of an exhaustive search.

    The server count is chosen on medians of 40 equal-width load bins (each load range weighs the same,
    however many quiet hours the data hold), then ``base`` and ``mu`` are refitted on every point for
    their standard errors.
    """
    x, y = _xy(load, latency_ms)
    base0 = float(np.median(y[x <= np.quantile(x, 0.2)]))
    bx, by = _binned(x, y)
    if bx.size < 5:
        bx, by = x, y
    tried: dict[int, MmcFit | None] = {}

    def trial(c: int) -> MmcFit | None:
        if c not in tried:
            tried[c] = _fit_mmc_c(bx, by, c, base0, 300)
        return tried[c]

    def score(c: int) -> float:
        f = trial(c)
        return f.rmse_log if f is not None else math.inf

    # coarse (powers of two), then every count between the best coarse one's neighbours
    coarse = sorted({min(max_servers, 2**i) for i in range(0, max_servers.bit_length() + 1)})
    top = min(coarse, key=score)
    i = coarse.index(top)
    lo, hi = coarse[max(0, i - 1)], coarse[min(len(coarse) - 1, i + 1)]
    best_c = min(range(lo, hi + 1), key=score)
    best = trial(best_c)
    if best is None:
        raise CapacityError("saturation fit: no M/M/c model converged")
    full = _fit_mmc_c(x, y, best.servers, best.base_s / 0.9, 500)
    return full if full is not None else best


def fit_saturation(load: np.ndarray | pl.Series, latency_ms: np.ndarray | pl.Series, *,
                   latency: str = "latency_ms", max_servers: int = 32) -> SaturationFit:
    """USL and M/M/c fits of latency against load per instance, with the knee and 95 % ranges.

    ``load`` and ``latency_ms`` are aligned arrays (e.g. ``load_per_instance`` and ``latency_p99_ms`` of
    :func:`~slo_analysis.analysis.capacity.capacity_data.load_latency`). Warns (``CapacityWarning``, also kept
    in ``warnings``) when the data stop short of the knee, so the curvature rests on extrapolation.
    """
    x, y = _xy(np.asarray(load), np.asarray(latency_ms))
    usl = fit_usl(x, 1000.0 * y)
    mmc = fit_mmc(x, 1000.0 * y, max_servers=max_servers)
    top = usl.max_throughput if math.isfinite(usl.max_throughput) else float(x.max()) * 10.0
    grid = np.linspace(top / 2000.0, top * 0.999, 2000)
    knee = _knee(usl.latency_ms(grid), grid)
    knees, maxes = [], []
    for p in _usl_draws(usl):
        d = UslFit(float(p[0]), float(p[1]), float(p[2]), (0, 0, 0), usl.cov, 0.0)
        t = d.max_throughput if math.isfinite(d.max_throughput) else top
        g = np.linspace(t / 2000.0, t * 0.999, 400)
        knees.append(_knee(d.latency_ms(g), g))
        maxes.append(d.max_throughput)
    k_arr, m_arr = np.asarray(knees), np.asarray(maxes)
    k_arr, m_arr = k_arr[np.isfinite(k_arr)], m_arr[np.isfinite(m_arr)]
    knee_ci = tuple(np.percentile(k_arr, [2.5, 97.5])) if k_arr.size else (math.nan, math.nan)
    max_ci = tuple(np.percentile(m_arr, [2.5, 97.5])) if m_arr.size else (math.nan, math.inf)
    mtop = mmc.max_throughput * 0.999
    mgrid = np.linspace(mtop / 2000.0, mtop, 2000)
    notes: list[str] = []
    if not math.isfinite(knee) or float(x.max()) < knee:
        notes.append(f"the observed load (max {float(x.max()):.4g}/s per instance) stays below the USL knee "
                     f"({knee:.4g}/s): the saturation curve is extrapolated, not seen")
    if not usl.converged:
        notes.append("the USL fit stopped before converging: its parameters are the best found, not an optimum")
    if usl.kappa > 0 and not usl.se[2] < usl.kappa:
        notes.append(f"kappa {usl.kappa:.3g} has a standard error {usl.se[2]:.3g} as large as itself: "
                     f"the coherency term is poorly determined by these data")
    for n in notes:
        warnings.warn(n, CapacityWarning, stacklevel=2)
    return SaturationFit(latency, usl, mmc, knee, (float(knee_ci[0]), float(knee_ci[1])),
                         (float(max_ci[0]), float(max_ci[1])), _knee(mmc.latency_ms(mgrid), mgrid),
                         (float(x.min()), float(x.max())), int(x.size), tuple(notes))


def saturation_windows(frame: pl.DataFrame, threshold_load: float, *, min_rows: int = 2,
                       column: str = "load_per_instance") -> pl.DataFrame:
    """Runs of consecutive rows of ``frame`` with ``column`` above ``threshold_load`` (e.g. the knee).

    Returns ``start, end, rows, peak_load`` (``end`` = the last row's timestamp plus the row spacing),
    runs shorter than ``min_rows`` dropped, sorted by start.
    """
    f = frame.sort("timestamp")
    if f.height < 2:
        return pl.DataFrame(schema={"start": f["timestamp"].dtype, "end": f["timestamp"].dtype,
                                    "rows": pl.UInt32, "peak_load": pl.Float64})
    step = f["timestamp"].diff().drop_nulls().median()
    above = f.with_columns((pl.col(column) > threshold_load).alias("_above"))
    above = above.with_columns(
        ((pl.col("_above") != pl.col("_above").shift(1))
         | ((pl.col("timestamp") - pl.col("timestamp").shift(1)) > step)).fill_null(True).cum_sum().alias("_run"))
    runs = (above.filter(pl.col("_above")).group_by("_run")
            .agg(pl.col("timestamp").min().alias("start"), (pl.col("timestamp").max() + step).alias("end"),
                 pl.len().alias("rows"), pl.col(column).max().alias("peak_load"))
            .filter(pl.col("rows") >= min_rows).sort("start").drop("_run"))
    return runs
