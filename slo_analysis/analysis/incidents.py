"""Incidents across SLOs, their baselines, and the two alternatives to a change: load and a dependency.

An *incident* is the union of overlapping incident windows of several SLOs (the demo's routing-service
change trips the CreateTicket latency and the first-response SLOs within a minute of each other: one
incident, two SLOs). Its *baseline* is the same clock time one day earlier (daily seasonality), or the
hours just before the onset when the data do not reach back a day.

Examples
--------
>>> from datetime import UTC, datetime
>>> import polars as pl
>>> t = lambda h, m=0: datetime(2026, 11, 11, h, m, tzinfo=UTC)
>>> w = pl.DataFrame({"start": [t(14, 7), t(14, 8)], "end": [t(15, 26), t(15, 28)], "slo": ["a", "b"]})
>>> [(i.start.strftime("%H:%M"), i.end.strftime("%H:%M"), i.slos) for i in merge_incidents(w)]
[('14:07', '15:28', ('a', 'b'))]
>>> baseline_window(merge_incidents(w)[0], (t(0), t(23)))[0].strftime("%H:%M")
'12:16'
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import polars as pl

__all__ = ["Incident", "merge_incidents", "baseline_window", "load_shift", "dependency_health", "hot_edges",
           "load_rise_start"]

_DAY = timedelta(days=1)


@dataclass(frozen=True)
class Incident:
    """One incident: the union of overlapping SLO incident windows."""

    id: str
    start: datetime  # the earliest refined onset among its SLOs
    end: datetime
    slos: tuple[str, ...]

    @property
    def window(self) -> tuple[datetime, datetime]:
        return self.start, self.end

    @property
    def duration(self) -> timedelta:
        return self.end - self.start


def merge_incidents(windows: pl.DataFrame, *, merge_gap: timedelta = timedelta(minutes=15)) -> list[Incident]:
    """Merge per-SLO incident windows (columns ``start``, ``end``, ``slo``) that overlap or lie within
    ``merge_gap`` of each other into incidents, earliest first."""
    incidents: list[Incident] = []
    cur: list[dict[str, object]] = []
    cur_end: datetime | None = None
    for row in windows.sort("start").iter_rows(named=True):
        if cur and cur_end is not None and row["start"] <= cur_end + merge_gap:
            cur.append(row)
            cur_end = max(cur_end, row["end"])
            continue
        if cur:
            incidents.append(_incident(cur, cur_end))  # type: ignore[arg-type]
        cur, cur_end = [row], row["end"]
    if cur:
        incidents.append(_incident(cur, cur_end))  # type: ignore[arg-type]
    return incidents


def _incident(rows: list[dict[str, object]], end: datetime) -> Incident:
    start: datetime = min(r["start"] for r in rows)  # type: ignore[type-var,assignment]
    slos = tuple(dict.fromkeys(str(r["slo"]) for r in rows))
    return Incident(f"INC-{start:%Y%m%d-%H%M}", start, end, slos)


def baseline_window(incident: Incident, data_window: tuple[datetime, datetime], *,
                    gap: timedelta = timedelta(minutes=30)) -> tuple[datetime, datetime]:
    """The window to compare the incident with: the same clock time a day earlier when the data reach
    back that far, else the same duration (at least an hour) ending ``gap`` before the onset."""
    length = max(incident.duration, timedelta(hours=1))
    day_before = (incident.start - _DAY, incident.start - _DAY + length)
    if day_before[0] >= data_window[0]:
        return day_before
    end = incident.start - gap
    return max(data_window[0], end - length), end


def load_shift(requests: pl.DataFrame | pl.LazyFrame, incident: Incident, data_window: tuple[datetime, datetime],
               *, service: str | None = None, max_days: int = 7) -> tuple[float, str] | None:
    """Request rate in the incident over the median rate at the same clock time on earlier days.

    Counts ``service``'s requests (default: every service's). Returns ``(ratio, sentence)``, or ``None``
    when there are no earlier days in the data.
    """
    lf = requests.lazy()
    if service is not None:
        lf = lf.filter(pl.col("service") == service)
    windows = [(incident.start - k * _DAY, incident.end - k * _DAY) for k in range(0, max_days + 1)]
    windows = [w for w in windows if w[0] >= data_window[0]]
    if len(windows) < 2:
        return None
    exprs = [((pl.col("timestamp") >= a) & (pl.col("timestamp") < b)).sum().alias(str(k))
             for k, (a, b) in enumerate(windows)]
    counts = lf.select(exprs).collect().row(0)
    current, earlier = counts[0], sorted(counts[1:])
    median = earlier[len(earlier) // 2] if len(earlier) % 2 else 0.5 * (earlier[len(earlier) // 2 - 1]
                                                                       + earlier[len(earlier) // 2])
    if median <= 0:
        return None
    ratio = current / median
    who = f"{service}'s" if service else "the"
    sentence = (f"{who} request rate was {ratio:.1f}x the median of the same hours on the {len(earlier)} "
                f"earlier day(s) ({current} against {median:.0f} requests)")
    return ratio, sentence


def dependency_health(spans: pl.DataFrame | pl.LazyFrame, incident: tuple[datetime, datetime],
                      baseline: tuple[datetime, datetime], *, min_spans: int = 5) -> pl.DataFrame:
    """How each caller's calls to each dependency (``aws``/``remote`` leaf subsegments) changed.

    One row per (dependency, caller): ``baseline_calls``, ``incident_calls``, mean durations and their
    ratio, the share of calls that faulted, errored or were throttled in each window, and ``degraded``
    (duration x2 or more, or the failing share up by 5 points or more). A dependency whose calls
    degraded for two or more callers, or that throttled, is ``shared`` (the dependency, not one caller,
    changed).
    """
    lf = spans.lazy().filter(pl.col("namespace").is_in(["aws", "remote"]))
    services = spans.lazy().filter(pl.col("kind") == "segment").select("service").unique().collect()["service"]
    lf = lf.filter(~pl.col("name").is_in(services.implode()))
    failing = pl.col("fault") | pl.col("error") | pl.col("throttle")

    def agg(window: tuple[datetime, datetime], tag: str) -> pl.LazyFrame:
        w = lf.filter((pl.col("start") >= window[0]) & (pl.col("start") < window[1]))
        return w.group_by("name", "service").agg(
            pl.len().alias(f"{tag}_calls"), pl.col("duration_ms").mean().alias(f"{tag}_mean_ms"),
            failing.fill_null(False).mean().alias(f"{tag}_failing_share"),
            pl.col("throttle").fill_null(False).mean().alias(f"{tag}_throttle_share"),
        )

    joined = agg(baseline, "baseline").join(agg(incident, "incident"), on=["name", "service"], how="full",
                                            coalesce=True).collect()
    enough = (pl.col("baseline_calls").fill_null(0) >= min_spans) & (pl.col("incident_calls").fill_null(0) >= min_spans)
    out = joined.with_columns(
        duration_ratio=pl.col("incident_mean_ms") / pl.col("baseline_mean_ms"),
        failing_delta=pl.col("incident_failing_share") - pl.col("baseline_failing_share"),
        throttle_delta=pl.col("incident_throttle_share") - pl.col("baseline_throttle_share"),
    ).with_columns(
        degraded=enough & ((pl.col("duration_ratio") >= 2.0) | (pl.col("failing_delta") >= 0.05)),
    )
    shared = out.group_by("name").agg(
        (pl.col("degraded").sum() >= 2) | (pl.col("degraded") & (pl.col("throttle_delta") >= 0.05)).any()
    ).rename({"degraded": "shared"})
    return out.join(shared, on="name").rename({"name": "dependency", "service": "caller"}).sort(
        ["shared", "degraded", "dependency"], descending=[True, True, False])


def hot_edges(incident_edges: pl.DataFrame, baseline_edges: pl.DataFrame, *, ratio: float = 2.0,
              fault_delta: float = 0.02, min_calls: int = 3) -> set[tuple[str, str]]:
    """Edges of the service graph (``caller, callee, calls, fault_rate, p99_ms`` from
    :func:`~slo_analysis.analysis.trace_graph.service_graph`) whose p99 grew ``ratio``-fold or whose fault
    rate rose by ``fault_delta`` in the incident, against the baseline; an edge new in the incident with
    faults is hot too."""
    if incident_edges.is_empty():
        return set()
    joined = incident_edges.filter(pl.col("calls") >= min_calls).join(
        baseline_edges.select("caller", "callee", base_p99=pl.col("p99_ms"), base_fault=pl.col("fault_rate")),
        on=["caller", "callee"], how="left")
    hot = joined.filter(
        (pl.col("p99_ms") >= ratio * pl.col("base_p99"))
        | (pl.col("fault_rate") - pl.col("base_fault").fill_null(0.0) >= fault_delta)
    )
    return {(r["caller"], r["callee"]) for r in hot.iter_rows(named=True)}


def load_rise_start(requests: pl.DataFrame | pl.LazyFrame, incident: Incident, data_window: tuple[datetime, datetime],
                    *, service: str | None = None, ratio: float = 1.3, lookback: timedelta = timedelta(hours=3),
                    max_days: int = 7, smooth: str = "10m") -> datetime | None:
    """When the request rate began to rise above its usual level for good before the incident.

    Counts ``service``'s requests per ``smooth`` bucket over ``lookback`` before the onset and compares each
    with the median of the same bucket on earlier days; the answer is the start of the last run of buckets
    at or above ``ratio`` times the usual count that reaches the onset, or ``None`` when the rate was usual
    at the onset (or there is no earlier day to compare with).
    """
    lf = requests.lazy()
    if service is not None:
        lf = lf.filter(pl.col("service") == service)
    start, end = incident.start - lookback, incident.start + timedelta(minutes=10)
    days = [k for k in range(0, max_days + 1) if start - k * _DAY >= data_window[0]]
    if len(days) < 2:
        return None
    parts = [lf.filter((pl.col("timestamp") >= start - k * _DAY) & (pl.col("timestamp") < end - k * _DAY))
             .select(pl.col("timestamp") + pl.duration(days=k), pl.lit(k).alias("day")) for k in days]
    counts = (pl.concat(parts).sort("timestamp").group_by_dynamic("timestamp", every=smooth, group_by="day")
              .agg(pl.len().alias("n")).collect())
    today = counts.filter(pl.col("day") == 0).select("timestamp", "n")
    usual = counts.filter(pl.col("day") > 0).group_by("timestamp").agg(pl.col("n").median().alias("usual"))
    joined = today.join(usual, on="timestamp", how="left").sort("timestamp").with_columns(
        high=pl.col("n") >= ratio * pl.col("usual").fill_null(0.0).clip(lower_bound=1.0))
    before_onset = joined.filter(pl.col("timestamp") <= incident.start)
    if before_onset.is_empty() or not before_onset["high"][-1]:
        return None
    flags = before_onset["high"].to_list()
    k = len(flags) - 1
    while k > 0 and flags[k - 1]:
        k -= 1
    return before_onset["timestamp"][k]  # type: ignore[no-any-return]
