"""GetMetricData calls planned (and made, against an in-process moto server) vs the minimum.

Run: ``.venv/bin/python bench/bench_calls.py``. Exits 1 when a plan's calls differ from
``minimum_calls`` (the lower bound its docstring proves: queries per call, datapoints per call, and
the exact minimum of each kind of query alone) on any shape.
"""

from __future__ import annotations

import socket
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from slo_analysis.sources.aws import AwsSettings, add_operation_observer, client, remove_operation_observer
from slo_analysis.sources.cloudwatch_metrics_fetch import (
    metric_data_fetcher,
    minimum_calls,
    plan_requests,
    queries_for,
)

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _queries(n: int, period: int, kind: str, tag: str = "") -> list[dict[str, Any]]:
    """``n`` queries of one kind (``tag`` keeps the Ids of two parts of a mixed shape apart)."""
    dims = [{"d": f"{tag}{i}"} for i in range(n)]
    if kind == "plain":
        return queries_for("Bench", "M", dims, ["Sum"], period)
    if kind == "average":
        return queries_for("Bench", "Avg", dims, ["Average"], period)
    if kind == "percentiles":
        return queries_for("Bench", "Latency", dims[:-(-n // 3)], ["p50", "p99", "tm99"], period)[:n]
    out: list[dict[str, Any]] = []  # math: error rate = faults / requests, inputs not returned
    for i in range(n // 3):
        a = queries_for("Bench", "Fault", [dims[i]], ["Sum"], period)[0]
        b = queries_for("Bench", "Requests", [dims[i]], ["Sum"], period)[0]
        a["ReturnData"] = b["ReturnData"] = False
        out += [a, b, {"Id": f"rate{tag}{i}", "Expression": f"{a['Id']} / {b['Id']}"}]
    return out


def _mixed(parts: list[tuple[int, str, int]]) -> list[dict[str, Any]]:
    """(count, kind, period) parts; a math part's count is its ratios (3 queries each)."""
    qs: list[dict[str, Any]] = []
    for j, (n, kind, period) in enumerate(parts):
        qs += _queries(3 * n if kind == "math" else n, period, kind, tag=f"p{j}x")
    return qs


SHAPES = [(f"{n} {kind}", _queries(n, period, kind), span, period)
          for n in (10, 499, 500, 501, 1200)
          for span, period in ((timedelta(hours=1), 60), (timedelta(days=1), 60), (timedelta(days=14), 60),
                               (timedelta(days=90), 300))
          for kind in ("plain", "percentiles", "math")]
MIXED = [  # (label, parts, window): the audit's shape, then realistic mixes (periods retention allows)
    ("audit: 1264 Sum+107 ratio+421 Avg", [(1264, "plain", 3600), (107, "math", 3600), (421, "average", 3600)],
     timedelta(hours=336)),
    ("600 Sum@60+50 ratio@300+200 Avg@3600", [(600, "plain", 60), (50, "math", 300), (200, "average", 3600)],
     timedelta(days=1)),
    ("1170 Sum+236 ratio+534 pct @60", [(1170, "plain", 60), (236, "math", 60), (534, "percentiles", 60)],
     timedelta(minutes=33642)),
    ("900 Sum@60+300 pct@300+80 ratio@60", [(900, "plain", 60), (300, "percentiles", 300), (80, "math", 60)],
     timedelta(days=14)),
    ("2000 Sum@300+500 Avg@3600", [(2000, "plain", 300), (500, "average", 3600)], timedelta(days=62)),
    ("3000 pct+1000 ratio @3600", [(3000, "percentiles", 3600), (1000, "math", 3600)], timedelta(days=400)),
    ("10000 Sum @60", [(10000, "plain", 60)], timedelta(days=14)),
]


def _quiet() -> None:
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)


def _moto(shapes: list[tuple[int, int]]) -> list[tuple[str, int, int, int]]:
    from moto.server import ThreadedMotoServer

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    _quiet()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    rows = []
    try:
        import boto3

        session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="eu-west-1")
        settings = AwsSettings(session=session, region="eu-west-1", endpoint_url=f"http://127.0.0.1:{port}")
        cw: Any = client("cloudwatch", settings)
        now = datetime.now(UTC).replace(second=0, microsecond=0)
        for n, minutes in shapes:
            start = now - timedelta(minutes=minutes)
            ns = f"Bench{n}x{minutes}"
            for i in range(0, n, 20):
                cw.put_metric_data(Namespace=ns, MetricData=[
                    {"MetricName": ns, "Dimensions": [{"Name": "d", "Value": str(j)}], "Timestamp": start, "Value": 1.0}
                    for j in range(i, min(i + 20, n))])
            qs = queries_for(ns, ns, [{"d": str(j)} for j in range(n)], ["Sum"], 60)
            calls: list[str] = []

            def observe(service: str, op: str, calls: list[str] = calls) -> None:
                calls.append(op)

            add_operation_observer(observe)
            try:
                units = list(metric_data_fetcher(settings, qs, (start, now), now=now)(set()))
            finally:
                remove_operation_observer(observe)
            rows.append((f"moto {n} q x {minutes} min @60s", calls.count("GetMetricData"),
                         minimum_calls(qs, (start, now)), sum(u.frames["metrics"].height for u in units)))
    finally:
        server.stop()
    return rows


def main() -> int:
    ok = True
    print(f"{'shape':44} {'queries':>7} {'planned':>8} {'minimum':>8}  plan s")
    rows = [(f"{label} x {span.days or span.seconds // 3600}{'d' if span.days else 'h'} @{period}s", qs, span)
            for label, qs, span, period in SHAPES]
    rows += [(f"{label} x {span.days}d{span.seconds // 3600}h{span.seconds // 60 % 60}m", _mixed(parts), span)
             for label, parts, span in MIXED]
    for label, qs, span in rows:
        window = (T0, T0 + span)
        t = time.perf_counter()
        planned = len(plan_requests(qs, window))
        elapsed = time.perf_counter() - t
        minimum = minimum_calls(qs, window)
        ok &= planned == minimum
        print(f"{label:44} {len(qs):>7} {planned:>8} {minimum:>8}  {elapsed:.2f}{'' if planned == minimum else '  <-'}")
    print()
    print(f"{'executed against moto':44} {'calls':>7} {'minimum':>8} {'rows':>8}")
    for label, made, minimum, n_rows in _moto([(10, 60), (501, 30), (1200, 200)]):
        ok &= made == minimum
        print(f"{label:44} {made:>7} {minimum:>8} {n_rows:>8}{'' if made == minimum else '  <-'}")
    print("\ncalls == minimum everywhere" if ok else "\ncalls != minimum somewhere (marked <-)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
