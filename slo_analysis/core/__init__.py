"""The pure SLO core: SLO definitions, SLIs, error budgets, burn rates, breach/incident windows and
alert backtests (module map and the SLI frame contract: docs/slo-engine.md).

No I/O, no clock, no logging; polars and numpy only (a test checks that importing it does not import
boto3). Every function takes an explicit half-open window ``[start, end)``.

Examples
--------
The latency SLO of the demo (``demo_snapshot()``: a small generated demo snapshot), from its
definition to its SLI, budget and windows:

>>> import slo_analysis as sa
>>> from slo_analysis.analysis import sli_for_slo
>>> snap = sa.store.Snapshot.open(demo_snapshot())
>>> slo = next(s for s in slos_from_frame(snap.read("slos")) if s.name == "CreateTicket-Latency-p99")
>>> slo.method, slo.target, slo.period_s, round(error_budget_seconds(slo.target, 86400), 9)
('period', 0.99, 60, 864.0)
>>> sli = sli_for_slo(snap, slo, align_window(snap.window, 60))
>>> budget = rolling_budget(sli, slo.target, interval_length(slo).total_seconds())
>>> incidents = incident_windows(sli, slo.target)
>>> [(w["start"].strftime("%d %H:%M"), w["end"].strftime("%H:%M")) for w in incidents.iter_rows(named=True)]
[('03 14:07', '15:29')]
>>> breach_windows(budget, sli.period_s)["start"][0].strftime("%d %H:%M")
'03 14:23'
"""

from slo_analysis.core.alerts import (
    DAY_S,
    AlertPolicy,
    AlertRule,
    BacktestResult,
    alert_episodes,
    application_signals_policy,
    backtest,
    compare_policies,
    custom_policy,
    pyrra_policy,
    sloth_policy,
    workbook_policy,
)
from slo_analysis.core.budget import (
    BREACHED,
    INSUFFICIENT_DATA,
    OK,
    STATUSES,
    WARNING,
    Method,
    budget_consumed,
    burn_rates,
    calendar_budget,
    calendar_interval_bounds,
    error_budget_seconds,
    rolling_budget,
    sli_parts,
    window_label,
)
from slo_analysis.core.model import (
    COMPARISONS,
    DURATION_UNITS,
    METHODS,
    SLI_KINDS,
    SLO,
    ExclusionWindow,
    Interval,
    MetricRef,
    SloDefinitionError,
    add_duration,
    budget_fraction,
    interval_bounds,
    interval_length,
    slos_from_frame,
)
from slo_analysis.core.sli import (
    SLI_COLUMNS,
    MissingPolicy,
    SliError,
    SliSeries,
    Window,
    align_window,
    apply_exclusions,
    compare,
    first_response_sli,
    period_grid,
    period_sli_from_series,
    request_sli_from_counts,
    request_sli_from_requests,
)
from slo_analysis.core.windows import (
    PAGE_CONDITIONS,
    Condition,
    at_risk_periods,
    breach_windows,
    burn_condition,
    incident_windows,
    mask_windows,
)

__all__ = [
    "SLI_KINDS",
    "METHODS",
    "COMPARISONS",
    "DURATION_UNITS",
    "SloDefinitionError",
    "MetricRef",
    "Interval",
    "ExclusionWindow",
    "SLO",
    "slos_from_frame",
    "interval_length",
    "interval_bounds",
    "budget_fraction",
    "add_duration",
    "SLI_COLUMNS",
    "SliError",
    "SliSeries",
    "Window",
    "MissingPolicy",
    "align_window",
    "period_grid",
    "compare",
    "request_sli_from_requests",
    "request_sli_from_counts",
    "period_sli_from_series",
    "first_response_sli",
    "apply_exclusions",
    "OK",
    "WARNING",
    "BREACHED",
    "INSUFFICIENT_DATA",
    "STATUSES",
    "Method",
    "sli_parts",
    "window_label",
    "error_budget_seconds",
    "budget_consumed",
    "burn_rates",
    "rolling_budget",
    "calendar_budget",
    "calendar_interval_bounds",
    "Condition",
    "PAGE_CONDITIONS",
    "mask_windows",
    "burn_condition",
    "breach_windows",
    "incident_windows",
    "at_risk_periods",
    "AlertRule",
    "AlertPolicy",
    "BacktestResult",
    "DAY_S",
    "workbook_policy",
    "sloth_policy",
    "pyrra_policy",
    "application_signals_policy",
    "custom_policy",
    "alert_episodes",
    "backtest",
    "compare_policies",
]
