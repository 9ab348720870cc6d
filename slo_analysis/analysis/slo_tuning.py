"""Which target the history supports: attainment over every full interval, against the SLO's target.

A target is *supported* when the service met it over most past intervals: the suggestion is the
attainment the service reached in all but the worst ``quantile`` of its rolling intervals (default
the 5th percentile: met in 19 intervals out of 20), rounded down to the usual "nines" grid
(99, 99.5, 99.9, 99.95, 99.99 %...), so an SLO is neither a promise broken every month nor one so
loose that no incident ever moves it.

Examples
--------
>>> nines_floor(0.99937)
0.999
>>> nines_floor(0.9962)
0.995
>>> nines_floor(0.93)
0.9
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from slo_analysis.analysis.slo_evaluation import SloEvaluation

__all__ = ["supported_targets", "nines_floor", "TARGET_GRID"]

#: the targets people choose, loosest first
TARGET_GRID = (0.5, 0.8, 0.9, 0.95, 0.97, 0.98, 0.99, 0.995, 0.999, 0.9995, 0.9999, 0.99995, 0.99999)


def nines_floor(attainment: float) -> float:
    """The tightest target of :data:`TARGET_GRID` that ``attainment`` still meets (0.0 below the grid)."""
    met = [t for t in TARGET_GRID if t <= attainment + 1e-12]
    return met[-1] if met else 0.0


def supported_targets(evaluations: Sequence[SloEvaluation], *, quantile: float = 0.05) -> pl.DataFrame:
    """Per SLO: the current target, the worst, ``quantile`` and median attainment over its rolling
    interval (steps with a full interval behind them), the share of steps that met the target, and the
    suggested target (:func:`nines_floor` of the ``quantile`` attainment).

    Columns: ``slo, target, steps, worst_attainment, low_attainment, median_attainment, met_share,
    suggested_target, verdict`` (``"tighten"``, ``"keep"`` or ``"loosen"``).
    """
    rows = []
    for ev in evaluations:
        att = ev.budget.filter(pl.col("timestamp") >= ev.warm_from)["attainment"].drop_nulls().drop_nans()
        if att.is_empty():
            rows.append({"slo": ev.slo.name, "target": ev.slo.target, "steps": 0, "worst_attainment": None,
                         "low_attainment": None, "median_attainment": None, "met_share": None,
                         "suggested_target": None, "verdict": "insufficient data"})
            continue
        low = float(att.quantile(quantile, "lower") or 0.0)
        suggested = nines_floor(low)
        if abs(suggested - ev.slo.target) < 1e-9:
            verdict = "keep"
        else:
            verdict = "tighten" if suggested > ev.slo.target else "loosen"
        rows.append({"slo": ev.slo.name, "target": ev.slo.target, "steps": att.len(),
                     "worst_attainment": float(att.min()), "low_attainment": low,  # type: ignore[arg-type]
                     "median_attainment": float(att.median()),  # type: ignore[arg-type]
                     "met_share": float((att >= ev.slo.target).mean()),  # type: ignore[arg-type]
                     "suggested_target": suggested, "verdict": verdict})
    schema = {"slo": pl.String, "target": pl.Float64, "steps": pl.Int64, "worst_attainment": pl.Float64,
              "low_attainment": pl.Float64, "median_attainment": pl.Float64, "met_share": pl.Float64,
              "suggested_target": pl.Float64, "verdict": pl.String}
    return pl.DataFrame(rows, schema=schema, orient="row")
