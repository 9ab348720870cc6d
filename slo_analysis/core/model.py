"""The validated SLO model, built from a ``slos`` frame row or from plain Python.

One :class:`SLO` describes one objective, whatever it came from:

- ``source == "application-signals"``: the row's ``definition`` holds a GetServiceLevelObjective
  ``Slo`` (botocore model ``application-signals`` 2024-04-15). Service, environment and operation
  come from ``KeyAttributes`` and ``OperationName``; metric identities from the returned
  ``MetricStat`` queries (``SliMetric.MetricDataQueries``, or ``TotalRequestCountMetric`` and
  ``MonitoredRequestCountMetric`` Good/Bad); ``BurnRateConfigurations`` become
  ``burn_rate_windows_min``. Exclusion windows are not part of the ``Slo`` shape (AWS returns them
  from ``ListServiceLevelObjectiveExclusionWindows``); an ``ExclusionWindows`` list merged into the
  definition is read, and :func:`SLO` takes them directly.
- ``source == "openslo"``: the objective-level fields (name, target, interval, period, threshold,
  comparison) are the row's, since one OpenSLO document yields one row per objective; metric
  identities and the operation/environment (from CloudWatch dimensions when no label names them)
  come from the inlined indicator of ``definition``.
- ``source == "python"``: the row's fields.

Validation errors are :class:`SloDefinitionError` naming the SLO and the field.

Exclusion windows support one-off windows (``StartTime`` + ``Window``), ``rate(N unit)``
recurrences anchored at ``StartTime``, and EventBridge-style ``cron(min hour dom month dow year)``
with numbers, ``*``, ``?``, lists, ranges and ``/`` steps (day names ``SUN``..``SAT`` or 1..7 with
1 = Sunday). ``L``, ``W`` and ``#`` cron forms raise :class:`SloDefinitionError`, as does an
exclusion window without ``StartTime`` that needs one (AWS defaults it to "now"; the core has no
clock).

Examples
--------
>>> from slo_analysis.core.model import SLO, Interval, budget_fraction, interval_length
>>> slo = SLO(name="kb", sli_kind="availability", method="request", target=0.999,
...           interval=Interval("rolling", 30, "DAY"))
>>> budget_fraction(slo) * interval_length(slo).total_seconds() / 60
43.2
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal, cast

import polars as pl

from slo_analysis.exceptions import SloAnalysisError

__all__ = [
    "SLI_KINDS",
    "METHODS",
    "BUDGETING_METHODS",
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
]

SliKind = Literal["availability", "latency", "ratio", "threshold"]
Method = Literal["request", "period"]
Budgeting = Literal["occurrences", "timeslices", "ratio_timeslices"]
Comparison = Literal["LessThan", "LessThanOrEqualTo", "GreaterThan", "GreaterThanOrEqualTo"]
DurationUnit = Literal["MINUTE", "HOUR", "DAY", "MONTH"]

SLI_KINDS: tuple[str, ...] = ("availability", "latency", "ratio", "threshold")
METHODS: tuple[str, ...] = ("request", "period")
BUDGETING_METHODS: tuple[str, ...] = ("occurrences", "timeslices", "ratio_timeslices")
COMPARISONS: tuple[str, ...] = ("LessThan", "LessThanOrEqualTo", "GreaterThan", "GreaterThanOrEqualTo")
DURATION_UNITS: tuple[str, ...] = ("MINUTE", "HOUR", "DAY", "MONTH")
_FIXED = {"MINUTE": timedelta(minutes=1), "HOUR": timedelta(hours=1), "DAY": timedelta(days=1)}
ROLLING_MONTH_DAYS = 30  # a rolling MONTH interval counts 30 days (calendar MONTHs are real months)


class SloDefinitionError(SloAnalysisError, ValueError):
    """An SLO definition is invalid; names the SLO and the field."""

    def __init__(self, slo: str | None, field: str, problem: str) -> None:
        self.slo = slo
        self.field = field
        self.problem = problem
        super().__init__(f"SLO {slo or '<unnamed>'!s}, field {field!r}: {problem}")


def _utc(value: Any, slo: str | None, fld: str) -> datetime:
    """A timezone-aware UTC datetime from a datetime, ISO string or epoch seconds."""
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, date):
        dt = datetime(value.year, value.month, value.day)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        dt = datetime.fromtimestamp(float(value), UTC)
    elif isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as exc:
            raise SloDefinitionError(slo, fld, f"not an ISO 8601 time: {value!r}") from exc
    else:
        raise SloDefinitionError(slo, fld, f"expected a time, found {type(value).__name__}")
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def add_duration(t: datetime, count: int, unit: str) -> datetime:
    """``t`` plus ``count`` units; MONTH adds calendar months (the day is clamped to the month's end).

    >>> add_duration(datetime(2026, 1, 31, tzinfo=UTC), 1, "MONTH").date()
    datetime.date(2026, 2, 28)
    """
    if unit == "MONTH":
        m = t.month - 1 + count
        year, month = t.year + m // 12, m % 12 + 1
        days = [31, 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28, 31, 30, 31, 30, 31,
                31, 30, 31, 30, 31][month - 1]
        return t.replace(year=year, month=month, day=min(t.day, days))
    return t + count * _FIXED[unit]


# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MetricRef:
    """The identity of one CloudWatch metric an SLI reads.

    ``role`` is ``"sli"`` (the period-based metric), ``"good"``, ``"bad"`` or ``"total"``;
    ``dimensions`` is the canonical ``"k=v,k=v"`` string of the metrics frame (sorted by name).
    ``expression`` is set instead of a metric for a metric-math query (not evaluated by the core).
    """

    role: str
    namespace: str | None = None
    metric: str | None = None
    dimensions: str = ""
    statistic: str | None = None
    period_s: int | None = None
    expression: str | None = None


@dataclass(frozen=True)
class Interval:
    """The SLO's evaluation interval: ``rolling`` (duration) or ``calendar`` (start + duration)."""

    kind: Literal["rolling", "calendar"]
    duration: int
    unit: DurationUnit
    start: datetime | None = None


@dataclass(frozen=True)
class ExclusionWindow:
    """An Application Signals exclusion window (``ExclusionWindow`` shape).

    A one-off window has ``start`` and no ``recurrence``. ``recurrence`` is ``rate(N unit)``
    (anchored at ``start``) or ``cron(...)`` (``start``, when given, is the earliest occurrence).

    Examples
    --------
    A nightly two-hour maintenance window over the demo snapshot's three days:

    >>> import slo_analysis as sa
    >>> window = sa.store.Snapshot.open(demo_snapshot()).window
    >>> nightly = ExclusionWindow(duration=2, unit="HOUR", recurrence="cron(0 3 * * ? *)", reason="maintenance")
    >>> [(s.strftime("%d %H:%M"), e.strftime("%H:%M")) for s, e in nightly.occurrences(window)]
    [('02 03:00', '05:00'), ('03 03:00', '05:00'), ('04 03:00', '05:00')]
    >>> ExclusionWindow.from_aws({"Window": {"Duration": 30, "DurationUnit": "MINUTE"},
    ...                           "StartTime": "2026-11-03T14:00:00Z"}).occurrences(window)[0][1].strftime("%H:%M")
    '14:30'
    """

    duration: int
    unit: DurationUnit
    start: datetime | None = None
    recurrence: str | None = None
    reason: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.duration, bool) or not isinstance(self.duration, int) or self.duration < 1:
            raise SloDefinitionError(None, "Window.Duration", f"must be an integer >= 1, got {self.duration!r}")
        if self.unit not in DURATION_UNITS:
            raise SloDefinitionError(None, "Window.DurationUnit",
                                     f"must be one of {', '.join(DURATION_UNITS)}, got {self.unit!r}")
        if self.start is not None:
            object.__setattr__(self, "start", _utc(self.start, None, "StartTime"))
        if (self.recurrence is None or self.recurrence.strip().startswith("rate(")) and self.start is None:
            raise SloDefinitionError(None, "StartTime", "required for a one-off or rate() exclusion window "
                                     "(AWS defaults it to the creation time, which the definition does not hold)")
        if self.recurrence is not None:
            _parse_recurrence(self.recurrence)  # raises on what is not supported

    @classmethod
    def from_aws(cls, d: Mapping[str, Any]) -> ExclusionWindow:
        """From an ``ExclusionWindow`` dict: ``{"Window": {...}, "StartTime", "RecurrenceRule", "Reason"}``."""
        if not isinstance(d, Mapping) or not isinstance(d.get("Window"), Mapping):
            raise SloDefinitionError(None, "Window", "an exclusion window needs Window{Duration, DurationUnit}")
        w = d["Window"]
        rule = d.get("RecurrenceRule")
        expr = rule.get("Expression") if isinstance(rule, Mapping) else None
        if rule is not None and not isinstance(expr, str):
            raise SloDefinitionError(None, "RecurrenceRule.Expression", "must be a cron() or rate() string")
        start = d.get("StartTime")
        return cls(duration=w.get("Duration"), unit=w.get("DurationUnit"),
                   start=None if start is None else _utc(start, None, "StartTime"),
                   recurrence=expr, reason=d.get("Reason"))

    def occurrences(self, window: tuple[datetime, datetime]) -> list[tuple[datetime, datetime]]:
        """The excluded intervals ``[s, e)`` that overlap ``window = [start, end)``, in order."""
        lo, hi = _utc(window[0], None, "window"), _utc(window[1], None, "window")
        starts: Iterable[datetime]
        if self.recurrence is None:
            assert self.start is not None
            starts = [self.start]
        else:
            starts = _recurrence_starts(self, lo, hi)
        out = []
        for s in starts:
            e = add_duration(s, self.duration, self.unit)
            if s < hi and e > lo:
                out.append((s, e))
        return out


