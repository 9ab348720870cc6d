"""Which request attributes set the bad requests apart: dimension lift, after Honeycomb BubbleUp / Lumos.

For every value of every dimension (an attribute key such as ``version``, ``customer_tier``,
``az``, plus ``service``, ``operation`` and ``status_class``, e.g. ``5xx``),
:func:`dimension_lift` compares the share of the incident's bad requests carrying the value with the
share of a reference population carrying it:

- ``reference="incident"`` (BubbleUp): the reference is every request in scope in the incident window,
  ``lift = P(value | bad, incident) / P(value | all, incident)``. The test is a one-sided Fisher exact
  test on the incident's 2x2 table (value or not) x (bad or good). It answers "within the incident,
  which values do the bad requests over-represent?". It needs contrast inside the window: a value
  that all requests of the window carry (a version every task runs) has a lift near 1 however guilty.
- ``reference="baseline"`` (Lumos-style, before/after): the reference is every request in scope in
  the baseline window, ``lift = P(value | bad, incident) / P(value | all, baseline)``; the test is a
  one-sided Fisher exact test on (value or not) x (bad incident request or baseline request). A value
  that the baseline never saw (a new version) has ``lift = inf``. It answers "what do the bad
  requests carry that normal traffic did not?".

A request without a dimension's key counts in the totals but for none of that dimension's values, so
a dimension's shares may sum to less than one. ``bad`` defaults to ``fault`` (5xx); pass
``pl.col("latency_ms") > 800`` for a latency SLO. Everything is vectorised: the attributes are
exploded once, the Fisher tests are hypergeometric tail probabilities computed in one call, and the
p-values are Benjamini-Hochberg corrected over every (dimension, value) tested.

Examples
--------
>>> import slo_analysis as sa
>>> from datetime import timedelta
>>> import polars as pl
>>> req = sa.store.Snapshot.open(demo_snapshot()).scan("requests")
>>> slow = req.filter(pl.col("service") == "routing-service", pl.col("latency_ms") > 800).collect()
>>> t0 = slow["timestamp"].min()
>>> inc, base = (t0, t0 + timedelta(hours=1)), (t0 - timedelta(days=1), t0 - timedelta(hours=23))
>>> top = dimension_lift(req, inc, base, bad=pl.col("latency_ms") > 800, service="routing-service",
...                      reference="baseline")
>>> top.select("dimension", "value").row(0)
('version', '2.4.0')
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Literal

import numpy as np
import polars as pl
from scipy import stats

from slo_analysis.exceptions import SloAnalysisError

__all__ = ["BUILTIN_DIMENSIONS", "DimensionError", "dimension_lift", "attribute_keys"]

logger = logging.getLogger(__name__)

BUILTIN_DIMENSIONS = ("service", "operation", "status_class")
"""Dimensions taken from columns rather than attributes; ``status_class`` is ``"5xx"``, ``"4xx"``, ..."""

_COLUMNS = ["dimension", "value", "bad_count", "total_count", "bad_share", "population_share", "bad_rate",
            "baseline_count", "baseline_share", "baseline_bad_rate", "lift", "p_value", "significant"]


class DimensionError(SloAnalysisError):
    """A dimension lift cannot be computed (names the column, dimension or window)."""


def attribute_keys(requests: pl.DataFrame | pl.LazyFrame) -> list[str]:
    """The attribute keys present in a requests frame, sorted.

    Examples
    --------
    >>> import slo_analysis as sa
    >>> attribute_keys(sa.store.Snapshot.open(demo_snapshot()).scan("requests"))
    ['az', 'customer_tier', 'region', 'route', 'version']
    """
    keys = (requests.lazy().select(pl.col("attributes").list.eval(pl.element().struct.field("key")).explode()
                                   .drop_nulls().unique().alias("k")).collect())
    return sorted(keys["k"].to_list())


def _check_window(window: tuple[datetime, datetime], name: str) -> None:
    start, end = window
    if not start < end:
        raise DimensionError(f"{name} window [{start}, {end}) is empty")


def _in(window: tuple[datetime, datetime]) -> pl.Expr:
    return (pl.col("timestamp") >= window[0]) & (pl.col("timestamp") < window[1])


def _long(scoped: pl.LazyFrame, attr_dims: list[str], builtin: list[str]) -> pl.LazyFrame:
    """(inc, is_bad, dimension, value): one row per request and dimension value it carries."""
    parts: list[pl.LazyFrame] = []
    if attr_dims:
        parts.append(scoped.select("inc", "is_bad", "attributes").explode("attributes")
                     .select("inc", "is_bad", dimension=pl.col("attributes").struct.field("key"),
                             value=pl.col("attributes").struct.field("value"))
                     .filter(pl.col("dimension").is_in(attr_dims) & pl.col("value").is_not_null()))
    columns = {"service": pl.col("service"), "operation": pl.col("operation"),
               "status_class": pl.format("{}xx", pl.col("status_code") // 100)}
    for name in builtin:
        parts.append(scoped.select("inc", "is_bad", dimension=pl.lit(name), value=columns[name].cast(pl.String))
                     .filter(pl.col("value").is_not_null()))
    return pl.concat(parts, how="vertical")


def _with_trace_attributes(scoped: pl.DataFrame, window_requests: pl.LazyFrame) -> pl.DataFrame:
    """Append ``<service>.<key>`` attributes of the other services' requests sharing each row's trace."""
    traces = scoped.select(pl.col("trace_id").drop_nulls().unique())
    others = (window_requests.select("trace_id", pl.col("service").alias("other"), "attributes")
              .join(traces.lazy(), on="trace_id", how="semi")
              .explode("attributes")
              .select("trace_id", "other", key=pl.col("attributes").struct.field("key"),
                      value=pl.col("attributes").struct.field("value"))
              .drop_nulls()
              .unique()
              .collect())
    rows = scoped.with_row_index("_row")
    extra = (rows.select("_row", "trace_id", "service").drop_nulls("trace_id")
             .join(others, on="trace_id")
             .filter(pl.col("other") != pl.col("service"))
             .group_by("_row")
             .agg(extra=pl.struct(key=pl.format("{}.{}", "other", "key"), value="value").unique()))
    return (rows.join(extra, on="_row", how="left", maintain_order="left")
            .with_columns(attributes=pl.concat_list(pl.col("attributes").fill_null([]),
                                                    pl.col("extra").fill_null([])))
            .drop("_row", "extra"))


def _bh(p: np.ndarray) -> np.ndarray:
    return np.asarray(stats.false_discovery_control(p, method="bh")) if p.size else p


def dimension_lift(requests: pl.DataFrame | pl.LazyFrame, incident: tuple[datetime, datetime],
                   baseline: tuple[datetime, datetime], *, bad: pl.Expr | None = None,
                   dimensions: Sequence[str] | None = None, service: str | None = None,
                   operation: str | None = None, min_count: int = 20, alpha: float = 0.01,
                   reference: Literal["incident", "baseline"] = "incident",
                   trace_attributes: bool = False) -> pl.DataFrame:
    """Lift of every (dimension, value) among the incident's bad requests (see the module docstring).

    Parameters
    ----------
    requests : pl.DataFrame or pl.LazyFrame
        the canonical requests frame.
    incident, baseline : (datetime, datetime)
        half-open windows; they must not overlap.
    bad : pl.Expr, optional
        a boolean expression on the requests frame; ``pl.col("fault")`` by default. Null counts as good.
    dimensions : sequence of str, optional
        attribute keys and/or ``service``, ``operation``, ``status_class``; by default every attribute
        key seen in scope plus the three built-ins.
    service, operation : str, optional
        restrict the requests to one service and/or operation.
    min_count : int
        values carried by fewer than ``min_count`` requests in the incident are left out (not tested).
    alpha : float
        false discovery rate of the Benjamini-Hochberg correction.
    reference : {"incident", "baseline"}
        the population ``lift``, ``population_share`` and the test compare the bad requests with.
    trace_attributes : bool
        also give each request the attributes of the other services' requests in the same trace
        (same ``trace_id``, either window), as ``<service>.<key>`` dimensions: the CreateTicket
        requests of ticket-api then carry ``routing-service.version``. Built-in dimensions are not
        propagated.

    Returns
    -------
    pl.DataFrame
        ``dimension``, ``value``, ``bad_count`` (bad incident requests with the value),
        ``total_count`` (incident requests with the value), ``bad_share`` (bad_count / bad incident
        requests), ``population_share`` (the reference population's share carrying the value),
        ``bad_rate`` (bad_count / total_count), ``baseline_count``, ``baseline_share``,
        ``baseline_bad_rate`` (null when the baseline never saw the value), ``lift``
        (bad_share / population_share; ``inf`` when the reference never saw the value), ``p_value``
        (raw, one-sided), ``significant`` (BH-adjusted p < alpha); significant rows first, by lift
        descending, then by p-value.

    Raises
    ------
    DimensionError
        a missing column, an unknown dimension, an empty or overlapping window, a bad ``reference``.
    """
    if reference not in ("incident", "baseline"):
        raise DimensionError(f"reference must be 'incident' or 'baseline', got {reference!r}")
    if not 0 < alpha < 1:
        raise DimensionError(f"alpha must be in (0, 1), got {alpha}")
    _check_window(incident, "incident")
    _check_window(baseline, "baseline")
    if incident[0] < baseline[1] and baseline[0] < incident[1]:
        raise DimensionError(f"incident window {incident} overlaps baseline window {baseline}")
    lf = requests.lazy()
    names = lf.collect_schema().names()
    for c in ("timestamp", "service", "operation", "status_code", "attributes", "trace_id"):
        if c not in names:
            raise DimensionError(f"requests frame, column {c!r}: missing (found {names})")
    if service is not None:
        lf = lf.filter(pl.col("service") == service)
    if operation is not None:
        lf = lf.filter(pl.col("operation") == operation)
    bad_expr = pl.col("fault") if bad is None else bad
    scoped = (lf.filter(_in(incident) | _in(baseline))
              .select("service", "operation", "status_code", "attributes", "trace_id", inc=_in(incident),
                      is_bad=bad_expr.fill_null(False).cast(pl.Boolean))
              .collect())
    if trace_attributes:
        scoped = _with_trace_attributes(scoped, requests.lazy().filter(_in(incident) | _in(baseline)))
    keys = attribute_keys(scoped)
    if dimensions is None:
        attr_dims, builtin = keys, list(BUILTIN_DIMENSIONS)
    else:
        unknown = [d for d in dimensions if d not in keys and d not in BUILTIN_DIMENSIONS]
        if unknown:
            raise DimensionError(f"unknown dimension(s) {unknown}: attribute keys in scope are {keys}, "
                                 f"built-ins {list(BUILTIN_DIMENSIONS)}")
        attr_dims = [d for d in dimensions if d in keys]
        builtin = [d for d in dimensions if d in BUILTIN_DIMENSIONS and d not in keys]
    inc, is_bad = pl.col("inc"), pl.col("is_bad")
    totals = scoped.select(n_inc=inc.sum(), b_inc=(inc & is_bad).sum(), n_base=(~inc).sum())
    n_inc, b_inc, n_base = (int(totals[c][0]) for c in ("n_inc", "b_inc", "n_base"))
    logger.debug("dimension lift: %d incident requests (%d bad), %d baseline requests", n_inc, b_inc, n_base)
    counts = (_long(scoped.lazy(), attr_dims, builtin)
              .group_by("dimension", "value")
              .agg(bad_count=(inc & is_bad).sum().cast(pl.Int64), total_count=inc.sum().cast(pl.Int64),
                   baseline_count=(~inc).sum().cast(pl.Int64), baseline_bad=(~inc & is_bad).sum().cast(pl.Int64))
              .filter(pl.col("total_count") >= min_count)
              .collect())

    def ratio(num: pl.Expr, den: pl.Expr | float) -> pl.Expr:
        d = den if isinstance(den, pl.Expr) else pl.lit(den)
        return pl.when(d > 0).then(num / d)

    out = counts.with_columns(
        bad_share=ratio(pl.col("bad_count"), float(b_inc)),
        bad_rate=ratio(pl.col("bad_count"), pl.col("total_count")),
        baseline_share=ratio(pl.col("baseline_count"), float(n_base)),
        baseline_bad_rate=ratio(pl.col("baseline_bad"), pl.col("baseline_count")),
        incident_share=ratio(pl.col("total_count"), float(n_inc)),
    )
    a = out["bad_count"].to_numpy()
    if reference == "incident":
        out = out.with_columns(population_share=pl.col("incident_share"))
        # one-sided Fisher: P(X >= a), X ~ Hypergeom(N = incident requests, K = bad ones, n = with the value)
        p = stats.hypergeom.sf(a - 1, n_inc, b_inc, out["total_count"].to_numpy()) if a.size else a
    else:
        out = out.with_columns(population_share=pl.col("baseline_share"))
        # one-sided Fisher on (bad incident requests) vs (baseline requests)
        n = a + out["baseline_count"].to_numpy()
        p = stats.hypergeom.sf(a - 1, b_inc + n_base, b_inc, n) if a.size else a
    p = np.clip(np.nan_to_num(np.asarray(p, dtype=np.float64), nan=1.0), 0.0, 1.0)
    q = _bh(p)
    out = out.with_columns(
        lift=pl.when(pl.col("bad_share").is_null()).then(None)
        .when(pl.col("population_share").fill_null(0) == 0).then(float("inf"))
        .otherwise(pl.col("bad_share") / pl.col("population_share")),
        p_value=pl.Series(p, dtype=pl.Float64),
        significant=pl.Series(q < alpha, dtype=pl.Boolean),
    )
    return (out.select(_COLUMNS)
            .sort(["significant", "lift", "p_value", "dimension", "value"],
                  descending=[True, True, False, False, False], nulls_last=True))
