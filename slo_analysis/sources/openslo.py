"""OpenSLO ``openslo/v1`` YAML, and SLOs written in Python, into the ``slos`` frame.

Mapping:

- one row per objective; the name is ``<slo>`` or ``<slo>/<objective displayName>`` (or
  ``<slo>/<index>``) when the SLO has several objectives;
- ``budgetingMethod`` Occurrences -> method ``request``; Timeslices / RatioTimeslices -> ``period``
  with ``period_s`` from ``timeSliceWindow`` (a bare number means minutes, as the spec says).
  Timeslices needs ``timeSliceTarget`` in (0, 1] (a slice is good when its good-event ratio, or its
  share of good datapoints, reaches it); RatioTimeslices (attainment = the mean of the slices' ratios)
  needs a ``ratioMetric`` and takes no ``timeSliceTarget``. The frame has no column for them:
  ``core.model.SLO.from_row`` reads both from the ``definition``;
- ``thresholdMetric`` -> sli_kind ``threshold`` (``op``/``value`` -> comparison/threshold);
  ``ratioMetric`` -> ``ratio``;
- ``target`` or ``targetPercent`` / 100 (not both);
- ``timeWindow``: exactly one item, rolling (``duration: 28d``, ``isRolling: true``) or calendar
  (``calendar: {startTime, timeZone}``; the start is converted from the time zone to UTC);
- OpenSLO has no operation, environment or warning threshold: ``metadata.labels.operation`` and
  ``.environment`` are read when present, ``warning_threshold`` is the Application Signals
  default 0.5.

AlertPolicy and AlertCondition documents (:func:`alert_policies_from_openslo`): each ``burnrate``
condition, inline in ``spec.conditions`` or by ``conditionRef``, becomes one burn-rate rule as plain
data, the fields of ``core.alerts.AlertRule`` (sources do not import the core; build the policy with
``core.alerts.custom_policy(p["name"], p["rules"])``):

- ``metadata.name`` -> ``name``; ``spec.severity`` -> ``severity``;
- ``spec.condition.lookbackWindow`` -> ``windows_s`` (one window, seconds);
- ``spec.condition.threshold`` -> ``factor``; ``op`` ``gt`` / ``gte`` -> ``op`` (``lt`` / ``lte``,
  alerting on a *low* burn rate, are rejected: they are not burn-rate alerts a backtest can score);
- ``spec.condition.alertAfter`` -> ``for_s`` (default 0).

An SLO's ``spec.alertPolicies`` items (a name, ``{alertPolicyRef: name}`` or an inline AlertPolicy) link
policies to SLOs.

Errors name the file, the document (counted from 1) and the field, e.g.
``openslo.yaml: missing required key 'spec.objectives[0].target' in document 3 (SLO ticket-latency)``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import polars as pl
import yaml

from slo_analysis import frames
from slo_analysis.exceptions import InputError, MissingKeyError
from slo_analysis.sources.application_signals import (
    DEFAULT_WARNING_THRESHOLD,
    canonical_json,
    percent_to_fraction,
)

__all__ = [
    "API_VERSION",
    "KINDS",
    "slos_from_openslo",
    "alert_policies_from_openslo",
    "slos_from_python",
    "parse_duration",
    "looks_like_openslo",
]

API_VERSION = "openslo/v1"
KINDS = frozenset({"Service", "SLI", "SLO", "AlertPolicy", "AlertCondition", "AlertNotificationTarget",
                   "DataSource"})
_OPS = {"lt": "LessThan", "lte": "LessThanOrEqualTo", "gt": "GreaterThan", "gte": "GreaterThanOrEqualTo"}
_METHODS = {"Occurrences": "request", "Timeslices": "period", "RatioTimeslices": "period"}
_DURATION = re.compile(r"^\s*(\d+)\s*([smhdwMQY])\s*$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_UNIT_OF = {"m": ("MINUTE", 1), "h": ("HOUR", 1), "d": ("DAY", 1), "w": ("DAY", 7), "M": ("MONTH", 1),
            "Q": ("MONTH", 3), "Y": ("MONTH", 12)}


def parse_duration(value: Any) -> tuple[int, str]:
    """An OpenSLO duration shorthand as ``(count, unit)`` with unit MINUTE/HOUR/DAY/MONTH.

    >>> parse_duration("28d"), parse_duration("4w"), parse_duration("1Q")
    ((28, 'DAY'), (28, 'DAY'), (3, 'MONTH'))
    """
    m = _DURATION.match(value) if isinstance(value, str) else None
    if not m or m.group(2) == "s":
        raise ValueError(f"not a window duration (e.g. 28d, 4w, 1M): {value!r}")
    unit, mult = _UNIT_OF[m.group(2)]
    return int(m.group(1)) * mult, unit


def _window_seconds(value: Any) -> float:
    """A duration shorthand (``30s``, ``5m``, ``1h``, ``3d``, ``1w``) in seconds."""
    m = _DURATION.match(value) if isinstance(value, str) else None
    if not m or m.group(2) not in _SECONDS or int(m.group(1)) < 0:
        raise ValueError(f"not a duration (e.g. 5m, 1h, 3d): {value!r}")
    return float(int(m.group(1)) * _SECONDS[m.group(2)])


def _slice_seconds(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r}")
    if isinstance(value, int | float):
        return int(value * 60)
    m = _DURATION.match(value) if isinstance(value, str) else None
    if not m or m.group(2) not in _SECONDS:
        raise ValueError(f"not a time-slice duration (e.g. 1m, 5m, 60s): {value!r}")
    return int(m.group(1)) * _SECONDS[m.group(2)]


class _Doc:
    """Field access on one YAML document with errors naming file, document and field."""

    def __init__(self, doc: Any, index: int, file: str) -> None:
        self.doc, self.file = doc, file
        kind = doc.get("kind") if isinstance(doc, Mapping) else None
        meta = doc.get("metadata") if isinstance(doc, Mapping) else None
        name = meta.get("name") if isinstance(meta, Mapping) else None
        self.where = f"document {index}" + (f" ({kind} {name})" if kind and name else "")

    def get(self, path: str, *, required: bool = False, default: Any = None) -> Any:
        cur: Any = self.doc
        for part in re.findall(r"[^.\[\]]+|\[\d+\]", path):
            if part.startswith("["):
                i = int(part[1:-1])
                if not isinstance(cur, list):
                    raise self.error(path, f"{path}: expected a list")
                if i >= len(cur):
                    cur = None
                    break
                cur = cur[i]
            else:
                if cur is not None and not isinstance(cur, Mapping):
                    raise self.error(path, f"{path}: expected a mapping")
                cur = None if cur is None else cur.get(part)
            if cur is None:
                break
        if cur is None:
            if required:
                raise MissingKeyError(self.file, path, context=self.where)
            return default
        return cur

    def error(self, field: str, problem: str) -> InputError:
        return InputError(self.file, f"{self.where}: {problem}", key=field)

    def string(self, path: str, *, required: bool = False) -> str | None:
        v = self.get(path, required=required)
        if v is not None and not isinstance(v, str | int | float):
            raise self.error(path, f"{path} must be a string")
        return None if v is None else str(v)

    def number(self, path: str, *, required: bool = False) -> float | None:
        v = self.get(path, required=required)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int | float)):
            raise self.error(path, f"{path} must be a number, found {v!r}")
        return None if v is None else float(v)


def _label(d: _Doc, key: str) -> str | None:
    v = d.get(f"metadata.labels.{key}")
    if isinstance(v, list) and len(v) == 1:
        v = v[0]
    return str(v) if isinstance(v, str | int | float) and not isinstance(v, bool) else None


def _describe_source(ms: Any) -> str:
    if not isinstance(ms, Mapping):
        return "?"
    ms = ms.get("metricSource", ms)
    if not isinstance(ms, Mapping):
        return "?"
    kind = ms.get("type") or ms.get("metricSourceRef") or "?"
    spec = ms.get("spec")
    if isinstance(spec, Mapping) and isinstance(spec.get("query"), str):
        return f"{kind}: {spec['query']}"
    return f"{kind}: {canonical_json(spec)}" if spec is not None else str(kind)


def _load(text: str, file: str) -> list[Any]:
    try:
        return list(yaml.safe_load_all(text))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise InputError(file, f"invalid YAML: {getattr(exc, 'problem', None) or exc}",
                         line=None if mark is None else mark.line + 1) from exc


def slos_from_openslo(text: str, *, file: str = "<memory>") -> pl.DataFrame:
    """SLOs from multi-document ``openslo/v1`` YAML (one row per SLO objective).

    SLI documents are resolved for ``indicatorRef``; Service, AlertPolicy, AlertCondition,
    AlertNotificationTarget and DataSource documents are accepted (checked for a name) and do not
    produce rows (:func:`alert_policies_from_openslo` reads the alert policies). The ``definition``
    column holds the SLO document with its indicator inlined.

    Raises
    ------
    MissingKeyError
        a required field is missing (names file, document and field).
    InputError
        invalid YAML, another apiVersion, an unknown kind or an invalid value.
    """
    docs = _documents(text, file)
    slis = {str(d.get("metadata.name")): d.doc for d in docs if d.get("kind") == "SLI"}
    rows = []
    for d in docs:
        if d.get("kind") == "SLO":
            rows.extend(_slo_rows(d, slis))
    cols = frames.schema("slos").columns
    data = {c: pl.Series([r[c] for r in rows],
                         dtype=pl.Datetime("us", "UTC") if cols[c] == frames.UTC_MS else cols[c]) for c in cols}
    return frames.conform(pl.DataFrame(data), "slos")


def _documents(text: str, file: str) -> list[_Doc]:
    """The non-empty documents, each checked for a mapping, the apiVersion, a known kind and a name."""
    docs = [_Doc(d, i, file) for i, d in enumerate(_load(text, file), start=1) if d is not None]
    for d in docs:
        if not isinstance(d.doc, Mapping):
            raise d.error("", f"expected a mapping, found {type(d.doc).__name__}")
        if d.get("apiVersion", required=True) != API_VERSION:
            raise d.error("apiVersion", f"apiVersion {d.get('apiVersion')!r} is not {API_VERSION}")
        kind = d.string("kind", required=True)
        if kind not in KINDS:
            raise d.error("kind", f"unknown kind {kind!r}")
        d.string("metadata.name", required=True)
    return docs


def alert_policies_from_openslo(text: str, *, file: str = "<memory>") -> list[dict[str, Any]]:
    """The burn-rate alert policies of multi-document ``openslo/v1`` YAML, as plain data, in document order.

    Each policy is a dict: ``name``, ``description``, ``alert_when_breaching`` (``spec.alertWhenBreaching``,
    default True), ``slos`` (names of the SLO documents whose ``spec.alertPolicies`` list it) and ``rules``:
    one dict per condition with the fields of ``core.alerts.AlertRule`` (``name``, ``severity``,
    ``windows_s``, ``factor``, ``for_s``, ``op``). Policies inlined in an SLO are included. See the module
    docstring for the mapping.

    Raises
    ------
    MissingKeyError
        a required field is missing (names file, document and field).
    InputError
        invalid YAML, an unresolved ``conditionRef`` / ``alertPolicyRef``, a condition that is not a
        ``burnrate`` with ``gt`` / ``gte``, or an invalid duration or threshold.

    Examples
    --------
    >>> text = '''
    ... apiVersion: openslo/v1
    ... kind: AlertCondition
    ... metadata: {name: burn-14x}
    ... spec:
    ...   severity: page
    ...   condition: {kind: burnrate, op: gt, threshold: 14.4, lookbackWindow: 1h, alertAfter: 5m}
    ... ---
    ... apiVersion: openslo/v1
    ... kind: AlertPolicy
    ... metadata: {name: fast-burn}
    ... spec:
    ...   conditions: [{conditionRef: burn-14x}]
    ... '''
    >>> [p["rules"] for p in alert_policies_from_openslo(text)]
    [[{'name': 'burn-14x', 'severity': 'page', 'windows_s': (3600.0,), 'factor': 14.4, 'for_s': 300.0, 'op': 'gt'}]]
    """
    docs = _documents(text, file)
    conditions = {str(d.get("metadata.name")): d for d in docs if d.get("kind") == "AlertCondition"}
    policies: dict[str, dict[str, Any]] = {}
    for d in docs:
        if d.get("kind") == "AlertPolicy":
            policies[str(d.get("metadata.name"))] = _alert_policy(d, "", conditions)
    for d in docs:
        if d.get("kind") != "SLO":
            continue
        refs = d.get("spec.alertPolicies", default=[])
        if not isinstance(refs, list):
            raise d.error("spec.alertPolicies", "spec.alertPolicies must be a list")
        for i, item in enumerate(refs):
            path = f"spec.alertPolicies[{i}]"
            if isinstance(item, Mapping) and item.get("kind") == "AlertPolicy":
                name = str(d.string(f"{path}.metadata.name", required=True))
                policies.setdefault(name, _alert_policy(d, f"{path}.", conditions))
            else:
                ref = item.get("alertPolicyRef") if isinstance(item, Mapping) else item
                path += ".alertPolicyRef" if isinstance(item, Mapping) else ""
                if not isinstance(ref, str) or ref not in policies:
                    raise d.error(path, f"{path} {ref!r}: no AlertPolicy document of that name")
                name = ref
            policies[name]["slos"].append(str(d.get("metadata.name")))
    return list(policies.values())


def _alert_policy(d: _Doc, at: str, conditions: Mapping[str, _Doc]) -> dict[str, Any]:
    """The AlertPolicy at path prefix ``at`` of document ``d`` (``""``: the document itself)."""
    raw = d.get(f"{at}spec.conditions", required=True)
    if not isinstance(raw, list) or not raw:
        raise d.error(f"{at}spec.conditions", f"{at}spec.conditions must be a non-empty list")
    breaching = d.get(f"{at}spec.alertWhenBreaching", default=True)
    if not isinstance(breaching, bool):
        raise d.error(f"{at}spec.alertWhenBreaching", f"{at}spec.alertWhenBreaching must be true or false")
    rules = []
    for i, item in enumerate(raw):
        path = f"{at}spec.conditions[{i}]"
        if isinstance(item, Mapping) and "conditionRef" in item:
            ref = item["conditionRef"]
            if not isinstance(ref, str) or ref not in conditions:
                raise d.error(f"{path}.conditionRef",
                              f"{path}.conditionRef {ref!r}: no AlertCondition document of that name")
            rules.append(_burn_rule(conditions[ref], ""))
        elif isinstance(item, Mapping):
            rules.append(_burn_rule(d, f"{path}."))
        else:
            raise d.error(path, f"{path} must be an inline AlertCondition or a conditionRef")
    return {"name": str(d.string(f"{at}metadata.name", required=True)),
            "description": d.string(f"{at}spec.description"), "alert_when_breaching": breaching, "slos": [],
            "rules": rules}


_BURN_OPS = ("gt", "gte")


def _burn_rule(d: _Doc, at: str) -> dict[str, Any]:
    """An AlertCondition (at path prefix ``at`` of ``d``) as the fields of ``core.alerts.AlertRule``."""
    c = f"{at}spec.condition"
    if d.get(c) is not None and not isinstance(d.get(c), Mapping):
        raise d.error(c, f"{c} must be a mapping")
    kind = d.string(f"{c}.kind") or "burnrate"
    if kind.lower() != "burnrate":
        raise d.error(f"{c}.kind", f"{c}.kind {kind!r}: only burnrate conditions can be backtested")
    op = d.string(f"{c}.op", required=True)
    if op not in _BURN_OPS:
        raise d.error(f"{c}.op", f"{c}.op {op!r}: a burn-rate alert fires on a high burn rate (gt or gte); "
                                 "lt / lte cannot be backtested as one")
    factor = d.number(f"{c}.threshold", required=True)
    assert factor is not None
    if not 0 <= factor < float("inf"):
        raise d.error(f"{c}.threshold", f"{c}.threshold must be a finite number >= 0, got {factor}")
    seconds = {}
    for key, required in (("lookbackWindow", True), ("alertAfter", False)):
        raw = d.get(f"{c}.{key}", required=required, default="0m")
        try:
            seconds[key] = _window_seconds(raw)
        except ValueError as exc:
            raise d.error(f"{c}.{key}", f"{c}.{key}: {exc}") from exc
    if seconds["lookbackWindow"] <= 0:
        raise d.error(f"{c}.lookbackWindow", f"{c}.lookbackWindow must be positive")
    return {"name": str(d.string(f"{at}metadata.name", required=True)),
            "severity": str(d.string(f"{at}spec.severity", required=True)),
            "windows_s": (seconds["lookbackWindow"],), "factor": factor, "for_s": seconds["alertAfter"], "op": op}


def _slo_rows(d: _Doc, slis: Mapping[str, Any]) -> list[dict[str, Any]]:
    name = str(d.string("metadata.name", required=True))
    indicator = d.get("spec.indicator")
    if indicator is None:
        ref = d.get("spec.indicatorRef")
        if ref is None:
            raise MissingKeyError(d.file, "spec.indicator", context=f"{d.where} (or spec.indicatorRef)")
        if str(ref) not in slis:
            raise d.error("spec.indicatorRef", f"spec.indicatorRef {ref!r}: no SLI document of that name")
        indicator = slis[str(ref)]
    sli_spec = indicator.get("spec") if isinstance(indicator, Mapping) else None
    if not isinstance(sli_spec, Mapping):
        raise MissingKeyError(d.file, "spec.indicator.spec", context=d.where)
    metric: str | None
    if sli_spec.get("thresholdMetric") is not None:
        kind, metric = "threshold", _describe_source(sli_spec["thresholdMetric"])
    elif sli_spec.get("ratioMetric") is not None:
        rm = sli_spec["ratioMetric"]
        if not isinstance(rm, Mapping):
            raise d.error("spec.indicator.spec.ratioMetric", "ratioMetric must be a mapping")
        kind = "ratio"
        metric = "; ".join(f"{k}={_describe_source(rm[k])}" for k in ("good", "bad", "total", "raw")
                           if rm.get(k) is not None) or None
    else:
        raise MissingKeyError(d.file, "spec.indicator.spec.thresholdMetric", context=f"{d.where} (or ratioMetric)")
    budgeting = d.string("spec.budgetingMethod", required=True)
    if budgeting not in _METHODS:
        raise d.error("spec.budgetingMethod", f"spec.budgetingMethod {budgeting!r} is not one of "
                                              f"{sorted(_METHODS)}")
    windows = d.get("spec.timeWindow", required=True)
    if not isinstance(windows, list) or len(windows) != 1:
        raise d.error("spec.timeWindow", "spec.timeWindow must be a list of exactly one item")
    try:
        duration, unit = parse_duration(d.get("spec.timeWindow[0].duration", required=True))
    except ValueError as exc:
        raise d.error("spec.timeWindow[0].duration", f"spec.timeWindow[0].duration: {exc}") from exc
    start = None
    if d.get("spec.timeWindow[0].calendar") is not None and d.get("spec.timeWindow[0].isRolling") is not True:
        start = _calendar_start(d)
    objectives = d.get("spec.objectives", required=True)
    if not isinstance(objectives, list) or not objectives:
        raise d.error("spec.objectives", "spec.objectives must be a non-empty list")
    definition = dict(d.doc)
    definition["spec"] = {**d.doc["spec"], "indicator": indicator}
    rows = []
    for i, _obj in enumerate(objectives):
        p = f"spec.objectives[{i}]"
        target, pct = d.number(f"{p}.target"), d.number(f"{p}.targetPercent")
        if target is not None and pct is not None:
            raise d.error(f"{p}.target", f"{p}: target and targetPercent cannot both be set")
        if target is None and pct is None:
            raise MissingKeyError(d.file, f"{p}.target", context=f"{d.where} (or targetPercent)")
        target = target if target is not None else percent_to_fraction(pct)  # type: ignore[arg-type]
        if not 0.0 < target < 1.0:
            raise d.error(f"{p}.target", f"{p}.target must be in (0, 1), got {target}")
        op = d.string(f"{p}.op")
        if op is not None and op not in _OPS:
            raise d.error(f"{p}.op", f"{p}.op {op!r} is not one of {sorted(_OPS)}")
        period_s = None
        if _METHODS[budgeting] == "period":
            try:
                period_s = _slice_seconds(d.get(f"{p}.timeSliceWindow", required=True))
            except ValueError as exc:
                raise d.error(f"{p}.timeSliceWindow", f"{p}.timeSliceWindow: {exc}") from exc
        _check_slice_target(d, p, budgeting, kind)
        label = d.string(f"{p}.displayName") or str(i)
        rows.append({
            "name": name if len(objectives) == 1 else f"{name}/{label}",
            "service": d.string("spec.service"), "operation": _label(d, "operation"),
            "environment": _label(d, "environment"), "sli_kind": kind, "method": _METHODS[budgeting],
            "metric": metric, "statistic": None, "threshold": d.number(f"{p}.value"),
            "comparison": None if op is None else _OPS[op], "target": target,
            "warning_threshold": percent_to_fraction(DEFAULT_WARNING_THRESHOLD),
            "interval_kind": "calendar" if start is not None else "rolling", "interval_duration": duration,
            "interval_unit": unit, "calendar_start": start, "period_s": period_s, "source": "openslo",
            "definition": canonical_json(definition),
        })
    return rows


def _check_slice_target(d: _Doc, p: str, budgeting: str, kind: str) -> None:
    """``timeSliceTarget``: required in (0, 1] by Timeslices, absent otherwise; RatioTimeslices needs ratios."""
    if budgeting == "RatioTimeslices" and kind != "ratio":
        raise d.error("spec.budgetingMethod", "spec.budgetingMethod RatioTimeslices averages good-event ratios: "
                                              "it needs a ratioMetric indicator")
    slice_target = d.number(f"{p}.timeSliceTarget")
    if budgeting == "Timeslices":
        if slice_target is None:
            raise MissingKeyError(d.file, f"{p}.timeSliceTarget", context=f"{d.where} (Timeslices budgeting)")
        if not 0.0 < slice_target <= 1.0:
            raise d.error(f"{p}.timeSliceTarget", f"{p}.timeSliceTarget must be in (0, 1], got {slice_target}")
    elif slice_target is not None:
        raise d.error(f"{p}.timeSliceTarget", f"{p}.timeSliceTarget is only used by Timeslices budgeting, "
                                              f"not {budgeting}")


def _calendar_start(d: _Doc) -> datetime:
    raw = d.get("spec.timeWindow[0].calendar.startTime", required=True)
    tz_name = d.string("spec.timeWindow[0].calendar.timeZone", required=True)
    try:
        tz = ZoneInfo(str(tz_name))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise d.error("spec.timeWindow[0].calendar.timeZone", f"unknown time zone {tz_name!r}") from exc
    try:
        start = raw if isinstance(raw, datetime) else datetime.fromisoformat(str(raw))
    except ValueError as exc:
        raise d.error("spec.timeWindow[0].calendar.startTime", f"unparseable startTime {raw!r}") from exc
    return (start.replace(tzinfo=tz) if start.tzinfo is None else start).astimezone(UTC)


def slos_from_python(*, name: str, sli_kind: str, method: str, target: float,
                     interval: str | tuple[int, str] = "28d", service: str | None = None,
                     operation: str | None = None, environment: str | None = None,
                     threshold: float | None = None, comparison: str | None = None,
                     metric: str | None = None, statistic: str | None = None,
                     period_s: int | None = None, calendar_start: datetime | None = None,
                     warning_threshold: float = 0.5) -> pl.DataFrame:
    """A one-row ``slos`` frame from keyword arguments, validated; errors name the field.

    ``interval`` is a shorthand (``"28d"``, ``"1M"``) or ``(count, "DAY")``; a ``calendar_start``
    makes it a calendar interval. Period-based SLOs need ``period_s`` in 60..900 (Application
    Signals' range).

    >>> slos_from_python(name="kb", sli_kind="availability", method="request", target=0.995)["target"][0]
    0.995
    """
    def bad(field: str, problem: str) -> InputError:
        return InputError("slos_from_python", f"{field}: {problem}", key=field)

    if not name:
        raise bad("name", "must be a non-empty string")
    if sli_kind not in ("availability", "latency", "ratio", "threshold"):
        raise bad("sli_kind", f"must be availability, latency, ratio or threshold, got {sli_kind!r}")
    if method not in ("request", "period"):
        raise bad("method", f"must be 'request' or 'period', got {method!r}")
    if isinstance(target, bool) or not isinstance(target, int | float) or not 0 < target < 1:
        raise bad("target", f"must be a fraction in (0, 1) (99.9 % is 0.999), got {target!r}")
    if not 0 <= warning_threshold <= 1:
        raise bad("warning_threshold", f"must be in [0, 1], got {warning_threshold!r}")
    if method == "period":
        if period_s is None or not 60 <= period_s <= 900:
            raise bad("period_s", f"period-based SLOs need period_s in 60..900 seconds, got {period_s!r}")
    elif period_s is not None:
        raise bad("period_s", "only period-based SLOs have a period")
    if comparison is not None and comparison not in _OPS.values():
        raise bad("comparison", f"must be one of {sorted(_OPS.values())}, got {comparison!r}")
    try:
        duration, unit = parse_duration(interval) if isinstance(interval, str) else interval
    except ValueError as exc:
        raise bad("interval", str(exc)) from exc
    if unit not in ("MINUTE", "HOUR", "DAY", "MONTH") or int(duration) < 1:
        raise bad("interval", f"unit must be MINUTE, HOUR, DAY or MONTH and count >= 1, got {interval!r}")
    if calendar_start is not None:
        calendar_start = (calendar_start.replace(tzinfo=UTC) if calendar_start.tzinfo is None
                          else calendar_start.astimezone(UTC))
    row = {"name": name, "service": service, "operation": operation, "environment": environment,
           "sli_kind": sli_kind, "method": method, "metric": metric, "statistic": statistic,
           "threshold": threshold, "comparison": comparison, "target": float(target),
           "warning_threshold": float(warning_threshold),
           "interval_kind": "calendar" if calendar_start is not None else "rolling",
           "interval_duration": int(duration), "interval_unit": unit, "calendar_start": calendar_start,
           "period_s": period_s, "source": "python"}
    row["definition"] = canonical_json(row)
    cols = frames.schema("slos").columns
    data = {c: pl.Series([row[c]], dtype=pl.Datetime("us", "UTC") if cols[c] == frames.UTC_MS else cols[c])
            for c in cols}
    return frames.conform(pl.DataFrame(data), "slos")


def looks_like_openslo(text: str) -> bool:
    """Text holding at least one ``apiVersion: openslo/v1`` document (a cheap line check, no parse)."""
    return isinstance(text, str) and re.search(r"(?m)^apiVersion:\s*['\"]?openslo/v1['\"]?\s*$", text) is not None