_RATE = re.compile(r"^\s*rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)\s*$", re.I)
_CRON = re.compile(r"^\s*cron\((.*)\)\s*$", re.I)
_DOW = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
_MON = {m: i for i, m in enumerate(["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV",
                                    "DEC"], 1)}


def _cron_field(text: str, lo: int, hi: int, names: Mapping[str, int], what: str) -> frozenset[int] | None:
    """The values a cron field allows (None for ``*`` / ``?``)."""
    if text in ("*", "?"):
        return None
    values: set[int] = set()
    for part in text.upper().split(","):
        if any(c in part for c in "LW#"):
            raise SloDefinitionError(None, "RecurrenceRule.Expression",
                                     f"cron {what} field {text!r}: L, W and # are not supported")
        base, _, step_s = part.partition("/")
        step = int(step_s) if step_s.isdigit() else (1 if not step_s else -1)
        if step < 1:
            raise SloDefinitionError(None, "RecurrenceRule.Expression", f"cron {what} step in {part!r}")
        if base == "*":
            a, b = lo, hi
        else:
            a_s, _, b_s = base.partition("-")
            try:
                a = names[a_s] if a_s in names else int(a_s)
                b = (names[b_s] if b_s in names else int(b_s)) if b_s else (hi if step_s else a)
            except ValueError:
                raise SloDefinitionError(None, "RecurrenceRule.Expression",
                                         f"cron {what} field {text!r} is not understood") from None
        if not lo <= a <= hi or not lo <= b <= hi or a > b:
            raise SloDefinitionError(None, "RecurrenceRule.Expression",
                                     f"cron {what} field {text!r} outside {lo}..{hi}")
        values.update(range(a, b + 1, step))
    return frozenset(values)


