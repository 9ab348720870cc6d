"""Capacity planning: demand forecasts, saturation curves, headroom and run-out dates, Erlang C staffing.

- :mod:`~slo_analysis.analysis.capacity.capacity_data`: series out of a snapshot (demand, tickets, load
  per instance against latency, instance count from log streams, burst factor);
- :mod:`~slo_analysis.analysis.capacity.forecast`: seasonal demand forecast with intervals, backtest;
- :mod:`~slo_analysis.analysis.capacity.saturation`: USL and M/M/c fits, knee, maximum throughput;
- :mod:`~slo_analysis.analysis.capacity.headroom`: headroom at the forecast peak, run-out date, instances
  needed, what-if grids;
- :mod:`~slo_analysis.analysis.capacity.staffing`: Erlang C agents for a service level.

Examples
--------
>>> from slo_analysis.analysis import capacity
>>> capacity.agents_needed(100 / 1800, 180.0, target=0.8, answer_within_s=20.0).agents
14
"""

from slo_analysis.analysis.capacity.capacity_data import (
    Window,
    burst_factor,
    demand_series,
    drop_windows,
    every_seconds,
    instances_from_logs,
    load_latency,
    metric_series,
    ticket_arrivals,
)
from slo_analysis.analysis.capacity.errors import CapacityError, CapacityWarning, UnstableQueueError
from slo_analysis.analysis.capacity.forecast import Backtest, Forecast, backtest, forecast_demand, regularise
from slo_analysis.analysis.capacity.headroom import Headroom, headroom, headroom_timeline, what_if
from slo_analysis.analysis.capacity.saturation import (
    MmcFit,
    SaturationFit,
    UslFit,
    fit_mmc,
    fit_saturation,
    fit_usl,
    mmc_latency,
    saturation_windows,
    usl_latency,
)
from slo_analysis.analysis.capacity.staffing import (
    StaffingResult,
    agents_needed,
    average_speed_of_answer,
    erlang_b,
    erlang_c,
    erlang_c_array,
    service_level,
    staffing_table,
)

__all__ = [
    "Window", "burst_factor", "demand_series", "drop_windows", "every_seconds", "instances_from_logs",
    "load_latency", "metric_series", "ticket_arrivals",
    "CapacityError", "CapacityWarning", "UnstableQueueError",
    "Backtest", "Forecast", "backtest", "forecast_demand", "regularise",
    "Headroom", "headroom", "headroom_timeline", "what_if",
    "MmcFit", "SaturationFit", "UslFit", "fit_mmc", "fit_saturation", "fit_usl", "mmc_latency",
    "saturation_windows", "usl_latency",
    "StaffingResult", "agents_needed", "average_speed_of_answer", "erlang_b", "erlang_c", "erlang_c_array",
    "service_level", "staffing_table",
]