def _parse_recurrence(expr: str) -> tuple[str, Any]:
    m = _RATE.match(expr)
    if m:
        n = int(m.group(1))
        if n < 1:
            raise SloDefinitionError(None, "RecurrenceRule.Expression", f"rate must be >= 1: {expr!r}")
        unit = m.group(2).lower().rstrip("s")
        return "rate", timedelta(minutes=n) if unit == "minute" else (
            timedelta(hours=n) if unit == "hour" else timedelta(days=n))
    m = _CRON.match(expr)
    if m:
        parts = m.group(1).split()
        if len(parts) != 6:
            raise SloDefinitionError(None, "RecurrenceRule.Expression",
                                     "cron needs 6 fields (minutes hours day-of-month month day-of-week year): "
                                     f"{expr!r}")
        fields = (_cron_field(parts[0], 0, 59, {}, "minutes"), _cron_field(parts[1], 0, 23, {}, "hours"),
                  _cron_field(parts[2], 1, 31, {}, "day-of-month"), _cron_field(parts[3], 1, 12, _MON, "month"),
                  _cron_field(parts[4], 1, 7, _DOW, "day-of-week"), _cron_field(parts[5], 1970, 2199, {}, "year"))
        return "cron", fields
    raise SloDefinitionError(None, "RecurrenceRule.Expression",
                             f"unsupported recurrence {expr!r}: use rate(N minutes|hours|days) or cron(6 fields)")


def _recurrence_starts(ew: ExclusionWindow, lo: datetime, hi: datetime) -> list[datetime]:
    assert ew.recurrence is not None
    kind, spec = _parse_recurrence(ew.recurrence)
    longest = add_duration(lo, -ew.duration, ew.unit) if ew.unit != "MONTH" else lo - timedelta(days=31 * ew.duration)
    if kind == "rate":
        step = cast(timedelta, spec)
        assert ew.start is not None
        k = max(0, math.floor((longest - ew.start) / step))
        out: list[datetime] = []
        while True:
            s = ew.start + k * step
            if s >= hi:
                return out
            out.append(s)
            k += 1
    minutes, hours, dom, months, dow, years = spec
    out = []
    day = datetime(longest.year, longest.month, longest.day, tzinfo=UTC)
    while day < hi:
        cron_dow = day.isoweekday() % 7 + 1  # Sunday = 1
        # like cron, day-of-month and day-of-week restrict together only when both are given
        dom_ok = dom is None or day.day in dom
        dow_ok = dow is None or cron_dow in dow
        if (dom_ok and dow_ok) and (months is None or day.month in months) and (years is None or day.year in years):
            for h in sorted(hours) if hours is not None else range(24):
                for mi in sorted(minutes) if minutes is not None else range(60):
                    s = day.replace(hour=h, minute=mi)
                    if s < hi and (ew.start is None or s >= ew.start):
                        out.append(s)
        day += timedelta(days=1)
    return out


# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SLO:
    """One service level objective, validated on construction.

    Parameters
    ----------
    name : str
    sli_kind : {"availability", "latency", "ratio", "threshold"}
    method : {"request", "period"}
        request-based (good / total events) or period-based (good / total periods).
    target : float
        attainment goal as a fraction, ``0 < target < 1`` (99.9 % is 0.999).
    interval : Interval
        rolling or calendar; default a rolling 7 days (the Application Signals default).
    service, operation, environment : str, optional
    threshold : float, optional
        the SLI threshold (latency in ms, or the metric's unit); needed by latency and threshold SLIs.
    comparison : {"LessThan", "LessThanOrEqualTo", "GreaterThan", "GreaterThanOrEqualTo"}, optional
        a value is *good* when ``value <comparison> threshold`` holds.
    warning_threshold : float
        remaining-budget fraction below which the status is WARNING (default 0.5).
    period_s : int, optional
        period-based SLOs only, 60..900 seconds (Application Signals' range).
    budgeting : {"occurrences", "timeslices", "ratio_timeslices"}, optional
        OpenSLO's ``budgetingMethod``; by default ``occurrences`` for request-based SLOs and
        ``timeslices`` for period-based ones. ``occurrences``: attainment = good events / events.
        ``timeslices``: a slice (period) is good when its value, or its ratio of good events, meets the
        slice target; attainment = good slices / slices. ``ratio_timeslices`` (ratio SLIs only):
        attainment = the mean of the slices' good-event ratios.
    slice_target : float, optional
        OpenSLO's ``timeSliceTarget``, in ``(0, 1]``, for ``timeslices`` only: the fraction a slice must
        reach to be good (its good-event ratio for a ratio SLI, its share of good datapoints for a
        threshold SLI, where the default is 1: every datapoint must be good). Required by a period-based
        ratio SLO with ``timeslices`` budgeting.
    metrics : tuple of MetricRef
        the metrics the SLI reads, by role (``sli``, ``good``, ``bad``, ``total``).
    burn_rate_windows_min : tuple of int
        ``BurnRateConfigurations`` look-back windows, minutes (1..10080).
    exclusion_windows : tuple of ExclusionWindow
    source : str
        ``application-signals``, ``openslo`` or ``python``.

    Raises
    ------
    SloDefinitionError
        naming the SLO and the field.
    """

    name: str
    sli_kind: SliKind
    method: Method
    target: float
    interval: Interval = field(default_factory=lambda: Interval("rolling", 7, "DAY"))
    service: str | None = None
    operation: str | None = None
    environment: str | None = None
    threshold: float | None = None
    comparison: Comparison | None = None
    warning_threshold: float = 0.5
    period_s: int | None = None
    metrics: tuple[MetricRef, ...] = ()
    burn_rate_windows_min: tuple[int, ...] = ()
    exclusion_windows: tuple[ExclusionWindow, ...] = ()
    source: str = "python"
    description: str | None = None
    budgeting: Budgeting | None = None
    slice_target: float | None = None

    def __post_init__(self) -> None:  # noqa: C901 - one check per field, in field order
        def bad(fld: str, problem: str) -> SloDefinitionError:
            return SloDefinitionError(self.name if isinstance(self.name, str) and self.name else None, fld, problem)

        if not isinstance(self.name, str) or not self.name:
            raise bad("name", "must be a non-empty string")
        if self.sli_kind not in SLI_KINDS:
            raise bad("sli_kind", f"must be one of {', '.join(SLI_KINDS)}, got {self.sli_kind!r}")
        if self.method not in METHODS:
            raise bad("method", f"must be 'request' or 'period', got {self.method!r}")
        if (isinstance(self.target, bool) or not isinstance(self.target, int | float)
                or not 0 < self.target < 1):
            raise bad("target", f"must be a fraction in (0, 1) (99.9 % is 0.999), got {self.target!r}")
        object.__setattr__(self, "target", float(self.target))
        iv = self.interval
        if not isinstance(iv, Interval):
            raise bad("interval", f"must be an Interval, got {type(iv).__name__}")
        if iv.kind not in ("rolling", "calendar"):
            raise bad("interval.kind", f"must be 'rolling' or 'calendar', got {iv.kind!r}")
        if isinstance(iv.duration, bool) or not isinstance(iv.duration, int) or iv.duration < 1:
            raise bad("interval.duration", f"must be an integer >= 1, got {iv.duration!r}")
        if iv.unit not in DURATION_UNITS:
            raise bad("interval.unit", f"must be one of {', '.join(DURATION_UNITS)}, got {iv.unit!r}")
        if iv.kind == "calendar":
            if iv.start is None:
                raise bad("interval.start", "a calendar interval needs a start time")
            object.__setattr__(self, "interval", Interval("calendar", iv.duration, iv.unit,
                                                          _utc(iv.start, self.name, "interval.start")))
        elif iv.start is not None:
            raise bad("interval.start", "only calendar intervals have a start")
        if self.comparison is not None and self.comparison not in COMPARISONS:
            raise bad("comparison", f"must be one of {', '.join(COMPARISONS)}, got {self.comparison!r}")
        if self.threshold is not None:
            if (isinstance(self.threshold, bool) or not isinstance(self.threshold, int | float)
                    or not math.isfinite(self.threshold)):
                raise bad("threshold", f"must be a finite number, got {self.threshold!r}")
            object.__setattr__(self, "threshold", float(self.threshold))
        if self.sli_kind in ("latency", "threshold") or (self.method == "period" and self.sli_kind != "ratio"):
            if self.threshold is None:
                raise bad("threshold", f"a {self.method}-based {self.sli_kind} SLI needs a threshold")
            if self.comparison is None:
                raise bad("comparison", f"a {self.method}-based {self.sli_kind} SLI needs a comparison operator")
        if (isinstance(self.warning_threshold, bool) or not isinstance(self.warning_threshold, int | float)
                or not 0 <= self.warning_threshold <= 1):
            raise bad("warning_threshold", f"must be a fraction in [0, 1], got {self.warning_threshold!r}")
        object.__setattr__(self, "warning_threshold", float(self.warning_threshold))
        if self.method == "period":
            if (isinstance(self.period_s, bool) or not isinstance(self.period_s, int)
                    or not 60 <= self.period_s <= 900):
                raise bad("period_s", f"period-based SLOs need period_s in 60..900 seconds, got {self.period_s!r}")
        elif self.period_s is not None:
            raise bad("period_s", "only period-based SLOs have a period")
        self._check_budgeting(bad)
        for i, w in enumerate(self.burn_rate_windows_min):
            if isinstance(w, bool) or not isinstance(w, int) or not 1 <= w <= 10080:
                raise bad(f"burn_rate_windows_min[{i}]", f"must be an integer in 1..10080 minutes, got {w!r}")
        for i, m in enumerate(self.metrics):
            if not isinstance(m, MetricRef) or m.role not in ("sli", "good", "bad", "total"):
                raise bad(f"metrics[{i}]", "must be a MetricRef with role sli, good, bad or total")
        for i, ew in enumerate(self.exclusion_windows):
            if not isinstance(ew, ExclusionWindow):
                raise bad(f"exclusion_windows[{i}]", "must be an ExclusionWindow")
        for k in ("service", "operation", "environment", "description"):
            v = getattr(self, k)
            if v is not None and not isinstance(v, str):
                raise bad(k, f"must be a string or None, got {type(v).__name__}")
        object.__setattr__(self, "metrics", tuple(self.metrics))
        object.__setattr__(self, "burn_rate_windows_min", tuple(self.burn_rate_windows_min))
        object.__setattr__(self, "exclusion_windows", tuple(self.exclusion_windows))

    def _check_budgeting(self, bad: Any) -> None:
        """Validate ``budgeting`` and ``slice_target`` against the method and SLI kind (fills the default)."""
        budgeting = self.budgeting or ("occurrences" if self.method == "request" else "timeslices")
        if budgeting not in BUDGETING_METHODS:
            raise bad("budgeting", f"must be one of {', '.join(BUDGETING_METHODS)}, got {budgeting!r}")
        if (budgeting == "occurrences") != (self.method == "request"):
            raise bad("budgeting", f"{budgeting} budgeting does not go with a {self.method}-based SLO "
                      "(occurrences is request-based; timeslices and ratio_timeslices are period-based)")
        if budgeting == "ratio_timeslices" and self.sli_kind != "ratio":
            raise bad("budgeting", f"ratio_timeslices averages good-event ratios: it needs a ratio SLI, "
                      f"not {self.sli_kind}")
        st = self.slice_target
        if st is not None:
            if isinstance(st, bool) or not isinstance(st, int | float) or not 0 < st <= 1:
                raise bad("slice_target", f"must be a fraction in (0, 1], got {st!r}")
            if budgeting != "timeslices":
                raise bad("slice_target", f"only timeslices budgeting has a slice target, not {budgeting}")
            object.__setattr__(self, "slice_target", float(st))
        elif budgeting == "timeslices" and self.sli_kind == "ratio":
            raise bad("slice_target", "a period-based ratio SLO with timeslices budgeting needs the ratio a "
                      "slice must reach to be good (OpenSLO timeSliceTarget)")
        object.__setattr__(self, "budgeting", budgeting)

    def metric(self, role: str) -> MetricRef | None:
        """The metric with ``role`` (``sli``, ``good``, ``bad``, ``total``), or None."""
        return next((m for m in self.metrics if m.role == role), None)

    # -- constructors -------------------------------------------------------------------------
    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> SLO:
        """The SLO of one ``slos`` frame row (a dict, e.g. from ``df.iter_rows(named=True)``).

        Dispatches on ``row["source"]``: ``application-signals`` parses the ``definition`` JSON
        (a GetServiceLevelObjective ``Slo``), ``openslo`` takes the objective from the row and the
        metrics from the definition, ``python`` takes the row.
        """
        name = row.get("name")
        source = row.get("source")
        if source == "application-signals":
            return _from_application_signals(_definition(row), name)
        if source == "openslo":
            return _from_openslo(row, _definition(row))
        if source == "python":
            return _from_fields(row, metrics=_metric_from_string(row.get("metric"), row.get("statistic"),
                                                                 row.get("period_s")))
        raise SloDefinitionError(name, "source", f"unknown source {source!r} (application-signals, openslo, python)")


def _definition(row: Mapping[str, Any]) -> Any:
    text = row.get("definition")
    if not isinstance(text, str):
        raise SloDefinitionError(row.get("name"), "definition", "missing: the row holds no definition JSON")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise SloDefinitionError(row.get("name"), "definition", f"not valid JSON: {exc}") from exc


def _wrap_exclusions(name: str | None, raw: Any) -> tuple[ExclusionWindow, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise SloDefinitionError(name, "ExclusionWindows", "must be a list")
    out = []
    for i, d in enumerate(raw):
        try:
            out.append(d if isinstance(d, ExclusionWindow) else ExclusionWindow.from_aws(d))
        except SloDefinitionError as exc:
            raise SloDefinitionError(name, f"ExclusionWindows[{i}].{exc.field}", exc.problem) from exc
    return tuple(out)


def _fields_interval(row: Mapping[str, Any]) -> Interval:
    kind = row.get("interval_kind") or "rolling"
    return Interval(kind, row.get("interval_duration"), row.get("interval_unit"),  # type: ignore[arg-type]
                    row.get("calendar_start"))


def _from_fields(row: Mapping[str, Any], *, metrics: Sequence[MetricRef] = (),
                 exclusions: Sequence[ExclusionWindow] = (), burn: Sequence[int] = (),
                 overrides: Mapping[str, Any] | None = None) -> SLO:
    r = {**row, **(overrides or {})}
    return SLO(name=r.get("name"), sli_kind=r.get("sli_kind"), method=r.get("method"),  # type: ignore[arg-type]
               target=r.get("target"), interval=_fields_interval(r), service=r.get("service"),  # type: ignore[arg-type]
               operation=r.get("operation"), environment=r.get("environment"), threshold=r.get("threshold"),
               comparison=r.get("comparison"),
               warning_threshold=0.5 if r.get("warning_threshold") is None else r["warning_threshold"],
               period_s=r.get("period_s"), metrics=tuple(metrics), burn_rate_windows_min=tuple(burn),
               budgeting=r.get("budgeting"), slice_target=r.get("slice_target"),
               exclusion_windows=tuple(exclusions), source=r.get("source") or "python",
               description=r.get("description"))


_METRIC_STRING = re.compile(r"^(?P<ns>[^/{}]+)/(?P<m>[^{}]+?)(?:\{(?P<d>[^}]*)\})?$")


def _metric_from_string(text: Any, stat: Any, period: Any) -> list[MetricRef]:
    if not isinstance(text, str):
        return []
    m = _METRIC_STRING.match(text.strip())
    if not m:
        return []
    return [MetricRef("sli", m.group("ns"), m.group("m"), m.group("d") or "", stat if isinstance(stat, str) else None,
                      period if isinstance(period, int) else None)]


def _dims(raw: Any, name_key: str = "Name", value_key: str = "Value") -> str:
    if isinstance(raw, Mapping):
        pairs = [(str(k), str(v)) for k, v in raw.items()]
    elif isinstance(raw, list):
        pairs = [(str(d.get(name_key)), str(d.get(value_key))) for d in raw if isinstance(d, Mapping)]
    else:
        pairs = []
    return ",".join(f"{k}={v}" for k, v in sorted(pairs))


def _aws_query(role: str, queries: Any) -> MetricRef | None:
    """The returned query of a MetricDataQueries list as a MetricRef."""
    if not isinstance(queries, list) or not queries:
        return None
    qs = [q for q in queries if isinstance(q, Mapping)]
    q = next((q for q in qs if q.get("ReturnData") is True), None) or next(
        (q for q in qs if q.get("ReturnData") is None), qs[0] if qs else None)
    if q is None:
        return None
    ms = q.get("MetricStat")
    if isinstance(ms, Mapping) and isinstance(ms.get("Metric"), Mapping):
        met = ms["Metric"]
        return MetricRef(role, met.get("Namespace"), met.get("MetricName"), _dims(met.get("Dimensions")),
                         ms.get("Stat"), ms.get("Period"))
    if isinstance(q.get("Expression"), str):
        return MetricRef(role, expression=q["Expression"], period_s=q.get("Period"))
    return None


def _from_application_signals(slo: Any, row_name: Any) -> SLO:
    if isinstance(slo, Mapping) and isinstance(slo.get("Slo"), Mapping):
        slo = slo["Slo"]
    if not isinstance(slo, Mapping):
        raise SloDefinitionError(row_name, "definition", "an Application Signals definition must be an Slo object")
    name = slo.get("Name") or row_name

    def bad(fld: str, problem: str) -> SloDefinitionError:
        return SloDefinitionError(name, fld, problem)

    goal = slo.get("Goal")
    if not isinstance(goal, Mapping):
        raise bad("Goal", "missing")
    request_based = slo.get("RequestBasedSli") is not None or slo.get("EvaluationType") == "RequestBased"
    metrics: list[MetricRef] = []
    if isinstance(slo.get("RequestBasedSli"), Mapping):
        sli = slo["RequestBasedSli"]
        sm = sli.get("RequestBasedSliMetric")
        if not isinstance(sm, Mapping):
            raise bad("RequestBasedSli.RequestBasedSliMetric", "missing")
        mon = sm.get("MonitoredRequestCountMetric") or {}
        for role, q in (("total", sm.get("TotalRequestCountMetric")),
                        ("good", mon.get("GoodCountMetric") if isinstance(mon, Mapping) else None),
                        ("bad", mon.get("BadCountMetric") if isinstance(mon, Mapping) else None)):
            ref = _aws_query(role, q)
            if ref is not None:
                metrics.append(ref)
    elif isinstance(slo.get("Sli"), Mapping):
        sli = slo["Sli"]
        sm = sli.get("SliMetric")
        if not isinstance(sm, Mapping):
            raise bad("Sli.SliMetric", "missing")
        ref = _aws_query("sli", sm.get("MetricDataQueries"))
        if ref is not None:
            metrics.append(ref)
    else:
        raise bad("Sli", "neither Sli nor RequestBasedSli is present")
    keys = sm.get("KeyAttributes") or {}
    mtype = sm.get("MetricType")
    kind = mtype.lower() if isinstance(mtype, str) else ("ratio" if request_based else "threshold")
    interval_d = goal.get("Interval") or {}
    if isinstance(interval_d.get("CalendarInterval"), Mapping):
        iv = interval_d["CalendarInterval"]
        cal_start = iv.get("StartTime")
        interval = Interval("calendar", iv.get("Duration"), iv.get("DurationUnit"),
                            None if cal_start is None else _utc(cal_start, name, "Goal.Interval.StartTime"))
    elif isinstance(interval_d.get("RollingInterval"), Mapping):
        iv = interval_d["RollingInterval"]
        interval = Interval("rolling", iv.get("Duration"), iv.get("DurationUnit"))
    else:
        interval = Interval("rolling", 7, "DAY")  # the documented default
    goal_pct = goal.get("AttainmentGoal", 99.0)
    warn_pct = goal.get("WarningThreshold", 50.0)
    for fld, v in (("Goal.AttainmentGoal", goal_pct), ("Goal.WarningThreshold", warn_pct)):
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise bad(fld, f"must be a number (percent), got {v!r}")
    burn = []
    for i, c in enumerate(slo.get("BurnRateConfigurations") or []):
        w = c.get("LookBackWindowMinutes") if isinstance(c, Mapping) else None
        if w is None:
            raise bad(f"BurnRateConfigurations[{i}].LookBackWindowMinutes", "missing")
        burn.append(w)
    period = None
    if not request_based:
        sli_ref = next((m for m in metrics if m.role == "sli"), None)
        period = sm.get("PeriodSeconds") or (sli_ref.period_s if sli_ref else None)
    try:
        return SLO(
            name=name, sli_kind=kind, method="request" if request_based else "period",  # type: ignore[arg-type]
            target=_pct(goal_pct), interval=interval,
            service=keys.get("Name") if isinstance(keys, Mapping) else None,
            operation=sm.get("OperationName"),
            environment=keys.get("Environment") if isinstance(keys, Mapping) else None,
            threshold=sli.get("MetricThreshold"), comparison=sli.get("ComparisonOperator"),
            warning_threshold=_pct(warn_pct), period_s=period, metrics=tuple(metrics),
            burn_rate_windows_min=tuple(burn),
            exclusion_windows=_wrap_exclusions(name, slo.get("ExclusionWindows")),
            source="application-signals", description=slo.get("Description"))
    except SloDefinitionError as exc:
        raise SloDefinitionError(name, _AWS_FIELD.get(exc.field, exc.field), exc.problem) from exc


_AWS_FIELD = {"target": "Goal.AttainmentGoal", "warning_threshold": "Goal.WarningThreshold",
              "threshold": "MetricThreshold", "comparison": "ComparisonOperator",
              "interval.duration": "Goal.Interval.Duration", "interval.unit": "Goal.Interval.DurationUnit",
              "interval.start": "Goal.Interval.CalendarInterval.StartTime", "period_s": "SliMetric.PeriodSeconds",
              "sli_kind": "MetricType"}


def _pct(v: float) -> float:
    """percent -> fraction, in decimal (99.9 -> the float nearest 0.999)."""
    return float(Decimal(repr(float(v))) / 100)


def _openslo_ref(role: str, src: Any) -> MetricRef | None:
    if not isinstance(src, Mapping):
        return None
    ms = src.get("metricSource", src)
    if not isinstance(ms, Mapping):
        return None
    spec = ms.get("spec")
    if not isinstance(spec, Mapping):
        return None
    if isinstance(spec.get("metricName"), str):
        return MetricRef(role, spec.get("namespace"), spec["metricName"],
                         _dims(spec.get("dimensions"), "name", "value"), spec.get("stat"))
    return None


def _from_openslo(row: Mapping[str, Any], doc: Any) -> SLO:
    spec = doc.get("spec") if isinstance(doc, Mapping) else None
    indicator = spec.get("indicator") if isinstance(spec, Mapping) else None
    ispec = indicator.get("spec") if isinstance(indicator, Mapping) else None
    metrics: list[MetricRef] = []
    if isinstance(ispec, Mapping):
        if isinstance(ispec.get("thresholdMetric"), Mapping):
            ref = _openslo_ref("sli", ispec["thresholdMetric"])
            if ref is not None:
                metrics.append(ref)
        rm = ispec.get("ratioMetric")
        if isinstance(rm, Mapping):
            for role in ("good", "bad", "total"):
                ref = _openslo_ref(role, rm.get(role))
                if ref is not None:
                    metrics.append(ref)
    overrides: dict[str, Any] = {}
    dims = dict(p.split("=", 1) for m in metrics for p in m.dimensions.split(",") if "=" in p)
    for fld, dim in (("operation", "Operation"), ("environment", "Environment"), ("service", "Service")):
        if row.get(fld) is None and dim in dims:
            overrides[fld] = dims[dim]
    if isinstance(spec, Mapping) and isinstance(spec.get("description"), str):
        overrides["description"] = spec["description"]
    if isinstance(spec, Mapping):
        budgeting = spec.get("budgetingMethod")
        if budgeting is not None:
            if budgeting not in _OPENSLO_BUDGETING:
                raise SloDefinitionError(row.get("name"), "spec.budgetingMethod",
                                         f"must be one of {', '.join(_OPENSLO_BUDGETING)}, got {budgeting!r}")
            overrides["budgeting"] = _OPENSLO_BUDGETING[budgeting]
        objective = _openslo_objective(row.get("name"), spec.get("objectives"))
        if isinstance(objective, Mapping) and overrides.get("budgeting") == "timeslices":
            overrides["slice_target"] = objective.get("timeSliceTarget")
    period = row.get("period_s")
    metrics = [MetricRef(m.role, m.namespace, m.metric, m.dimensions, m.statistic, period) for m in metrics]
    try:
        return _from_fields(row, metrics=metrics, overrides=overrides)
    except SloDefinitionError as exc:
        fld = {"budgeting": "spec.budgetingMethod", "slice_target": "timeSliceTarget"}.get(exc.field, exc.field)
        raise SloDefinitionError(exc.slo, fld, exc.problem) from exc


_OPENSLO_BUDGETING = {"Occurrences": "occurrences", "Timeslices": "timeslices", "RatioTimeslices": "ratio_timeslices"}


def _openslo_objective(name: Any, objectives: Any) -> Any:
    """The objective of one row: the only one, or the one the row's name ends with (``<slo>/<displayName>``
    or ``<slo>/<index>``)."""
    if not isinstance(objectives, list) or not objectives:
        return None
    if len(objectives) == 1:
        return objectives[0]
    label = str(name).rsplit("/", 1)[-1]
    for i, obj in enumerate(objectives):
        if isinstance(obj, Mapping) and (obj.get("displayName") == label or str(i) == label):
            return obj
    return None


def slos_from_frame(df: pl.DataFrame) -> list[SLO]:
    """Every row of a ``slos`` frame as an :class:`SLO`, in row order.

    Raises
    ------
    SloDefinitionError
        for the first invalid row, naming the SLO and the field.

    Examples
    --------
    The demo's SLOs, from Application Signals JSON and the same ones from OpenSLO YAML:

    >>> import slo_analysis as sa
    >>> slos = slos_from_frame(sa.store.Snapshot.open(demo_snapshot()).read("slos"))
    >>> [(s.source, s.method, s.budgeting) for s in slos if "atency" in s.name]
    [('application-signals', 'period', 'timeslices'), ('openslo', 'period', 'timeslices')]
    >>> next(s for s in slos if s.source == "openslo" and s.method == "period").slice_target
    0.99
    """
    return [SLO.from_row(r) for r in df.iter_rows(named=True)]


# --------------------------------------------------------------------------------------------
def interval_length(slo: SLO, at: datetime | None = None) -> timedelta:
    """The length of the SLO's interval.

    Rolling: ``duration x unit`` (a rolling MONTH counts 30 days). Calendar: the length of the
    calendar interval containing ``at`` (required for MONTH units, whose intervals differ in length);
    MINUTE/HOUR/DAY calendar intervals have a fixed length.

    >>> interval_length(SLO(name="x", sli_kind="availability", method="request", target=0.99,
    ...                     interval=Interval("rolling", 30, "DAY")))
    datetime.timedelta(days=30)
    """
    iv = slo.interval
    if iv.unit != "MONTH":
        return iv.duration * _FIXED[iv.unit]
    if iv.kind == "rolling":
        return timedelta(days=ROLLING_MONTH_DAYS * iv.duration)
    if at is None:
        raise SloDefinitionError(slo.name, "interval", "a calendar MONTH interval's length depends on the month: "
                                 "pass `at`")
    start, end = interval_bounds(slo, at)
    return end - start


def interval_bounds(slo: SLO, at: datetime) -> tuple[datetime, datetime]:
    """The interval ``[start, end)`` the SLO is evaluated over at time ``at``.

    Rolling: ``(at - length, at)``. Calendar: the calendar interval (``start + k x duration``)
    that contains ``at``.

    Examples
    --------
    The demo's latency SLO (a rolling day) at the end of the demo snapshot, and the calendar month
    that holds the demo:

    >>> import slo_analysis as sa
    >>> snap = sa.store.Snapshot.open(demo_snapshot())
    >>> lat = next(s for s in slos_from_frame(snap.read("slos")) if s.name == "CreateTicket-Latency-p99")
    >>> [t.strftime("%d %H:%M") for t in interval_bounds(lat, datetime(2026, 11, 5, tzinfo=UTC))]
    ['04 00:00', '05 00:00']
    >>> month = SLO(name="m", sli_kind="availability", method="request", target=0.999,
    ...             interval=Interval("calendar", 1, "MONTH", datetime(2026, 1, 1, tzinfo=UTC)))
    >>> [t.date().isoformat() for t in interval_bounds(month, snap.window[0])]
    ['2026-11-01', '2026-12-01']
    """
    at = _utc(at, slo.name, "at")
    iv = slo.interval
    if iv.kind == "rolling":
        return at - interval_length(slo), at
    assert iv.start is not None
    if iv.unit != "MONTH":
        step = iv.duration * _FIXED[iv.unit]
        k = math.floor((at - iv.start) / step)
        return iv.start + k * step, iv.start + (k + 1) * step
    months = (at.year - iv.start.year) * 12 + at.month - iv.start.month
    k = months // iv.duration
    while add_duration(iv.start, k * iv.duration, "MONTH") > at:
        k -= 1
    while add_duration(iv.start, (k + 1) * iv.duration, "MONTH") <= at:
        k += 1
    return add_duration(iv.start, k * iv.duration, "MONTH"), add_duration(iv.start, (k + 1) * iv.duration, "MONTH")


def budget_fraction(slo: SLO) -> float:
    """The error budget as a fraction of the valid events or periods: ``1 - target``.

    Computed in decimal so 0.999 gives the float nearest 0.001 (not 0.0010000000000000009).

    >>> budget_fraction(SLO(name="x", sli_kind="availability", method="request", target=0.999))
    0.001
    """
    return float(Decimal(1) - Decimal(repr(slo.target)))
